// Create / edit dialogs for contacts and companies. A failed save keeps every value and shows
// the API's 422 field errors next to the matching inputs.
import { formatPhone } from '../phone.js';
import { h, trimOrNull, sameJson } from '../util.js';
import { icon } from '../icons.js';
import { post, patch, orgPath } from '../api.js';
import { getMembers, session } from '../session.js';
import { openDialog } from '../components/dialog.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { companyPicker } from '../components/picker.js';
import { multiEditor, addressEditor, stageSelect, sizeSelect, ownerSelect } from '../components/editors.js';
import { toast } from '../components/toast.js';
import { getSchema } from '../schema.js';
import { customFieldsOf, customFormFields, valueCtx } from './custom.js';

/** The address block starts folded when empty, so the common case stays short. */
function addressSection(editor, hasValue) {
  const body = h('div', { class: 'stack', hidden: !hasValue }, h('h3', { text: 'Address' }), editor.el);
  const toggle = h('button', { class: 'btn btn-ghost btn-sm multi-add', type: 'button', hidden: hasValue, 'aria-expanded': String(!!hasValue) }, icon('plus', 13), 'Add address');
  toggle.addEventListener('click', () => { body.hidden = false; toggle.hidden = true; toggle.setAttribute('aria-expanded', 'true'); editor.focus(); });
  return h('div', { class: 'form-section' }, toggle, body);
}

/** Only the fields that changed, so a PATCH never overwrites someone else's edit. */
function diff(orig, body) {
  const out = {};
  for (const [k, v] of Object.entries(body)) if (k !== 'custom' && !sameJson(orig[k], v)) out[k] = v;
  if (body.custom && Object.keys(body.custom).length) out.custom = body.custom;
  return out;
}

/** Members and the kind's custom fields as form inputs. */
async function formContext(slug, kind, record) {
  const [members, schema] = await Promise.all([getMembers(slug).catch(() => []), getSchema(slug).catch(() => ({ kinds: [] }))]);
  return { members, custom: customFormFields(customFieldsOf(schema, kind), valueCtx(slug, schema, members), record) };
}

async function runForm({ title, submitLabel, body, wide, build, save, onSaved, successText }) {
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: submitLabel });
  const d = openDialog({
    title,
    form: true,
    size: wide ? 'wide' : '',
    body,
    foot: [h('span', { class: 'meta left hide-sm' }, 'Press ', h('span', { class: 'kbd', text: 'Enter' }), ' to save'), h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    const payload = build();
    if (!payload) return;
    setBusy(submit, true);
    try {
      const saved = await save(payload);
      d.close();
      toast(successText(saved), { kind: 'success' });
      if (onSaved) onSaved(saved);
    } catch (err) {
      showErrors(d.form, err, d.body);
    } finally {
      setBusy(submit, false);
    }
  });
  return d;
}

/** openContactForm({slug, contact?: existing, preset?: {company}, onSaved(contact)}) */
export async function openContactForm({ slug, contact = null, preset = {}, onSaved }) {
  const c = contact || {};
  const { members, custom } = await formContext(slug, 'contact', contact);
  const first = field({ label: 'First name', name: 'first_name', value: c.first_name, autocomplete: 'off' });
  const last = field({ label: 'Last name', name: 'last_name', value: c.last_name, autocomplete: 'off' });
  const job = field({ label: 'Job title', name: 'job_title', value: c.job_title, autocomplete: 'off' });
  const company = companyPicker({ org: slug, value: c.company || preset.company || null, allowCreate: true, placeholder: 'Search or create…' });
  const companyF = field({ label: 'Company', name: 'company_id', control: company.input, controlEl: company.el });
  const emails = multiEditor('emails', c.emails, { label: 'Email' });
  const phones = multiEditor('phones', c.phones, { label: 'Phone' });
  const stage = field({ label: 'Stage', name: 'stage', control: stageSelect(c.stage) });
  const owner = field({ label: 'Owner', name: 'owner_id', control: ownerSelect(members, contact ? c.owner_id : preset.owner_id || session.user.id) });
  const source = field({ label: 'Source', name: 'source', value: c.source, placeholder: 'Referral, website, event…', className: 'span-2' });
  const address = addressEditor(c.address);

  const build = () => ({
    first_name: trimOrNull(first._input.value),
    last_name: trimOrNull(last._input.value),
    job_title: trimOrNull(job._input.value),
    company_id: (company.value() || {}).id || null,
    emails: emails.value(),
    phones: phones.value(),
    stage: stage._input.value || null,
    owner_id: owner._input.value || null,
    source: trimOrNull(source._input.value),
    address: address.value(),
    custom: custom.value(),
  });
  return runForm({
    title: contact ? 'Edit contact' : 'New contact',
    submitLabel: contact ? 'Save changes' : 'Create contact',
    wide: true,
    body: [
      h('div', { class: 'field-grid' }, first, last, job, companyF),
      emails.el,
      phones.el,
      h('div', { class: 'field-grid' }, stage, owner, source),
      ...custom.els,
      addressSection(address, !!c.address),
    ],
    build,
    save: (body) => (contact ? patch(orgPath(slug, 'contacts', contact.id), diff(contact, body)) : post(orgPath(slug, 'contacts'), body)),
    onSaved,
    successText: (x) => (contact ? 'Contact saved.' : `Created ${x.name || 'contact'}.`),
  });
}

/** openCompanyForm({slug, company?: existing, onSaved(company)}) */
export async function openCompanyForm({ slug, company = null, onSaved }) {
  const c = company || {};
  const { members, custom } = await formContext(slug, 'company', company);
  const name = field({ label: 'Name', name: 'name', value: c.name, required: true, autocomplete: 'off', className: 'span-2' });
  const domain = field({ label: 'Domain', name: 'domain', value: c.domain, placeholder: 'acme.com', autocomplete: 'off' });
  const industry = field({ label: 'Industry', name: 'industry', value: c.industry, autocomplete: 'off' });
  const size = field({ label: 'Size', name: 'size', control: sizeSelect(c.size) });
  const phone = field({ label: 'Phone', name: 'phone', type: 'tel', value: c.phone ? formatPhone(c.phone) : '', autocomplete: 'off' });
  const owner = field({ label: 'Owner', name: 'owner_id', control: ownerSelect(members, company ? c.owner_id : session.user.id) });
  const address = addressEditor(c.address);
  const build = () => {
    const body = {
      name: trimOrNull(name._input.value),
      domain: trimOrNull(domain._input.value),
      industry: trimOrNull(industry._input.value),
      size: size._input.value || null,
      phone: trimOrNull(phone._input.value),
      owner_id: owner._input.value || null,
      address: address.value(),
      custom: custom.value(),
    };
    if (!body.name) {
      showErrors(name.closest('form'), { fields: { name: 'A company needs a name.' } });
      return null;
    }
    return body;
  };
  return runForm({
    title: company ? 'Edit company' : 'New company',
    submitLabel: company ? 'Save changes' : 'Create company',
    wide: true,
    body: [
      h('div', { class: 'field-grid' }, name, domain, industry, size, phone, owner),
      ...custom.els,
      addressSection(address, !!c.address),
    ],
    build,
    save: (body) => (company ? patch(orgPath(slug, 'companies', company.id), diff(company, body)) : post(orgPath(slug, 'companies'), body)),
    onSaved,
    successText: (x) => (company ? 'Company saved.' : `Created ${x.name}.`),
  });
}
