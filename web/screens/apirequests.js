// Settings → API, below the keys (admins): the organization's API requests of the last 30 days —
// who (key or person), method, route, status, latency, address — newest first: API keys', all, or failures.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, orgPath } from '../api.js';
import { reportError } from '../components/toast.js';
import { badge } from '../components/badge.js';
import { createTable, emptyState } from '../components/table.js';

function statusTone(s) {
  if (s >= 500) return 'red';
  if (s >= 400) return 'amber';
  return 'green';
}

/** The section, filled in place; `signal` aborts its loads with the screen. */
export function apiRequestsSection(slug, signal) {
  // API keys first: this section sits under them, and the app's own calls are many.
  const which = h('select', { class: 'select', name: 'which', 'aria-label': 'Which requests' },
    h('option', { value: 'via=api_key', text: 'API keys' }), h('option', { value: '', text: 'All requests' }),
    h('option', { value: 'failed=true', text: 'Failures only' }));
  const table = createTable({
    caption: 'API requests',
    className: 'table-static api-requests',
    columns: [
      { key: 'at', label: 'When', render: (r) => h('span', { class: 'tertiary nowrap', title: new Date(r.at).toLocaleString() }, timeEl(r.at)) },
      { key: 'who', label: 'Key or person', className: 'name-cell', render: (r) => h('span', { class: 'cell-inner' }, icon(r.actor_kind === 'api_key' ? 'key' : 'user', 14), h('span', { class: 'truncate', title: r.actor_label, text: r.actor_label })) },
      { key: 'route', label: 'Request', render: (r) => h('span', { class: 'mono truncate api-route', title: `${r.method} ${r.route}` }, h('strong', { text: r.method }), ` ${r.route.replace(/^\/api\/v1/, '')}`) },
      { key: 'status', label: 'Status', render: (r) => badge(String(r.status), statusTone(r.status)) },
      { key: 'latency', label: 'Time', right: true, className: 'hide-sm', render: (r) => h('span', { class: 'tertiary nowrap', text: `${r.latency_ms} ms` }) },
      { key: 'ip', label: 'IP', className: 'hide-sm', render: (r) => h('span', { class: 'mono tertiary', text: r.ip }) },
    ],
  });
  const more = h('button', { class: 'btn', type: 'button', text: 'Show more', hidden: true, onclick: () => load(true) });
  const card = h('div', { class: 'table-card' }, table.el);
  const emptyHost = h('div');
  const el = h('section', { class: 'api-requests-section', 'aria-label': 'API requests' },
    h('div', { class: 'section-head' }, h('h2', { text: 'API requests' }), h('span', { class: 'meta', text: 'Last 30 days' }), which),
    card, h('div', { class: 'load-more' }, more), emptyHost);
  let cursor = null;

  async function load(next = false) {
    const q = new URLSearchParams(which.value);
    q.set('limit', '50');
    if (next && cursor) q.set('cursor', cursor);
    if (!next) table.skeleton(4);
    try {
      const r = await get(`${orgPath(slug, 'api-requests')}?${q}`, { signal });
      const items = r.items.map((x) => ({ ...x, id: String(x.seq) }));
      if (next) table.append(items); else table.setItems(items);
      cursor = r.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      if (e.name !== 'AbortError') reportError(e);
      if (!next) table.setItems([]);
    }
    const empty = !table.items().length;
    card.hidden = empty;
    clear(emptyHost, empty ? emptyState({ iconName: 'key', title: which.value === 'failed=true' ? 'No failed requests' : 'No requests yet', text: 'Requests made with API keys and from the app show up here within seconds.' }) : null);
  }
  which.addEventListener('change', () => load());
  load();
  return el;
}
