// DOM building and formatting helpers. Everything user-supplied goes in as text nodes.
import { formatDate, formatExact } from './locale.js';

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'required', 'readOnly', 'multiple', 'indeterminate', 'htmlFor', 'tabIndex', 'type', 'name', 'id', 'title', 'href', 'placeholder', 'autocomplete']);

/** h('a', {class: 'x', href, onclick}, 'text', childNode, [more]) */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (props) setProps(el, props);
  append(el, kids);
  return el;
}

export function setProps(el, props) {
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'innerHTML' || k === 'style') throw new Error('unsafe property ' + k);
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el, kids) {
  for (const kid of kids) {
    if (kid == null || kid === false) continue;
    if (Array.isArray(kid)) append(el, kid);
    else if (kid instanceof Node) el.appendChild(kid);
    else el.appendChild(document.createTextNode(String(kid)));
  }
  return el;
}

export function clear(el, ...kids) {
  el.replaceChildren();
  return append(el, kids);
}

let uid = 0;
export const nextId = (p = 'id') => `${p}-${++uid}`;

export function debounce(fn, ms) {
  let t;
  const d = (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

const NOT_TEXT = new Set(['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file', 'image']);

/** True when a key event goes to a text field (a checkbox or a button is not one). */
export function isTyping(e) {
  const t = e.target;
  if (!t) return false;
  if (t.tagName === 'INPUT') return !NOT_TEXT.has(t.type);
  return !!(t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT');
}

export function initials(name) {
  const parts = String(name || '').trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '?';
  const first = [...parts[0]][0] || '';
  const last = parts.length > 1 ? [...parts[parts.length - 1]][0] || '' : '';
  return (first + last).toUpperCase();
}

export function hashIndex(str, n) {
  let x = 0;
  for (const ch of String(str || '')) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % n;
}

/** Query string from an object, dropping empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

const nf = new Intl.NumberFormat();
export const fmtNum = (n) => (n == null ? '' : nf.format(n));
export const plural = (n, one, many = one + 's') => `${fmtNum(n)} ${n === 1 ? one : many}`;

/** The exact moment, for a hover title: date in the person's format, time in their zone. */
export const exactTime = (iso) => formatExact(iso);

export function relTime(iso, now = Date.now()) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const s = Math.round((now - d.getTime()) / 1000);
  const a = Math.abs(s);
  const fut = s < 0;
  const wrap = (x) => (fut ? `in ${x}` : `${x} ago`);
  if (a < 45) return fut ? 'in a moment' : 'just now';
  if (a < 3600) return wrap(`${Math.max(1, Math.round(a / 60))} min`);
  if (a < 86400) return wrap(`${Math.round(a / 3600)} h`);
  if (a < 7 * 86400) {
    const days = Math.round(a / 86400);
    if (days === 1) return fut ? 'tomorrow' : 'yesterday';
    return wrap(`${days} d`);
  }
  // Past a week: the date, in the person's (or organization's) format.
  return formatDate(d, { withYear: d.getFullYear() !== new Date(now).getFullYear() });
}

/** <time> showing a relative date with the exact one on hover; kept fresh by tickTimes(). */
export function timeEl(iso, fallback = '—') {
  if (!iso) return h('span', { class: 'muted' }, fallback);
  return h('time', { datetime: iso, title: exactTime(iso), 'data-rel': '' }, relTime(iso));
}

export function tickTimes() {
  for (const t of document.querySelectorAll('time[data-rel]')) {
    const v = relTime(t.getAttribute('datetime'));
    if (t.textContent !== v) t.textContent = v;
  }
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h('textarea', { class: 'sr-only', readonly: true });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
    return ok;
  }
}

/** Only plain domains become outbound links; anything else stays text. */
export function safeDomainUrl(domain) {
  const d = String(domain || '').trim().replace(/^https?:\/\//i, '').replace(/\/.*$/, '');
  return /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(d) ? 'https://' + d : null;
}

export const trimOrNull = (v) => {
  const s = String(v ?? '').trim();
  return s ? s : null;
};

export function sameJson(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
