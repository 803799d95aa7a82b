// Editors for compound record fields (emails, phones, address) and common selects; shared by
// the create/edit dialogs and inline editing on record pages.
import { countryOptions, countryName } from '../locale.js';
import { formatPhone } from '../phone.js';
import { h, nextId, trimOrNull } from '../util.js';
import { icon } from '../icons.js';
import { select } from './field.js';
import { STAGES } from './badge.js';
import { session } from '../session.js';

const KINDS = {
  emails: { key: 'email', type: 'email', noun: 'email', labels: ['work', 'personal', 'other'], placeholder: 'name@company.com' },
  phones: { key: 'phone', type: 'tel', noun: 'phone', labels: ['work', 'mobile', 'home', 'other'], placeholder: '+1 555 010 0000' },
};
const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** Repeatable label + value rows: multiEditor('emails', [{label, email}]) */
export function multiEditor(kind, values = [], { label } = {}) {
  const k = KINDS[kind];
  const rowsEl = h('div', { class: 'multi' });
  const addBtn = h('button', { class: 'btn btn-ghost btn-sm multi-add', type: 'button' }, icon('plus', 13), `Add ${k.noun}`);
  const rows = [];

  function reindex() {
    rows.forEach((r, i) => {
      r.el.dataset.field = `${kind}[${i}]`;
      r.box.dataset.field = `${kind}[${i}].${k.key}`;
      r.labelSel.setAttribute('aria-label', `${cap(k.noun)} ${i + 1} label`);
      r.input.setAttribute('aria-label', `${cap(k.noun)} ${i + 1}`);
    });
  }
  function addRow(v = {}, focus = false) {
    const labels = [...k.labels];
    if (v.label && !labels.includes(v.label)) labels.push(v.label);
    const labelSel = select(labels.map((l) => ({ value: l, label: cap(l) })), v.label || k.labels[0]);
    const input = h('input', { class: 'input', type: k.type, placeholder: k.placeholder, autocomplete: 'off' });
    // Numbers read the way people write them; the server stores them in E.164 again.
    input.value = (kind === 'phones' ? formatPhone(v[k.key]) : v[k.key]) || '';
    const box = h('div', { class: 'field' }, input);
    box._input = input;
    const remove = h('button', { class: 'btn btn-ghost btn-icon', type: 'button', 'aria-label': `Remove ${k.noun}` }, icon('x', 14));
    const el = h('div', { class: 'multi-row' }, labelSel, box, remove);
    el._input = input;
    const r = { el, box, labelSel, input };
    remove.addEventListener('click', () => {
      rows.splice(rows.indexOf(r), 1);
      el.remove();
      if (!rows.length) addRow();
      reindex();
      (rows[rows.length - 1] || {}).input?.focus();
    });
    rows.push(r);
    rowsEl.appendChild(el);
    reindex();
    if (focus) input.focus();
  }
  addBtn.addEventListener('click', () => addRow({}, true));
  for (const v of values || []) addRow(v);
  if (!rows.length) addRow();

  const groupId = nextId('grp');
  const el = h('div', { class: 'field', dataset: { field: kind }, role: 'group', 'aria-labelledby': groupId },
    h('span', { class: 'field-label', id: groupId, text: label || cap(kind) }), rowsEl, addBtn);
  el._input = rows[0].input;
  return {
    el,
    focus: () => rows[0].input.focus(),
    value: () => rows.map((r) => ({ label: r.labelSel.value, [k.key]: r.input.value.trim() })).filter((x) => x[k.key]),
  };
}

const ADDRESS = [
  ['street', 'Street', 'span-2', 'street-address'],
  ['city', 'City', '', 'address-level2'],
  ['region', 'Region / state', '', 'address-level1'],
  ['postal_code', 'Postal code', '', 'postal-code'],
  ['country', 'Country', '', 'country-name'],
];

export function addressEditor(value) {
  const inputs = {};
  const grid = h('div', { class: 'field-grid' });
  for (const [key, label, span, ac] of ADDRESS) {
    const id = nextId('addr');
    // The country is a picker of ISO countries (the server takes only their codes).
    const input = key === 'country'
      ? h('select', { class: 'select', id, autocomplete: 'country' }, countryOptions(value && value.country, { empty: '—' }).map((o) => h('option', { value: o.value, text: o.label })))
      : h('input', { class: 'input', id, type: 'text', autocomplete: ac });
    input.value = (value && value[key]) || '';
    inputs[key] = input;
    const f = h('div', { class: `field ${span}`.trim(), dataset: { field: `address.${key}` } }, h('label', { htmlFor: id, text: label }), input);
    f._input = input;
    grid.appendChild(f);
  }
  const el = h('div', { dataset: { field: 'address' } }, grid);
  el._input = inputs.street;
  return {
    el,
    focus: () => inputs.street.focus(),
    value() {
      const v = {};
      for (const [key] of ADDRESS) v[key] = trimOrNull(inputs[key].value);
      return Object.values(v).some(Boolean) ? v : null;
    },
  };
}

export function formatAddress(a) {
  if (!a) return [];
  const cityLine = [a.postal_code, a.city].filter(Boolean).join(' ');
  return [a.street, [cityLine, a.region].filter(Boolean).join(', '), a.country && countryName(a.country)].filter(Boolean);
}

export const stageSelect = (value, props) => select(STAGES.map((s) => ({ value: s.value, label: s.label })), value || 'lead', props);

export const SIZES = ['1-10', '11-50', '51-200', '201-500', '501-1000', '1001-5000', '5001+'];
export const sizeSelect = (value, props) => select([{ value: '', label: 'Unknown' }, ...SIZES.map((s) => ({ value: s, label: `${s} employees` }))], value || '', props);

/** Owner picker from the members list; keeps an unknown current owner selectable. */
export function ownerSelect(members, value, props) {
  const opts = [{ value: '', label: 'No owner' }];
  const me = session.user && session.user.id;
  for (const m of members || []) {
    if (m.status === 'invited' && m.user_id !== value) continue;
    opts.push({ value: m.user_id, label: (m.name || m.email) + (m.user_id === me ? ' (you)' : '') });
  }
  if (value && !opts.some((o) => o.value === value)) opts.push({ value, label: 'Former member' });
  return select(opts, value || '', props);
}
