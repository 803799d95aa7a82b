// Settings → Fields: the custom fields of each kind, in order. Admins add, edit, reorder and
// delete them (and restore recently deleted ones); everyone else reads.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, patch, del, post, orgPath } from '../api.js';
import { canAdmin } from '../session.js';
import { setQuery } from '../router.js';
import { badge } from '../components/badge.js';
import { menuButton } from '../components/menu.js';
import { toast, reportError } from '../components/toast.js';
import { confirmDialog } from '../components/dialog.js';
import { emptyState } from '../components/table.js';
import { chip, typeLabel, TYPE_ICON } from '../components/values.js';
import { getSchema, forgetSchema } from '../schema.js';
import { settingsFrame } from './settings.js';
import { openFieldForm } from './fieldform.js';

export async function renderFields(ctx) {
  const { slug, signal, query } = ctx;
  const admin = canAdmin(slug);
  const newBtn = admin && h('button', { class: 'btn btn-primary', type: 'button', 'aria-label': 'New field', onclick: () => openNew() }, icon('plus', 15), h('span', { class: 'hide-sm', text: 'New field' }));
  const page = settingsFrame(ctx, 'fields', { title: 'Fields', actions: [newBtn] });
  let schema = await getSchema(slug, { fresh: true }).catch((e) => { reportError(e); return { kinds: [] }; });
  const kinds = schema.kinds || [];
  let kind = (kinds.find((k) => k.kind === query.get('kind')) || kinds[0] || {}).kind;
  let fields = [];
  let deleted = [];

  const seg = h('div', { class: 'seg', role: 'tablist', 'aria-label': 'Kind of record' });
  const listHost = h('div');
  const trashHost = h('div');
  clear(page,
    h('div', { class: 'settings-intro' }, h('p', { text: `The fields your team tracks on each kind of record, beyond the built-in ones. They show on record pages, in create forms, as list columns and in filters.${admin ? '' : ' Admins can change them.'}` })),
    h('div', { class: 'fields-head' }, seg),
    listHost, trashHost);

  function renderSeg() {
    seg.replaceChildren(...kinds.map((k) => {
      const b = h('button', { type: 'button', role: 'tab', class: 'seg-btn', 'aria-selected': String(k.kind === kind), text: k.label_plural || k.label });
      b.addEventListener('click', () => { kind = k.kind; setQuery({ kind: k.kind }); renderSeg(); load(); });
      return b;
    }));
  }
  const kindOf = () => kinds.find((k) => k.kind === kind) || { label: kind, label_plural: kind };

  function row(f, i) {
    const flags = [f.required && badge('Required', 'blue'), f.unique && badge('Unique', 'violet'), f.type === 'record' && f.target_kind && badge(`→ ${(kinds.find((k) => k.kind === f.target_kind) || { label: f.target_kind }).label}`, 'gray')].filter(Boolean);
    const opts = (f.options || []).slice(0, 6).map((o) => chip(o.label, o.color));
    if ((f.options || []).length > 6) opts.push(h('span', { class: 'meta', text: `+${f.options.length - 6}` }));
    const actions = admin ? menuButton({ label: `Actions for ${f.label}`, className: 'btn btn-ghost btn-icon btn-sm' }, () => [
      { label: 'Edit', icon: 'pencil', onSelect: () => openEdit(f) },
      i > 0 && { label: 'Move up', icon: 'arrowUp', onSelect: () => move(i, -1) },
      i < fields.length - 1 && { label: 'Move down', icon: 'arrowDown', onSelect: () => move(i, 1) },
      { separator: true },
      { label: 'Delete field', icon: 'trash', danger: true, onSelect: () => remove(f) },
    ].filter(Boolean), { align: 'end' }) : null;
    const li = h('li', { class: 'field-row', dataset: { id: f.id } },
      h('span', { class: 'type-icon', title: typeLabel(f.type), 'aria-hidden': 'true' }, icon(TYPE_ICON[f.type] || 'info', 14)),
      h('div', { class: 'field-main' },
        h('div', { class: 'row' }, admin ? h('button', { class: 'link-btn field-name', type: 'button', text: f.label, onclick: () => openEdit(f) }) : h('span', { class: 'field-name', text: f.label }), flags),
        h('div', { class: 'row meta' }, h('span', { class: 'mono', text: f.key }), h('span', { text: '·' }), h('span', { text: typeLabel(f.type) }))),
      h('div', { class: 'field-opts chips' }, opts),
      admin && h('div', { class: 'row reorder' },
        h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': `Move ${f.label} up`, disabled: i === 0, onclick: () => move(i, -1) }, icon('arrowUp', 13)),
        h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': `Move ${f.label} down`, disabled: i === fields.length - 1, onclick: () => move(i, 1) }, icon('arrowDown', 13))),
      actions);
    return li;
  }

  function render() {
    const k = kindOf();
    if (!fields.length) {
      clear(listHost, emptyState({
        iconName: 'list', title: `No custom fields on ${k.label_plural.toLowerCase()} yet`,
        text: admin ? 'Add the fields your business needs — a plan, a renewal date, an account manager.' : 'Admins can add fields such as a plan, a renewal date or an account manager.',
        actions: admin ? [h('button', { class: 'btn btn-primary', type: 'button', onclick: () => openNew() }, icon('plus', 15), 'New field')] : [],
      }));
    } else {
      clear(listHost, h('ul', { class: 'field-list card', 'aria-label': `${k.label} fields` }, fields.map(row)));
    }
    if (!admin || !deleted.length) { clear(trashHost); return; }
    clear(trashHost, h('section', { class: 'fields-trash' },
      h('div', { class: 'section-head' }, h('h2', { text: 'Recently deleted' }), h('span', { class: 'meta', text: 'Values come back with the field for 30 days.' })),
      h('ul', { class: 'field-list card' }, deleted.map((f) => h('li', { class: 'field-row' },
        h('span', { class: 'type-icon', 'aria-hidden': 'true' }, icon(TYPE_ICON[f.type] || 'info', 14)),
        h('div', { class: 'field-main' }, h('span', { class: 'field-name muted', text: f.label }),
          h('div', { class: 'row meta' }, h('span', { class: 'mono', text: f.key }), h('span', { text: '·' }), h('span', null, 'deleted ', timeEl(f.deleted_at)))),
        h('button', { class: 'btn btn-sm', type: 'button', onclick: () => restore(f) }, icon('undo', 13), 'Restore'))))));
  }

  async function load() {
    try {
      const [live, gone] = await Promise.all([
        get(orgPath(slug, 'fields') + `?kind=${encodeURIComponent(kind)}`, { signal }),
        admin ? get(orgPath(slug, 'fields') + `?kind=${encodeURIComponent(kind)}&deleted=true`, { signal }) : { items: [] },
      ]);
      fields = live.items;
      deleted = gone.items;
      render();
    } catch (e) { reportError(e); }
  }
  const changed = () => { forgetSchema(slug); return load(); };
  const openNew = () => openFieldForm({ slug, kind, kinds, onSaved: changed });
  const openEdit = (f) => openFieldForm({ slug, kind, kinds, field: f, onSaved: changed });

  async function move(i, d) {
    const j = i + d;
    if (j < 0 || j >= fields.length) return;
    const order = fields.slice();
    [order[i], order[j]] = [order[j], order[i]];
    const before = fields;
    fields = order;
    render();
    const btn = listHost.querySelector(`[data-id="${CSS.escape(order[j].id)}"] .reorder button:${d < 0 ? 'first-child' : 'last-child'}`);
    if (btn && !btn.disabled) btn.focus();
    try {
      // Positions are rewritten 1..n so two fields never share one.
      await Promise.all(order.map((f, n) => (f.position === (n + 1) * 10 ? null : patch(orgPath(slug, 'fields', f.id), { position: (n + 1) * 10 }))));
      forgetSchema(slug);
      order.forEach((f, n) => { f.position = (n + 1) * 10; });
    } catch (e) { fields = before; render(); reportError(e, 'Order not saved.'); }
  }

  async function remove(f) {
    const ok = await confirmDialog({ title: `Delete “${f.label}”?`, message: 'It disappears from records, forms, lists and filters. An admin can restore it, with its values, for 30 days.', confirmLabel: 'Delete field', danger: true });
    if (!ok) return;
    try {
      await del(orgPath(slug, 'fields', f.id));
      toast(`Deleted “${f.label}”.`, { kind: 'success', action: { label: 'Undo', run: () => restore(f) } });
      changed();
    } catch (e) { reportError(e, 'Could not delete the field.'); }
  }
  async function restore(f) {
    try {
      await post(orgPath(slug, 'fields', f.id, 'restore'));
      toast(`Restored “${f.label}”.`, { kind: 'success' });
      changed();
    } catch (e) { reportError(e, 'Could not restore the field.'); }
  }

  renderSeg();
  await load();
  return { shortcuts: admin ? { c: openNew } : {} };
}
