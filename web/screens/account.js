// My account: profile (name, time zone, date format), change password, sign out everywhere.
import { h, clear, exactTime } from '../util.js';
import { icon } from '../icons.js';
import { post, patch } from '../api.js';
import { session, clearSession, findOrg, loadSession } from '../session.js';
import { timeZones, browserZone, dateFormatOptions, applyPrefs, formatDate } from '../locale.js';
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

  const profile = profileForm(u, org);

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
          h('div', { class: 'row' }, org && roleBadge(org.role), org && h('span', { class: 'meta', text: `in ${org.name}` }), u.created_at && h('span', { class: 'meta', title: exactTime(u.created_at), text: `· Member since ${formatDate(u.created_at)}` }))))),
    h('section', { class: 'panel' },
      h('header', null, h('h2', { text: 'Profile' }), h('p', { text: 'Your name as others see it, and how times and dates are written for you.' })),
      profile),
    h('section', { class: 'panel' },
      h('header', null, h('h2', { text: 'Password' }), h('p', { text: 'Changing your password signs you out everywhere else.' })),
      form),
    h('section', { class: 'panel' },
      h('header', null, h('h2', { text: 'Sessions' }), h('p', null, 'Lost a device or signed in on a shared computer? End every session of your account at once, or sign out single devices under ', h('a', { href: `/o/${ctx.slug}/settings/security`, text: 'Security' }), '.')),
      h('div', null, outAll)));
  return {};
}

function profileForm(u, org) {
  const name = field({ label: 'Name', name: 'name', value: u.name, required: true, autocomplete: 'name' });
  const zones = timeZones();
  const zone = field({
    label: 'Time zone', name: 'time_zone', value: u.time_zone || '',
    options: [{ value: '', label: `This browser’s (${browserZone().replace(/_/g, ' ')})` }, ...zones.map((z) => ({ value: z, label: z.replace(/_/g, ' ') }))],
    hint: 'Times are shown in it. Tasks due on a day remind you at 09:00 in it (with none chosen: in the organization’s zone).',
  });
  if (u.time_zone && !zones.includes(u.time_zone)) { zone._input.prepend(h('option', { value: u.time_zone, text: u.time_zone })); zone._input.value = u.time_zone; }
  const orgFormat = org && org.date_format;
  const dates = field({
    label: 'Date format', name: 'date_format', value: u.date_format || '',
    options: dateFormatOptions(`The organization’s${orgFormat ? ` (${formatDate(new Date(), { format: orgFormat })})` : ''}`),
  });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Save profile' });
  const form = h('form', { class: 'form wide-form', novalidate: true }, name, h('div', { class: 'field-grid' }, zone, dates), h('div', null, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!name._input.value.trim()) { showErrors(form, { fields: { name: 'Enter your name.' } }); return; }
    setBusy(save, true);
    try {
      await patch('/account', { name: name._input.value.trim(), time_zone: zone._input.value || null, date_format: dates._input.value || null });
      await loadSession();
      applyPrefs(session.user, org);
      toast('Saved.', { kind: 'success' });
    } catch (err) {
      showErrors(form, err);
    } finally {
      setBusy(save, false);
    }
  });
  return form;
}
