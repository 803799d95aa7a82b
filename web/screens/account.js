// My account: profile facts, change password, sign out everywhere.
import { h, clear, exactTime } from '../util.js';
import { icon } from '../icons.js';
import { post } from '../api.js';
import { session, clearSession, findOrg } from '../session.js';
import { navigate } from '../router.js';
import { avatar } from '../components/avatar.js';
import { roleBadge } from '../components/badge.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { confirmDialog } from '../components/dialog.js';
import { toast, reportError } from '../components/toast.js';
import { settingsFrame } from './settings.js';

const MIN = 10;

export function renderAccount(ctx) {
  const page = settingsFrame(ctx, 'account', { title: 'My account' });
  page.classList.add('page-narrow');
  const u = session.user;
  const org = findOrg(ctx.slug);

  const current = field({ label: 'Current password', name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
  const next = field({ label: 'New password', name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, hint: `At least ${MIN} characters.` });
  const confirm = field({ label: 'Confirm new password', name: 'confirm', type: 'password', autocomplete: 'new-password', required: true });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Change password' });
  // The hidden username lets password managers file the new password under the right account.
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', value: u.email, hidden: true, readOnly: true });
  const form = h('form', { class: 'form', novalidate: true }, username, current, next, confirm, h('div', null, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const errs = {};
    if (!current._input.value) errs.current_password = 'Enter your current password.';
    if (next._input.value.length < MIN) errs.new_password = `Use at least ${MIN} characters.`;
    else if (next._input.value !== confirm._input.value) errs.confirm = 'The passwords don’t match.';
    if (Object.keys(errs).length) { showErrors(form, { fields: errs }); return; }
    setBusy(save, true);
    try {
      await post('/auth/password', { current_password: current._input.value, new_password: next._input.value }, { quiet401: true });
      form.reset();
      toast('Password changed. Other sessions were signed out.', { kind: 'success' });
    } catch (err) {
      // A wrong current password may come back as 401/403 rather than a field error.
      if ((err.status === 401 || err.status === 403) && !err.fields) showErrors(form, { fields: { current_password: 'That is not your current password.' } });
      else showErrors(form, err);
    } finally {
      setBusy(save, false);
    }
  });

  const outAll = h('button', { class: 'btn', type: 'button' }, icon('shield', 15), 'Sign out everywhere');
  outAll.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: 'Sign out everywhere?', message: 'This ends every session of your account — other browsers, phones and this one.', confirmLabel: 'Sign out everywhere', danger: true });
    if (!ok) return;
    setBusy(outAll, true);
    try {
      await post('/auth/logout-all');
      clearSession();
      navigate('/login', { replace: true });
      toast('Signed out on all devices.', { kind: 'success' });
    } catch (e) {
      setBusy(outAll, false);
      reportError(e);
    }
  });

  clear(page,
    h('section', { class: 'panel' },
      h('div', { class: 'panel-row' }, avatar(u.name || u.email, { size: 'lg', seed: u.id }),
        h('div', { class: 'stack' }, h('div', null, h('h2', { text: u.name || u.email }), h('p', { class: 'meta', text: u.email })),
          h('div', { class: 'row' }, org && roleBadge(org.role), org && h('span', { class: 'meta', text: `in ${org.name}` }), u.created_at && h('span', { class: 'meta', title: exactTime(u.created_at), text: `· Member since ${new Date(u.created_at).toLocaleDateString(undefined, { month: 'long', year: 'numeric' })}` }))))),
    h('section', { class: 'panel' },
      h('header', null, h('h2', { text: 'Password' }), h('p', { text: 'Changing your password signs you out everywhere else.' })),
      form),
    h('section', { class: 'panel' },
      h('header', null, h('h2', { text: 'Sessions' }), h('p', null, 'Lost a device or signed in on a shared computer? End every session of your account at once, or sign out single devices under ', h('a', { href: `/o/${ctx.slug}/settings/security`, text: 'Security' }), '.')),
      h('div', null, outAll)));
  return {};
}
