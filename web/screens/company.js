// Company page: header with key facts, the company's contacts and history in the main column,
// inline-editable fields in the side column.
import { formatPhone } from '../phone.js';
import { h, clear, qs, trimOrNull, safeDomainUrl, fmtNum, plural } from '../util.js';
import { icon } from '../icons.js';
import { get, patch, orgPath } from '../api.js';
import { canEdit, getMembers, memberName, announceChange } from '../session.js';
import { avatar } from '../components/avatar.js';
import { field, setBusy } from '../components/field.js';
import { menuButton } from '../components/menu.js';
import { reportError } from '../components/toast.js';
import { createTable, emptyState } from '../components/table.js';
import { addressEditor, sizeSelect, ownerSelect, formatAddress } from '../components/editors.js';
import { openCompanyForm, openContactForm } from './forms.js';
import { contactColumns } from './contacts.js';
import { getSchema } from '../schema.js';
import { tagsBox } from '../components/tags.js';
import { customFieldsOf, customProps, valueCtx } from './custom.js';
import { relatedDeals } from '../deals/related.js';
import { recordHeader, fact, skeletonRecord, notFoundState, propsList, deleteRecord, sideSection } from './record.js';
import { timelinePanel } from '../components/timeline.js';
import { filesPanel } from '../components/files.js';

function text(key, label, view) {
  return {
    key, label,
    view: view || ((c) => (c[key] ? h('span', { text: c[key] }) : null)),
    editor: (c) => { const f = field({ label, name: key, value: c[key] }); f.querySelector('label').classList.add('sr-only'); return { el: f, focus: () => f._input.focus(), value: () => f._input.value }; },
    toPatch: (v) => ({ [key]: trimOrNull(v) }),
  };
}
function choice(key, label, build, view) {
  return {
    key, label, view,
    editor: (c) => { const s = build(c[key]); const f = field({ label, name: key, control: s }); f.querySelector('label').classList.add('sr-only'); return { el: f, focus: () => s.focus(), value: () => s.value }; },
    toPatch: (v) => ({ [key]: v || null }),
  };
}

const domainLink = (d) => {
  const url = safeDomainUrl(d);
  return url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: d }) : h('span', { text: d });
};

function companyFields(members) {
  return [
    text('name', 'Name'),
    text('domain', 'Domain', (c) => (c.domain ? domainLink(c.domain) : null)),
    text('industry', 'Industry'),
    choice('size', 'Employees', (v) => sizeSelect(v), (c) => (c.size ? h('span', { text: c.size }) : null)),
    text('phone', 'Phone', (c) => (c.phone ? h('a', { href: `tel:${c.phone}`, dataset: { native: '' }, text: formatPhone(c.phone) }) : null)),
    choice('owner_id', 'Owner', (v) => ownerSelect(members, v), (c) => (c.owner_id ? h('span', { text: memberName(members, c.owner_id) || 'Former member' }) : null)),
    {
      key: 'address', label: 'Address',
      view: (c) => { const l = formatAddress(c.address); return l.length ? h('span', { class: 'lines' }, l.map((x) => h('span', { text: x }))) : null; },
      editor: (c) => addressEditor(c.address),
      toPatch: (v) => ({ address: v }),
    },
  ];
}

/** The company's contacts, 25 at a time with Load more. */
function contactsSection(ctx, company, members, editable, onCountChange) {
  const { slug, signal } = ctx;
  const path = orgPath(slug, 'companies', company.id, 'contacts');
  let next = null;
  const table = createTable({
    columns: contactColumns(slug, Promise.resolve(members), { company: false }).filter((c) => ['name', 'job_title', 'emails', 'stage'].includes(c.key)).map((c) => ({ ...c, sort: null, className: c.key === 'name' ? 'name-cell' : c.className })),
    rowHref: (c) => `/o/${slug}/contacts/${c.id}`,
    caption: `Contacts at ${company.name}`,
  });
  const more = h('button', { class: 'btn btn-sm', type: 'button', text: 'Load more', hidden: true });
  const card = h('div', { class: 'table-card' }, table.el);
  const host = h('div', null, card, h('div', { class: 'table-foot' }, more));
  const add = editable && h('button', { class: 'btn btn-sm', type: 'button', onclick: () => openContactForm({ slug, preset: { company: { id: company.id, name: company.name } }, onSaved: (c) => { table.prepend(c); sync(); onCountChange(1); announceChange('contacts'); } }) }, icon('plus', 13), 'Add contact');

  function sync() {
    more.hidden = !next;
    more.parentNode.hidden = !next;
    if (!table.items().length) {
      card.hidden = true;
      if (!host.querySelector('.empty')) host.prepend(emptyState({ compact: true, iconName: 'contacts', title: 'No contacts yet', text: `People who work at ${company.name} will be listed here.` }));
    } else {
      card.hidden = false;
      const e = host.querySelector('.empty');
      if (e) e.remove();
    }
  }
  async function load(cursor) {
    setBusy(more, !!cursor);
    try {
      const r = await get(path + qs({ limit: 25, sort: 'name', cursor }), { signal });
      next = r.next_cursor || null;
      if (cursor) table.append(r.items || []); else table.setItems(r.items || []);
    } catch (e) { reportError(e); }
    setBusy(more, false);
    sync();
  }
  more.addEventListener('click', () => load(next));
  table.skeleton(3);
  load(null);
  return { host, add };
}

export async function renderCompany(ctx) {
  const { shell, slug, params, signal } = ctx;
  const editable = canEdit(slug);
  const listHref = `/o/${slug}/companies`;
  shell.setActive('companies');
  shell.setTop({ title: 'Company', crumbs: [{ label: 'Companies', href: listHref }] });
  clear(shell.content, skeletonRecord());
  const apiPath = orgPath(slug, 'companies', params.id);
  let company;
  let members;
  let schema;
  try {
    [company, members, schema] = await Promise.all([get(apiPath, { signal }), getMembers(slug).catch(() => []), getSchema(slug).catch(() => ({ kinds: [] }))]);
  } catch (e) {
    if (e.name === 'AbortError') return {};
    if (e.status === 404) { shell.setTop({ title: 'Not found', crumbs: [{ label: 'Companies', href: listHref }] }); clear(shell.content, notFoundState('company', listHref)); }
    else { reportError(e); clear(shell.content); }
    return {};
  }

  const recordHref = `${listHref}/${company.id}`;
  const headHost = h('div');
  const countEl = h('span', { class: 'meta' });
  const openEdit = () => openCompanyForm({ slug, company, onSaved: (c) => { company = c; render(); props.update(c); } });
  const props = propsList({
    fields: [...companyFields(members), ...customProps(customFieldsOf(schema, 'company'), valueCtx(slug, schema, members))],
    item: company,
    editable,
    save: (body) => patch(apiPath, body),
    onSaved: (c) => { company = c; render(); },
  });
  const tags = tagsBox({ slug, path: 'companies', record: company, editable, onChange: (r) => { company = r; } });
  const actions = editable ? [
    h('button', { class: 'btn', type: 'button', title: 'Edit (e)', onclick: openEdit }, icon('pencil', 14), 'Edit'),
    menuButton({ label: 'More actions' }, () => [
      { label: 'Delete company', icon: 'trash', danger: true, onSelect: () => deleteRecord({ apiPath, entity: 'companies', label: company.name, backHref: listHref, recordHref }) },
    ], { align: 'end' }),
  ] : [];

  const timeline = timelinePanel({ slug, path: 'companies', id: company.id, kind: 'company', members, editable, relatedLabel: 'Include contacts' });
  const files = filesPanel({ slug, kind: 'company', id: company.id, members, editable });
  function render() {
    const c = company;
    shell.setTop({ title: c.name, crumbs: [{ label: 'Companies', href: listHref }] });
    countEl.textContent = fmtNum(c.contact_count || 0);
    clear(headHost, recordHeader({
      avatarEl: avatar(c.name, { size: 'lg', square: true, seed: c.id }),
      title: c.name,
      facts: [
        c.domain && fact('globe', domainLink(c.domain), 'Website'),
        c.industry && fact('briefcase', c.industry, 'Industry'),
        c.size && fact('users', `${c.size} employees`, 'Size'),
        c.phone && fact('phone', h('a', { href: `tel:${c.phone}`, dataset: { native: '' }, text: formatPhone(c.phone) }), 'Phone'),
        fact('contacts', plural(c.contact_count || 0, 'contact'), 'Contacts'),
      ],
      actions,
    }));
    timeline.reload();
  }
  render();
  const deals = relatedDeals({ slug, path: 'companies', record: company, signal: ctx.signal, preset: { company: { id: company.id, name: company.name } } });
  const contacts = contactsSection(ctx, company, members, editable, (d) => { company = { ...company, contact_count: (company.contact_count || 0) + d }; render(); });
  clear(shell.content, h('div', { class: 'record' }, headHost, h('div', { class: 'record-body' },
    h('div', { class: 'record-main' },
      sideSection('Contacts', contacts.host, [countEl, contacts.add]),
      sideSection('Deals', deals.el, [deals.add]),
      sideSection('Files', files.el, [files.add]),
      timeline.el),
    h('aside', { class: 'record-side', 'aria-label': 'Details' }, sideSection('Tags', tags.el), sideSection('Details', props.el)))));
  return { shortcuts: editable ? { e: openEdit } : {} };
}
