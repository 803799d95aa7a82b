// Deals: the pipeline board (default) or the deal table — two layouts of one screen, switched
// in the top bar and kept in the URL (?layout=table, ?pipeline=…). The board has quick filters
// (owner, expected close) and the forecast panel; the table is the shared list screen with its
// view bar (saved views, filters, sorts, columns).
import { h, clear, qs } from '../util.js';
import { icon } from '../icons.js';
import { get, orgPath } from '../api.js';
import { canEdit, getMembers, memberName, session } from '../session.js';
import { navigate, setQuery } from '../router.js';
import { reportError } from '../components/toast.js';
import { memberChip } from '../components/avatar.js';
import { badge } from '../components/badge.js';
import { formatDate } from '../components/values.js';
import { listScreen } from './list.js';
import { createBoard } from '../deals/board.js';
import { forecastPanel } from '../deals/forecast.js';
import { openDealForm } from '../deals/form.js';
import { fmtMoney } from '../money.js';

const KIND_TONE = { open: 'blue', won: 'green', lost: 'red' };
export const stageChip = (d) => badge(d.stage.name, KIND_TONE[d.stage.kind] || 'gray', { dot: true });

const CLOSE_FILTERS = {
  '': 'Any close date',
  overdue: 'Overdue',
  this_month: 'Closing this month',
  next_month: 'Closing next month',
  this_quarter: 'Closing this quarter',
};

function boardFilter(owner, close) {
  const and = [];
  if (owner === 'me') and.push({ field: 'owner_id', op: 'eq', value: 'me' });
  else if (owner) and.push({ field: 'owner_id', op: 'eq', value: owner });
  if (close === 'overdue') and.push({ field: 'close_date', op: 'lt', value: new Date().toISOString().slice(0, 10) }, { field: 'status', op: 'eq', value: 'open' });
  else if (close) and.push({ field: 'close_date', op: 'within', value: close });
  return and.length ? JSON.stringify({ and }) : null;
}

export async function renderDeals(ctx) {
  const { shell, slug, query, signal } = ctx;
  shell.setActive('deals');
  let pipelines; let org;
  try {
    [pipelines, org] = await Promise.all([get(orgPath(slug, 'pipelines'), { signal }).then((r) => r.items), get(orgPath(slug), { signal })]);
  } catch (e) { if (e.name !== 'AbortError') reportError(e); return {}; }
  const remembered = localStorage.getItem(`harmonia.pipeline.${slug}`);
  const pipeline = pipelines.find((p) => p.id === query.get('pipeline')) || pipelines.find((p) => p.id === remembered) || pipelines[0];
  localStorage.setItem(`harmonia.pipeline.${slug}`, pipeline.id);
  const layout = query.get('layout') === 'table' ? 'table' : 'board';
  const currency = org.default_currency || 'USD';
  const go = (params) => {
    const u = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(params)) { if (v) u.set(k, v); else u.delete(k); }
    navigate(`/o/${slug}/deals${u.toString() ? '?' + u : ''}`);
  };

  const pipeSel = h('select', { class: 'select select-sm', 'aria-label': 'Pipeline' }, pipelines.map((p) => h('option', { value: p.id, text: p.name })));
  pipeSel.value = pipeline.id;
  pipeSel.addEventListener('change', () => go({ pipeline: pipeSel.value, cursor: null }));
  const seg = (key, label, ic) => h('a', { class: 'seg-btn', href: `/o/${slug}/deals${qs({ pipeline: pipeline.id, layout: key === 'board' ? null : key })}`, 'aria-current': layout === key ? 'page' : null, title: `${label} layout` }, icon(ic, 14), h('span', { class: 'hide-sm', text: label }));
  const layoutSwitch = h('nav', { class: 'segmented', 'aria-label': 'Layout' }, seg('board', 'Board', 'columns'), seg('table', 'Table', 'list'));
  const openCreate = () => openDealForm({ slug, pipelines, pipelineId: pipeline.id, currency, onSaved: (d) => navigate(`/o/${slug}/deals/${d.id}`) });

  if (layout === 'table') {
    const members = getMembers(slug).catch(() => []);
    const href = (d) => `/o/${slug}/deals/${d.id}`;
    return listScreen(ctx, {
      kind: 'deal', entity: 'deals', title: 'Deals', singular: 'deal',
      topActions: [layoutSwitch],
      fixedCol: 'title',
      defaultColumns: ['title', 'stage_id', 'amount', 'close_date', 'owner_id', 'company_id', 'updated_at'],
      columns: {
        title: { label: 'Title', className: 'name-cell', render: (d) => h('span', { class: 'cell-inner' }, d.rotting && h('span', { class: 'rot-dot', title: 'Rotting' }), h('a', { href: href(d), text: d.title })) },
        stage_id: { label: 'Stage', render: stageChip },
        amount: { label: 'Amount', right: true, render: (d) => h('span', { class: 'num', text: d.amount != null ? fmtMoney(d.amount, d.currency) : '' }) },
        close_date: { label: 'Expected close', render: (d) => d.close_date && h('span', { class: `secondary num${d.status === 'open' && d.close_date < new Date().toISOString().slice(0, 10) ? ' overdue' : ''}`, text: formatDate(d.close_date) }) },
        owner_id: { label: 'Owner', className: 'hide-sm w-m', render: (d) => memberChip(members, d.owner_id) },
        company_id: { label: 'Company', className: 'hide-sm', render: (d) => d.company && h('a', { class: 'secondary', href: `/o/${slug}/companies/${d.company.id}`, text: d.company.name }) },
      },
      filterKeys: ['owner', 'status'],
      // Bulk "Stage": this pipeline's stages (a lost stage asks each deal's reason, so it is moved one by one).
      bulkStages: () => pipeline.stages.filter((st) => st.kind !== 'lost').map((st) => ({ label: st.name, set: { pipeline_id: pipeline.id, stage_id: st.id } })),
      defaultSort: '-updated_at',
      descFirst: new Set(['updated', 'created', 'updated_at', 'created_at', 'amount']),
      href,
      empty: { icon: 'deals', title: 'Track every deal to a close', text: 'Deals move through your pipeline’s stages, with their value, owner and expected close date.' },
      create: ({ onCreated }) => openDealForm({ slug, pipelines, pipelineId: pipeline.id, currency, onSaved: onCreated }),
      buildFilters(state, apply) {
        const status = h('select', { class: 'select select-sm', 'aria-label': 'Status' },
          [['', 'Any status'], ['open', 'Open'], ['won', 'Won'], ['lost', 'Lost']].map(([v, l]) => h('option', { value: v, text: l })));
        status.value = state.filters.status;
        status.addEventListener('change', () => { state.filters.status = status.value; apply(); });
        return [status];
      },
    });
  }

  // Board layout.
  const owner = query.get('owner') || '';
  const close = query.get('close') || '';
  const members = await getMembers(slug).catch(() => []);
  const ownerSel = h('select', { class: 'select select-sm', 'aria-label': 'Owner' },
    h('option', { value: '', text: 'Everyone' }), h('option', { value: 'me', text: 'My deals' }),
    members.filter((m) => m.user_id !== session.user.id).map((m) => h('option', { value: m.user_id, text: memberName(members, m.user_id) })));
  ownerSel.value = owner;
  const closeSel = h('select', { class: 'select select-sm', 'aria-label': 'Expected close' }, Object.entries(CLOSE_FILTERS).map(([v, l]) => h('option', { value: v, text: l })));
  closeSel.value = close;
  ownerSel.addEventListener('change', () => go({ owner: ownerSel.value }));
  closeSel.addEventListener('change', () => go({ close: closeSel.value }));
  const showForecast = query.get('forecast') === '1';
  const forecastBtn = h('button', { class: 'btn btn-sm', type: 'button', 'aria-pressed': String(showForecast), onclick: () => go({ forecast: showForecast ? null : '1' }) }, icon('chart', 14), 'Forecast');
  const newBtn = canEdit(slug) && h('button', { class: 'btn btn-primary', type: 'button', title: 'New deal (c)', onclick: openCreate }, icon('plus', 15), h('span', { class: 'hide-sm', text: 'New deal' }));
  shell.setTop({ title: 'Deals', actions: [layoutSwitch, newBtn] });
  const live = h('div', { class: 'sr-only', 'aria-live': 'polite', role: 'status' });
  const board = createBoard({ slug, pipeline, filter: boardFilter(owner, close), signal, announce: (t) => { live.textContent = t; }, onOpen: (id) => navigate(`/o/${slug}/deals/${id}`) });
  const bar = h('div', { class: 'board-bar' }, pipeSel, ownerSel, closeSel, h('span', { class: 'spacer' }),
    h('span', { class: 'meta hide-sm', text: 'Drag cards, or focus one and press Shift + arrows' }), forecastBtn,
    h('a', { class: 'btn btn-sm btn-ghost', href: `/o/${slug}/settings/pipelines?pipeline=${pipeline.id}`, title: 'Edit stages' }, icon('settings', 14), h('span', { class: 'hide-sm', text: 'Stages' })));
  clear(shell.content, h('div', { class: 'deals-screen' }, bar, showForecast && forecastPanel({ slug, pipelineId: pipeline.id, currency, signal, nameOf: (id) => (id ? memberName(members, id) || 'Former member' : 'No owner') }), board.el, live));
  setQuery({});
  board.load();
  return { shortcuts: canEdit(slug) ? { c: openCreate } : {}, destroy: () => board.destroy() };
}
