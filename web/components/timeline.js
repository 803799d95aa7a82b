// A record's timeline in its main column: filters (all, notes, activities, tasks, deals, files, changes),
// a composer (write a note, log an activity, add a task) that posts optimistically with undo,
// and the entries newest first with "Show more" (keyset paging).
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, del, orgPath } from '../api.js';
import { menuButton } from './menu.js';
import { memberName, session } from '../session.js';
import { toast, reportError } from './toast.js';
import { richBody, richEditor } from './richtext.js';

const FILTERS = [['', 'All'], ['notes', 'Notes'], ['activities', 'Activities'], ['tasks', 'Tasks'], ['deals', 'Deals'], ['files', 'Files'], ['changes', 'Changes']];
const OUTCOMES = [['', 'Outcome'], ['connected', 'Connected'], ['no_answer', 'No answer'], ['left_voicemail', 'Left voicemail'], ['busy', 'Busy']];
const ACTIVITY = { call: ['phone', 'Call'], meeting: ['users', 'Meeting'], email: ['mail', 'Email'], other: ['clock', 'Activity'] };

const who = (members, id) => (!id ? 'Someone' : id.startsWith('api_key:') ? 'An API key' : memberName(members, id) || 'A former member');

function shownValue(v) {
  if (v == null || v === '') return h('span', { class: 'meta', text: 'empty' });
  if (typeof v === 'object' && !Array.isArray(v) && 'name' in v) return h('b', { text: v.name || 'a deleted record' });
  if (typeof v === 'object') return h('span', { text: JSON.stringify(v).slice(0, 60) });
  return h('b', { text: String(v).slice(0, 80) });
}

function changeLines(item) {
  return Object.entries(item.changes || {}).map(([, c]) => h('li', null,
    h('span', { class: 'meta', text: `${c.label}: ` }), shownValue(c.before), ' → ', shownValue(c.after)));
}

/** One entry as a list item. */
function entryEl(e, ctx) {
  const { members, slug } = ctx;
  const it = e.item;
  const when = timeEl(e.at);
  const actor = h('b', { text: who(members, e.actor) });
  const li = (iconName, head, body, extra = '') => h('li', { class: `tl-entry tl-${e.type} ${extra}`, dataset: { key: e.key } },
    h('span', { class: 'tl-icon' }, icon(iconName, 12)),
    h('div', { class: 'tl-body' }, h('div', { class: 'tl-head' }, head, ' · ', when), body));
  if (e.type === 'notes') {
    const card = h('div', { class: 'tl-card' }, richBody(it.body, members),
      it.updated_at !== it.created_at ? h('div', { class: 'meta' }, 'Edited by ', who(members, it.updated_by), ' · ', timeEl(it.updated_at)) : null);
    const actions = ctx.editable && it.id ? menuButton({ label: 'Note actions', className: 'btn btn-ghost btn-icon btn-sm tl-actions' }, () => [
      { label: it.pinned ? 'Unpin' : 'Pin to top', icon: 'pin', onSelect: () => ctx.noteAction(it, 'pin') },
      { label: 'Edit', icon: 'pencil', onSelect: () => ctx.editNote(it, card) },
      { label: 'Delete note', icon: 'trash', danger: true, onSelect: () => ctx.noteAction(it, 'delete') },
    ], { align: 'end' }) : null;
    return li(it.pinned ? 'pin' : 'text', [actor, ' wrote a note', it.pinned ? h('span', { class: 'badge', text: 'Pinned' }) : null, actions], card);
  }
  if (e.type === 'activities') {
    const [ic, label] = ACTIVITY[it.type] || ACTIVITY.other;
    const bits = [it.outcome && it.outcome.replace(/_/g, ' '), it.duration_min != null && `${it.duration_min} min`].filter(Boolean).join(' · ');
    return li(ic, [actor, ` logged a ${label.toLowerCase()}`, it.subject ? [': ', h('b', { text: it.subject })] : null],
      h('div', { class: 'tl-card' }, bits ? h('div', { class: 'meta', text: bits }) : null, it.text ? richBody(it.body, members) : null));
  }
  if (e.type === 'tasks') {
    const done = e.event === 'completed';
    // A task still open can be completed from here.
    const box = !done && it.id && ctx.editable && it.status === 'open'
      ? h('input', { type: 'checkbox', class: 'task-check', 'aria-label': `Complete ${it.title}`, onchange: () => ctx.complete(it) })
      : null;
    return li(done ? 'checkCircle' : 'check', [actor, done ? ' completed ' : ' added the task ', h('a', { href: `/o/${slug}/tasks`, text: it.title })],
      !done ? h('div', { class: 'tl-task' }, box, h('span', { class: 'meta', text: [it.status === 'done' ? 'Done' : null, it.due ? `Due ${it.due.length === 10 ? it.due : new Date(it.due).toLocaleString()}` : null, it.assignee_id ? who(members, it.assignee_id) : null].filter(Boolean).join(' · ') })) : null);
  }
  if (e.type === 'deals') {
    const d = it.deal || {};
    const name = d.deleted ? h('b', { text: d.name || 'a deleted deal' }) : h('a', { href: `/o/${slug}/deals/${d.id}`, text: d.name });
    return li('arrowUp', [actor, ' moved ', name, ' from ', h('b', { text: it.from || '—' }), ' to ', h('b', { text: it.to })], null);
  }
  if (e.type === 'files') {
    const url = `/api/v1${orgPath(slug, 'files', it.id || '', 'content')}`;
    const name = it.id ? h('a', { href: url, download: it.name, dataset: { native: '' }, text: it.name }) : h('b', { text: 'a file' });
    return li('paperclip', [actor, ' added ', name], null);
  }
  if (e.event === 'created') return li('plus', [actor, ' created this record'], null);
  if (e.event === 'deleted') return li('trash', [actor, ' deleted this record'], null);
  if (e.event === 'restored') return li('undo', [actor, ' restored this record'], null);
  if (e.event === 'restricted') return li('lock', [actor, ' restricted this record (privacy request)'], null);
  if (e.event === 'lifted') return li('lock', [actor, ' lifted the restriction'], null);
  const lines = changeLines(it);
  return li('pencil', [actor, ` changed ${lines.length === 1 ? 'a field' : `${lines.length} fields`}`], h('ul', { class: 'tl-diff' }, lines));
}

/**
 * timelinePanel({slug, path, id, kind, members, editable}) → {el, reload()}
 * path: the record's API path segment (contacts); kind: its singular name (contact);
 * relatedLabel: offer a toggle that includes related records' entries (a company's contacts).
 */
export function timelinePanel({ slug, path, id, kind, members, editable, relatedLabel = null }) {
  const ctx = {
    slug, members, editable,
    complete: (task) => completeTask(task),
    noteAction: (note, what) => noteAction(note, what),
    editNote: (note, card) => editNote(note, card),
  };
  let filter = '';
  let cursor = null;
  let related = false;
  const relatedBtn = relatedLabel ? h('button', { class: 'chip-toggle', type: 'button', 'aria-pressed': 'false', text: relatedLabel,
    onclick: () => { related = !related; relatedBtn.setAttribute('aria-pressed', String(related)); load(true); } }) : null;
  const list = h('ul', { class: 'timeline tl-list', 'aria-live': 'polite' });
  const pinned = h('ul', { class: 'timeline tl-list tl-pinned' });
  const more = h('button', { class: 'btn btn-sm tl-more', type: 'button', text: 'Show more', hidden: true, onclick: () => load(false) });
  const tabs = h('div', { class: 'tl-filters', role: 'tablist', 'aria-label': 'Show' },
    FILTERS.map(([v, label]) => h('button', { class: 'chip-toggle', type: 'button', role: 'tab', 'aria-pressed': String(v === filter), 'aria-selected': String(v === filter), dataset: { filter: v }, text: label,
      onclick: (ev) => { filter = v; for (const b of tabs.children) { const on = b === ev.currentTarget; b.setAttribute('aria-pressed', String(on)); b.setAttribute('aria-selected', String(on)); } load(true); } })));

  async function load(fresh) {
    const q = new URLSearchParams({ limit: '30' });
    if (filter) q.set('types', filter);
    if (related) q.set('include', 'related');
    if (!fresh && cursor) q.set('cursor', cursor);
    try {
      const page = await get(`${orgPath(slug, path, id, 'timeline')}?${q}`);
      if (fresh) { clear(list); clear(pinned, page.pinned.map((e) => entryEl(e, ctx))); }
      for (const e of page.items) list.appendChild(entryEl(e, ctx));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (fresh && !page.items.length && !page.pinned.length) list.appendChild(h('li', { class: 'meta tl-empty', text: 'Nothing here yet.' }));
    } catch (e) { reportError(e); }
  }

  // Optimistic: the entry shows at once, greyed; on failure it goes and the error shows.
  async function submit(kindPath, body, pending, label) {
    const ghost = entryEl(pending, ctx);
    ghost.classList.add('pending');
    const empty = list.querySelector('.tl-empty');
    if (empty) empty.remove();
    list.prepend(ghost);
    try {
      const saved = await post(orgPath(slug, kindPath), body);
      await load(true);
      toast(`${label} added.`, {
        kind: 'success',
        action: { label: 'Undo', run: async () => { try { await del(orgPath(slug, kindPath, saved.id)); await load(true); } catch (e) { reportError(e); } } },
      });
      return saved;
    } catch (e) {
      ghost.remove();
      reportError(e, `Could not add the ${label.toLowerCase()}.`);
      throw e;
    }
  }

  async function completeTask(task) {
    try {
      await post(orgPath(slug, 'tasks', task.id, 'complete'));
      await load(true);
      toast(`Completed “${task.title}”.`, {
        kind: 'success',
        action: { label: 'Undo', run: async () => { try { await post(orgPath(slug, 'tasks', task.id, 'reopen')); await load(true); } catch (e) { reportError(e); } } },
      });
    } catch (e) { reportError(e); await load(true); }
  }

  async function noteAction(note, what) {
    const path = orgPath(slug, 'notes', note.id);
    try {
      if (what === 'pin') await patch(path, { pinned: !note.pinned });
      else {
        await del(path);
        toast('Note deleted.', { kind: 'success', action: { label: 'Undo', run: async () => { try { await post(`${path}/restore`); await load(true); } catch (e) { reportError(e); } } } });
      }
      await load(true);
    } catch (e) { reportError(e); }
  }

  // Edits a note in place: its card becomes the editor, with the body as it is.
  function editNote(note, card) {
    const ed = richEditor({ members });
    ed.area.append(...richBody(note.body, members).childNodes);
    for (const m of ed.area.querySelectorAll('.mention')) m.setAttribute('contenteditable', 'false');
    const save = h('button', { class: 'btn btn-primary btn-sm', type: 'button', text: 'Save' });
    const cancel = h('button', { class: 'btn btn-sm', type: 'button', text: 'Cancel', onclick: () => load(true) });
    const box = h('div', { class: 'tl-form' }, ed.el, h('div', { class: 'tl-form-actions' }, cancel, save));
    card.replaceWith(box);
    ed.focus();
    save.addEventListener('click', async () => {
      if (ed.isEmpty()) { ed.focus(); return; }
      try {
        await patch(orgPath(slug, 'notes', note.id), { body: ed.html() });
        await load(true);
      } catch (e) { reportError(e, 'Could not save the note.'); }
    });
  }

  const links = [{ kind, id }];
  const now = () => new Date().toISOString();
  const me = session.user ? session.user.id : null;

  // Composer: one of three forms.
  const note = richEditor({ members });
  const noteForm = h('form', { class: 'tl-form', dataset: { form: 'note' } }, note.el,
    h('div', { class: 'tl-form-actions' }, h('button', { class: 'btn btn-primary btn-sm', type: 'submit', text: 'Add note' })));
  noteForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (note.isEmpty()) { note.focus(); return; }
    const body = note.html();
    const saved = note.area.cloneNode(true);
    note.clear();
    try {
      await submit('notes', { body, links }, { type: 'notes', event: 'created', at: now(), actor: me, key: 'pending', item: { body, created_at: '', updated_at: '' } }, 'Note');
    } catch { note.area.replaceChildren(...saved.childNodes); }
  });

  const actType = h('select', { class: 'input', 'aria-label': 'Type' }, Object.entries(ACTIVITY).map(([v, [, l]]) => h('option', { value: v, text: l })));
  const outcome = h('select', { class: 'input', 'aria-label': 'Outcome' }, OUTCOMES.map(([v, l]) => h('option', { value: v, text: l })));
  const minutes = h('input', { class: 'input', type: 'number', min: '0', max: '10080', placeholder: 'Minutes', 'aria-label': 'Duration in minutes' });
  const subject = h('input', { class: 'input', type: 'text', placeholder: 'Subject', 'aria-label': 'Subject' });
  const actNote = richEditor({ members, placeholder: 'What was said…', label: 'Activity note' });
  actType.addEventListener('change', () => { outcome.hidden = actType.value !== 'call'; });
  const actForm = h('form', { class: 'tl-form', dataset: { form: 'activity' }, hidden: true },
    h('div', { class: 'tl-row' }, actType, outcome, minutes, subject), actNote.el,
    h('div', { class: 'tl-form-actions' }, h('button', { class: 'btn btn-primary btn-sm', type: 'submit', text: 'Log activity' })));
  actForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { type: actType.value, subject: subject.value.trim(), body: actNote.html(), links };
    if (actType.value === 'call' && outcome.value) body.outcome = outcome.value;
    if (minutes.value !== '') body.duration_min = Number(minutes.value);
    try {
      await submit('activities', body, { type: 'activities', event: 'logged', at: now(), actor: me, key: 'pending', item: { ...body, text: '' } }, 'Activity');
      subject.value = ''; minutes.value = ''; actNote.clear();
    } catch { /* the form keeps what was typed */ }
  });

  const title = h('input', { class: 'input', type: 'text', placeholder: 'Task title', 'aria-label': 'Task title', required: true });
  const due = h('input', { class: 'input', type: 'date', 'aria-label': 'Due date' });
  const assignee = h('select', { class: 'input', 'aria-label': 'Assignee' }, h('option', { value: '', text: 'Unassigned' }),
    members.filter((m) => m.status !== 'invited').map((m) => h('option', { value: m.user_id, text: m.name || m.email, selected: m.user_id === me })));
  const taskForm = h('form', { class: 'tl-form', dataset: { form: 'task' }, hidden: true },
    h('div', { class: 'tl-row' }, title, due, assignee),
    h('div', { class: 'tl-form-actions' }, h('button', { class: 'btn btn-primary btn-sm', type: 'submit', text: 'Add task' })));
  taskForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!title.value.trim()) { title.focus(); return; }
    const body = { title: title.value.trim(), due: due.value || null, assignee_id: assignee.value || null, links };
    try {
      await submit('tasks', body, { type: 'tasks', event: 'created', at: now(), actor: me, key: 'pending', item: body }, 'Task');
      title.value = ''; due.value = '';
    } catch { /* kept */ }
  });

  const forms = { note: noteForm, activity: actForm, task: taskForm };
  const modeBtns = h('div', { class: 'tl-modes', role: 'tablist', 'aria-label': 'Add' },
    [['note', 'text', 'Note'], ['activity', 'phone', 'Log activity'], ['task', 'check', 'Task']].map(([m, ic, label]) =>
      h('button', { class: 'btn btn-ghost btn-sm', type: 'button', role: 'tab', 'aria-selected': String(m === 'note'), dataset: { mode: m },
        onclick: () => { for (const [k, f] of Object.entries(forms)) f.hidden = k !== m; for (const b of modeBtns.children) b.setAttribute('aria-selected', String(b.dataset.mode === m)); } },
      icon(ic, 14), label)));
  const composer = editable ? h('div', { class: 'tl-composer' }, modeBtns, noteForm, actForm, taskForm) : null;

  const el = h('section', { class: 'tl-panel', 'aria-label': 'Timeline' },
    h('div', { class: 'section-head' }, h('h2', { text: 'Timeline' }), tabs, relatedBtn),
    composer, pinned, list, more);
  return { el, reload: () => load(true), focusNote: () => note.focus() };
}
