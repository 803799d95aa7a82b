// API keys: create (secret shown once), list with prefix / role / last use, revoke; below, the API request log.
import { h, clear, timeEl, nextId, copyText } from '../util.js';
import { icon } from '../icons.js';
import { get, post, del, orgPath } from '../api.js';
import { isOwner, canAdmin, getMembers, memberName, ROLES, ROLE_LABEL, ROLE_HELP } from '../session.js';
import { roleBadge } from '../components/badge.js';
import { field, select, showErrors, clearErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { toast, reportError } from '../components/toast.js';
import { createTable, emptyState } from '../components/table.js';
import { settingsFrame } from './settings.js';
import { apiRequestsSection } from './apirequests.js';

/** Read-only value with a Copy button. */
export function copyBox(value, label) {
  const id = nextId('copy');
  const input = h('input', { class: 'input', id, type: 'text', readOnly: true, value, spellcheck: 'false' });
  input.addEventListener('focus', () => input.select());
  const btn = h('button', { class: 'btn', type: 'button' }, icon('copy', 14), 'Copy');
  btn.addEventListener('click', async () => {
    const ok = await copyText(value);
    if (ok) {
      btn.replaceChildren(icon('check', 14), 'Copied');
      setTimeout(() => btn.replaceChildren(icon('copy', 14), 'Copy'), 2000);
    } else {
      input.select();
      toast('Copy failed — select the text and copy it by hand.', { kind: 'error' });
    }
  });
  return h('div', { class: 'field' }, h('label', { htmlFor: id, text: label }), h('div', { class: 'copybox' }, input, btn));
}

function createDialog(slug, onCreated) {
  const name = field({ label: 'Name', name: 'name', required: true, placeholder: 'Zapier sync', hint: 'What uses this key, so you know what breaks if you revoke it.', autocomplete: 'off' });
  const roleSel = select(ROLES.filter((r) => r !== 'owner' || isOwner(slug)).map((r) => ({ value: r, label: ROLE_LABEL[r] })), 'member');
  const help = h('p', { class: 'hint', text: ROLE_HELP.member });
  roleSel.addEventListener('change', () => { help.textContent = ROLE_HELP[roleSel.value]; });
  const role = field({ label: 'Role', name: 'role', control: roleSel });
  role.appendChild(help);
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Create key' });
  const d = openDialog({
    title: 'New API key',
    form: true,
    size: 'narrow',
    body: [name, role],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    if (!name._input.value.trim()) { showErrors(d.form, { fields: { name: 'Give the key a name.' } }, d.body); return; }
    setBusy(submit, true);
    try {
      const key = await post(orgPath(slug, 'api-keys'), { name: name._input.value.trim(), role: roleSel.value });
      onCreated(key);
      clear(d.body,
        h('div', { class: 'callout' }, icon('alert', 16), h('span', { text: 'Copy this secret now. It is shown only once; Harmonia stores just a hash of it.' })),
        copyBox(key.secret, `Secret for “${key.name}”`),
        h('p', { class: 'meta', text: 'Send it as “Authorization: Bearer <secret>” with each API request.' }));
      clear(d.foot, h('button', { class: 'btn btn-primary', type: 'button', text: 'Done', onclick: () => d.close() }));
      d.body.querySelector('.copybox .btn').focus();
    } catch (err) {
      showErrors(d.form, err, d.body);
    } finally {
      setBusy(submit, false);
    }
  });
}

export async function renderApiKeys(ctx) {
  const { slug, signal } = ctx;
  const newBtn = h('button', { class: 'btn btn-primary', type: 'button', 'aria-label': 'New API key', onclick: () => createDialog(slug, added) }, icon('plus', 15), h('span', { class: 'hide-sm', text: 'New API key' }));
  if (!canAdmin(slug)) {
    const page = settingsFrame(ctx, 'api-keys', { title: 'API keys' });
    clear(page, emptyState({ iconName: 'lock', title: 'Only admins manage API keys', text: 'Ask an owner or admin of this organization if you need a key for an integration.' }));
    return {};
  }
  const page = settingsFrame(ctx, 'api-keys', { title: 'API keys', actions: [newBtn] });
  let names = [];

  const table = createTable({
    caption: 'API keys',
    className: 'table-static',
    columns: [
      { key: 'name', label: 'Name', className: 'name-cell', render: (k) => h('span', { class: 'cell-inner' }, icon('key', 15), h('span', { text: k.name })) },
      { key: 'prefix', label: 'Key', className: 'hide-sm', render: (k) => h('code', { class: 'mono secondary', text: `${k.prefix}…` }) },
      { key: 'role', label: 'Role', render: (k) => roleBadge(k.role) },
      { key: 'created', label: 'Created', className: 'hide-sm', render: (k) => h('span', { class: 'tertiary' }, timeEl(k.created_at), k.created_by && ` by ${memberName(names, k.created_by) || 'a former member'}`) },
      { key: 'used', label: 'Last used', className: 'hide-sm', render: (k) => (k.last_used_at ? h('span', { class: 'tertiary' }, timeEl(k.last_used_at)) : h('span', { class: 'tertiary', text: 'Never' })) },
      { key: 'actions', label: '', right: true, render: (k) => h('button', { class: 'btn btn-sm', type: 'button', text: 'Revoke', 'aria-label': `Revoke ${k.name}`, onclick: () => revoke(k) }) },
    ],
  });
  const card = h('div', { class: 'table-card' }, table.el);
  const emptyHost = h('div');
  clear(page,
    h('div', { class: 'settings-intro' }, h('p', { text: 'API keys let scripts and integrations read and write this organization’s data. Each key acts with the role you give it; revoke a key the moment it is no longer needed.' })),
    card, emptyHost, apiRequestsSection(slug, signal));

  function sync() {
    const empty = !table.items().length;
    card.hidden = empty;
    clear(emptyHost, empty ? emptyState({ iconName: 'key', title: 'No API keys yet', text: 'Create a key to connect a script, a spreadsheet or another tool to Harmonia.', actions: [h('button', { class: 'btn btn-primary', type: 'button', onclick: () => createDialog(slug, added) }, icon('plus', 15), 'New API key')] }) : null);
  }
  function added(key) {
    const { secret, ...rest } = key;
    table.prepend(rest);
    sync();
  }
  async function revoke(k) {
    const ok = await confirmDialog({ title: `Revoke “${k.name}”?`, message: 'Anything using this key stops working immediately. This cannot be undone.', confirmLabel: 'Revoke key', danger: true });
    if (!ok) return;
    try {
      await del(orgPath(slug, 'api-keys', k.id));
      table.remove([k.id]);
      sync();
      toast(`Revoked “${k.name}”.`, { kind: 'success' });
    } catch (e) { reportError(e, 'Could not revoke the key.'); }
  }

  table.skeleton(3);
  try {
    const [r, list] = await Promise.all([get(orgPath(slug, 'api-keys'), { signal }), getMembers(slug).catch(() => [])]);
    names = list;
    table.setItems(r.items || []);
  } catch (e) {
    reportError(e);
    table.setItems([]);
  }
  sync();
  return {};
}
