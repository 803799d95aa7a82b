// Custom fields on record pages (inline edit) and in the create/edit dialogs.
import { h, nextId, sameJson } from '../util.js';
import { field } from '../components/field.js';
import { viewValue, valueEditor, toApi, toShown } from '../components/values.js';
import { fieldsOf, kindSchema, pathOfKind } from '../schema.js';

/** The custom fields of a kind, from the schema, in order. */
export const customFieldsOf = (schema, kind) => fieldsOf(kindSchema(schema, kind)).filter((f) => f.key);

export const valueCtx = (slug, schema, members) => ({ slug, members, pathOf: (k) => pathOfKind(schema, k) });

/** propsList() rows for custom fields: PATCH {"custom": {key: value}}. */
export function customProps(fields, ctx) {
  return fields.map((f) => ({
    key: f.id,
    label: f.label,
    view: (r) => viewValue(f, (r.custom || {})[f.key], ctx),
    editor: (r) => {
      const id = nextId('cf');
      const ed = valueEditor(f, (r.custom || {})[f.key], { ...ctx, id });
      const wrap = field({ label: f.label, name: f.id, control: ed.input, controlEl: ed.el });
      wrap.querySelector('label').classList.add('sr-only');
      return { el: wrap, focus: ed.focus, value: ed.value };
    },
    toPatch: (v) => ({ custom: { [f.key]: toApi(f, v) } }),
    optimistic: (v) => ({ custom: { [f.key]: toShown(f, v) } }),
  }));
}

/**
 * The custom fields as form inputs (required ones marked). record: the edited record or null
 * for a new one (defaults pre-filled). value() → {custom: {...}} with, when editing, only the
 * keys that changed.
 */
export function customFormFields(fields, ctx, record = null) {
  const eds = fields.map((f) => {
    const id = nextId('cf');
    const start = record ? (record.custom || {})[f.key] : f.def.default;
    const ed = valueEditor(f, start ?? null, { ...ctx, id });
    const wrap = field({ label: f.label, name: f.id, control: ed.input, controlEl: ed.el, className: f.type === 'long_text' || f.type === 'multi_select' ? 'span-2' : '' });
    if (f.def.required) {
      const lab = wrap.querySelector('label');
      lab.append(h('span', { class: 'req', 'aria-hidden': 'true', text: ' *' }));
      ed.input.setAttribute('aria-required', 'true');
    }
    return { f, ed, wrap, start };
  });
  return {
    els: eds.length ? [h('div', { class: 'form-section' }, h('h3', { text: 'Fields' }), h('div', { class: 'field-grid' }, eds.map((x) => x.wrap)))] : [],
    value() {
      const custom = {};
      for (const { f, ed, start } of eds) {
        const v = toApi(f, ed.value());
        const before = start && typeof start === 'object' && f.type === 'record' ? start.id : start;
        if (record ? !sameJson(before ?? null, v ?? null) : v != null && !(f.type === 'checkbox' && v === false && !f.def.default)) custom[f.key] = v;
      }
      return custom;
    },
  };
}
