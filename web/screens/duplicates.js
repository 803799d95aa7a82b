// Duplicates: groups of contacts (or companies) that look like one record, with why; a
// group opens side by side, one column per record: pick the record that stays and, per
// field, whose value it keeps. Merging moves everything linked to the survivor and puts
// the others in the trash (restorable).
import { h, clear, plural } from '../util.js';
import { icon } from '../icons.js';
import { get, post, orgPath } from '../api.js';
import { canEdit, getMembers, memberName, announceChange } from '../session.js';
import { getSchema, kindSchema, fieldsOf, valueOf } from '../schema.js';
import { toast, reportError } from '../components/toast.js';
import { emptyState } from '../components/table.js';
import { setBusy } from '../components/field.js';
import { confirmDialog } from '../components/dialog.js';
import { navigate } from '../router.js';
import { formatPhone } from '../phone.js';

const REASON = {
  email: 'Same email', phone: 'Same phone', name_and_company: 'Same name and company',
  domain: 'Same domain', name: 'Same name',
};
// The fields a merge can choose (what the kind's create form takes).
const CHOOSABLE = {
  contact: ['first_name', 'last_name', 'emails', 'phones', 'job_title', 'company_id', 'address', 'owner_id', 'stage', 'source', 'birthday'],
  company: ['name', 'domain', 'industry', 'size', 'phone', 'address', 'owner_id'],
};

const nameOf = (kind, r) => (kind === 'contact'
  ? [r.first_name, r.last_name].filter(Boolean).join(' ') || ((r.emails || [])[0] || {}).email || 'Unnamed'
  : r.name || r.domain || 'Unnamed');

/** A value as one line of text ('' when empty). */
function shown(f, v, r, members) {
  if (v == null || v === '' || (Array.isArray(v) && !v.length)) return '';
  if (f.id === 'owner_id') return memberName(members, v) || 'a former member';
  if (f.id === 'phone') return formatPhone(v);
  if (f.id === 'company_id') return (r.company && r.company.name) || v;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? x.email || (x.phone && formatPhone(x.phone)) || x.name || x.label || '' : String(x))).filter(Boolean).join(', ');
  if (typeof v === 'object') {
    if (v.name) return v.name;
    return Object.values(v).filter((x) => x != null && x !== '' && typeof x !== 'object').join(', ');
  }
  const opt = (f.options || []).find((o) => o.value === v);
  return opt ? opt.label : String(v);
}

export async function renderDuplicates(ctx, path) {
  const { shell, slug, signal } = ctx;
  const kind = path === 'companies' ? 'company' : 'contact';
  const listHref = `/o/${slug}/${path}`;
  const title = kind === 'contact' ? 'Duplicate contacts' : 'Duplicate companies';
  shell.setActive(path);
  shell.setTop({ title, crumbs: [{ label: kind === 'contact' ? 'Contacts' : 'Companies', href: listHref }] });
  const page = h('div', { class: 'page dup-page' });
  clear(shell.content, page);
  const [schema, members] = await Promise.all([getSchema(slug), getMembers(slug).catch(() => [])]);
  const fields = fieldsOf(kindSchema(schema, kind))
    .filter((f) => CHOOSABLE[kind].includes(f.id) || f.key);
  const editable = canEdit(slug);
  let cursor = null;

  const list = h('div', { class: 'dup-groups' });
  const more = h('button', { class: 'btn', type: 'button', text: 'Show more', hidden: true, onclick: () => load(true) });
  const emptyHost = h('div');
  clear(page,
    h('div', { class: 'settings-intro' }, h('p', { text: `Records that share an email, a phone number, or a name${kind === 'contact' ? ' at the same company' : ' or a domain'}. Merging keeps one: everything linked to the others moves to it, and the others go to the trash for 30 days.` })),
    list, h('div', { class: 'load-more' }, more), emptyHost);

  function groupCard(g) {
    const names = g.records.map((r) => nameOf(kind, r));
    return h('section', { class: 'dup-group', 'aria-label': `${REASON[g.reasons[0]] || g.reasons[0]}: ${names.join(', ')}` },
      h('div', { class: 'dup-head' },
        h('div', { class: 'dup-reasons' }, g.reasons.map((r) => h('span', { class: 'badge', text: REASON[r] || r })),
          h('span', { class: 'secondary truncate', title: g.value, text: g.value })),
        editable && h('button', { class: 'btn btn-sm', type: 'button', text: 'Review and merge', 'aria-label': `Review and merge ${names.join(' and ')}`, onclick: (e) => openMerge(g, e.currentTarget.closest('.dup-group')) })),
      h('ul', { class: 'dup-names' }, g.records.map((r) =>
        h('li', {}, icon(kind === 'contact' ? 'contacts' : 'companies', 14), h('a', { href: `${listHref}/${r.id}`, text: nameOf(kind, r) })))));
  }

  function openMerge(g, card) {
    for (const open of list.querySelectorAll('.dup-merge')) open.remove();
    const recs = g.records;
    let survivor = recs[0].id;
    // field id → record id whose value stays (default: the first non-empty, survivor first).
    const pick = {};
    const rows = fields
      .map((f) => ({ f, vals: recs.map((r) => shown(f, valueOf(r, f), r, members)) }))
      .filter(({ vals }) => vals.some(Boolean));
    const defaults = () => {
      const order = [recs.find((r) => r.id === survivor), ...recs.filter((r) => r.id !== survivor)];
      for (const { f } of rows) {
        const r = order.find((x) => shown(f, valueOf(x, f), x, members));
        pick[f.id] = r ? r.id : survivor;
      }
    };
    defaults();
    const table = h('table', { class: 'table dup-table' });
    const draw = () => {
      const head = h('tr', {}, h('th', { scope: 'col', text: 'Field' }), recs.map((r) =>
        h('th', { scope: 'col', class: r.id === survivor ? 'dup-keep' : '' },
          h('label', { class: 'dup-survivor' },
            h('input', { type: 'radio', name: `keep-${g.value}`, checked: r.id === survivor, onchange: () => { survivor = r.id; defaults(); draw(); } }),
            h('span', { text: nameOf(kind, r) }),
            h('span', { class: 'tertiary', text: r.id === survivor ? 'stays' : 'to the trash' })))));
      const body = rows.map(({ f, vals }) => {
        const differ = new Set(vals.filter(Boolean)).size > 1;
        return h('tr', { class: differ ? 'dup-differs' : '' }, h('th', { scope: 'row', text: f.label }), recs.map((r, i) =>
          h('td', { class: pick[f.id] === r.id ? 'dup-picked' : '' },
            differ && vals[i]
              ? h('label', { class: 'dup-choice' },
                h('input', { type: 'radio', name: `${g.value}-${f.id}`, checked: pick[f.id] === r.id, 'aria-label': `${f.label}: ${vals[i]}`, onchange: () => { pick[f.id] = r.id; draw(); } }),
                h('span', { text: vals[i] }))
              : h('span', { class: vals[i] ? '' : 'tertiary', text: vals[i] || '—' }))));
      });
      clear(table, h('thead', {}, head), h('tbody', {}, body));
    };
    draw();
    const mergeBtn = h('button', { class: 'btn btn-primary', type: 'button', text: `Merge ${plural(recs.length, kind === 'contact' ? 'contact' : 'company')}`, onclick: () => run() });
    const panel = h('div', { class: 'dup-merge' },
      h('div', { class: 'table-card' }, table),
      h('p', { class: 'secondary', text: 'Deals, notes, tasks, activities, files and tags of every record move to the one that stays.' }),
      h('div', { class: 'row dup-actions' },
        h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => panel.remove() }), mergeBtn));
    card.appendChild(panel);
    panel.scrollIntoView({ block: 'nearest' });

    async function run() {
      const ok = await confirmDialog({
        title: `Merge into “${nameOf(kind, recs.find((r) => r.id === survivor))}”?`,
        message: `${plural(recs.length - 1, 'other record')} will be moved to the trash.`,
        confirmLabel: 'Merge',
      });
      if (!ok) return;
      const values = {};
      for (const [field, id] of Object.entries(pick)) if (id !== survivor) values[field] = id;
      setBusy(mergeBtn, true);
      try {
        const merged = await post(orgPath(slug, path, 'merge'), { ids: [survivor, ...recs.filter((r) => r.id !== survivor).map((r) => r.id)], values });
        announceChange(path);
        toast(`Merged into “${nameOf(kind, merged)}”.`, { kind: 'success', action: { label: 'Open', run: () => navigate(`${listHref}/${merged.id}`) } });
        card.remove();
        sync();
      } catch (e) {
        reportError(e, 'Could not merge.');
        if (e.status === 404) load();
      } finally {
        setBusy(mergeBtn, false);
      }
    }
  }

  function sync() {
    const empty = !list.children.length;
    clear(emptyHost, empty ? emptyState({ iconName: 'check', title: 'No duplicates found', text: `No ${path} share an email, a phone number or a name.`, actions: [h('a', { class: 'btn', href: listHref, text: `Back to ${path}` })] }) : null);
  }

  async function load(next = false) {
    const q = new URLSearchParams({ limit: '25' });
    if (next && cursor) q.set('cursor', cursor);
    try {
      const r = await get(`${orgPath(slug, path, 'duplicates')}?${q}`, { signal });
      if (!next) clear(list);
      for (const g of r.items) list.appendChild(groupCard(g));
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      if (e.name !== 'AbortError') reportError(e);
    }
    sync();
  }

  await load();
  return {};
}
