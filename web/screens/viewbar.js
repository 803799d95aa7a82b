// The view bar's parts: saved views as tabs, the column chooser, the sort picker, the
// "Save as new" dialog, and reading a saved filter back into editable conditions.
import { h } from '../util.js';
import { icon } from '../icons.js';
import { post, patch, del, orgPath } from '../api.js';
import { session, canAdmin } from '../session.js';
import { navigate } from '../router.js';
import { select, field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { openPopover, menuButton } from '../components/menu.js';
import { toast, reportError } from '../components/toast.js';

/** A saved filter as conditions the builder edits; anything else is kept as it is (locked). */
export function parseFilter(filter) {
  if (!filter) return { conds: [], locked: null };
  const isCond = (c) => c && typeof c === 'object' && typeof c.field === 'string' && typeof c.op === 'string';
  if (isCond(filter)) return { conds: [filter], locked: null };
  if (Array.isArray(filter.and) && filter.and.every(isCond)) return { conds: filter.and.slice(), locked: null };
  if (Array.isArray(filter.and)) return { conds: filter.and.filter(isCond), locked: { and: filter.and.filter((c) => !isCond(c)) } };
  return { conds: [], locked: filter };
}

export const canManageView = (slug, v) => !!v && (v.scope === 'personal' ? v.created_by === session.user.id : canAdmin(slug));

/**
 * Tabs: "All" and every saved view (shared ones marked); the current one has a menu. With a
 * default view, the plain list URL opens it and "All" is ?view=all.
 */
export function viewTabs({ slug, listHref, views, current, onChanged }) {
  const nav = h('nav', { class: 'tabs view-tabs', 'aria-label': 'Saved views' });
  const hasDefault = views.some((v) => v.is_default);
  nav.appendChild(h('a', { href: hasDefault ? `${listHref}?view=all` : listHref, 'aria-current': current ? null : 'page', text: 'All' }));
  for (const v of views) {
    const on = current && current.id === v.id;
    const a = h('a', { href: `${listHref}?view=${encodeURIComponent(v.id)}`, 'aria-current': on ? 'page' : null, title: (v.scope === 'shared' ? 'Shared with the team' : 'Only you see this view') + (v.is_default ? ' · opens by default' : '') },
      v.scope === 'shared' ? icon('users', 13) : icon('lock', 12), h('span', { class: 'truncate', text: v.name }), v.is_default && h('span', { class: 'default-dot', 'aria-label': '(default)' }));
    nav.appendChild(a);
    if (on) {
      nav.appendChild(menuButton({ label: `Actions for view ${v.name}`, className: 'btn btn-ghost btn-icon btn-sm tab-menu' }, () => [
        { label: v.is_default ? 'Stop opening by default' : 'Open by default', icon: 'check', onSelect: () => setDefault(slug, v, !v.is_default, views, onChanged) },
        ...(canManageView(slug, v) ? [
          { label: 'Rename view', icon: 'pencil', onSelect: () => renameView(slug, v, onChanged) },
          { separator: true },
          { label: 'Delete view', icon: 'trash', danger: true, onSelect: () => deleteView(slug, v, listHref) },
        ] : []),
      ]));
    }
  }
  return nav;
}

async function setDefault(slug, v, on, views, onChanged) {
  try {
    const saved = await patch(orgPath(slug, 'views', v.id), { is_default: on });
    for (const x of views) if (x.id !== v.id && on) x.is_default = false;
    toast(on ? `“${v.name}” opens when you go to this list.` : `“${v.name}” no longer opens by default.`, { kind: 'success' });
    onChanged(saved);
  } catch (e) { reportError(e, 'Default not changed.'); }
}

function renameView(slug, v, onChanged) {
  const name = field({ label: 'Name', name: 'name', value: v.name, autocomplete: 'off' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Rename' });
  const d = openDialog({ title: 'Rename view', form: true, size: 'narrow', body: [name], foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit] });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setBusy(submit, true);
    try {
      const saved = await patch(orgPath(slug, 'views', v.id), { name: name._input.value.trim() });
      d.close();
      onChanged(saved);
    } catch (err) { showErrors(d.form, err, d.body); } finally { setBusy(submit, false); }
  });
}

async function deleteView(slug, v, listHref) {
  const ok = await confirmDialog({ title: `Delete the view “${v.name}”?`, message: v.scope === 'shared' ? 'It disappears for everyone in the organization. The records stay.' : 'The records stay; only this saved view goes.', confirmLabel: 'Delete view', danger: true });
  if (!ok) return;
  try {
    await del(orgPath(slug, 'views', v.id));
    toast(`Deleted the view “${v.name}”.`, { kind: 'success' });
    navigate(listHref, { replace: true });
  } catch (e) { reportError(e, 'Could not delete the view.'); }
}

/** "Save as new": name and who sees it (shared needs an admin). Resolves with the new view. */
export function saveAsNewDialog({ slug, body }) {
  return new Promise((resolve) => {
    let saved = null;
    const name = field({ label: 'Name', name: 'name', autocomplete: 'off', placeholder: 'My customers in Berlin' });
    const admin = canAdmin(slug);
    const scope = field({ label: 'Who sees it', name: 'scope', control: select([{ value: 'personal', label: 'Only me' }, ...(admin ? [{ value: 'shared', label: 'Everyone in the organization' }] : [])], 'personal') });
    if (!admin) scope.appendChild(h('p', { class: 'hint', text: 'Admins can share views with the whole team.' }));
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Save view' });
    const d = openDialog({ title: 'Save as a new view', form: true, size: 'narrow', body: [name, scope], foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit], onClose: () => resolve(saved) });
    d.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(d.form);
      if (!name._input.value.trim()) { showErrors(d.form, { fields: { name: 'Give the view a name.' } }, d.body); return; }
      setBusy(submit, true);
      try {
        saved = await post(orgPath(slug, 'views'), { ...body, name: name._input.value.trim(), scope: scope._input.value });
        d.close();
      } catch (err) { showErrors(d.form, err, d.body); } finally { setBusy(submit, false); }
    });
  });
}

/** Column chooser: show/hide any field, move visible ones up and down. The first column stays. */
export function openColumnChooser(anchor, { fields, cols, fixed, onChange, under }) {
  let order = cols.slice();
  const listEl = h('ul', { class: 'col-list', 'aria-label': 'Columns' });
  const pop = openPopover(anchor, [h('div', { class: 'fb-title', text: 'Columns' }), listEl], { className: 'col-chooser', align: 'end', label: 'Columns', under });
  function render(focus) {
    const shown = order.filter((id) => id !== fixed);
    const hidden = fields.filter((f) => f.id !== fixed && !order.includes(f.id));
    const items = [...shown.map((id) => fields.find((f) => f.id === id)).filter(Boolean), ...hidden];
    listEl.replaceChildren(...items.map((f) => {
      const on = order.includes(f.id);
      const i = shown.indexOf(f.id);
      const cb = h('input', { type: 'checkbox', class: 'checkbox', checked: on });
      cb.addEventListener('change', () => {
        order = cb.checked ? [...order, f.id] : order.filter((x) => x !== f.id);
        onChange(order.slice());
        render({ id: f.id, what: 'cb' });
      });
      const mv = (d) => {
        const s = shown.slice();
        [s[i], s[i + d]] = [s[i + d], s[i]];
        order = [fixed, ...s];
        onChange(order.slice());
        render({ id: f.id, what: d < 0 ? 'up' : 'down' });
      };
      return h('li', { class: `col-item ${on ? '' : 'off'}`, dataset: { id: f.id } },
        h('label', { class: 'check-edit grow' }, cb, h('span', { class: 'truncate', text: f.label })),
        on && h('button', { class: 'btn btn-ghost btn-icon btn-sm up', type: 'button', 'aria-label': `Move ${f.label} left`, disabled: i === 0, onclick: () => mv(-1) }, icon('arrowUp', 12)),
        on && h('button', { class: 'btn btn-ghost btn-icon btn-sm down', type: 'button', 'aria-label': `Move ${f.label} right`, disabled: i === shown.length - 1, onclick: () => mv(1) }, icon('arrowDown', 12)));
    }));
    if (focus) {
      const li = listEl.querySelector(`[data-id="${CSS.escape(focus.id)}"]`);
      const el = li && (li.querySelector(focus.what === 'cb' ? 'input' : `.${focus.what}:not([disabled])`) || li.querySelector('input'));
      if (el) el.focus();
    }
    pop.place();
  }
  render();
  const first = listEl.querySelector('input');
  if (first) first.focus();
  return pop;
}

/** Sort picker: a field and a direction (the first sort key; headers set it too). */
export function openSortPicker(anchor, { fields, sort, onChange, under }) {
  const sortable = fields.filter((f) => f.sortable);
  const desc = sort.startsWith('-');
  const key = sort.replace(/^-/, '').split(',')[0];
  const norm = (k) => ({ updated: 'updated_at', created: 'created_at' })[k] || k;
  const fieldSel = select(sortable.map((f) => ({ value: f.id, label: f.label })), norm(key), { 'aria-label': 'Sort by' });
  const dirSel = select([{ value: 'asc', label: 'Ascending' }, { value: 'desc', label: 'Descending' }], desc ? 'desc' : 'asc', { 'aria-label': 'Direction' });
  const emit = () => onChange((dirSel.value === 'desc' ? '-' : '') + fieldSel.value);
  fieldSel.addEventListener('change', emit);
  dirSel.addEventListener('change', emit);
  const pop = openPopover(anchor, [h('div', { class: 'fb-title', text: 'Sort' }), h('div', { class: 'sort-row' }, fieldSel, dirSel)], { className: 'sort-picker', label: 'Sort', under });
  fieldSel.focus();
  return pop;
}
