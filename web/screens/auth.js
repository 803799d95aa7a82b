// Sign in, first-run setup and accepting an invitation: centred cards outside the app frame.
import { h, clear, relTime, exactTime } from '../util.js';
import { logo, icon } from '../icons.js';
import { get, post } from '../api.js';
import { applyAuth, ROLE_LABEL } from '../session.js';
import { navigate } from '../router.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { getPasskey, passkeysSupported, autofillAvailable, passkeyError } from '../webauthn.js';

const MIN_PASSWORD = 10;

function card(root, title, lead, ...body) {
  const c = h('div', { class: 'auth-card' },
    h('div', { class: 'auth-brand' }, h('span', { class: 'logo' }, logo(28)), 'Harmonia'),
    h('h1', { text: title }),
    lead && h('p', { class: 'lead', text: lead }),
    body);
  clear(root, h('main', { class: 'auth' }, c));
  document.title = `${title} · Harmonia`;
  return c;
}

function passwordField(label = 'Password', name = 'password', autocomplete = 'new-password') {
  return field({ label, name, type: 'password', autocomplete, required: true, hint: autocomplete === 'new-password' ? `At least ${MIN_PASSWORD} characters.` : null, attrs: { minLength: MIN_PASSWORD } });
}

function checkPassword(form, f) {
  if (f._input.value.length >= MIN_PASSWORD) return true;
  showErrors(form, { fields: { [f.dataset.field]: `Use at least ${MIN_PASSWORD} characters.` } });
  return false;
}

/** Sends the form; 422 errors land next to inputs, anything else in the alert above. */
async function submitWith(form, btn, fn) {
  clearErrors(form);
  setBusy(btn, true);
  try {
    await fn();
  } catch (e) {
    showErrors(form, e);
  } finally {
    setBusy(btn, false);
  }
}

/** A same-origin path from `next`, or null: never a way off this site. */
function localPath(next) {
  if (!next) return null;
  try {
    const url = new URL(next, location.origin);
    if (url.origin !== location.origin || url.pathname.startsWith('/login')) return null;
    return url.pathname + url.search + url.hash;
  } catch { return null; }
}

function landing(orgs, next) {
  const local = localPath(next);
  if (local) return local;
  return orgs && orgs.length ? `/o/${orgs[0].slug}/contacts` : '/';
}

/** Signs in with a discoverable passkey (the autofill list when `conditional`). */
async function passwordless(signal, conditional) {
  const start = await post('/auth/passkeys/login/start', {}, { quiet401: true });
  const credential = await getPasskey(start.options, { signal, conditional });
  return post('/auth/passkeys/login/finish', { ceremony: start.ceremony, credential }, { quiet401: true });
}

let autofill = null;

export function renderLogin(root, { query }) {
  if (autofill) autofill.abort();
  autofill = new AbortController();
  const email = field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'username webauthn', required: true });
  const password = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { class: 'btn btn-primary btn-block', type: 'submit', text: 'Sign in' });
  const withPasskey = passkeysSupported() && h('button', { class: 'btn btn-block', type: 'button' }, icon('key', 15), 'Sign in with a passkey');
  const form = h('form', { class: 'form', novalidate: true }, email, password, btn, withPasskey);
  card(root, 'Sign in', 'Welcome back. Sign in to your workspace.', form);
  email._input.focus();
  // A server nobody has set up yet has no account to sign in to: say how to finish.
  get('/setup', { quiet401: true }).then((r) => {
    if (!r || !r.setup_required || !form.isConnected) return;
    card(root, 'Finish setting up Harmonia', 'This server has no account yet. Create the first organization and its owner:',
      h('ol', { class: 'setup-steps' },
        h('li', null, 'Open the setup link the server printed in its log when it started (it works for one hour), or'),
        h('li', null, 'on the server, run ', h('code', { text: 'harmonia setup' }), ' (add --help for its options).')),
      h('p', { class: 'hint', text: 'Reload this page once it is done.' }));
  }).catch(() => { /* 404: set up already; the sign-in form stays */ });
  const done = (r) => { applyAuth(r); navigate(landing(r.organizations, query.get('next')), { replace: true }); };
  const mine = autofill;
  // Passkeys offered in the email field's autofill list, where the browser can.
  autofillAvailable().then((ok) => {
    if (!ok || mine.signal.aborted) return;
    passwordless(mine.signal, true).then(done).catch((e) => {
      if (mine.signal.aborted || (e && e.name === 'AbortError')) return;
      showErrors(form, { message: e.status ? e.message : passkeyError(e) });
    });
  });
  if (withPasskey) withPasskey.addEventListener('click', () => {
    mine.abort();
    submitWith(form, withPasskey, async () => {
      try { done(await passwordless(undefined, false)); } catch (e) { throw e.status ? e : { message: passkeyError(e) }; }
    });
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitWith(form, btn, async () => {
      if (!email._input.value.trim() || !password._input.value) {
        throw { fields: { ...(email._input.value.trim() ? {} : { email: 'Enter your email.' }), ...(password._input.value ? {} : { password: 'Enter your password.' }) } };
      }
      try {
        const r = await post('/auth/login', { email: email._input.value.trim(), password: password._input.value });
        if (r.mfa_required) { mine.abort(); renderSecondStep(root, r, query.get('next')); return; }
        applyAuth(r);
        navigate(landing(r.organizations, query.get('next')), { replace: true });
      } catch (err) {
        if (err.status === 401) err.message = 'That email and password don’t match an account.';
        password._input.value = '';
        throw err;
      }
    });
  });
}

/**
 * The second step of a sign-in: a code from the authenticator app, or a recovery code.
 * The challenge lives five minutes; when it has gone, the person starts again.
 */
function renderSecondStep(root, first, next, useRecovery = false) {
  const methods = first.methods || [];
  const recovery = useRecovery || (!methods.includes('totp') && !methods.includes('passkey'));
  const code = recovery
    ? field({ label: 'Recovery code', name: 'recovery_code', autocomplete: 'off', required: true, placeholder: 'xxxxx-xxxxx', attrs: { spellcheck: 'false' } })
    : field({ label: 'Code from your authenticator app', name: 'code', autocomplete: 'one-time-code', required: true, placeholder: '123 456', attrs: { inputmode: 'numeric', maxlength: 12, spellcheck: 'false' } });
  const btn = h('button', { class: 'btn btn-primary btn-block', type: 'submit', text: 'Verify' });
  const onlyPasskey = !methods.includes('totp') && !recovery;
  const withPasskey = methods.includes('passkey') && passkeysSupported() && h('button', { class: `btn btn-block${onlyPasskey ? ' btn-primary' : ''}`, type: 'button' }, icon('key', 15), 'Use a passkey');
  const alt = h('div', { class: 'auth-alt' },
    !recovery && methods.includes('recovery_code') && h('button', { class: 'link-btn', type: 'button', text: 'Use a recovery code', onclick: () => renderSecondStep(root, first, next, true) }),
    recovery && methods.includes('totp') && h('button', { class: 'link-btn', type: 'button', text: 'Use the authenticator app', onclick: () => renderSecondStep(root, first, next, false) }),
    h('a', { class: 'link-btn', href: '/login', text: 'Start over' }));
  const form = h('form', { class: 'form', novalidate: true }, methods.includes('totp') || recovery ? [code, btn] : null, withPasskey, alt);
  card(root, 'Two-step verification', onlyPasskey
    ? 'Confirm it’s you with your passkey.'
    : recovery
    ? 'Enter one of the recovery codes you saved when you set up two-factor sign-in. Each works once.'
    : 'Open your authenticator app and enter the 6-digit code it shows for Harmonia.', form);
  if (withPasskey) withPasskey.addEventListener('click', () => submitWith(form, withPasskey, async () => {
    try {
      const start = await post('/auth/passkeys/login/start', { challenge: first.challenge }, { quiet401: true });
      const credential = await getPasskey(start.options);
      const r = await post('/auth/passkeys/login/finish', { ceremony: start.ceremony, challenge: first.challenge, credential }, { quiet401: true });
      applyAuth(r);
      navigate(landing(r.organizations, next), { replace: true });
    } catch (e) {
      throw e.status ? e : { message: passkeyError(e) };
    }
  }));
  if (code.isConnected) code._input.focus();
  // A code pasted or autofilled in full is sent at once.
  code._input.addEventListener('input', () => {
    if (!recovery && code._input.value.replace(/\D/g, '').length === 6 && !btn.disabled) form.requestSubmit();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitWith(form, btn, async () => {
      const value = code._input.value.trim();
      if (!value) throw { fields: { [recovery ? 'recovery_code' : 'code']: 'Enter the code.' } };
      try {
        const r = await post('/auth/mfa/verify', { challenge: first.challenge, [recovery ? 'recovery_code' : 'code']: value }, { quiet401: true });
        applyAuth(r);
        navigate(landing(r.organizations, next), { replace: true });
      } catch (err) {
        code._input.value = '';
        if (err.code === 'challenge_expired') {
          renderLogin(root, { query: new URLSearchParams(next ? { next } : {}) });
          const f = root.querySelector('form');
          if (f) showErrors(f, { message: 'That took too long. Sign in again.' });
          return;
        }
        if (err.code === 'invalid_code') throw { fields: { [recovery ? 'recovery_code' : 'code']: recovery ? 'That recovery code is not right, or was already used.' : 'That code is not right. Wait for the next one and try again.' } };
        throw err;
      }
    });
  });
}

export async function renderSetup(root, { query }) {
  const token = query.get('token') || '';
  card(root, 'Set up Harmonia', 'Checking…');
  let required = false;
  try {
    required = !!(await get('/setup', { quiet401: true })).setup_required;
  } catch { required = false; }
  if (!required) {
    card(root, 'Already set up', 'This Harmonia server already has an owner.', h('a', { class: 'btn btn-primary btn-block', href: '/login', text: 'Go to sign in' }));
    return;
  }
  if (!token) {
    card(root, 'Set up Harmonia', null, h('div', { class: 'callout info' }, icon('info', 16),
      h('span', { text: 'Open the setup link printed in the server log when Harmonia started. It contains a one-time token.' })));
    return;
  }
  const org = field({ label: 'Organization name', name: 'org_name', required: true, placeholder: 'Acme Inc.', autocomplete: 'organization' });
  const name = field({ label: 'Your name', name: 'name', required: true, autocomplete: 'name' });
  const email = field({ label: 'Email', name: 'email', type: 'email', required: true, autocomplete: 'email' });
  const password = passwordField();
  const btn = h('button', { class: 'btn btn-primary btn-block', type: 'submit', text: 'Create workspace' });
  const form = h('form', { class: 'form', novalidate: true }, org, name, email, password, btn);
  card(root, 'Set up Harmonia', 'Create your organization and the owner account. You can invite your team next.', form);
  org._input.focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!checkPassword(form, password)) return;
    submitWith(form, btn, async () => {
      const r = await post('/setup', { token, org_name: org._input.value.trim(), name: name._input.value.trim(), email: email._input.value.trim(), password: password._input.value });
      applyAuth(r);
      navigate(landing(r.organizations), { replace: true });
    });
  });
}

export async function renderInvite(root, { query }) {
  const token = query.get('token') || '';
  card(root, 'Join your team', 'Loading invitation…');
  let inv = null;
  try {
    if (token) inv = await get(`/invites/${encodeURIComponent(token)}`, { quiet401: true });
  } catch { inv = null; }
  if (!inv) {
    card(root, 'Invitation not found', 'This invitation link is invalid, was already used or has expired. Ask an admin of the organization to invite you again.',
      h('a', { class: 'btn btn-block', href: '/login', text: 'Go to sign in' }));
    return;
  }
  const orgName = (inv.organization && inv.organization.name) || 'the organization';
  if (inv.account_exists) {
    renderInviteForAccount(root, token, inv, orgName);
    return;
  }
  const email = field({ label: 'Email', name: 'email', value: inv.email, autocomplete: 'username' });
  email._input.readOnly = true;
  const name = field({ label: 'Your name', name: 'name', required: true, autocomplete: 'name' });
  const password = passwordField();
  const btn = h('button', { class: 'btn btn-primary btn-block', type: 'submit', text: `Join ${orgName}` });
  const form = h('form', { class: 'form', novalidate: true }, email, name, password, btn);
  const expires = inv.expires_at ? h('p', { class: 'auth-foot', title: exactTime(inv.expires_at), text: `This invitation expires ${relTime(inv.expires_at)}.` }) : null;
  card(root, `Join ${orgName}`, `You’ve been invited as ${(ROLE_LABEL[inv.role] || inv.role || 'member').toLowerCase()}. Choose your name and a password to continue.`, form, expires);
  name._input.focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!checkPassword(form, password)) return;
    submitWith(form, btn, async () => {
      const r = await post('/invites/accept', { token, name: name._input.value.trim(), password: password._input.value });
      applyAuth(r);
      const slug = inv.organization && inv.organization.slug;
      navigate(slug ? `/o/${slug}/contacts` : landing(r.organizations), { replace: true });
    });
  });
}

/** The invited email already has an account: it accepts while signed in as itself. */
async function renderInviteForAccount(root, token, inv, orgName) {
  let me = null;
  try { me = await get('/me', { quiet401: true }); } catch { me = null; }
  const here = `/invite?token=${encodeURIComponent(token)}`;
  const role = (ROLE_LABEL[inv.role] || inv.role || 'member').toLowerCase();
  if (!me || !me.user || me.user.email !== inv.email) {
    const lead = me && me.user
      ? `This invitation is for ${inv.email}, but you are signed in as ${me.user.email}. Sign in as ${inv.email} to accept it.`
      : `You’ve been invited as ${role}. ${inv.email} already has an account: sign in to accept.`;
    card(root, `Join ${orgName}`, lead,
      h('a', { class: 'btn btn-primary btn-block', href: `/login?next=${encodeURIComponent(here)}`, text: `Sign in as ${inv.email}` }));
    return;
  }
  applyAuth(me);
  const btn = h('button', { class: 'btn btn-primary btn-block', type: 'submit', text: `Join ${orgName}` });
  const form = h('form', { class: 'form', novalidate: true }, btn);
  card(root, `Join ${orgName}`, `You’ve been invited as ${role}.`, form);
  btn.focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitWith(form, btn, async () => {
      const r = await post('/invites/accept', { token });
      applyAuth(r);
      const slug = inv.organization && inv.organization.slug;
      navigate(slug ? `/o/${slug}/contacts` : landing(r.organizations), { replace: true });
    });
  });
}

/** A password reset link: choose a new password, then sign in with it. */
export async function renderReset(root, { query }) {
  const token = query.get('token') || '';
  card(root, 'Choose a new password', 'Checking the link…');
  let info = null;
  try {
    if (token) info = await get(`/password-resets/${encodeURIComponent(token)}`, { quiet401: true });
  } catch { info = null; }
  if (!info) {
    card(root, 'Link not valid', 'This reset link is wrong, was already used or has expired (links last one hour). Ask an admin of your organization for a new one.',
      h('a', { class: 'btn btn-block', href: '/login', text: 'Go to sign in' }));
    return;
  }
  const email = field({ label: 'Email', name: 'email', value: info.email, autocomplete: 'username' });
  email._input.readOnly = true;
  const password = passwordField('New password');
  const btn = h('button', { class: 'btn btn-primary btn-block', type: 'submit', text: 'Set password' });
  const form = h('form', { class: 'form', novalidate: true }, email, password, btn);
  card(root, 'Choose a new password', 'This signs you out everywhere; then sign in with the new password.', form,
    h('p', { class: 'auth-foot', title: exactTime(info.expires_at), text: `This link expires ${relTime(info.expires_at)}.` }));
  password._input.focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!checkPassword(form, password)) return;
    submitWith(form, btn, async () => {
      await post('/password-resets/accept', { token, password: password._input.value }, { quiet401: true });
      card(root, 'Password changed', 'Sign in with your new password.',
        h('a', { class: 'btn btn-primary btn-block', href: `/login`, text: 'Sign in' }));
    });
  });
}
