// Account → Security: the authenticator app, recovery codes, where you are signed in, and
// what happened to your account recently. Everything here is about the person, not the org.
import { h, clear, timeEl, copyText } from '../util.js';
import { icon } from '../icons.js';
import { get, post, del, request } from '../api.js';
import { findOrg } from '../session.js';
import { badge } from '../components/badge.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { toast, reportError } from '../components/toast.js';
import { settingsFrame } from './settings.js';
import { passkeysPanel } from './passkeys.js';

/** A field for a 6-digit code: numeric keyboard, one-time-code autofill, pasted spaces are fine. */
export function codeField(label = 'Code from the app', name = 'code') {
  return field({ label, name, autocomplete: 'one-time-code', required: true, placeholder: '123 456', attrs: { inputmode: 'numeric', maxlength: 12, spellcheck: 'false' } });
}

/** The recovery codes, shown once: copy, download as .txt, and a clear warning. */
function showRecoveryCodes(codes, title = 'Save your recovery codes') {
  const text = `Harmonia recovery codes\nEach code signs you in once if you lose your authenticator app.\n\n${codes.join('\n')}\n`;
  const copyBtn = h('button', { class: 'btn', type: 'button' }, icon('copy', 14), 'Copy');
  copyBtn.addEventListener('click', async () => {
    if (await copyText(text)) { copyBtn.replaceChildren(icon('check', 14), 'Copied'); setTimeout(() => copyBtn.replaceChildren(icon('copy', 14), 'Copy'), 2000); }
    else toast('Copy failed — select the codes and copy them by hand.', { kind: 'error' });
  });
  const download = h('a', { class: 'btn', download: 'harmonia-recovery-codes.txt', href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })) }, icon('arrowDown', 14), 'Download .txt');
  const d = openDialog({
    title,
    size: 'narrow',
    body: [
      h('div', { class: 'callout' }, icon('alert', 16), h('span', { text: 'Keep these somewhere safe, apart from your phone. Each code works once. They are shown only now.' })),
      h('ol', { class: 'recovery-codes mono', 'aria-label': 'Recovery codes' }, codes.map((c) => h('li', { text: c }))),
      h('div', { class: 'row' }, copyBtn, download),
    ],
    foot: [h('button', { class: 'btn btn-primary', type: 'button', text: 'I saved them', onclick: () => d.close() })],
    onClose: () => URL.revokeObjectURL(download.href),
  });
}

/** Set up an authenticator: scan (or type the key), then confirm with a code. */
async function setupTotp(done) {
  let setup;
  try { setup = await post('/auth/mfa/totp/setup'); } catch (e) { reportError(e); return; }
  const qr = h('img', { class: 'qr', alt: 'QR code for your authenticator app', width: 200, height: 200, src: `data:image/svg+xml;base64,${btoa(setup.qr_svg)}` });
  const key = setup.secret.replace(/(.{4})/g, '$1 ').trim();
  const code = codeField();
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Turn on' });
  const d = openDialog({
    title: 'Set up an authenticator app',
    form: true,
    body: [
      h('p', { text: 'Scan this code with an authenticator app (1Password, Google Authenticator, Authy, …). Can’t scan? Type the key instead.' }),
      h('div', { class: 'totp-setup' }, qr,
        h('div', { class: 'stack-sm' },
          h('span', { class: 'meta', text: 'Key' }),
          h('code', { class: 'mono totp-key', text: key }),
          h('span', { class: 'meta', text: 'Time-based, 6 digits, every 30 seconds.' }))),
      code,
    ],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
    initialFocus: code._input,
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    if (!code._input.value.trim()) { showErrors(d.form, { fields: { code: 'Enter the 6-digit code the app shows.' } }, d.body); return; }
    setBusy(submit, true);
    try {
      const r = await post('/auth/mfa/totp/confirm', { code: code._input.value });
      d.close();
      toast('Two-factor sign-in is on.', { kind: 'success' });
      done();
      showRecoveryCodes(r.recovery_codes);
    } catch (err) {
      showErrors(d.form, err, d.body);
    } finally {
      setBusy(submit, false);
    }
  });
}

/** Password + code, for turning the app off or making new recovery codes. */
function passwordAndCode({ title, lead, action, danger, send, withCode = true }) {
  const pw = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const code = withCode ? codeField() : null;
  const submit = h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, type: 'submit', text: action });
  const d = openDialog({
    title, form: true, size: 'narrow', description: lead,
    body: [pw, code],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    setBusy(submit, true);
    try {
      await send(code ? { password: pw._input.value, code: code._input.value } : { password: pw._input.value });
      d.close();
    } catch (err) {
      showErrors(d.form, err, d.body);
    } finally {
      setBusy(submit, false);
    }
  });
}

const EVENT_LABEL = {
  signed_in: 'Signed in', sign_in_failed: 'Wrong password', second_factor_failed: 'Wrong second-step code',
  signed_out: 'Signed out', password_changed: 'Password changed', password_reset: 'Password reset with a link',
  password_reset_link_created: 'Reset link created', totp_enabled: 'Authenticator app turned on',
  totp_disabled: 'Authenticator app turned off', recovery_codes_regenerated: 'New recovery codes',
  recovery_code_used: 'Recovery code used', passkey_added: 'Passkey added', passkey_removed: 'Passkey removed',
  session_revoked: 'Signed out a session', other_sessions_revoked: 'Signed out everywhere else',
};
const DETAIL_LABEL = { password: 'with password', totp: 'with authenticator app', recovery_code: 'with a recovery code', passkey: 'with a passkey', everywhere: 'everywhere' };
const WARN = new Set(['sign_in_failed', 'second_factor_failed']);

export async function renderSecurity(ctx) {
  const { slug, signal } = ctx;
  const page = settingsFrame(ctx, 'security', { title: 'Security' });
  page.classList.add('page-narrow');
  const notice = h('div');
  const factorPanel = h('section', { class: 'panel', 'aria-labelledby': 'sec-2fa' });
  const passkeys = h('div', { class: 'panel-slot' });
  const sessionsPanel = h('section', { class: 'panel', 'aria-labelledby': 'sec-sessions' });
  const activityPanel = h('section', { class: 'panel', 'aria-labelledby': 'sec-activity' });
  clear(page, notice, factorPanel, passkeys, sessionsPanel, activityPanel);

  async function loadFactors() {
    let s;
    try { s = await get('/auth/mfa', { signal }); } catch (e) { if (e.name !== 'AbortError') reportError(e); return; }
    const hasFactor = s.totp || s.passkeys > 0;
    clear(notice, s.required_by.length && !hasFactor
      ? h('div', { class: 'callout warn', role: 'status' }, icon('shield', 16),
        h('span', { text: `${s.required_by.map((o) => (findOrg(o) || { name: o }).name).join(', ')} requires two-factor sign-in. Set up an authenticator app or a passkey to open its data.` }))
      : null);
    const onOff = s.totp ? badge('On', 'green') : badge('Off', 'gray');
    const actions = s.totp
      ? [h('button', { class: 'btn', type: 'button', text: 'Turn off', onclick: () => passwordAndCode({
        title: 'Turn off the authenticator app?', lead: 'Sign-in will no longer ask for a code from the app. Confirm with your password and a current code.',
        action: 'Turn off', danger: true,
        send: async (b) => { await request('DELETE', '/auth/mfa/totp', b); toast('Authenticator app turned off.', { kind: 'success' }); loadFactors(); loadActivity(); },
      }) })]
      : [h('button', { class: 'btn btn-primary', type: 'button', onclick: () => setupTotp(() => { loadFactors(); loadActivity(); }) }, icon('shield', 15), 'Set up authenticator app')];
    const codesRow = hasFactor
      ? h('div', { class: 'panel-row' },
        h('div', null, h('h3', { text: 'Recovery codes' }),
          h('p', { class: 'meta', text: s.recovery_codes_left ? `${s.recovery_codes_left} of 10 unused. Each signs you in once if you lose your phone.` : 'None yet. Make a set to sign in if you lose your devices.' })),
        h('button', { class: 'btn', type: 'button', text: s.recovery_codes_left ? 'Make new codes' : 'Make codes', onclick: () => passwordAndCode({
          title: 'Make new recovery codes?', lead: s.totp ? 'Any old codes stop working. Confirm with your password and a current code from the app.' : 'Any old codes stop working. Confirm with your password.', withCode: s.totp,
          action: 'Make new codes',
          send: async (b) => { const r = await post('/auth/mfa/recovery-codes', b); loadFactors(); showRecoveryCodes(r.recovery_codes, 'Your new recovery codes'); },
        }) }))
      : null;
    clear(factorPanel,
      h('header', null, h('h2', { id: 'sec-2fa', text: 'Two-factor sign-in' }),
        h('p', { text: 'After your password, sign-in asks for a code from an authenticator app on your phone — so a stolen password alone gets nobody in.' })),
      h('div', { class: 'panel-row' },
        h('div', null, h('h3', null, 'Authenticator app ', onOff),
          h('p', { class: 'meta', text: s.totp ? 'Sign-in asks for a 6-digit code from the app.' : 'Use any app that shows 6-digit codes (TOTP).' })),
        actions),
      codesRow);
    clear(passkeys, passkeysPanel({ signal, changed: () => { loadFactors(); loadActivity(); } }));
  }

  async function loadSessions() {
    let items;
    try { ({ items } = await get('/auth/sessions', { signal })); } catch (e) { if (e.name !== 'AbortError') reportError(e); return; }
    const others = items.filter((x) => !x.current).length;
    const outOthers = h('button', { class: 'btn', type: 'button', disabled: !others, text: 'Sign out everywhere else' });
    outOthers.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: 'Sign out everywhere else?', message: `This ends ${others} other session${others === 1 ? '' : 's'}. This browser stays signed in.`, confirmLabel: 'Sign out others', danger: true });
      if (!ok) return;
      try { const r = await post('/auth/sessions/revoke-others'); toast(`Signed out ${r.revoked} other session${r.revoked === 1 ? '' : 's'}.`, { kind: 'success' }); loadSessions(); loadActivity(); } catch (e) { reportError(e); }
    });
    const rows = items.map((x) => h('li', { class: 'session-row', dataset: { id: x.id } },
      h('span', { class: 'session-icon', 'aria-hidden': 'true' }, icon(/Android|iOS/.test(x.os) ? 'phone' : 'globe', 16)),
      h('div', { class: 'grow stack-sm' },
        h('div', null, h('strong', { text: `${x.browser} on ${x.os}` }), x.current ? badge('This device', 'green') : null),
        h('span', { class: 'meta' }, `${x.ip || 'unknown address'} · signed in `, timeEl(x.created_at), ' · last active ', timeEl(x.last_seen_at))),
      x.current ? null : h('button', { class: 'btn btn-sm', type: 'button', text: 'Sign out', 'aria-label': `Sign out ${x.browser} on ${x.os}`, onclick: async (e) => {
        setBusy(e.currentTarget, true);
        try { await del(`/auth/sessions/${encodeURIComponent(x.id)}`); toast(`Signed out ${x.browser} on ${x.os}.`, { kind: 'success' }); loadSessions(); loadActivity(); } catch (err) { reportError(err); loadSessions(); }
      } })));
    clear(sessionsPanel,
      h('header', null, h('h2', { id: 'sec-sessions', text: 'Where you’re signed in' }),
        h('p', { text: 'Don’t recognise one, or left a computer signed in? Sign it out; it stops working at once.' })),
      h('ul', { class: 'session-list' }, rows),
      h('div', null, outOthers));
  }

  async function loadActivity() {
    let items;
    try { ({ items } = await get('/auth/activity?limit=20', { signal })); } catch (e) { if (e.name !== 'AbortError') reportError(e); return; }
    clear(activityPanel,
      h('header', null, h('h2', { id: 'sec-activity', text: 'Recent activity' }),
        h('p', { text: 'Sign-ins, failed attempts and security changes on your account (kept 12 months).' })),
      items.length
        ? h('ul', { class: 'activity-list' }, items.map((ev) => h('li', { class: WARN.has(ev.kind) ? 'warn' : null },
          h('span', { class: 'activity-what' }, icon(WARN.has(ev.kind) ? 'alert' : 'checkCircle', 14),
            h('span', { text: `${EVENT_LABEL[ev.kind] || ev.kind}${ev.detail && DETAIL_LABEL[ev.detail] ? ' ' + DETAIL_LABEL[ev.detail] : ''}` })),
          h('span', { class: 'meta truncate', text: `${ev.browser} on ${ev.os} · ${ev.ip}` }),
          h('span', { class: 'meta activity-when' }, timeEl(ev.created_at)))))
        : h('p', { class: 'meta', text: 'Nothing yet.' }));
  }

  await Promise.all([loadFactors(), loadSessions(), loadActivity()]);
  return {};
}
