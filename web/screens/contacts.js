// Contacts list: people, with stage / owner / company filters.
import { h, timeEl } from '../util.js';
import { get, orgPath } from '../api.js';
import { getMembers } from '../session.js';
import { avatar, memberChip } from '../components/avatar.js';
import { stageBadge, STAGES } from '../components/badge.js';
import { select } from '../components/field.js';
import { ownerSelect } from '../components/editors.js';
import { companyPicker } from '../components/picker.js';
import { listScreen } from './list.js';
import { formatPhone } from '../phone.js';
import { formatBirthday } from '../components/values.js';
import { openContactForm } from './forms.js';

export const contactName = (c) => c.name || [c.first_name, c.last_name].filter(Boolean).join(' ') || (c.emails && c.emails[0] && c.emails[0].email) || 'Unnamed contact';

export function contactColumns(slug, members, { company = true } = {}) {
  const href = (c) => `/o/${slug}/contacts/${c.id}`;
  return [
    {
      key: 'name', label: 'Name', sort: 'name', className: 'name-cell',
      render: (c) => h('span', { class: 'cell-inner' }, avatar(contactName(c), { seed: c.id }), h('a', { href: href(c), text: contactName(c) })),
    },
    company && { key: 'company_id', label: 'Company', className: 'col-company', render: (c) => (c.company ? h('a', { class: 'secondary', href: `/o/${slug}/companies/${c.company.id}`, text: c.company.name }) : null) },
    { key: 'job_title', label: 'Job title', className: 'hide-lg', render: (c) => (c.job_title ? h('span', { class: 'secondary', text: c.job_title }) : null) },
    { key: 'emails', label: 'Email', className: 'hide-sm', render: (c) => (c.emails && c.emails[0] ? h('span', { class: 'secondary', text: c.emails[0].email }) : null) },
    { key: 'phones', label: 'Phone', className: 'hide-lg w-m', render: (c) => (c.phones && c.phones[0] ? h('span', { class: 'secondary num', text: formatPhone(c.phones[0].phone) }) : null) },
    { key: 'stage', label: 'Stage', className: 'w-s', render: (c) => stageBadge(c.stage) },
    { key: 'owner_id', label: 'Owner', className: 'hide-sm w-m', render: (c) => memberChip(members, c.owner_id) },
    { key: 'updated_at', label: 'Updated', sort: 'updated_at', className: 'hide-sm w-date', render: (c) => h('span', { class: 'tertiary' }, timeEl(c.updated_at)) },
    { key: 'created_at', label: 'Created', sort: 'created_at', className: 'hide-md w-date', render: (c) => h('span', { class: 'tertiary' }, timeEl(c.created_at)) },
    { key: 'source', label: 'Source', className: 'hide-md', render: (c) => (c.source ? h('span', { class: 'secondary', text: c.source }) : null) },
    { key: 'birthday', label: 'Birthday', className: 'hide-md w-date', render: (c) => (c.birthday ? h('span', { class: 'secondary num', text: formatBirthday(c.birthday) }) : null) },
  ].filter(Boolean);
}

export function renderContacts(ctx) {
  const { slug } = ctx;
  const members = getMembers(slug).catch(() => []);
  ctx.shell.setActive('contacts');
  return listScreen(ctx, {
    kind: 'contact',
    entity: 'contacts',
    title: 'Contacts',
    singular: 'contact',
    columns: Object.fromEntries(contactColumns(slug, members).map((c) => [c.key, c])),
    defaultColumns: ['name', 'company_id', 'job_title', 'emails', 'phones', 'stage', 'owner_id', 'updated_at'],
    filterKeys: ['stage', 'owner', 'company'],
    defaultSort: 'name',
    descFirst: new Set(['updated', 'created', 'updated_at', 'created_at']),
    href: (c) => `/o/${slug}/contacts/${c.id}`,
    empty: {
      icon: 'contacts',
      title: 'Keep track of the people you work with',
      text: 'Contacts are your customers, leads and partners: their emails, phones, company and where they are in your pipeline. Add the first one to get started.',
    },
    create: ({ onCreated }) => openContactForm({ slug, onSaved: onCreated }),
    buildFilters(state, apply) {
      const stage = select([{ value: '', label: 'All stages' }, ...STAGES.map((s) => ({ value: s.value, label: s.label }))], state.filters.stage, { 'aria-label': 'Stage' });
      stage.addEventListener('change', () => { state.filters.stage = stage.value; apply(); });
      const owner = ownerSelect([], state.filters.owner, { 'aria-label': 'Owner' });
      owner.options[0].textContent = 'Any owner';
      members.then((list) => {
        const fresh = ownerSelect(list, state.filters.owner, { 'aria-label': 'Owner' });
        fresh.options[0].textContent = 'Any owner';
        owner.replaceChildren(...fresh.options);
        owner.value = state.filters.owner;
      });
      owner.addEventListener('change', () => { state.filters.owner = owner.value; apply(); });
      const company = companyPicker({
        org: slug,
        placeholder: 'Any company',
        onChange: (v) => { const id = v ? v.id : ''; if (id !== state.filters.company) { state.filters.company = id; apply(); } },
      });
      company.input.setAttribute('aria-label', 'Company');
      if (state.filters.company) {
        company.set({ id: state.filters.company, name: '…' });
        get(orgPath(slug, 'companies', state.filters.company)).then((c) => company.set({ id: c.id, name: c.name })).catch(() => company.set({ id: state.filters.company, name: 'Unknown company' }));
      }
      return [stage, owner, company.el];
    },
  });
}
