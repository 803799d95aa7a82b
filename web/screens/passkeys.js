// Account → Security → Passkeys: add (named after the device), rename, remove.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, del } from '../api.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { toast, reportError } from '../components/toast.js';
import { createPasskey, passkeysSupported, passkeyError } from '../webauthn.js';

function guessName() {
  const ua = navigator.userAgent;
  const os = /iPhone|iPad/.test(ua) ? 'iPhone' : /Android/.test(ua) ? 'Android' : /Mac/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'This device';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : '';
  return browser ? `${browser} on ${os}` : os;
}

function nameDialog({ title, action, value, send }) {
  const name = field({ label: 'Name', name: 'name', value, required: true, autocomplete: 'off', hint: 'So you can tell your passkeys apart.' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: action });
  const d = openDialog({ title, form: true, size: 'narrow', body: [name], foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit] });
  name._input.select();
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    if (!name._input.value.trim()) { showErrors(d.form, { fields: { name: 'Give it a name.' } }, d.body); return; }
    setBusy(submit, true);
    try { await send(name._input.value.trim()); d.close(); } catch (err) { showErrors(d.form, err, d.body); } finally { setBusy(submit, false); }
  });
}

/** The passkeys panel; `changed` runs after an add or removal (the factors may change). */
export function passkeysPanel({ signal, changed }) {
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'sec-passkeys' });
  const addBtn = h('button', { class: 'btn', type: 'button', disabled: !passkeysSupported() }, icon('plus', 15), 'Add a passkey');
  addBtn.addEventListener('click', () => nameDialog({
    title: 'Add a passkey', action: 'Continue', value: guessName(),
    send: async (name) => {
      const start = await post('/auth/passkeys/register/start');
      let credential;
      try { credential = await createPasskey(start.options); } catch (e) { throw { message: passkeyError(e) }; }
      await post('/auth/passkeys/register/finish', { ceremony: start.ceremony, name, credential });
      toast(`Passkey “${name}” added.`, { kind: 'success' });
      changed();
    },
  }));

  async function load() {
    let items = [];
    try { ({ items } = await get('/auth/passkeys', { signal })); } catch (e) { if (e.name !== 'AbortError') reportError(e); }
    clear(panel,
      h('header', null, h('h2', { id: 'sec-passkeys', text: 'Passkeys' }),
        h('p', { text: 'Sign in with your fingerprint, face or device PIN instead of a code — on its own or as the second step after your password.' })),
      items.length ? h('ul', { class: 'session-list passkey-list' }, items.map((k) => h('li', { class: 'session-row', dataset: { id: k.id } },
        h('span', { class: 'session-icon', 'aria-hidden': 'true' }, icon('key', 16)),
        h('div', { class: 'grow stack-sm' }, h('strong', { text: k.name }),
          h('span', { class: 'meta' }, 'Added ', timeEl(k.created_at), ' · ', k.last_used_at ? h('span', null, 'last used ', timeEl(k.last_used_at)) : 'never used')),
        h('button', { class: 'btn btn-sm', type: 'button', text: 'Rename', 'aria-label': `Rename ${k.name}`, onclick: () => nameDialog({
          title: 'Rename passkey', action: 'Save', value: k.name,
          send: async (name) => { await patch(`/auth/passkeys/${encodeURIComponent(k.id)}`, { name }); load(); },
        }) }),
        h('button', { class: 'btn btn-sm', type: 'button', text: 'Remove', 'aria-label': `Remove ${k.name}`, onclick: async () => {
          const ok = await confirmDialog({ title: `Remove “${k.name}”?`, message: 'You can no longer sign in with it. Remove it from the device’s passkey list too.', confirmLabel: 'Remove', danger: true });
          if (!ok) return;
          try { await del(`/auth/passkeys/${encodeURIComponent(k.id)}`); toast(`Removed “${k.name}”.`, { kind: 'success' }); changed(); } catch (e) { reportError(e); }
        } })))) : h('p', { class: 'meta', text: passkeysSupported() ? 'No passkeys yet.' : 'This browser does not support passkeys.' }),
      h('div', null, addBtn));
  }
  load();
  return panel;
}
