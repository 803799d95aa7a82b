// Instant search over an organization's records: the API call, grouping the answer by type,
// links to the records, snippet highlighting (<mark> around text nodes, never HTML) and the
// user's recent searches, kept in localStorage per user and organization.
import { h, qs } from './util.js';
import { get, orgPath } from './api.js';
import { session } from './session.js';

/** The API refuses longer queries (422); the input's maxlength matches. */
export const MAX_QUERY = 200;
const RECENT_MAX = 8;

export const TYPES = {
  contact: { label: 'Contacts', path: 'contacts', square: false },
  company: { label: 'Companies', path: 'companies', square: true },
  deal: { label: 'Deals', path: 'deals', square: true },
  note: { label: 'Notes', path: 'notes', square: true },
  task: { label: 'Tasks', path: 'tasks', square: true },
  activity: { label: 'Activities', path: 'activities', square: true },
  file: { label: 'Files', path: 'files', square: true, download: true },
};

/** GET /orgs/{org}/search?q=…&limit=… → {items, rebuilding} */
export function searchRecords(slug, q, { signal, limit = 20, types = null } = {}) {
  return get(orgPath(slug, 'search') + qs({ q, limit, types: types && types.join(',') }), { signal });
}

/**
 * Items of known types grouped by type: [{type, label, best, items}]. Items keep the server's
 * order inside a group; groups are ordered by their best score (ties: first seen first).
 */
export function groupResults(items) {
  const groups = new Map();
  for (const it of Array.isArray(items) ? items : []) {
    if (!it || !TYPES[it.type] || typeof it.id !== 'string' || !it.id) continue;
    let g = groups.get(it.type);
    if (!g) {
      g = { type: it.type, label: TYPES[it.type].label, best: -Infinity, items: [] };
      groups.set(it.type, g);
    }
    g.items.push(it);
    const s = Number(it.score);
    if (Number.isFinite(s) && s > g.best) g.best = s;
  }
  return [...groups.values()].sort((a, b) => (b.best - a.best) || 0);
}

// A file found by name is downloaded (the browser keeps the page: it is an attachment).
export const recordHref = (slug, item) => (TYPES[item.type].download
  ? `/api/v1/orgs/${encodeURIComponent(slug)}/files/${encodeURIComponent(item.id)}/content`
  : `/o/${encodeURIComponent(slug)}/${TYPES[item.type].path}/${encodeURIComponent(item.id)}`);

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/**
 * Text and <mark> nodes for a snippet. ranges are [start, end) in UTF-16 code units; they are
 * clamped, sorted and merged, and never split a surrogate pair (an emoji stays whole).
 */
export function highlighted(text, ranges) {
  const s = String(text ?? '');
  const splitsPair = (i) => i > 0 && i < s.length && isLow(s.charCodeAt(i)) && isHigh(s.charCodeAt(i - 1));
  const spans = (Array.isArray(ranges) ? ranges : [])
    .filter((r) => Array.isArray(r) && Number.isInteger(r[0]) && Number.isInteger(r[1]))
    .map(([a, b]) => {
      let start = Math.max(0, a);
      let end = Math.min(s.length, b);
      if (splitsPair(start)) start -= 1;
      if (splitsPair(end)) end += 1;
      return [start, end];
    })
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const merged = [];
  for (const r of spans) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push(r);
  }
  const out = [];
  let pos = 0;
  for (const [a, b] of merged) {
    if (a > pos) out.push(document.createTextNode(s.slice(pos, a)));
    out.push(h('mark', null, s.slice(a, b)));
    pos = b;
  }
  if (pos < s.length) out.push(document.createTextNode(s.slice(pos)));
  return out;
}

// Recent searches: the queries the user opened a result from, newest first.
const recentKey = (slug) => `harmonia.recentSearches.${session.user ? session.user.id : '-'}.${slug}`;

export function recentSearches(slug) {
  try {
    const v = JSON.parse(localStorage.getItem(recentKey(slug)) || '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string' && x.trim()).slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

export function rememberSearch(slug, q) {
  const query = String(q || '').trim().slice(0, MAX_QUERY);
  if (!query) return;
  const low = query.toLowerCase();
  const list = [query, ...recentSearches(slug).filter((x) => x.toLowerCase() !== low)].slice(0, RECENT_MAX);
  try { localStorage.setItem(recentKey(slug), JSON.stringify(list)); } catch { /* storage full or disabled */ }
}

export function forgetRecentSearches(slug) {
  try { localStorage.removeItem(recentKey(slug)); } catch { /* storage disabled */ }
}
