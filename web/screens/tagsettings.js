// Settings → Tags: every tag with how many records carry it. Members rename, recolour and
// merge tags; admins delete them. Creating happens where tags are used (the tag picker).
import { h, clear, plural } from '../util.js';
import { icon } from '../icons.js';
import { get, patch, post, del, orgPath } from '../api.js';
import { canEdit, canAdmin } from '../session.js';
import { field, select, showErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { menuButton } from '../components/menu.js';
import { toast, reportError } from '../components/toast.js';
import { createTable, emptyState } from '../components/table.js';
import { chip, COLORS } from '../components/values.js';
import { forgetTags } from '../schema.js';
import { settingsFrame } from './settings.js';

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

export async function renderTags(ctx) {
  const { slug, signal } = ctx;
  const editable = canEdit(slug);
  const admin = canAdmin(slug);
  const page = settingsFrame(ctx, 'tags', { title: 'Tags' });
  let tags = [];
  const table = createTable({
    caption: 'Tags',
    className: 'table-static',
    columns: [
      { key: 'name', label: 'Tag', className: 'name-cell', render: (t) => chip(t.name, t.color) },
      { key: 'count', label: 'Records', right: true, render: (t) => h('span', { class: t.count ? 'num' : 'tertiary', text: String(t.count || 0) }) },
      { key: 'color', label: 'Colour', className: 'hide-sm', render: (t) => colourCell(t) },
      { key: 'actions', label: '', right: true, render: (t) => (editable ? rowMenu(t) : h('span')) },
    ],
  });
  const host = h('div', { class: 'table-card' }, table.el);
  const emptyHost = h('div');
  clear(page, h('div', { class: 'settings-intro' }, h('p', { text: 'Tags group records across lists and search. Add them from a record or a list selection; rename, recolour and merge them here.' })), emptyHost, host);

  function colourCell(t) {
    if (!editable) return h('span', { class: 'secondary', text: cap(t.color) });
    const s = select(COLORS.map((c) => ({ value: c, label: cap(c) })), t.color, { class: 'select role-select', 'aria-label': `Colour of ${t.name}` });
    s.addEventListener('change', () => save(t, { color: s.value }, () => { s.value = t.color; }));
    return s;
  }
  function rowMenu(t) {
    return menuButton({ label: `Actions for ${t.name}`, className: 'btn btn-ghost btn-icon btn-sm' }, () => [
      { label: 'Rename', icon: 'pencil', onSelect: () => rename(t) },
      tags.length > 1 && { label: 'Merge into…', icon: 'link', onSelect: () => merge(t) },
      admin && { separator: true },
      admin && { label: 'Delete tag', icon: 'trash', danger: true, onSelect: () => remove(t) },
    ].filter(Boolean), { align: 'end' });
  }
  async function save(t, body, rollback) {
    try {
      Object.assign(t, await patch(orgPath(slug, 'tags', t.id), body));
      forgetTags(slug);
      render();
    } catch (e) { if (rollback) rollback(); reportError(e, 'Tag not changed.'); }
  }
  function rename(t) {
    const name = field({ label: 'Name', name: 'name', value: t.name, autocomplete: 'off' });
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Rename' });
    const d = openDialog({ title: `Rename “${t.name}”`, form: true, size: 'narrow', body: [name], foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit] });
    d.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      setBusy(submit, true);
      try {
        Object.assign(t, await patch(orgPath(slug, 'tags', t.id), { name: name._input.value.trim() }));
        forgetTags(slug);
        d.close();
        render();
      } catch (err) { showErrors(d.form, err, d.body); } finally { setBusy(submit, false); }
    });
  }
  function merge(t) {
    const others = tags.filter((x) => x.id !== t.id);
    const into = field({ label: 'Merge into', name: 'into', control: select(others.map((x) => ({ value: x.id, label: x.name })), others[0].id) });
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Merge' });
    const d = openDialog({ title: `Merge “${t.name}”`, description: `Records tagged “${t.name}” get the other tag instead, and “${t.name}” goes away.`, form: true, size: 'narrow', body: [into], foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit] });
    d.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      setBusy(submit, true);
      try {
        await post(orgPath(slug, 'tags', t.id, 'merge'), { into: into._input.value });
        forgetTags(slug);
        d.close();
        toast(`Merged “${t.name}”.`, { kind: 'success' });
        load();
      } catch (err) { showErrors(d.form, err, d.body); } finally { setBusy(submit, false); }
    });
  }
  async function remove(t) {
    const ok = await confirmDialog({ title: `Delete “${t.name}”?`, message: t.count ? `It comes off ${plural(t.count, 'record')}. This can’t be undone.` : 'No record carries it.', confirmLabel: 'Delete tag', danger: true });
    if (!ok) return;
    try {
      await del(orgPath(slug, 'tags', t.id));
      forgetTags(slug);
      toast(`Deleted “${t.name}”.`, { kind: 'success' });
      load();
    } catch (e) { reportError(e, 'Could not delete the tag.'); }
  }
  function render() {
    tags.sort((a, b) => a.name.localeCompare(b.name));
    table.setItems(tags);
    host.hidden = !tags.length;
    clear(emptyHost, tags.length ? null : emptyState({ iconName: 'tag', title: 'No tags yet', text: 'Tag a contact or a company from its page, or a whole list selection at once, and the tags show up here.' }));
  }
  async function load() {
    try {
      const r = await get(orgPath(slug, 'tags'), { signal });
      tags = r.items;
      render();
    } catch (e) { reportError(e); }
  }
  table.skeleton(4);
  await load();
  return {};
}
