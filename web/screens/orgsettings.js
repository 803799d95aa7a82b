// Organization settings: name, address (slug), phone country, currency, time zone and date
// format (admins), exporting everything (owners, orgarchive.js), and closing the
// organization (owners): read-only at once, an export to download, erased after 30 days
// unless reopened.
import { h, clear } from '../util.js';
import { icon } from '../icons.js';
import { get, patch, post, orgPath } from '../api.js';
import { canAdmin, isOwner, loadSession } from '../session.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { countryOptions, timeZones, dateFormatOptions, formatDate } from '../locale.js';
import { CURRENCIES } from '../deals/form.js';
import { toast, reportError } from '../components/toast.js';
import { navigate } from '../router.js';
import { settingsFrame } from './settings.js';
import { archivePanel } from './orgarchive.js';

export const longDate = (iso) => formatDate(iso);

export async function renderOrgSettings(ctx) {
  const { slug } = ctx;
  const page = settingsFrame(ctx, 'organization', { title: 'Organization' });
  page.classList.add('page-narrow');
  const org = await get(orgPath(slug), { signal: ctx.signal });
  const closed = !!org.closure;
  const editable = canAdmin(slug) && !closed;

  const name = field({ label: 'Name', name: 'name', value: org.name, required: true, autocomplete: 'off' });
  const slugField = field({ label: 'Web address', name: 'slug', value: org.slug, autocomplete: 'off', hint: `Links to this organization start with ${location.origin}/o/${org.slug}/. After a change, old links stop working.`, attrs: { spellcheck: 'false', maxlength: 48 } });
  const country = field({ label: 'Default country for phone numbers', name: 'default_country', value: org.default_country, options: countryOptions(org.default_country), hint: 'Numbers typed without +country are read as this country’s, and shown in its own format.' });
  const currency = field({ label: 'Default currency', name: 'default_currency', value: org.default_currency, options: currencyOptions(org.default_currency), hint: 'New deals use it unless they name another.' });
  const zone = field({ label: 'Time zone', name: 'time_zone', value: org.time_zone, options: timeZones().map((z) => ({ value: z, label: z.replace(/_/g, ' ') })), hint: 'The organization’s working day. Each person can choose their own under My account.' });
  if (!timeZones().includes(org.time_zone)) zone._input.prepend(h('option', { value: org.time_zone, text: org.time_zone }));
  zone._input.value = org.time_zone;
  const dates = field({ label: 'Date format', name: 'date_format', value: org.date_format, options: dateFormatOptions(), hint: 'How dates are written for everyone who hasn’t chosen their own.' });
  const fields = [name, slugField, country, currency, zone, dates];
  for (const f of fields) f._input.disabled = !editable;
  const save = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Save', disabled: !editable });
  const form = h('form', { class: 'form wide-form', novalidate: true }, name, slugField, h('div', { class: 'field-grid' }, country, currency, zone, dates), editable && h('div', null, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const newSlug = slugField._input.value.trim();
    if (!name._input.value.trim()) { showErrors(form, { fields: { name: 'Enter a name.' } }); return; }
    if (newSlug !== org.slug && !(await confirmDialog({ title: 'Change the web address?', message: `Links and bookmarks with /o/${org.slug}/ stop working. Everyone uses /o/${newSlug}/ from now on.`, confirmLabel: 'Change address' }))) return;
    setBusy(save, true);
    try {
      const saved = await patch(orgPath(slug), {
        name: name._input.value.trim(),
        slug: newSlug,
        default_country: country._input.value,
        default_currency: currency._input.value,
        time_zone: zone._input.value,
        date_format: dates._input.value,
      });
      await loadSession();
      toast('Saved.', { kind: 'success' });
      if (saved.slug !== slug) navigate(`/o/${saved.slug}/settings/organization`, { replace: true });
      else navigate(`/o/${slug}/settings/organization`, { replace: true });
    } catch (err) {
      showErrors(form, err);
    } finally {
      setBusy(save, false);
    }
  });

  clear(page,
    h('section', { class: 'panel' },
      h('header', null, h('h2', { text: 'General' }), !canAdmin(slug) && h('p', { text: 'Only admins change these.' })),
      form),
    isOwner(slug) && !closed && archivePanel(slug, ctx.signal),
    isOwner(slug) && closurePanel(slug, org));
  return {};
}

function currencyOptions(current) {
  let names = null;
  try { names = new Intl.DisplayNames(undefined, { type: 'currency' }); } catch { names = null; }
  const list = CURRENCIES.includes(current) ? CURRENCIES : [current, ...CURRENCIES];
  return list.map((c) => ({ value: c, label: names ? `${c} · ${names.of(c)}` : c }));
}

function closurePanel(slug, org) {
  const c = org.closure;
  if (!c) {
    const btn = h('button', { class: 'btn btn-danger', type: 'button' }, icon('trash', 15), 'Close organization…');
    btn.addEventListener('click', () => closeDialog(slug, org));
    return h('section', { class: 'panel danger-zone' },
      h('header', null, h('h2', { text: 'Close organization' }),
        h('p', { text: 'Closing makes it read-only for everyone at once and prepares a download of all its data. You can reopen it for 30 days; then it is erased for good.' })),
      h('div', null, btn));
  }
  return h('section', { class: 'panel danger-zone' },
    h('header', null, h('h2', { text: 'This organization is closed' }),
      h('p', { text: `Closed on ${longDate(c.closed_at)}. It will be erased on ${longDate(c.purge_at)} unless you reopen it.` })),
    h('div', { class: 'row' }, exportLink(slug, c), reopenButton(slug)));
}

export function exportLink(slug, c) {
  if (c.export.status !== 'ready') {
    return h('span', { class: 'meta', text: c.export.status === 'failed' ? 'The export failed; Harmonia tries again every minute.' : 'Preparing the export of its data…' });
  }
  return h('a', { class: 'btn', href: `/api/v1${orgPath(slug, 'closure', 'export')}`, download: '', dataset: { native: '' } }, icon('download', 15), 'Download its data');
}

export function reopenButton(slug) {
  const btn = h('button', { class: 'btn btn-primary', type: 'button', text: 'Reopen' });
  btn.addEventListener('click', async () => {
    setBusy(btn, true);
    try {
      await post(orgPath(slug, 'reopen'));
      await loadSession();
      toast('Reopened. Everyone can make changes again.', { kind: 'success' });
      navigate(`/o/${slug}/settings/organization`, { replace: true });
    } catch (e) {
      reportError(e);
      setBusy(btn, false);
    }
  });
  return btn;
}

function closeDialog(slug, org) {
  const password = field({ label: 'Your password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { class: 'btn btn-danger', type: 'submit', text: `Close ${org.name}` });
  const d = openDialog({
    title: `Close ${org.name}?`,
    form: true,
    size: 'narrow',
    body: [
      h('p', { text: 'Nobody, you included, can change anything in it from now on. Its owners can download all its data and reopen it for 30 days; after that it is erased with its files.' }),
      password,
    ],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    if (!password._input.value) { showErrors(d.form, { fields: { password: 'Enter your password.' } }, d.body); return; }
    setBusy(submit, true);
    try {
      await post(orgPath(slug, 'close'), { password: password._input.value });
      d.close();
      await loadSession();
      toast(`${org.name} is closed and read-only.`, { kind: 'success' });
      navigate(`/o/${slug}/settings/organization`, { replace: true });
    } catch (err) {
      showErrors(d.form, err, d.body);
      setBusy(submit, false);
    }
  });
}
