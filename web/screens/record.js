// Building blocks of record pages: header, inline-editable field list, history, delete + undo.
import { h, sameJson, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { del, post } from '../api.js';
import { announceChange, memberName } from '../session.js';
import { navigate } from '../router.js';
import { showErrors, clearErrors } from '../components/field.js';
import { toast, reportError } from '../components/toast.js';
import { emptyState } from '../components/table.js';

export function recordHeader({ avatarEl, title, facts = [], actions = [] }) {
  return h('section', { class: 'record-head' }, avatarEl,
    h('div', { class: 'titles' }, h('h1', { text: title }), h('div', { class: 'facts' }, facts.filter(Boolean))),
    actions.length ? h('div', { class: 'record-actions' }, actions) : null);
}

export const fact = (iconName, content, label) => h('span', { class: 'fact', title: label || null }, icon(iconName, 14), typeof content === 'string' ? h('span', { text: content }) : content);

export function skeletonRecord() {
  return h('div', { class: 'record' }, [
    h('section', { class: 'record-head', 'aria-hidden': 'true' }, h('span', { class: 'avatar lg skel' }),
      h('div', { class: 'titles' }, h('span', { class: 'skel block w-30' }), h('span', { class: 'skel block w-50' }))),
    h('div', { class: 'record-body', 'aria-hidden': 'true' },
      h('div', { class: 'record-main' }, [1, 2, 3, 4].map(() => h('span', { class: 'skel block w-80' }))),
      h('div', { class: 'record-side' }, [1, 2, 3, 4, 5, 6].map(() => h('span', { class: 'skel block w-70' })))),
  ]);
}

export function notFoundState(kind, listHref) {
  return emptyState({ iconName: 'search', title: `This ${kind} doesn’t exist`, text: 'It may have been deleted, or the link is wrong.', actions: [h('a', { class: 'btn', href: listHref, text: `Back to ${kind === 'company' ? 'companies' : 'contacts'}` })] });
}

// A record reference reads {id, name, …} but is written as its id.
const plainRef = (v) => (v && typeof v === 'object' && !Array.isArray(v) && 'id' in v && 'kind' in v ? v.id : v);
// Custom values merge per key, like the API's PATCH.
const merge = (a, b) => ({ ...a, ...b, ...(b.custom ? { custom: { ...(a.custom || {}), ...b.custom } } : {}) });

/**
 * Inline-editable field list.
 * fields: [{key, label, view(item) → Node|null, editor(item) → {el, focus(), value()}, toPatch(v) → object}]
 * save(patch) → Promise<item>. Optimistic: the new value shows at once; on failure the editor
 * comes back with what was typed and the error next to it.
 */
export function propsList({ fields, item, editable, save, onSaved }) {
  let current = item;
  const dl = h('dl', { class: 'props' });
  const rows = new Map();

  function renderView(f) {
    const r = rows.get(f.key);
    r.el.classList.remove('is-editing');
    const v = f.view(current);
    const value = h('div', { class: 'prop-value' }, v == null || v === '' ? h('span', { class: 'empty-val', text: editable ? 'Add…' : '—' }) : v);
    const dd = h('dd', null, value);
    if (editable && f.editor) {
      value.classList.add('editable');
      value.addEventListener('click', (e) => { if (!e.target.closest('a')) startEdit(f); });
      dd.appendChild(h('button', { class: 'btn btn-ghost btn-icon btn-sm prop-edit-btn', type: 'button', 'aria-label': `Edit ${f.label.toLowerCase()}`, onclick: () => startEdit(f) }, icon('pencil', 13)));
    }
    r.dd.replaceWith(dd);
    r.dd = dd;
  }

  function startEdit(f, editor = null) {
    for (const [k, r] of rows) if (k !== f.key && r.editing) finish(r.f);
    const r = rows.get(f.key);
    r.editing = true;
    const ed = editor || f.editor(current);
    const saveBtn = h('button', { class: 'btn btn-primary btn-sm', type: 'button', text: 'Save' });
    const box = h('div', { class: 'prop-edit' }, ed.el,
      h('div', { class: 'actions' }, h('button', { class: 'btn btn-sm', type: 'button', text: 'Cancel', onclick: () => finish(f, true) }), saveBtn));
    r.el.classList.add('is-editing');
    const dd = h('dd', null, box);
    r.dd.replaceWith(dd);
    r.dd = dd;
    r.editor = ed;
    saveBtn.addEventListener('click', () => commit(f, ed));
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); finish(f, true); }
      else if (e.key === 'Enter' && e.target.tagName === 'INPUT' && !e.defaultPrevented && e.target.getAttribute('aria-expanded') !== 'true') { e.preventDefault(); commit(f, ed); }
    });
    ed.focus();
    return box;
  }

  function finish(f, refocus = false) {
    const r = rows.get(f.key);
    r.editing = false;
    r.editor = null;
    renderView(f);
    if (refocus) (r.dd.querySelector('.prop-edit-btn') || r.dd).focus();
  }

  async function commit(f, ed) {
    const patch = f.toPatch(ed.value());
    const same = ([k, v]) => (k === 'custom' ? Object.entries(v).every(([ck, cv]) => sameJson(plainRef((current.custom || {})[ck]), cv)) : sameJson(current[k], v));
    if (Object.entries(patch).every(same)) { finish(f, true); return; }
    const before = current;
    current = merge(merge(current, patch), f.optimistic ? f.optimistic(ed.value()) : {});
    finish(f);
    const r = rows.get(f.key);
    r.el.classList.add('saving');
    try {
      current = await save(patch);
      r.el.classList.remove('saving');
      for (const x of fields) if (!rows.get(x.key).editing) renderView(x);
      if (onSaved) onSaved(current);
    } catch (err) {
      current = before;
      r.el.classList.remove('saving');
      const again = startEdit(f, ed);
      clearErrors(again);
      if (err.status === 422) showErrors(again, err);
      else reportError(err);
    }
  }

  for (const f of fields) {
    const el = h('div', { class: 'prop' }, h('dt', { text: f.label, title: f.label }), h('dd'));
    dl.appendChild(el);
    rows.set(f.key, { el, dd: el.lastChild, f, editing: false });
    renderView(f);
  }
  return {
    el: dl,
    update(next) { current = next; for (const f of fields) if (!rows.get(f.key).editing) renderView(f); },
    editFirst() { if (editable && fields[0]) startEdit(fields[0]); },
  };
}

/** Deletes (moves to trash), leaves the page, offers Undo which restores and comes back. */
export async function deleteRecord({ apiPath, entity, label, backHref, recordHref }) {
  try {
    await del(apiPath);
  } catch (e) {
    reportError(e, `Could not delete ${label}.`);
    return;
  }
  announceChange(entity);
  navigate(backHref);
  toast(`Deleted ${label}.`, {
    kind: 'success',
    action: {
      label: 'Undo',
      run: async () => {
        try {
          await post(apiPath + '/restore');
          announceChange(entity);
          toast(`Restored ${label}.`, { kind: 'success' });
          navigate(recordHref);
        } catch (e) { reportError(e, 'Could not restore.'); }
      },
    },
  });
}

export function sideSection(title, body, extra) {
  return h('section', null, h('div', { class: 'section-head' }, h('h2', { text: title }), extra), body);
}

