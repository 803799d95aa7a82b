// The filter builder: conditions on any field (built-in, custom, tags) with operators fitted to
// the field's type and a value input to match. Conditions combine with "and".
import { h, debounce } from '../util.js';
import { icon } from '../icons.js';
import { get, orgPath } from '../api.js';
import { memberName } from '../session.js';
import { select } from '../components/field.js';
import { ownerSelect } from '../components/editors.js';
import { recordPicker } from '../components/picker.js';
import { openPopover } from '../components/menu.js';
import { chipToggles, optionOf, formatDate } from '../components/values.js';
import { getTags } from '../schema.js';

export const OP_LABEL = {
  eq: 'is', neq: 'is not', in: 'is any of', not_in: 'is none of', contains: 'contains', not_contains: 'doesn’t contain',
  starts_with: 'starts with', lt: 'is less than', lte: 'is at most', gt: 'is more than', gte: 'is at least', between: 'is between',
  within: 'is within', is_empty: 'is empty', is_not_empty: 'is not empty', has_any: 'has any of', has_all: 'has all of',
  has_none: 'has none of', me: 'is me',
};
const DATE_LABEL = { eq: 'is on', lt: 'is before', gt: 'is after' };
export const PERIODS = ['today', 'yesterday', 'tomorrow', 'this_week', 'last_week', 'next_week', 'this_month', 'last_month', 'next_month',
  'this_quarter', 'last_quarter', 'next_quarter', 'this_year', 'last_year', 'next_year', 'last_7_days', 'last_30_days', 'last_90_days',
  'next_7_days', 'next_30_days', 'next_90_days'];
const periodLabel = (p) => p.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
const EMPTY = ['is_empty', 'is_not_empty'];
const NO_VALUE = new Set([...EMPTY, 'me']);

export function opsFor(f) {
  switch (f.type) {
    case 'text': case 'long_text': case 'url': case 'email': case 'phone': return ['contains', 'not_contains', 'starts_with', 'eq', 'neq', ...EMPTY];
    case 'number': case 'money': return ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'between', ...EMPTY];
    case 'date': return ['within', 'eq', 'lt', 'gt', 'between', ...EMPTY];
    case 'datetime': return ['within', 'lt', 'gt', 'between', ...EMPTY];
    case 'checkbox': return ['eq'];
    case 'select': return ['in', 'not_in', ...EMPTY];
    case 'multi_select': case 'tags': return ['has_any', 'has_all', 'has_none', ...EMPTY];
    case 'user': return ['me', 'eq', 'neq', ...EMPTY];
    case 'record': return ['eq', 'neq', ...EMPTY];
    default: return ['eq', 'neq', ...EMPTY];
  }
}
const opLabel = (f, op) => ((f.type === 'date' || f.type === 'datetime') && DATE_LABEL[op]) || OP_LABEL[op] || op;

export const complete = (c) => !!c.field && !!c.op && (NO_VALUE.has(c.op) || (c.value != null && c.value !== '' && (!Array.isArray(c.value) || (c.value.length && c.value.every((x) => x !== '' && x != null)))));

// Inputs ↔ API values: money in minor units, datetimes at midnight UTC, numbers as numbers.
const toApiScalar = (f, s) => {
  if (s === '' || s == null) return null;
  // Not a number yet: the condition waits (incomplete) instead of asking the server.
  if (f.type === 'number') { const n = Number(String(s).replace(/[\s,]/g, '')); return Number.isFinite(n) ? n : null; }
  if (f.type === 'money') { const n = Number(String(s).replace(/[\s,]/g, '')); return Number.isFinite(n) ? Math.round(n * 100) : null; }
  if (f.type === 'datetime') return `${s}T00:00:00Z`;
  return s;
};
const fromApiScalar = (f, v) => {
  if (v == null) return '';
  if (f.type === 'money') return String(v / 100);
  if (f.type === 'datetime') return String(v).slice(0, 10);
  return String(v);
};

/** A short text for a condition: "Plan is any of Pro, Basic". ctx: {members, tags, names} */
export function condText(f, c, ctx = {}) {
  if (!f) return 'Unknown field';
  const label = `${f.label} ${opLabel(f, c.op)}`;
  if (NO_VALUE.has(c.op)) return label;
  const one = (v) => {
    if (f.type === 'select' || f.type === 'multi_select') return optionOf(f, v).label;
    if (f.type === 'tags') return ((ctx.tags || []).find((t) => t.id === v) || { name: '…' }).name;
    if (f.type === 'user') return memberName(ctx.members, v) || 'someone';
    if (f.type === 'record') return (ctx.names || {})[v] || '…';
    if (f.type === 'checkbox') return v ? 'checked' : 'not checked';
    if (c.op === 'within') return periodLabel(v).toLowerCase();
    if (f.type === 'date' || f.type === 'datetime') return formatDate(fromApiScalar(f, v));
    if (f.type === 'money' || f.type === 'number') return new Intl.NumberFormat().format(Number(fromApiScalar(f, v)));
    return String(v);
  };
  if (f.type === 'checkbox') return `${f.label} is ${one(c.value)}`;
  const vals = Array.isArray(c.value) ? c.value.map(one) : [one(c.value)];
  return `${label} ${vals.join(c.op === 'between' ? ' and ' : ', ')}`;
}

/**
 * openFilterBuilder(anchor, {fields, conds, ctx: {slug, members, pathOf, names}, onChange(conds)})
 * Changes apply as they are made; incomplete rows wait until they are complete.
 */
export function openFilterBuilder(anchor, { fields, conds, ctx, onChange, under }) {
  const usable = fields.filter((f) => f.filterable);
  const rows = conds.map((c) => ({ ...c }));
  const rowsEl = h('div', { class: 'fb-rows' });
  const addBtn = h('button', { class: 'btn btn-ghost btn-sm', type: 'button' }, icon('plus', 13), 'Add filter');
  const clearBtn = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', text: 'Clear all' });
  const pop = openPopover(anchor, [h('div', { class: 'fb-title', text: 'Filter' }), rowsEl, h('div', { class: 'fb-foot' }, addBtn, clearBtn)], { className: 'filter-builder', label: 'Filter builder', under });
  let tags = [];
  getTags(ctx.slug).then((t) => { tags = t; if (rows.some((r) => fieldOf(r).type === 'tags')) render(); }).catch(() => {});
  const fieldOf = (r) => usable.find((f) => f.id === r.field) || usable[0];
  const emit = () => onChange(rows.filter(complete).map((r) => ({ field: r.field, op: r.op, value: NO_VALUE.has(r.op) ? undefined : r.value })).map((c) => (c.value === undefined ? { field: c.field, op: c.op } : c)));
  const emitSoon = debounce(emit, 350);

  function valueInput(r, f) {
    const set = (v, soon) => { r.value = v; if (soon) emitSoon(); else emit(); };
    if (NO_VALUE.has(r.op)) return null;
    if (r.op === 'within') {
      const s = select([{ value: '', label: 'Pick a period…' }, ...PERIODS.map((p) => ({ value: p, label: periodLabel(p) }))], r.value || '', { 'aria-label': 'Period' });
      s.addEventListener('change', () => set(s.value));
      return s;
    }
    if (f.type === 'checkbox') {
      if (typeof r.value !== 'boolean') r.value = true;
      const s = select([{ value: 'true', label: 'checked' }, { value: 'false', label: 'not checked' }], String(r.value), { 'aria-label': 'Value' });
      s.addEventListener('change', () => set(s.value === 'true'));
      return s;
    }
    if (['select', 'multi_select', 'tags'].includes(f.type)) {
      const options = f.type === 'tags' ? tags.map((t) => ({ value: t.id, label: t.name, color: t.color })) : f.options;
      const t = chipToggles(options, Array.isArray(r.value) ? r.value : [], { label: 'Values' });
      t.el.addEventListener('change', () => set(t.value()));
      return t.el;
    }
    if (f.type === 'user') {
      const s = ownerSelect(ctx.members || [], r.value || '', { 'aria-label': 'Member' });
      s.options[0].textContent = 'Pick a member…';
      s.addEventListener('change', () => set(s.value));
      return s;
    }
    if (f.type === 'record') {
      const path = ctx.pathOf(f.target_kind);
      const p = recordPicker({ org: ctx.slug, path, value: r.value ? { id: r.value, name: (ctx.names || {})[r.value] || '…' } : null, placeholder: 'Search…', onChange: (v) => { if (v) (ctx.names = ctx.names || {})[v.id] = v.name; set(v ? v.id : null); } });
      p.input.setAttribute('aria-label', 'Value');
      return p.el;
    }
    const type = f.type === 'date' || f.type === 'datetime' ? 'date' : 'text';
    const mk = (v, label) => {
      const i = h('input', { class: 'input', type, 'aria-label': label, autocomplete: 'off', inputmode: f.type === 'number' || f.type === 'money' ? 'decimal' : null, placeholder: type === 'text' ? 'Value' : null });
      i.value = fromApiScalar(f, v);
      return i;
    };
    if (r.op === 'between') {
      const [a, b] = Array.isArray(r.value) ? r.value : [null, null];
      const lo = mk(a, 'From');
      const hi = mk(b, 'To');
      const upd = () => set([toApiScalar(f, lo.value.trim()), toApiScalar(f, hi.value.trim())], true);
      lo.addEventListener('input', upd);
      hi.addEventListener('input', upd);
      return h('span', { class: 'fb-between' }, lo, h('span', { class: 'meta', text: 'and' }), hi);
    }
    const i = mk(r.value, 'Value');
    i.addEventListener('input', () => set(toApiScalar(f, i.value.trim()), type === 'text'));
    return i;
  }

  function rowEl(r, n) {
    const f = fieldOf(r);
    const fieldSel = h('select', { class: 'select', 'aria-label': `Filter ${n + 1} field` });
    const groups = [['Fields', usable.filter((x) => x.builtin)], ['Custom fields', usable.filter((x) => x.key)], ['Other', usable.filter((x) => x.type === 'tags')]];
    for (const [label, list] of groups) {
      if (!list.length) continue;
      fieldSel.appendChild(h('optgroup', { label }, list.map((x) => h('option', { value: x.id, text: x.label }))));
    }
    fieldSel.value = f.id;
    const opSel = select(opsFor(f).map((op) => ({ value: op, label: opLabel(f, op) })), r.op, { 'aria-label': `Filter ${n + 1} operator` });
    fieldSel.addEventListener('change', () => { r.field = fieldSel.value; r.op = opsFor(fieldOf(r))[0]; r.value = null; render(n); emit(); });
    opSel.addEventListener('change', () => {
      const was = r.op;
      r.op = opSel.value;
      const shape = (op) => (NO_VALUE.has(op) ? 'none' : op === 'between' ? 'pair' : op === 'within' ? 'period' : ['in', 'not_in', 'has_any', 'has_all', 'has_none'].includes(op) ? 'list' : 'one');
      if (shape(was) !== shape(r.op)) r.value = null;
      render(n);
      emit();
    });
    const remove = h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': `Remove filter ${n + 1}` }, icon('x', 14));
    remove.addEventListener('click', () => { rows.splice(n, 1); render(Math.max(0, n - 1)); emit(); });
    return h('div', { class: 'fb-row', dataset: { field: r.field } }, h('span', { class: 'fb-where meta', text: n ? 'and' : 'Where' }), fieldSel, opSel, h('span', { class: 'fb-value' }, valueInput(r, f)), remove);
  }
  let focusValue = false;
  function render(focusRow = null) {
    rowsEl.replaceChildren(...rows.map(rowEl));
    if (!rows.length) rowsEl.appendChild(h('p', { class: 'meta fb-empty', text: 'No filters. Add one to narrow the list.' }));
    clearBtn.hidden = !rows.length;
    pop.place();
    if (focusRow != null && rowsEl.children[focusRow]) {
      const target = rowsEl.children[focusRow].querySelector(focusValue ? '.fb-value input, .fb-value button, .fb-value select' : 'select') || rowsEl.children[focusRow].querySelector('select');
      if (target) target.focus();
    }
    focusValue = true;
  }
  addBtn.addEventListener('click', () => {
    const f = usable.find((x) => x.key) || usable[0];
    rows.push({ field: f.id, op: opsFor(f)[0], value: null });
    render();
    rowsEl.lastChild.querySelector('select').focus();
  });
  clearBtn.addEventListener('click', () => { rows.splice(0); render(); emit(); addBtn.focus(); });
  if (!rows.length) addBtn.click(); else render(0);
  return pop;
}

/** Resolve names of referenced records in conditions (for chips after a reload). */
export async function loadNames(conds, fields, ctx) {
  const names = ctx.names || (ctx.names = {});
  await Promise.all(conds.map(async (c) => {
    const f = fields.find((x) => x.id === c.field);
    if (!f || f.type !== 'record' || !c.value || names[c.value]) return;
    try { names[c.value] = (await get(orgPath(ctx.slug, ctx.pathOf(f.target_kind), c.value))).name; } catch { names[c.value] = 'Unknown'; }
  }));
}
