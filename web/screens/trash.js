// Trash: deleted records of every kind with who deleted them, when, and how long they stay
// restorable; restore one or many (members), delete forever (admins), filter by kind.
import { h, clear, timeEl, plural } from '../util.js';
import { icon } from '../icons.js';
import { get, post, del, orgPath } from '../api.js';
import { canEdit, canAdmin, getMembers, memberName, announceChange } from '../session.js';
import { getSchema, pathOfKind } from '../schema.js';
import { confirmDialog } from '../components/dialog.js';
import { toast, reportError } from '../components/toast.js';
import { createTable, emptyState } from '../components/table.js';
import { setBusy } from '../components/field.js';
import { navigate } from '../router.js';
import { settingsFrame } from './settings.js';

const KIND_ICON = { contact: 'contacts', company: 'companies', file: 'file' };
// Files are not a record kind but go to the same trash.
const FILES = { kind: 'file', label: 'File', label_plural: 'Files' };
const DAY = 86400000;

function daysLeft(iso) {
  const d = Math.max(0, Math.ceil((new Date(iso).getTime() - Date.now()) / DAY));
  return d === 0 ? 'Today' : plural(d, 'day');
}

export async function renderTrash(ctx) {
  const { slug, signal } = ctx;
  const page = settingsFrame(ctx, 'trash', { title: 'Trash' });
  const [schema, members] = await Promise.all([getSchema(slug), getMembers(slug).catch(() => [])]);
  const kinds = [...(schema.kinds || []), FILES];
  const labelOf = (k) => (kinds.find((x) => x.kind === k) || { label: k }).label;
  let kind = ctx.query.get('kind') || '';
  let cursor = null;
  let selected = new Set();

  const who = (by) => {
    if (!by) return 'someone';
    if (by.startsWith('api_key:')) return 'an API key';
    return memberName(members, by) || 'a former member';
  };
  const table = createTable({
    caption: 'Deleted records',
    className: 'table-static trash-table',
    selectable: canEdit(slug),
    onSelect: (s) => { selected = s; syncBar(); },
    columns: [
      { key: 'name', label: 'Name', className: 'name-cell', render: (t) => h('span', { class: 'cell-inner' }, icon(KIND_ICON[t.kind] || 'list', 15), h('span', { class: 'truncate', title: t.name, text: t.name || 'Untitled' })) },
      { key: 'kind', label: 'Kind', className: 'hide-sm', render: (t) => h('span', { class: 'secondary', text: labelOf(t.kind) }) },
      { key: 'deleted', label: 'Deleted', className: 'hide-sm', render: (t) => h('span', { class: 'tertiary' }, timeEl(t.deleted_at), ` by ${who(t.deleted_by)}`) },
      { key: 'left', label: 'Erased in', className: 'hide-sm', render: (t) => h('span', { class: 'tertiary', title: new Date(t.purge_at).toLocaleString(), text: daysLeft(t.purge_at) }) },
      { key: 'actions', label: '', right: true, render: (t) => h('span', { class: 'row-actions' },
        canEdit(slug) && h('button', { class: 'btn btn-sm', type: 'button', text: 'Restore', 'aria-label': `Restore ${t.name}`, onclick: () => restore([t]) }),
        canAdmin(slug) && h('button', { class: 'btn btn-sm btn-ghost', type: 'button', text: 'Delete forever', 'aria-label': `Delete ${t.name} forever`, onclick: () => erase(t) })) },
    ],
  });

  const chips = h('div', { class: 'chip-filter', role: 'group', 'aria-label': 'Kind' });
  function drawChips() {
    clear(chips, [{ kind: '', label_plural: 'Everything' }, ...kinds].map((k) =>
      h('button', { class: 'btn btn-sm', type: 'button', 'aria-pressed': String(kind === k.kind), text: k.label_plural, onclick: () => { kind = k.kind; drawChips(); load(); } })));
  }
  const restoreSel = h('button', { class: 'btn btn-primary btn-sm', type: 'button', onclick: () => restore(table.items().filter((t) => selected.has(t.id))) });
  const bar = h('div', { class: 'trash-bar', hidden: true }, restoreSel);
  function syncBar() {
    bar.hidden = selected.size === 0;
    restoreSel.textContent = `Restore ${plural(selected.size, 'record')}`;
  }
  const more = h('button', { class: 'btn', type: 'button', text: 'Show more', hidden: true, onclick: () => load(true) });
  const card = h('div', { class: 'table-card' }, table.el);
  const emptyHost = h('div');
  clear(page,
    h('div', { class: 'settings-intro' }, h('p', { text: 'Deleted records and files stay here for 30 days, then they are erased for good. Restoring one brings back what its deletion changed, such as a company’s links to its contacts.' })),
    h('div', { class: 'trash-tools' }, chips, bar),
    card, h('div', { class: 'load-more' }, more), emptyHost);

  function sync() {
    const empty = !table.items().length;
    card.hidden = empty;
    clear(emptyHost, empty ? emptyState({ iconName: 'trash', title: 'The trash is empty', text: kind ? `No deleted ${labelOf(kind).toLowerCase()} records.` : 'Records you delete show up here for 30 days.' }) : null);
  }

  async function load(next = false) {
    const q = new URLSearchParams({ limit: '50' });
    if (kind) q.set('kind', kind);
    if (next && cursor) q.set('cursor', cursor);
    if (!next) { table.clearSelection(); selected = new Set(); syncBar(); table.skeleton(4); }
    try {
      const r = await get(`${orgPath(slug, 'trash')}?${q}`, { signal });
      if (next) table.append(r.items); else table.setItems(r.items);
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      if (e.name !== 'AbortError') reportError(e);
      if (!next) table.setItems([]);
    }
    sync();
  }

  async function restore(items) {
    if (!items.length) return;
    const busy = items.length > 1 ? restoreSel : null;
    if (busy) setBusy(busy, true);
    try {
      await post(orgPath(slug, 'trash', 'restore'), { items: items.map((t) => ({ kind: t.kind, id: t.id })) });
      table.remove(items.map((t) => t.id));
      table.clearSelection(); selected = new Set(); syncBar();
      sync();
      for (const k of new Set(items.map((t) => t.kind))) if (k !== 'file') announceChange(pathOfKind(schema, k));
      const one = items.length === 1 ? items[0] : null;
      toast(one ? `Restored “${one.name}”.` : `Restored ${plural(items.length, 'record')}.`, {
        kind: 'success',
        action: one && one.kind !== 'file' ? { label: 'Open', run: () => navigate(`/o/${slug}/${pathOfKind(schema, one.kind)}/${one.id}`) } : null,
      });
    } catch (e) {
      reportError(e, 'Could not restore.');
      if (e.status === 404) load();
    } finally {
      if (busy) setBusy(busy, false);
    }
  }

  async function erase(t) {
    const ok = await confirmDialog({ title: `Delete “${t.name}” forever?`, message: t.kind === 'file' ? 'The file is erased now and can’t be restored.' : 'It is erased now with its history and tags, and can’t be restored.', confirmLabel: 'Delete forever', danger: true });
    if (!ok) return;
    try {
      await del(orgPath(slug, 'trash', t.kind, t.id));
      table.remove([t.id]);
      sync();
      toast(`Deleted “${t.name}” forever.`, { kind: 'success' });
    } catch (e) { reportError(e, 'Could not delete it.'); }
  }

  drawChips();
  await load();
  return {};
}
