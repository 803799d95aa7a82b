// Settings › Pipelines: the stage editor. Stages are rows (drag the handle, or Alt+arrows, to
// reorder) with name, win probability, kind and rotting days; a removed stage that holds deals
// names where they go. Admins add, rename and delete pipelines.
import { h, clear, qs } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, del, orgPath } from '../api.js';
import { canAdmin } from '../session.js';
import { navigate } from '../router.js';
import { openDialog } from '../components/dialog.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { toast, reportError } from '../components/toast.js';
import { emptyState } from '../components/table.js';
import { settingsFrame } from './settings.js';

const KINDS = [['open', 'Open'], ['won', 'Won'], ['lost', 'Lost']];
const DEFAULT_STAGES = [
  { name: 'Qualified', probability: 10, kind: 'open' }, { name: 'Meeting', probability: 25, kind: 'open' },
  { name: 'Proposal', probability: 50, kind: 'open' }, { name: 'Negotiation', probability: 75, kind: 'open' },
  { name: 'Won', probability: 100, kind: 'won' }, { name: 'Lost', probability: 0, kind: 'lost' },
];

function stageRow(s, admin, onRemove) {
  const name = h('input', { class: 'input', value: s.name, 'aria-label': 'Stage name', maxlength: 60, disabled: !admin, name: 'name' });
  const prob = h('input', { class: 'input num', type: 'number', min: 0, max: 100, step: 1, value: s.probability, 'aria-label': `Win probability of ${s.name} (%)`, disabled: !admin });
  const kind = h('select', { class: 'select', 'aria-label': `Kind of ${s.name}`, disabled: !admin }, KINDS.map(([v, l]) => h('option', { value: v, text: l })));
  kind.value = s.kind;
  const rot = h('input', { class: 'input num', type: 'number', min: 1, max: 3650, value: s.rotting_days ?? '', placeholder: '—', 'aria-label': `Rotting days of ${s.name}`, disabled: !admin });
  const handle = h('button', { class: 'btn btn-ghost btn-icon btn-sm drag-handle', type: 'button', 'aria-label': `Reorder ${s.name} (Alt + arrow keys)`, disabled: !admin }, icon('grip', 14));
  const remove = admin && h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': `Remove ${s.name}`, onclick: () => onRemove(row) }, icon('trash', 14));
  const row = h('li', { class: 'stage-row', dataset: { id: s.id || '' } }, handle, name, h('span', { class: 'pct' }, prob, '%'), kind, h('span', { class: 'rot' }, rot, h('span', { class: 'meta', text: 'days' })), remove);
  row._value = () => ({
    ...(s.id ? { id: s.id } : {}), name: name.value.trim(), probability: prob.value === '' ? null : Number(prob.value),
    kind: kind.value, rotting_days: rot.value === '' ? null : Number(rot.value),
  });
  row._name = () => name.value.trim() || s.name;
  return row;
}

/** Pointer reorder of rows in `list` by their handles; keyboard with Alt+Up/Down. */
function sortable(list) {
  let drag = null;
  list.addEventListener('pointerdown', (e) => {
    const hd = e.target.closest('.drag-handle');
    if (!hd || hd.disabled) return;
    drag = hd.closest('li');
    drag.classList.add('dragging');
    list.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  list.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const rows = [...list.children].filter((r) => r !== drag);
    const before = rows.find((r) => { const b = r.getBoundingClientRect(); return e.clientY < b.top + b.height / 2; });
    list.insertBefore(drag, before || null);
  });
  const end = () => { if (drag) drag.classList.remove('dragging'); drag = null; };
  list.addEventListener('pointerup', end);
  list.addEventListener('pointercancel', end);
  list.addEventListener('keydown', (e) => {
    const row = e.target.closest('li');
    if (!row || !e.altKey || !['ArrowUp', 'ArrowDown'].includes(e.key)) return;
    e.preventDefault();
    if (e.key === 'ArrowUp' && row.previousElementSibling) list.insertBefore(row, row.previousElementSibling);
    if (e.key === 'ArrowDown' && row.nextElementSibling) list.insertBefore(row.nextElementSibling, row);
    e.target.focus();
  });
}

export async function renderPipelines(ctx) {
  const { slug, query, signal } = ctx;
  const admin = canAdmin(slug);
  const newBtn = admin && h('button', { class: 'btn btn-primary', type: 'button', onclick: () => newPipeline() }, icon('plus', 15), 'New pipeline');
  const page = settingsFrame(ctx, 'pipelines', { title: 'Pipelines', actions: [newBtn] });
  let pipelines;
  try { pipelines = (await get(orgPath(slug, 'pipelines'), { signal })).items; } catch (e) { if (e.name !== 'AbortError') reportError(e); return {}; }
  const p = pipelines.find((x) => x.id === query.get('pipeline')) || pipelines[0];
  if (!p) { clear(page, emptyState({ iconName: 'deals', title: 'No pipelines', text: 'Create one to start tracking deals.' })); return {}; }

  const tabs = h('nav', { class: 'tabs tabs-sub', 'aria-label': 'Pipelines' }, pipelines.map((x) => h('a', { href: `/o/${slug}/settings/pipelines${qs({ pipeline: x.id })}`, 'aria-current': x.id === p.id ? 'page' : null, text: x.name })));
  const name = field({ label: 'Pipeline name', name: 'name', value: p.name, attrs: { maxlength: 100, disabled: !admin } });
  const list = h('ol', { class: 'stage-list', 'aria-label': 'Stages in order' });
  const removed = h('div', { class: 'stack removed-stages' });
  const removedRows = [];
  const targets = () => [...list.children].filter((r) => r.dataset.id).map((r) => ({ id: r.dataset.id, name: r._name() }))
    .concat(pipelines.filter((x) => x.id !== p.id).flatMap((x) => x.stages.filter((s) => s.kind !== 'lost').map((s) => ({ id: s.id, name: `${x.name} › ${s.name}` }))));
  function renderRemoved() {
    clear(removed, removedRows.map((r) => {
      const sel = h('select', { class: 'select select-sm', 'aria-label': `Move deals of ${r.name} to` }, targets().map((t) => h('option', { value: t.id, text: t.name })));
      if (r.target && targets().some((t) => t.id === r.target)) sel.value = r.target;
      r.target = sel.value;
      sel.addEventListener('change', () => { r.target = sel.value; });
      return h('div', { class: 'removed-row', dataset: { field: `move_deals.${r.id}` } }, icon('trash', 13), h('span', null, 'Removing ', h('b', { text: r.name }), '. Its deals move to '), sel,
        h('button', { class: 'btn btn-ghost btn-sm', type: 'button', text: 'Keep it', onclick: () => { removedRows.splice(removedRows.indexOf(r), 1); list.append(r.row); renderRemoved(); } }));
    }));
  }
  const onRemove = (row) => {
    row.remove();
    if (row.dataset.id) removedRows.push({ id: row.dataset.id, name: row._name(), row });
    renderRemoved();
  };
  for (const s of p.stages) list.append(stageRow(s, admin, onRemove));
  sortable(list);
  const addStage = admin && h('button', { class: 'btn btn-sm', type: 'button', onclick: () => { const r = stageRow({ name: 'New stage', probability: 50, kind: 'open' }, admin, onRemove); const won = [...list.children].find((x) => x.querySelector('select').value !== 'open'); list.insertBefore(r, won || null); r.querySelector('input').select(); } }, icon('plus', 13), 'Add stage');
  const save = admin && h('button', { class: 'btn btn-primary', type: 'submit', text: 'Save changes' });
  const del_ = admin && pipelines.length > 1 && h('button', { class: 'btn btn-ghost', type: 'button', onclick: () => deletePipeline() }, icon('trash', 14), 'Delete pipeline');
  const form = h('form', { class: 'stage-editor', novalidate: true },
    name,
    h('div', { class: 'stage-head', 'aria-hidden': 'true' }, h('span'), h('span', { text: 'Stage' }), h('span', { text: 'Win probability' }), h('span', { text: 'Kind' }), h('span', { text: 'Rotting after' }), h('span')),
    list, removed, h('div', { class: 'form-actions' }, addStage, h('span', { class: 'spacer' }), del_, save));
  clear(page, tabs, h('p', { class: 'meta', text: 'Deals move left to right through open stages and end in a won or lost one. The win probability weights each deal in sums and the forecast; a deal idle longer than its stage’s rotting days is flagged on the board.' }), form);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const move_deals = Object.fromEntries(removedRows.map((r) => [r.id, r.target]).filter(([, t]) => t));
    setBusy(save, true);
    try {
      await patch(orgPath(slug, 'pipelines', p.id), { name: name._input.value.trim(), stages: [...list.children].map((r) => r._value()), move_deals });
      toast('Pipeline saved.', { kind: 'success' });
      navigate(location.pathname + location.search, { replace: true });
    } catch (err) { showErrors(form, err); } finally { setBusy(save, false); }
  });

  async function deletePipeline() {
    const others = pipelines.filter((x) => x.id !== p.id);
    const sel = h('select', { class: 'select', name: 'move_to' }, others.flatMap((x) => x.stages.filter((s) => s.kind === 'open').map((s) => h('option', { value: s.id, text: `${x.name} › ${s.name}` }))));
    const go = h('button', { class: 'btn btn-danger', type: 'button', text: 'Delete pipeline' });
    const d = openDialog({ title: `Delete ${p.name}?`, size: 'narrow', description: 'Its stages go; its deals (if any) move to the stage you choose.', body: [field({ label: 'Move deals to', name: 'move_to', control: sel })], foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), go] });
    go.addEventListener('click', async () => {
      setBusy(go, true);
      try { await del(orgPath(slug, 'pipelines', p.id) + qs({ move_to: sel.value })); d.close(); toast(`Deleted ${p.name}.`, { kind: 'success' }); navigate(`/o/${slug}/settings/pipelines`); } catch (err) { showErrors(d.body, err); } finally { setBusy(go, false); }
    });
  }

  async function newPipeline() {
    const f = field({ label: 'Name', name: 'name', attrs: { maxlength: 100 } });
    const go = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Create pipeline' });
    const d = openDialog({ title: 'New pipeline', size: 'narrow', form: true, description: 'It starts with the usual stages; edit them next.', body: [f], foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), go], initialFocus: f._input });
    d.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      setBusy(go, true);
      try { const x = await post(orgPath(slug, 'pipelines'), { name: f._input.value.trim(), stages: DEFAULT_STAGES }); d.close(); navigate(`/o/${slug}/settings/pipelines${qs({ pipeline: x.id })}`); } catch (err) { showErrors(d.form, err, d.body); } finally { setBusy(go, false); }
    });
  }
  return {};
}
