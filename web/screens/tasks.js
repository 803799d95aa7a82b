// Tasks: my open tasks grouped overdue / today / this week / later / no date (days in the
// account's time zone, or this browser's while the account has none), team tasks for admins, a checkbox completes (with undo); and the quick
// add dialog (`t` anywhere), which links the task to the record on screen.
import { h, clear } from '../util.js';
import { icon } from '../icons.js';
import { get, post, orgPath } from '../api.js';
import { accountZone, canAdmin, canEdit, getMembers, memberName, session } from '../session.js';
import { browserZone } from '../locale.js';
import { currentRoute, navigate } from '../router.js';
import { openDialog } from '../components/dialog.js';
import { field, showErrors, clearErrors } from '../components/field.js';
import { toast, reportError } from '../components/toast.js';
import { emptyState } from '../components/table.js';

const GROUPS = [['overdue', 'Overdue'], ['today', 'Today'], ['this_week', 'This week'], ['later', 'Later'], ['none', 'No date']];
const PATHS = { contact: 'contacts', company: 'companies' };

function dueText(due) {
  if (!due) return '';
  if (due.length === 10) return new Date(`${due}T12:00:00`).toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric' });
  return new Date(due).toLocaleString(undefined, { weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
}

function taskRow(slug, t, members, { editable, showAssignee, onToggle }) {
  const box = h('input', { type: 'checkbox', class: 'task-check', checked: t.status === 'done', disabled: !editable, 'aria-label': `Complete ${t.title}` });
  box.addEventListener('change', () => onToggle(t, box.checked, row));
  const links = t.links.map((l) => (PATHS[l.kind] && !l.deleted
    ? h('a', { class: 'task-link', href: `/o/${slug}/${PATHS[l.kind]}/${l.id}`, text: l.name })
    : h('span', { class: 'task-link meta', text: l.name || 'deleted' })));
  const row = h('li', { class: `task-row${t.status === 'done' ? ' done' : ''}`, dataset: { id: t.id } }, box,
    h('div', { class: 'task-main' }, h('span', { class: 'task-title', text: t.title }), links.length ? h('span', { class: 'task-links' }, links) : null),
    t.priority !== 'none' ? h('span', { class: `badge prio-${t.priority}`, text: t.priority }) : null,
    showAssignee ? h('span', { class: 'meta task-who', text: memberName(members, t.assignee_id) || 'Unassigned' }) : null,
    h('span', { class: 'meta task-due', text: dueText(t.due) }));
  return row;
}

/** Completes or reopens a task; the row shows the new state at once, undo reverses it. */
async function toggle(slug, t, done, row, after) {
  row.classList.toggle('done', done);
  try {
    await post(orgPath(slug, 'tasks', t.id, done ? 'complete' : 'reopen'));
    if (done) {
      toast(`Completed “${t.title}”.`, {
        kind: 'success',
        action: { label: 'Undo', run: async () => { try { await post(orgPath(slug, 'tasks', t.id, 'reopen')); after(); } catch (e) { reportError(e); } } },
      });
    }
    after();
  } catch (e) {
    row.classList.toggle('done', !done);
    reportError(e);
  }
}

export async function renderTasks(ctx) {
  const { shell, slug, signal } = ctx;
  shell.setActive('tasks');
  const editable = canEdit(slug);
  let team = false;
  const members = await getMembers(slug).catch(() => []);
  const body = h('div', { class: 'tasks-page' });
  const teamBtn = canAdmin(slug) ? h('button', { class: 'chip-toggle', type: 'button', 'aria-pressed': 'false', text: 'Team tasks', onclick: () => { team = !team; teamBtn.setAttribute('aria-pressed', String(team)); load(); } }) : null;
  const addBtn = editable ? h('button', { class: 'btn btn-primary', type: 'button', title: 'New task (t)', onclick: () => openQuickTask(slug, { onSaved: load }) }, icon('plus', 14), 'New task') : null;
  shell.setTop({ title: 'Tasks', actions: [teamBtn, addBtn].filter(Boolean) });

  async function load() {
    // The server knows the account's zone; `tz` only stands in while it has none.
    const base = { status: 'open', limit: '200' };
    if (!(await accountZone().catch(() => null))) base.tz = browserZone();
    if (!team) base.assignee = 'me';
    try {
      const pages = await Promise.all(GROUPS.map(([g]) => get(`${orgPath(slug, 'tasks')}?${new URLSearchParams({ ...base, due: g })}`, { signal })));
      const sections = GROUPS.map(([g, label], i) => {
        const items = pages[i].items;
        if (!items.length) return null;
        return h('section', { class: `task-group task-${g}` },
          h('div', { class: 'section-head' }, h('h2', { text: label }), h('span', { class: 'meta', text: String(items.length) })),
          h('ul', { class: 'task-list' }, items.map((t) => taskRow(slug, t, members, { editable, showAssignee: team, onToggle: (task, done, row) => toggle(slug, task, done, row, load) }))));
      }).filter(Boolean);
      clear(body, sections.length ? sections : emptyState({ iconName: 'checkCircle', title: team ? 'No open tasks in the team' : 'Nothing to do', text: 'Press t anywhere to add a task.' }));
    } catch (e) { if (e.name !== 'AbortError') reportError(e); }
  }
  clear(shell.content, body);
  await load();
  const onChanged = (e) => { if (e.detail && e.detail.entity === 'tasks') load(); };
  window.addEventListener('harmonia:changed', onChanged);
  return { shortcuts: editable ? { t: () => openQuickTask(slug, { onSaved: load }) } : {}, destroy: () => window.removeEventListener('harmonia:changed', onChanged) };
}

/** The quick add dialog; links the task to the contact or company on screen, if any. */
export async function openQuickTask(slug, { onSaved } = {}) {
  if (!canEdit(slug)) return;
  const r = currentRoute();
  const kind = r && { contact: 'contact', company: 'company' }[r.name];
  const links = kind ? [{ kind, id: r.params.id }] : [];
  const members = await getMembers(slug).catch(() => []);
  const me = session.user ? session.user.id : '';
  const title = field({ label: 'Title', name: 'title', required: true, placeholder: 'Call back about the offer' });
  const due = field({ label: 'Due', name: 'due', type: 'date' });
  const assignee = field({ label: 'Assignee', name: 'assignee_id', value: me, options: [{ value: '', label: 'Unassigned' }, ...members.filter((m) => m.status !== 'invited').map((m) => ({ value: m.user_id, label: m.name || m.email }))] });
  const priority = field({ label: 'Priority', name: 'priority', value: 'none', options: ['none', 'low', 'medium', 'high'].map((p) => ({ value: p, label: p[0].toUpperCase() + p.slice(1) })) });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Add task' });
  const d = openDialog({
    title: 'New task', form: true, size: 'narrow',
    description: links.length ? 'Linked to the record on screen.' : null,
    body: [title, h('div', { class: 'form-row' }, due, priority), assignee],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), save],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    const body = { title: title._input.value.trim(), due: due._input.value || null, assignee_id: assignee._input.value || null, priority: priority._input.value, links };
    try {
      await post(orgPath(slug, 'tasks'), body);
      d.close();
      toast('Task added.', { kind: 'success' });
      window.dispatchEvent(new CustomEvent('harmonia:changed', { detail: { entity: 'tasks' } }));
      if (onSaved) onSaved();
    } catch (err) {
      if (err.status === 422) showErrors(d.form, err);
      else reportError(err);
    }
  });
}

/**
 * /o/:org/notes/:id, /activities/:id, /tasks/:id (search results, notifications): these live on
 * the pages of the records they link to, so this opens the first one (tasks without one: the
 * Tasks screen).
 */
export async function renderLinked(ctx) {
  const { shell, slug, params, signal } = ctx;
  const r = currentRoute();
  const path = r.path.split('/')[3];
  try {
    const item = await get(orgPath(slug, path, params.id), { signal });
    const link = (item.links || []).find((l) => PATHS[l.kind] && !l.deleted);
    navigate(link ? `/o/${slug}/${PATHS[link.kind]}/${link.id}` : `/o/${slug}/tasks`, { replace: true });
  } catch (e) {
    if (e.name === 'AbortError') return {};
    if (e.status === 404) clear(shell.content, emptyState({ iconName: 'search', title: 'This doesn’t exist anymore', text: 'It may have been deleted.' }));
    else reportError(e);
  }
  return {};
}
