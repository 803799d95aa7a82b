// Companies list: organizations you sell to or work with, filterable by owner.
import { h, timeEl, fmtNum } from '../util.js';
import { getMembers } from '../session.js';
import { avatar, memberChip } from '../components/avatar.js';
import { ownerSelect } from '../components/editors.js';
import { listScreen } from './list.js';
import { openCompanyForm } from './forms.js';

export function renderCompanies(ctx) {
  const { slug } = ctx;
  const members = getMembers(slug).catch(() => []);
  const href = (c) => `/o/${slug}/companies/${c.id}`;
  ctx.shell.setActive('companies');
  return listScreen(ctx, {
    kind: 'company',
    entity: 'companies',
    title: 'Companies',
    singular: 'company',
    defaultColumns: ['name', 'domain', 'industry', 'size', 'contact_count', 'owner_id', 'updated_at', 'created_at'],
    columns: Object.fromEntries([
      {
        key: 'name', label: 'Name', sort: 'name', className: 'name-cell',
        render: (c) => h('span', { class: 'cell-inner' }, avatar(c.name, { square: true, seed: c.id }), h('a', { href: href(c), text: c.name })),
      },
      { key: 'domain', label: 'Domain', render: (c) => (c.domain ? h('span', { class: 'secondary', text: c.domain }) : null) },
      { key: 'industry', label: 'Industry', className: 'hide-sm', render: (c) => (c.industry ? h('span', { class: 'secondary', text: c.industry }) : null) },
      { key: 'size', label: 'Employees', className: 'hide-md', render: (c) => (c.size ? h('span', { class: 'secondary num', text: c.size }) : null) },
      { key: 'contact_count', label: 'Contacts', right: true, render: (c) => h('span', { class: c.contact_count ? '' : 'tertiary', text: fmtNum(c.contact_count || 0) }) },
      { key: 'owner_id', label: 'Owner', className: 'hide-sm w-m', render: (c) => memberChip(members, c.owner_id) },
      { key: 'updated_at', label: 'Updated', sort: 'updated_at', className: 'hide-sm w-date', render: (c) => h('span', { class: 'tertiary' }, timeEl(c.updated_at)) },
      { key: 'created_at', label: 'Created', sort: 'created_at', className: 'hide-md w-date', render: (c) => h('span', { class: 'tertiary' }, timeEl(c.created_at)) },
    ].map((c) => [c.key, c])),
    filterKeys: ['owner'],
    defaultSort: 'name',
    descFirst: new Set(['updated', 'created', 'updated_at', 'created_at']),
    href,
    empty: {
      icon: 'companies',
      title: 'Track the companies behind your contacts',
      text: 'Companies group the people you work with by organization, with domain, industry and size. Add one, or create it right from a contact.',
    },
    create: ({ onCreated }) => openCompanyForm({ slug, onSaved: onCreated }),
    buildFilters(state, apply) {
      const owner = ownerSelect([], state.filters.owner, { 'aria-label': 'Owner' });
      owner.options[0].textContent = 'Any owner';
      members.then((list) => {
        const fresh = ownerSelect(list, state.filters.owner, { 'aria-label': 'Owner' });
        fresh.options[0].textContent = 'Any owner';
        owner.replaceChildren(...fresh.options);
        owner.value = state.filters.owner;
      });
      owner.addEventListener('change', () => { state.filters.owner = owner.value; apply(); });
      return [owner];
    },
  });
}
