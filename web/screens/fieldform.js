// The custom field editor (Settings → Fields): label, key (made from the label, fixed after
// creation), type, required, unique, default, options with colours, target kind. 422 errors show
// next to their inputs; removing options in use offers to clear those values (409).
import { h, nextId, trimOrNull } from '../util.js';
import { icon } from '../icons.js';
import { post, patch, orgPath } from '../api.js';
import { openDialog } from '../components/dialog.js';
import { field, select, showErrors, clearErrors, setBusy } from '../components/field.js';
import { toast } from '../components/toast.js';
import { getMembers } from '../session.js';
import { TYPES, UNIQUE_TYPES, COLORS, valueEditor, toApi } from '../components/values.js';

export const keyFromLabel = (label) => {
  let k = String(label || '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (k && !/^[a-z]/.test(k)) k = 'f_' + k;
  return k.slice(0, 40);
};
const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** Options of a select: label + colour rows, add, remove, reorder keeps values. */
function optionsEditor(options, onChange) {
  const rowsEl = h('div', { class: 'opt-rows' });
  const rows = [];
  const addBtn = h('button', { class: 'btn btn-ghost btn-sm multi-add', type: 'button' }, icon('plus', 13), 'Add option');
  function reindex() {
    rows.forEach((r, i) => {
      r.el.dataset.field = `options[${i}]`;
      r.labelBox.dataset.field = `options[${i}].label`;
      r.input.setAttribute('aria-label', `Option ${i + 1}`);
      r.color.setAttribute('aria-label', `Colour of option ${i + 1}`);
    });
  }
  function addRow(o = {}, focus = false) {
    const color = select(COLORS.map((c) => ({ value: c, label: cap(c) })), o.color || COLORS[(rows.length + 4) % COLORS.length], { class: 'select color-select' });
    const swatch = h('span', { class: `swatch tone-${color.value}`, 'aria-hidden': 'true' });
    color.addEventListener('change', () => { swatch.className = `swatch tone-${color.value}`; onChange(); });
    const input = h('input', { class: 'input', type: 'text', placeholder: 'Option label', autocomplete: 'off' });
    input.value = o.label || '';
    input.addEventListener('change', onChange);
    const labelBox = h('div', { class: 'field' }, input);
    labelBox._input = input;
    const remove = h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': 'Remove option' }, icon('x', 14));
    const el = h('div', { class: 'opt-row' }, h('span', { class: 'swatch-wrap' }, swatch, color), labelBox, remove);
    const r = { el, input, color, labelBox, value: o.value };
    remove.addEventListener('click', () => {
      rows.splice(rows.indexOf(r), 1);
      el.remove();
      reindex();
      onChange();
      (rows[rows.length - 1] || { input: addBtn }).input.focus();
    });
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); addRow({}, true); } });
    rows.push(r);
    rowsEl.appendChild(el);
    reindex();
    if (focus) input.focus();
  }
  addBtn.addEventListener('click', () => addRow({}, true));
  for (const o of options) addRow(o);
  const gid = nextId('opts');
  const el = h('div', { class: 'field span-2', dataset: { field: 'options' }, role: 'group', 'aria-labelledby': gid },
    h('span', { class: 'field-label', id: gid, text: 'Options' }), rowsEl, addBtn);
  el._input = null;
  return {
    el,
    ensureOne() { if (!rows.length) addRow(); },
    value: () => rows.filter((r) => r.input.value.trim()).map((r) => ({ ...(r.value ? { value: r.value } : {}), label: r.input.value.trim(), color: r.color.value })),
  };
}

/**
 * openFieldForm({slug, kind, kinds: [{kind, label}], field?: existing, onSaved(field)})
 */
export async function openFieldForm({ slug, kind, kinds, field: existing = null, onSaved }) {
  const members = await getMembers(slug).catch(() => []);
  const f = existing || { type: 'text', options: [], required: false, unique: false };
  let keyTouched = !!existing;
  const label = field({ label: 'Label', name: 'label', value: f.label, required: true, autocomplete: 'off', placeholder: 'Renewal date' });
  const key = field({ label: 'Key', name: 'key', value: f.key, autocomplete: 'off', hint: existing ? 'The key is how the API names this field; it never changes.' : 'Made from the label: a-z, 0-9 and _. It can’t change later.', attrs: { spellcheck: 'false' } });
  key._input.classList.add('mono');
  if (existing) key._input.readOnly = true;
  const typeSel = select(TYPES, f.type, { name: 'type' });
  const type = field({ label: 'Type', name: 'type', control: typeSel });
  const targetSel = select(kinds.map((k) => ({ value: k.kind, label: k.label_plural || k.label })), f.target_kind || (kinds.find((k) => k.kind !== kind) || kinds[0]).kind);
  const target = field({ label: 'Points to', name: 'target_kind', control: targetSel });
  const reqBox = h('input', { type: 'checkbox', class: 'checkbox', checked: f.required });
  const uniqBox = h('input', { type: 'checkbox', class: 'checkbox', checked: f.unique });
  const required = h('label', { class: 'check-edit', dataset: { field: 'required' } }, reqBox, h('span', null, 'Required', h('span', { class: 'meta', text: ' — new records must set it' })));
  const unique = h('label', { class: 'check-edit', dataset: { field: 'unique' } }, uniqBox, h('span', null, 'Unique', h('span', { class: 'meta', text: ' — no two records share a value' })));
  const options = optionsEditor(f.options || [], () => rebuildDefault());
  const defaultHost = h('div', { class: 'field span-2', dataset: { field: 'default' } });
  let defaultEd = null;

  function draftField() {
    return { type: typeSel.value, label: label._input.value, options: options.value().map((o) => ({ ...o, value: o.value || keyFromLabel(o.label) })), target_kind: targetSel.value };
  }
  function rebuildDefault() {
    const d = draftField();
    const prev = defaultEd ? toApi(d, defaultEd.value()) : f.default;
    const id = nextId('def');
    defaultEd = valueEditor(d, d.type === typeSel.dataset.was || !defaultEd ? prev : null, { slug, id, members, pathOf: (k) => (kinds.find((x) => x.kind === k) || { path: k + 's' }).path, checkLabel: 'Checked' });
    typeSel.dataset.was = d.type;
    defaultHost.replaceChildren(h('label', { htmlFor: id, text: 'Default' }), defaultEd.el, h('p', { class: 'hint', text: 'Filled in on new records that don’t set a value.' }));
    defaultHost._input = defaultEd.input;
  }
  function sync() {
    const t = typeSel.value;
    target.hidden = t !== 'record';
    options.el.hidden = !(t === 'select' || t === 'multi_select');
    if (!options.el.hidden) options.ensureOne();
    unique.hidden = !UNIQUE_TYPES.has(t);
    rebuildDefault();
  }
  label._input.addEventListener('input', () => { if (!keyTouched) key._input.value = keyFromLabel(label._input.value); });
  key._input.addEventListener('input', () => { keyTouched = true; });
  typeSel.addEventListener('change', sync);
  targetSel.addEventListener('change', sync);
  sync();

  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: existing ? 'Save field' : 'Add field' });
  const conflictHost = h('div');
  const kindLabel = (kinds.find((k) => k.kind === kind) || { label: kind }).label.toLowerCase();
  const d = openDialog({
    title: existing ? `Edit “${existing.label}”` : `New ${kindLabel} field`,
    form: true,
    body: [conflictHost, h('div', { class: 'field-grid' }, label, key, type, target), options.el, defaultHost, h('div', { class: 'stack checks' }, required, unique)],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });

  function payload() {
    const t = typeSel.value;
    const body = { label: trimOrNull(label._input.value), type: t, required: reqBox.checked };
    if (!existing) { body.kind = kind; body.key = key._input.value.trim(); }
    if (UNIQUE_TYPES.has(t)) body.unique = uniqBox.checked; else if (f.unique) body.unique = false;
    if (t === 'select' || t === 'multi_select') body.options = options.value();
    if (t === 'record') body.target_kind = targetSel.value;
    if (defaultEd) {
      const v = toApi(draftField(), defaultEd.value());
      body.default = t === 'checkbox' && v === false ? null : v ?? null;
    }
    return body;
  }
  async function save(body) {
    clearErrors(d.form);
    conflictHost.replaceChildren();
    setBusy(submit, true);
    try {
      const saved = existing ? await patch(orgPath(slug, 'fields', existing.id), body) : await post(orgPath(slug, 'fields'), body);
      d.close();
      toast(existing ? `Saved “${saved.label}”.` : `Added “${saved.label}”.`, { kind: 'success' });
      onSaved(saved);
    } catch (err) {
      if (err.status === 409 && existing && body.options) {
        const clearBtn = h('button', { class: 'btn btn-sm btn-danger', type: 'button', text: 'Clear those values' });
        clearBtn.addEventListener('click', () => save({ ...body, removed_options: 'clear' }));
        conflictHost.replaceChildren(h('div', { class: 'callout warn', role: 'alert' }, icon('alert', 16),
          h('div', { class: 'grow stack-sm' }, h('span', { text: err.message.split(';')[0].replace(/\.?$/, '.') }), h('span', { class: 'meta', text: 'Clearing removes the option from every record that has it. Or keep the option and cancel.' }), h('div', null, clearBtn))));
        clearBtn.focus();
      } else {
        showErrors(d.form, err, d.body);
      }
    } finally {
      setBusy(submit, false);
    }
  }
  d.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = payload();
    if (!body.label) { showErrors(d.form, { fields: { label: 'A field needs a label.' } }, d.body); return; }
    save(body);
  });
  return d;
}
