// What the API says records look like (GET /schema): kinds, built-in and custom fields,
// turned into one field list that forms, columns and filters are built from. Cached per org.
import { get, orgPath } from './api.js';
import { STAGES } from './components/badge.js';

const schemas = new Map();
const tagLists = new Map();

export function getSchema(slug, { fresh = false } = {}) {
  const hit = schemas.get(slug);
  if (hit && !fresh && Date.now() - hit.at < 30000) return hit.promise;
  const promise = get(orgPath(slug, 'schema'));
  promise.catch(() => schemas.delete(slug));
  schemas.set(slug, { at: Date.now(), promise });
  return promise;
}
export const forgetSchema = (slug) => schemas.delete(slug);

/** Tags of the org (with counts), cached briefly; forgetTags after a change. */
export function getTags(slug, { fresh = false } = {}) {
  const hit = tagLists.get(slug);
  if (hit && !fresh && Date.now() - hit.at < 30000) return hit.promise;
  const promise = get(orgPath(slug, 'tags')).then((r) => r.items);
  promise.catch(() => tagLists.delete(slug));
  tagLists.set(slug, { at: Date.now(), promise });
  return promise;
}
export const forgetTags = (slug) => tagLists.delete(slug);

/** The kind's schema by name (`contact`) or path (`contacts`). */
export const kindSchema = (schema, kind) => (schema.kinds || []).find((k) => k.kind === kind || k.path === kind) || null;
export const pathOfKind = (schema, kind) => (kindSchema(schema, kind) || { path: `${kind}s` }).path;

const STAGE_TONE = { blue: 'blue', amber: 'yellow', green: 'green', gray: 'gray' };
const BUILTIN_OPTION_LABELS = {
  stage: Object.fromEntries(STAGES.map((s) => [s.value, { label: s.label, color: STAGE_TONE[s.tone] || 'gray' }])),
};

/**
 * Every field of a kind: [{id, label, type, options: [{value, label, color}], filterable, sortable,
 * target_kind, builtin, key (custom key), def (the custom field)}], built-ins first, then custom
 * fields in order, then tags.
 */
export function fieldsOf(ks) {
  if (!ks) return [];
  const out = ks.fields.map((b) => ({
    id: b.key, label: b.label, type: b.type, builtin: true,
    filterable: b.filterable, sortable: b.sortable, target_kind: b.target_kind,
    options: (b.options || []).map((v) => ({ value: v, ...((BUILTIN_OPTION_LABELS[b.key] || {})[v] || { label: b.key === 'size' ? `${v} employees` : v, color: 'gray' }) })),
  }));
  for (const f of ks.custom_fields || []) {
    out.push({
      id: `custom.${f.key}`, key: f.key, label: f.label, type: f.type, def: f,
      filterable: true, sortable: f.type !== 'multi_select', target_kind: f.target_kind, options: f.options || [],
    });
  }
  out.push({ id: 'tags', label: 'Tags', type: 'tags', filterable: true, sortable: false, options: [] });
  return out;
}

/** A record's value of a field from fieldsOf(). */
export function valueOf(item, f) {
  if (f.key) return (item.custom || {})[f.key] ?? null;
  return item[f.id] ?? null;
}
