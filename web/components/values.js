// Custom field values: the type list, coloured option chips, how each type reads (view) and
// the editor fitted to each type. Used by record pages, create forms, list cells and filters.
import { formatDay } from '../locale.js';
import { formatPhone } from '../phone.js';
import { h, timeEl, trimOrNull } from '../util.js';
import { icon } from '../icons.js';
import { memberName } from '../session.js';
import { get, orgPath } from '../api.js';
import { select } from './field.js';
import { ownerSelect } from './editors.js';
import { recordPicker } from './picker.js';

export const TYPES = [
  ['text', 'Text'], ['long_text', 'Long text'], ['number', 'Number'], ['money', 'Money'],
  ['date', 'Date'], ['datetime', 'Date and time'], ['checkbox', 'Checkbox'], ['select', 'Select'],
  ['multi_select', 'Multi-select'], ['url', 'URL'], ['email', 'Email'], ['phone', 'Phone'],
  ['user', 'Member'], ['record', 'Record'],
].map(([value, label]) => ({ value, label }));
export const typeLabel = (t) => (TYPES.find((x) => x.value === t) || { label: t === 'tags' ? 'Tags' : t }).label;
export const TYPE_ICON = { text: 'text', long_text: 'text', number: 'hash', money: 'money', date: 'calendar', datetime: 'clock', checkbox: 'checkCircle', select: 'chevDown', multi_select: 'list', url: 'globe', email: 'mail', phone: 'phone', user: 'user', record: 'link', tags: 'tag' };
export const UNIQUE_TYPES = new Set(['text', 'email', 'phone', 'number']);
export const COLORS = ['gray', 'red', 'orange', 'yellow', 'green', 'teal', 'blue', 'purple', 'pink'];

/** A soft tinted chip for a select option or a tag: {label|name, color}. */
export function chip(label, color = 'gray', extra) {
  return h('span', { class: `badge chip tone-${COLORS.includes(color) ? color : 'gray'}` }, h('span', { class: 'truncate', text: label }), extra);
}
export const optionOf = (f, v) => (f.options || []).find((o) => o.value === v) || { value: v, label: v, color: 'gray' };

const minorDigits = (currency) => {
  try { return new Intl.NumberFormat(undefined, { style: 'currency', currency }).resolvedOptions().maximumFractionDigits; } catch { return 2; }
};
export function formatMoney(m) {
  if (!m || m.amount == null) return '';
  const d = minorDigits(m.currency);
  try { return new Intl.NumberFormat(undefined, { style: 'currency', currency: m.currency }).format(m.amount / 10 ** d); } catch { return `${m.amount / 100} ${m.currency}`; }
}
/** A calendar date (custom date fields) in the person's or organization's format. */
export function formatDate(s) {
  return /^\d{4}-\d{2}-\d{2}$/.test(s || '') ? formatDay(s) : String(s || '');
}
/** A birthday: a date, or `--MM-DD` (day and month, the year not known). */
export function formatBirthday(s) {
  const m = /^--(\d{2})-(\d{2})$/.exec(s || '');
  if (!m) return formatDate(s);
  try {
    return new Intl.DateTimeFormat(undefined, { month: 'long', day: 'numeric', timeZone: 'UTC' }).format(new Date(Date.UTC(2000, Number(m[1]) - 1, Number(m[2]))));
  } catch { return s; }
}
function formatNumber(s) {
  const n = Number(s);
  return Number.isFinite(n) && Math.abs(n) < 2 ** 53 ? new Intl.NumberFormat(undefined, { maximumFractionDigits: 20 }).format(n) : String(s);
}
const safeUrl = (u) => (/^https?:\/\/[^\s]+$/i.test(String(u || '')) ? u : null);

/**
 * How a value reads. ctx: {slug, members, pathOf(kind)}. Returns a Node, or null when empty.
 */
export function viewValue(f, v, ctx = {}) {
  if (v == null || v === '' || (Array.isArray(v) && !v.length)) return null;
  switch (f.type) {
    case 'long_text': return h('span', { class: 'pre-wrap', text: v });
    case 'number': return h('span', { class: 'num', text: formatNumber(v) });
    case 'money': return h('span', { class: 'num', text: formatMoney(v) });
    case 'date': return h('span', { class: 'num', text: formatDate(v) });
    case 'datetime': return timeEl(v);
    case 'checkbox': return v ? h('span', { class: 'check-val' }, icon('check', 13), 'Yes') : null;
    case 'select': { const o = optionOf(f, v); return chip(o.label, o.color); }
    case 'multi_select': return h('span', { class: 'chips' }, v.map((x) => { const o = optionOf(f, x); return chip(o.label, o.color); }));
    case 'tags': return h('span', { class: 'chips' }, v.map((t) => chip(t.name, t.color)));
    case 'url': { const u = safeUrl(v); return u ? h('a', { href: u, target: '_blank', rel: 'noopener noreferrer', text: v }) : h('span', { text: v }); }
    case 'email': return h('a', { href: `mailto:${v}`, dataset: { native: '' }, text: v });
    case 'phone': return h('a', { href: `tel:${v}`, dataset: { native: '' }, text: formatPhone(v) });
    case 'user': return h('span', { text: memberName(ctx.members, v) || 'Former member' });
    case 'record': {
      if (typeof v !== 'object') return h('span', { class: 'muted', text: '…' });
      const name = v.name || 'Unnamed';
      if (v.deleted) return h('s', { class: 'ref-deleted', title: 'In the trash', text: name });
      const path = ctx.pathOf ? ctx.pathOf(v.kind) : `${v.kind}s`;
      return h('a', { href: `/o/${ctx.slug}/${path}/${v.id}`, text: name });
    }
    default: return h('span', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) });
  }
}

/** Option chips that toggle (multi-select values, filter values): keyboard-friendly buttons. */
export function chipToggles(options, values = [], { label } = {}) {
  const on = new Set(values || []);
  const el = h('div', { class: 'chip-toggles', role: 'group', 'aria-label': label || null });
  const btns = options.map((o) => {
    const tone = `tone-${COLORS.includes(o.color) ? o.color : 'gray'}`;
    const b = h('button', { class: 'chip-toggle', type: 'button', 'aria-pressed': String(on.has(o.value)) }, h('span', { class: `dot ${tone}`, 'aria-hidden': 'true' }), o.label);
    b.addEventListener('click', () => {
      if (on.has(o.value)) on.delete(o.value); else on.add(o.value);
      b.setAttribute('aria-pressed', String(on.has(o.value)));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    });
    return b;
  });
  el.append(...btns);
  if (!options.length) el.append(h('span', { class: 'meta', text: 'No options yet' }));
  return { el, focus: () => (btns[0] || el).focus(), value: () => options.map((o) => o.value).filter((v) => on.has(v)) };
}

const toLocalInput = (iso) => {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

/**
 * An editor fitted to the field's type: {el, input, focus(), value()} where value() is what the
 * API takes (null clears). ctx: {slug, members, pathOf, currency, id}.
 */
export function valueEditor(f, v, ctx = {}) {
  const id = ctx.id;
  const plain = (type, extra = {}) => {
    const input = h('input', { class: 'input', type, id, autocomplete: 'off', ...extra });
    input.value = v ?? '';
    return { el: input, input, focus: () => input.focus(), value: () => trimOrNull(input.value) };
  };
  switch (f.type) {
    case 'long_text': {
      const ta = h('textarea', { class: 'textarea', id });
      ta.value = v ?? '';
      return { el: ta, input: ta, focus: () => ta.focus(), value: () => trimOrNull(ta.value) };
    }
    case 'number': return plain('text', { inputmode: 'decimal', placeholder: '0' });
    case 'url': return plain('url', { placeholder: 'https://' });
    case 'email': return plain('email', { placeholder: 'name@company.com' });
    case 'phone': return plain('tel', { placeholder: '+1 555 010 0000' });
    case 'date': return plain('date');
    case 'datetime': {
      const input = h('input', { class: 'input', type: 'datetime-local', id });
      input.value = v ? toLocalInput(v) : '';
      return { el: input, input, focus: () => input.focus(), value: () => (input.value ? new Date(input.value).toISOString() : null) };
    }
    case 'money': {
      const cur = (v && v.currency) || ctx.currency || 'USD';
      const amount = h('input', { class: 'input num', type: 'text', id, inputmode: 'decimal', placeholder: '0.00', autocomplete: 'off', 'aria-label': 'Amount' });
      if (v && v.amount != null) amount.value = String(v.amount / 10 ** minorDigits(cur));
      const currency = h('input', { class: 'input currency', type: 'text', maxlength: '3', autocomplete: 'off', 'aria-label': 'Currency', placeholder: 'USD' });
      currency.value = cur;
      const el = h('div', { class: 'money-edit' }, amount, currency);
      return {
        el, input: amount, focus: () => amount.focus(),
        value() {
          const a = amount.value.trim().replace(/[\s,]/g, '');
          if (!a) return null;
          const c = currency.value.trim().toUpperCase() || 'USD';
          const n = Number(a);
          return { amount: Number.isFinite(n) ? Math.round(n * 10 ** minorDigits(c)) : a, currency: c };
        },
      };
    }
    case 'checkbox': {
      const input = h('input', { class: 'checkbox', type: 'checkbox', id, checked: !!v });
      const el = h('label', { class: 'check-edit' }, input, h('span', { text: ctx.checkLabel || 'Yes' }));
      return { el, input, focus: () => input.focus(), value: () => input.checked };
    }
    case 'select': {
      const s = select([{ value: '', label: '—' }, ...(f.options || []).map((o) => ({ value: o.value, label: o.label }))], v || '', { id });
      return { el: s, input: s, focus: () => s.focus(), value: () => s.value || null };
    }
    case 'multi_select': {
      const t = chipToggles(f.options || [], v || [], { label: f.label });
      return { ...t, input: t.el, value: () => { const x = t.value(); return x.length ? x : null; } };
    }
    case 'user': {
      const s = ownerSelect(ctx.members || [], v || '', { id });
      s.options[0].textContent = 'No one';
      return { el: s, input: s, focus: () => s.focus(), value: () => s.value || null };
    }
    case 'record': {
      const path = ctx.pathOf ? ctx.pathOf(f.target_kind) : `${f.target_kind}s`;
      const cur = v && typeof v === 'object' ? { id: v.id, name: v.name } : v ? { id: v, name: '…' } : null;
      const p = recordPicker({ org: ctx.slug, path, value: cur, placeholder: 'Search…', id });
      p.input.setAttribute('aria-label', f.label);
      if (cur && cur.name === '…') get(orgPath(ctx.slug, path, cur.id)).then((r) => p.set({ id: r.id, name: r.name })).catch(() => p.set({ id: cur.id, name: 'Unknown record' }));
      return { el: p.el, input: p.input, focus: () => p.input.focus(), value: () => p.value(), display: () => p.value() };
    }
    default: return plain('text');
  }
}

/** The API's form of an editor value (a record reference travels as its id). */
export const toApi = (f, v) => (f.type === 'record' && v && typeof v === 'object' ? v.id : v);
/** What to show until the server answers (a reference shows its name at once). */
export const toShown = (f, v) => (f.type === 'record' && v && typeof v === 'object' ? { id: v.id, name: v.name, kind: f.target_kind, deleted: false } : v);
