// Settings → Audit log (admins): who did what to what, when and from where, newest first;
// filter by person, action, target and dates; page with "Show more"; export the same filter as CSV.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, orgPath, API_BASE } from '../api.js';
import { canAdmin } from '../session.js';
import { reportError } from '../components/toast.js';
import { createTable, emptyState } from '../components/table.js';
import { settingsFrame } from './settings.js';

// The actions an organization's log holds, grouped for the filter menu.
const ACTIONS = [
  ['', 'All actions'],
  ['member.', 'Members — all'],
  ['member.invited', 'Member invited'],
  ['member.role_changed', 'Member role changed'],
  ['member.removed', 'Member removed'],
  ['member.left', 'Member left'],
  ['api_key.', 'API keys — all'],
  ['api_key.created', 'API key created'],
  ['api_key.revoked', 'API key revoked'],
  ['org.settings_changed', 'Organization settings changed'],
  ['custom_field.', 'Custom fields — all'],
  ['pipeline.', 'Pipelines — all'],
  ['record.erased', 'Record deleted forever'],
  ['org.', 'Organization closed / reopened'],
  ['audit.purged', 'Old entries purged'],
];

const ACTOR_ICON = { user: 'user', api_key: 'key', system: 'settings', anonymous: 'lock' };

/** "member.role_changed" → "Member role changed". */
export function actionLabel(a) {
  const known = ACTIONS.find(([v]) => v === a);
  if (known) return known[1];
  const s = a.replace(/[._]/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function changeText(e) {
  const keys = new Set([...Object.keys(e.before || {}), ...Object.keys(e.after || {})]);
  const show = (v) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return [...keys].slice(0, 4).map((k) => {
    const b = e.before && k in e.before ? show(e.before[k]) : null;
    const a = e.after && k in e.after ? show(e.after[k]) : null;
    return b !== null && a !== null ? `${k}: ${b} → ${a}` : `${k}: ${a ?? b}`;
  }).join(' · ');
}

export async function renderAudit(ctx) {
  const { slug, signal } = ctx;
  if (!canAdmin(slug)) {
    const page = settingsFrame(ctx, 'audit', { title: 'Audit log' });
    clear(page, emptyState({ iconName: 'lock', title: 'Only admins read the audit log', text: 'Ask an owner or admin of this organization.' }));
    return {};
  }
  const exportLink = h('a', { class: 'btn', href: '#', download: '', 'aria-label': 'Export CSV' }, icon('download', 15), h('span', { class: 'hide-sm', text: 'Export CSV' }));
  const page = settingsFrame(ctx, 'audit', { title: 'Audit log', actions: [exportLink] });
  let cursor = null;

  const input = (name, label, type = 'search', placeholder = '') => {
    const el = h('input', { class: 'input', type, name, placeholder, 'aria-label': label, spellcheck: 'false', autocomplete: 'off' });
    return el;
  };
  const actor = input('actor', 'Person or key', 'search', 'Person or key');
  const target = input('target', 'Target', 'search', 'Target');
  const action = h('select', { class: 'select', name: 'action', 'aria-label': 'Action' },
    ACTIONS.map(([v, l]) => h('option', { value: v, text: l })));
  const since = input('since', 'From date', 'date');
  const until = input('until', 'To date', 'date');
  const filters = h('form', { class: 'audit-filters', role: 'search', 'aria-label': 'Filter the audit log' },
    actor, action, target, h('span', { class: 'tertiary', text: 'from' }), since, h('span', { class: 'tertiary', text: 'to' }), until);

  const table = createTable({
    caption: 'Audit log',
    className: 'table-static audit-table',
    columns: [
      { key: 'at', label: 'When', render: (e) => h('span', { class: 'tertiary nowrap', title: new Date(e.at).toLocaleString() }, timeEl(e.at)) },
      { key: 'actor', label: 'Actor', className: 'name-cell', render: (e) => h('span', { class: 'cell-inner' }, icon(ACTOR_ICON[e.actor_kind] || 'user', 14), h('span', { class: 'truncate', title: e.actor_label, text: e.actor_label })) },
      { key: 'action', label: 'Action', render: (e) => h('span', { class: 'audit-action' }, h('span', { text: actionLabel(e.action) }), (e.before || e.after) && h('span', { class: 'tertiary truncate audit-change', title: changeText(e), text: changeText(e) })) },
      { key: 'target', label: 'Target', className: 'hide-sm', render: (e) => h('span', { class: 'truncate secondary', title: e.target_label || '', text: e.target_label || '—' }) },
      { key: 'ip', label: 'IP', className: 'hide-sm', render: (e) => h('span', { class: 'mono tertiary', title: e.user_agent || '', text: e.ip || '—' }) },
    ],
  });
  const more = h('button', { class: 'btn', type: 'button', text: 'Show more', hidden: true, onclick: () => load(true) });
  const card = h('div', { class: 'table-card' }, table.el);
  const emptyHost = h('div');
  clear(page,
    h('div', { class: 'settings-intro' }, h('p', { text: 'Every sensitive change in this organization — members, roles, API keys, settings, fields, pipelines, webhooks, imports, exports, merges, privacy requests, permanent deletions — with who made it, when and from where. Entries cannot be edited or deleted and are kept for 12 months.' })),
    filters, card, h('div', { class: 'load-more' }, more), emptyHost);

  function params() {
    const q = new URLSearchParams();
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    if (action.value) q.set('action', action.value);
    if (target.value.trim()) q.set('target', target.value.trim());
    // Dates are the viewer's local days.
    if (since.value) q.set('since', new Date(`${since.value}T00:00:00`).toISOString());
    if (until.value) { const d = new Date(`${until.value}T00:00:00`); d.setDate(d.getDate() + 1); q.set('until', d.toISOString()); }
    return q;
  }
  function sync() {
    const empty = !table.items().length;
    card.hidden = empty;
    const filtered = [...params().keys()].length > 0;
    clear(emptyHost, empty ? emptyState({ iconName: 'shield', title: filtered ? 'No entries match' : 'Nothing recorded yet', text: filtered ? 'Try fewer filters or a wider date range.' : 'Changes to members, keys and settings show up here.' }) : null);
  }
  async function load(next = false) {
    const q = params();
    exportLink.href = `${API_BASE}${orgPath(slug, 'audit', 'export')}?${q}`;
    q.set('limit', '50');
    if (next && cursor) q.set('cursor', cursor);
    if (!next) table.skeleton(6);
    try {
      const r = await get(`${orgPath(slug, 'audit')}?${q}`, { signal });
      const items = r.items.map((e) => ({ ...e, id: e.id }));
      if (next) table.append(items); else table.setItems(items);
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      if (e.name !== 'AbortError') reportError(e);
      if (!next) table.setItems([]);
    }
    sync();
  }
  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(() => load(), 250); };
  filters.addEventListener('input', soon);
  filters.addEventListener('change', soon);
  filters.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  await load();
  return {};
}
