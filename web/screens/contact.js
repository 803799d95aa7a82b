// Contact page: header with key facts, related company and history in the main column,
// every field inline-editable in the side column (`e` opens the full edit form).
import { formatPhone } from '../phone.js';
import { h, clear, trimOrNull, fmtNum } from '../util.js';
import { icon } from '../icons.js';
import { get, patch, orgPath } from '../api.js';
import { canEdit, getMembers, memberName } from '../session.js';
import { avatar } from '../components/avatar.js';
import { stageBadge } from '../components/badge.js';
import { field } from '../components/field.js';
import { formatBirthday } from '../components/values.js';
import { menuButton } from '../components/menu.js';
import { reportError } from '../components/toast.js';
import { companyPicker } from '../components/picker.js';
import { multiEditor, addressEditor, stageSelect, ownerSelect, formatAddress } from '../components/editors.js';
import { openContactForm } from './forms.js';
import { contactName } from './contacts.js';
import { getSchema } from '../schema.js';
import { timelinePanel } from '../components/timeline.js';
import { filesPanel } from '../components/files.js';
import { tagsBox } from '../components/tags.js';
import { customFieldsOf, customProps, valueCtx } from './custom.js';
import { relatedDeals } from '../deals/related.js';
import { recordHeader, fact, skeletonRecord, notFoundState, propsList, deleteRecord, sideSection } from './record.js';

const textField = (key, label, type = 'text') => ({
  key, label,
  view: (c) => (c[key] ? h('span', { text: c[key] }) : null),
  editor: (c) => { const f = field({ label, name: key, type, value: c[key] }); f.querySelector('label').classList.add('sr-only'); return { el: f, focus: () => f._input.focus(), value: () => f._input.value }; },
  toPatch: (v) => ({ [key]: trimOrNull(v) }),
});

const lines = (list, key, scheme) => (list && list.length
  ? h('span', { class: 'lines' }, list.map((x) => h('span', null, h('a', { href: `${scheme}:${x[key]}`, dataset: { native: '' }, text: scheme === 'tel' ? formatPhone(x[key]) : x[key] }), x.label && h('span', { class: 'meta', text: x.label }))))
  : null);

function selectField(key, label, build, view) {
  return {
    key, label, view,
    editor: (c) => { const s = build(c[key]); const f = field({ label, name: key, control: s }); f.querySelector('label').classList.add('sr-only'); return { el: f, focus: () => s.focus(), value: () => s.value }; },
    toPatch: (v) => ({ [key]: v || null }),
  };
}

export function contactFields(slug, members) {
  return [
    textField('first_name', 'First name'),
    textField('last_name', 'Last name'),
    textField('job_title', 'Job title'),
    {
      key: 'company_id', label: 'Company',
      view: (c) => (c.company ? h('a', { href: `/o/${slug}/companies/${c.company.id}`, text: c.company.name }) : null),
      editor: (c) => {
        const p = companyPicker({ org: slug, value: c.company, allowCreate: true, placeholder: 'Search or create…' });
        p.input.setAttribute('aria-label', 'Company');
        const el = h('div', { class: 'field', dataset: { field: 'company_id' } }, p.el);
        el._input = p.input;
        return { el, focus: () => p.input.focus(), value: () => p.value() };
      },
      toPatch: (v) => ({ company_id: v ? v.id : null }),
      optimistic: (v) => ({ company: v }),
    },
    {
      key: 'emails', label: 'Email', view: (c) => lines(c.emails, 'email', 'mailto'),
      editor: (c) => { const m = multiEditor('emails', c.emails, { label: 'Email' }); m.el.querySelector('.field-label').classList.add('sr-only'); return m; },
      toPatch: (v) => ({ emails: v }),
    },
    {
      key: 'phones', label: 'Phone', view: (c) => lines(c.phones, 'phone', 'tel'),
      editor: (c) => { const m = multiEditor('phones', c.phones, { label: 'Phone' }); m.el.querySelector('.field-label').classList.add('sr-only'); return m; },
      toPatch: (v) => ({ phones: v }),
    },
    selectField('stage', 'Stage', (v) => stageSelect(v), (c) => stageBadge(c.stage)),
    selectField('owner_id', 'Owner', (v) => ownerSelect(members, v), (c) => (c.owner_id ? h('span', { text: memberName(members, c.owner_id) || 'Former member' }) : null)),
    textField('source', 'Source'),
    {
      key: 'birthday', label: 'Birthday',
      view: (c) => (c.birthday ? h('span', { class: 'num', text: formatBirthday(c.birthday) }) : null),
      editor: (c) => { const f = field({ label: 'Birthday', name: 'birthday', value: c.birthday, placeholder: '1985-04-12, or --04-12 without the year', autocomplete: 'off' }); f.querySelector('label').classList.add('sr-only'); return { el: f, focus: () => f._input.focus(), value: () => f._input.value }; },
      toPatch: (v) => ({ birthday: trimOrNull(v) }),
    },
    {
      key: 'address', label: 'Address',
      view: (c) => { const l = formatAddress(c.address); return l.length ? h('span', { class: 'lines' }, l.map((x) => h('span', { text: x }))) : null; },
      editor: (c) => addressEditor(c.address),
      toPatch: (v) => ({ address: v }),
    },
  ];
}

function companyCard(slug, company) {
  if (!company) return h('p', { class: 'meta', text: 'Not linked to a company yet.' });
  const card = h('div', { class: 'card related' }, avatar(company.name, { size: 'md', square: true, seed: company.id }),
    h('div', { class: 'info' }, h('a', { href: `/o/${slug}/companies/${company.id}`, text: company.name }), h('span', { class: 'meta', text: ' ' })),
    icon('chevRight', 16));
  get(orgPath(slug, 'companies', company.id)).then((full) => {
    const bits = [full.domain, full.industry, full.contact_count != null ? `${fmtNum(full.contact_count)} contact${full.contact_count === 1 ? '' : 's'}` : null].filter(Boolean);
    card.querySelector('.info .meta').textContent = bits.join(' · ') || ' ';
  }).catch(() => {});
  return card;
}

export async function renderContact(ctx) {
  const { shell, slug, params, signal } = ctx;
  let editable = canEdit(slug);
  const listHref = `/o/${slug}/contacts`;
  shell.setActive('contacts');
  shell.setTop({ title: 'Contact', crumbs: [{ label: 'Contacts', href: listHref }] });
  clear(shell.content, skeletonRecord());
  const apiPath = orgPath(slug, 'contacts', params.id);
  let contact;
  let members;
  let schema;
  try {
    [contact, members, schema] = await Promise.all([get(apiPath, { signal }), getMembers(slug).catch(() => []), getSchema(slug).catch(() => ({ kinds: [] }))]);
  } catch (e) {
    if (e.name === 'AbortError') return {};
    if (e.status === 404) { shell.setTop({ title: 'Not found', crumbs: [{ label: 'Contacts', href: listHref }] }); clear(shell.content, notFoundState('contact', listHref)); }
    else { reportError(e); clear(shell.content); }
    return {};
  }

  // Restricted by a privacy request: read-only for everyone until an admin lifts it.
  const restricted = contact.restricted === true;
  if (restricted) editable = false;
  const recordHref = `${listHref}/${contact.id}`;
  const openEdit = () => openContactForm({ slug, contact, onSaved: (c) => { contact = c; render(); props.update(c); } });
  const props = propsList({
    fields: [...contactFields(slug, members), ...customProps(customFieldsOf(schema, 'contact'), valueCtx(slug, schema, members))],
    item: contact,
    editable,
    save: (body) => patch(apiPath, body),
    onSaved: (c) => { contact = c; render(); },
  });
  const tags = tagsBox({ slug, path: 'contacts', record: contact, editable, onChange: (r) => { contact = r; } });
  const actions = editable ? [
    h('button', { class: 'btn', type: 'button', title: 'Edit (e)', onclick: openEdit }, icon('pencil', 14), 'Edit'),
    menuButton({ label: 'More actions' }, () => [
      { label: 'Delete contact', icon: 'trash', danger: true, onSelect: () => deleteRecord({ apiPath, entity: 'contacts', label: contactName(contact), backHref: listHref, recordHref }) },
    ], { align: 'end' }),
  ] : [];

  const headHost = h('div');
  const mainHost = h('div', { class: 'record-main' });
  const deals = relatedDeals({ slug, path: 'contacts', record: contact, signal: ctx.signal, preset: { contacts: [{ contact_id: contact.id, role: 'decision_maker' }], company: contact.company } });
  const timeline = timelinePanel({ slug, path: 'contacts', id: contact.id, kind: 'contact', members, editable });
  const files = filesPanel({ slug, kind: 'contact', id: contact.id, members, editable });
  function render() {
    const c = contact;
    const email = c.emails && c.emails[0];
    const phone = c.phones && c.phones[0];
    shell.setTop({ title: contactName(c), crumbs: [{ label: 'Contacts', href: listHref }] });
    clear(headHost, recordHeader({
      avatarEl: avatar(contactName(c), { size: 'lg', seed: c.id }),
      title: contactName(c),
      facts: [
        c.job_title && fact('briefcase', c.job_title, 'Job title'),
        c.company && fact('companies', h('a', { href: `/o/${slug}/companies/${c.company.id}`, text: c.company.name }), 'Company'),
        email && fact('mail', h('a', { href: `mailto:${email.email}`, dataset: { native: '' }, text: email.email }), 'Email'),
        phone && fact('phone', h('a', { href: `tel:${phone.phone}`, dataset: { native: '' }, text: formatPhone(phone.phone) }), 'Phone'),
        c.stage && stageBadge(c.stage),
      ],
      actions,
    }));
    clear(mainHost,
      sideSection('Company', companyCard(slug, c.company)),
      sideSection('Deals', deals.el, restricted ? [] : [deals.add]),
      sideSection('Files', files.el, [files.add]),
      timeline.el);
    timeline.reload();
  }
  render();
  const banner = restricted ? h('div', { class: 'record-banner', role: 'note' }, icon('lock', 14),
    h('span', { text: 'Restricted by a privacy request — read-only. It is left out of exports and webhooks until an admin lifts the restriction in Settings → Privacy.' })) : null;
  clear(shell.content, h('div', { class: 'record' }, banner, headHost, h('div', { class: 'record-body' }, mainHost,
    h('aside', { class: 'record-side', 'aria-label': 'Details' }, sideSection('Tags', tags.el), sideSection('Details', props.el)))));
  return { shortcuts: editable ? { e: openEdit } : {} };
}
