// The shared list screen behind Contacts and Companies: saved views as tabs, a filter builder,
// sort and columns (all in the URL), search, total count, continuous cursor paging, selection
// with bulk tag, owner, stage and delete + Undo (of the rows ticked, or of every record that
// matches), scroll memory.
import { h, clear, qs, fmtNum, plural, sameJson } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, orgPath } from '../api.js';
import { deleteMany, undoToast } from './bulk.js';
import { canEdit, canAdmin, announceChange, getMembers, memberName } from '../session.js';
import { setQuery, navigate } from '../router.js';
import { createTable, emptyState } from '../components/table.js';
import { toast, reportError } from '../components/toast.js';
import { confirmDialog } from '../components/dialog.js';
import { setBusy } from '../components/field.js';
import { openTagPicker } from '../components/tags.js';
import { closePopover, placePopover, openMenu } from '../components/menu.js';
import { viewValue } from '../components/values.js';
import { getSchema, getTags, kindSchema, fieldsOf, valueOf, pathOfKind } from '../schema.js';
import { openFilterBuilder, condText, loadNames } from './filterbuilder.js';
import { parseFilter, viewTabs, canManageView, saveAsNewDialog, openColumnChooser, openSortPicker } from './viewbar.js';

const PAGE = 50;
// The most records one bulk action takes by the list's parameters (the API's limit).
const MAX_MATCHING = 10000;
const cache = new Map();

// The quick filters (simple parameters) become conditions when a view is saved.
// Plain values read in the muted table colour, like the built-in columns.
const SECONDARY = new Set(['text', 'long_text', 'number', 'date', 'email', 'phone', 'url', 'user', 'record']);
const QUICK_FIELD = { stage: ['stage', 'in'], owner: ['owner_id', 'eq'], company: ['company_id', 'eq'] };

/**
 * cfg: {kind, entity, title, singular, columns: {fieldId: {render, className, right}},
 *       defaultColumns, filterKeys, buildFilters(state, apply), defaultSort, descFirst: Set,
 *       empty: {icon, title, text}, create({onCreated}), href(item)}
 */
export async function listScreen(ctx, cfg) {
  const { shell, slug, query } = ctx;
  const editable = canEdit(slug);
  const membersP = getMembers(slug).catch(() => []);
  const [schema, views, members] = await Promise.all([
    getSchema(slug).catch(() => ({ kinds: [] })),
    get(orgPath(slug, 'views') + qs({ kind: cfg.kind }), { signal: ctx.signal }).then((r) => r.items).catch(() => []),
    membersP,
  ]);
  const ks = kindSchema(schema, cfg.kind);
  const apiPath = orgPath(slug, ks ? ks.path : cfg.entity);
  const listHref = location.pathname;
  const fields = fieldsOf(ks);
  const vctx = { slug, members, pathOf: (k) => pathOfKind(schema, k), names: {} };
  const fixedCol = cfg.fixedCol || 'name';

  // ?view=<id>, ?view=all, or nothing: the caller's default view when the URL says nothing else.
  const vp = query.get('view');
  let view = vp && vp !== 'all' ? views.find((v) => v.id === vp) || null : null;
  if (vp && vp !== 'all' && !view) toast('That saved view no longer exists; showing all.', { kind: 'info' });
  if (!vp && !location.search) view = views.find((v) => v.is_default) || null;
  const baseOf = (v) => {
    const p = parseFilter(v && v.filter);
    const cols = v && v.columns && v.columns.length ? v.columns.map((c) => c.field).filter((id) => fields.some((f) => f.id === id)) : cfg.defaultColumns;
    return { conds: p.conds, locked: p.locked, sort: (v && v.sort) || cfg.defaultSort, cols: cols.includes(fixedCol) ? cols : [fixedCol, ...cols] };
  };
  let base = baseOf(view);
  const state = { q: query.get('q') || '', sort: query.get('sort') || base.sort, filters: {}, conds: base.conds, cols: base.cols };
  try { if (query.get('filter')) state.conds = parseFilter(JSON.parse(query.get('filter'))).conds; } catch { /* a broken link shows the view */ }
  if (query.get('cols')) state.cols = [fixedCol, ...query.get('cols').split(',').filter((id) => id !== fixedCol && fields.some((f) => f.id === id))];
  for (const k of cfg.filterKeys) state.filters[k] = query.get(k) || '';
  await loadNames(state.conds, fields, vctx);

  let next = null;
  let gen = 0;
  let loading = false;
  let total = null;
  let failed = null;
  const key = () => location.pathname + location.search;
  let myKey = key();

  const countEl = h('span', { class: 'topbar-count', 'aria-live': 'polite' });
  const newBtn = editable && h('button', { class: 'btn btn-primary', type: 'button', title: `New ${cfg.singular} (c)`, onclick: () => openCreate() },
    icon('plus', 15), h('span', { class: 'hide-sm', text: `New ${cfg.singular}` }));
  if (newBtn) newBtn.setAttribute('aria-label', `New ${cfg.singular}`);
  // Export (member+): the file holds what the list shows — its search, filters, view and sort.
  const moreBtn = editable && h('button', {
    class: 'btn btn-icon list-more', type: 'button', title: 'More', 'aria-label': `More actions for ${cfg.entity}`,
    'aria-haspopup': 'menu', 'aria-expanded': 'false', onclick: () => openMore(),
  }, icon('more', 16));
  // Import (admin+): contacts, companies and deals, from the toolbar and the empty list.
  const importable = canAdmin(slug) && ['contact', 'company', 'deal'].includes(cfg.kind);
  const importHref = `/o/${slug}/${cfg.entity}/import`;
  const importBtn = importable && h('a', { class: 'btn', href: importHref, title: `Import ${cfg.entity} from a CSV file`, 'aria-label': `Import ${cfg.entity}` },
    icon('download', 15), h('span', { class: 'hide-sm', text: 'Import' }));
  const setTop = () => shell.setTop({
    title: view ? view.name : cfg.title,
    crumbs: view ? [{ label: cfg.title, href: listHref }] : undefined,
    count: countEl,
    actions: [...(cfg.topActions || []), moreBtn, importBtn, newBtn],
    search: { value: state.q, placeholder: `Search ${cfg.entity}…`, onSearch: (v) => { if (v !== state.q) { state.q = v; apply(); } } },
  });
  setTop();

  // Selection: the rows ticked, or (after "Select all N matching") every record the list's
  // search and filters match — bulk actions then send the list's parameters, not ids.
  let allMatching = false;
  const selCount = h('span', { class: 'count' });
  const matchBtn = h('button', { class: 'btn btn-sm btn-ghost sel-all-matching', type: 'button', hidden: true, onclick: () => { allMatching = true; showSelection(); } });
  const delBtn = h('button', { class: 'btn btn-sm btn-danger', type: 'button', onclick: () => bulkDelete() }, icon('trash', 14), 'Delete');
  const tagBtn = h('button', { class: 'btn btn-sm', type: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false', onclick: () => bulkTag() }, icon('tag', 14), 'Add tag');
  const ownerBtn = h('button', { class: 'btn btn-sm bulk-owner', type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', onclick: () => bulkOwner() }, icon('user', 14), 'Owner');
  const stageField = fields.find((f) => f.id === 'stage' && f.type === 'select' && f.options.length);
  const stageChoices = cfg.bulkStages || (stageField ? () => stageField.options.map((o) => ({ label: o.label, set: { stage: o.value } })) : null);
  const stageBtn = stageChoices && h('button', { class: 'btn btn-sm bulk-stage', type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', onclick: () => bulkStage() }, icon('columns', 14), 'Stage');
  const hasOwner = fields.some((f) => f.id === 'owner_id');
  const selbar = h('div', { class: 'selbar', role: 'region', 'aria-label': 'Selection', hidden: true }, selCount, matchBtn, tagBtn, hasOwner && ownerBtn, stageBtn, delBtn,
    h('button', { class: 'btn btn-sm btn-ghost', type: 'button', text: 'Clear', onclick: () => table.clearSelection() }));
  function showSelection() {
    const sel = table.selected();
    selbar.hidden = sel.size === 0;
    const loaded = table.items().length;
    const everyLoaded = sel.size > 0 && sel.size === loaded;
    if (!everyLoaded) allMatching = false;
    const more = total != null && total > loaded;
    selCount.textContent = allMatching ? `All ${plural(total, cfg.singular)} selected` : `${fmtNum(sel.size)} selected`;
    matchBtn.hidden = allMatching || !everyLoaded || !more || total > MAX_MATCHING;
    matchBtn.textContent = `Select all ${fmtNum(total)} matching`;
  }
  // The whole list as the API's list parameters (what a bulk action takes instead of ids).
  const matching = () => Object.fromEntries(Object.entries(params()).filter(([, v]) => v !== '' && v != null));
  const target = () => (allMatching ? { matching: matching() } : { ids: [...table.selected()] });
  const targetCount = () => (allMatching ? total : table.selected().size);

  const columnsFor = (ids) => ids.map((id, i) => {
    const f = fields.find((x) => x.id === id);
    if (!f) return null;
    const r = cfg.columns[id];
    return {
      key: id, label: (r && r.label) || f.label, sort: f.sortable ? id : null,
      className: r ? r.className || '' : i === 0 ? 'name-cell' : 'hide-sm',
      right: r ? r.right : f.type === 'number' || f.type === 'money',
      render: r ? r.render : (item) => {
        const v = viewValue(f, f.type === 'tags' ? item.tags : valueOf(item, f), vctx);
        if (v && SECONDARY.has(f.type)) v.classList.add('secondary');
        return v;
      },
    };
  }).filter(Boolean);

  const table = createTable({
    className: 'fit',
    columns: columnsFor(state.cols),
    rowHref: cfg.href,
    selectable: editable,
    caption: cfg.title,
    onSort: (k) => {
      state.sort = state.sort === k ? '-' + k : state.sort === '-' + k ? k : (cfg.descFirst.has(k) ? '-' + k : k);
      apply();
    },
    onSelect: () => showSelection(),
  });
  table.setSort(state.sort);

  // The view bar: tabs, then quick filters, Filter / Sort / Columns, condition chips, save.
  const tabsHost = h('div', { class: 'view-tabs-host' });
  const renderTabs = () => clear(tabsHost, viewTabs({ slug, listHref, views, current: view, onChanged: (v) => { Object.assign(view, v); renderTabs(); setTop(); } }));
  renderTabs();
  const filterBtn = h('button', { class: 'btn btn-sm vb-btn', type: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false' }, icon('filter', 13), h('span', { text: 'Filter' }), h('span', { class: 'vb-count' }));
  const sortBtn = h('button', { class: 'btn btn-sm vb-btn', type: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false' }, icon('sort', 13), h('span', { class: 'vb-sort-label' }));
  const colsBtn = h('button', { class: 'btn btn-sm vb-btn', type: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false' }, icon('columns', 13), h('span', { text: 'Columns' }));
  const chipsHost = h('div', { class: 'vb-chips' });
  const clearBtn = h('button', { class: 'btn btn-sm btn-ghost clear-filters', type: 'button', onclick: () => clearFilters() }, icon('x', 13), 'Clear filters');
  const resetBtn = h('button', { class: 'btn btn-sm btn-ghost', type: 'button', text: 'Reset', title: 'Back to the saved view', onclick: () => navigate(view ? `${listHref}?view=${encodeURIComponent(view.id)}` : listHref, { replace: true }) });
  const saveBtn = h('button', { class: 'btn btn-sm btn-primary', type: 'button', text: 'Save view', onclick: () => saveView() });
  const saveNewBtn = h('button', { class: 'btn btn-sm', type: 'button', text: 'Save as new', onclick: () => saveAsNew() });
  const saveHost = h('div', { class: 'vb-save' }, resetBtn, saveNewBtn, saveBtn);
  const quickHost = h('div', { class: 'vb-quick' }, cfg.buildFilters(state, apply));
  const filterbar = h('div', { class: 'filterbar', role: 'group', 'aria-label': 'Filters' }, quickHost, filterBtn, sortBtn, colsBtn, chipsHost, clearBtn, h('span', { class: 'grow' }), saveHost);
  const viewbar = h('div', { class: 'viewbar' }, tabsHost, filterbar);

  // A second click on an open popover's button closes it.
  const toggles = (btn, open) => btn.addEventListener('click', () => (btn.getAttribute('aria-expanded') === 'true' ? closePopover() : open()));
  toggles(filterBtn, () => openFilterBuilder(filterBtn, { under: filterbar, fields, conds: state.conds, ctx: vctx, onChange: (c) => { state.conds = c; apply(); } }));
  toggles(sortBtn, () => openSortPicker(sortBtn, { under: filterbar, fields, sort: state.sort, onChange: (s) => { state.sort = s; apply(); } }));
  toggles(colsBtn, () => openColumnChooser(colsBtn, { under: filterbar, fields: fields.filter((f) => f.id !== 'first_name' && f.id !== 'last_name'), cols: state.cols, fixed: fixedCol, onChange: (c) => { state.cols = c; table.setColumns(columnsFor(c)); apply(false); } }));

  const more = h('button', { class: 'btn', type: 'button', text: 'Load more', onclick: () => loadMore() });
  const foot = h('div', { class: 'table-foot' }, more);
  const emptyHost = h('div', { hidden: true });
  const wrap = h('div', { class: 'table-wrap' }, table.el);
  clear(shell.content, viewbar, wrap, emptyHost, foot, selbar);

  const quickConds = () => Object.entries(state.filters).filter(([, v]) => v).map(([k, v]) => ({ field: QUICK_FIELD[k][0], op: QUICK_FIELD[k][1], value: QUICK_FIELD[k][1] === 'in' ? [v] : v }));
  const filterJson = (conds) => {
    const all = [...(base.locked ? [base.locked] : []), ...conds];
    return all.length ? JSON.stringify({ and: all }) : '';
  };
  const filtered = () => !!state.q || Object.values(state.filters).some(Boolean) || state.conds.length > 0;
  const dirty = () => !sameJson(state.conds, base.conds) || state.sort !== base.sort || !sameJson(state.cols, base.cols) || Object.values(state.filters).some(Boolean);
  const params = (extra) => ({ q: state.q, ...state.filters, filter: filterJson(state.conds), ...extra });

  function renderBar() {
    const n = state.conds.length;
    filterBtn.querySelector('.vb-count').textContent = n ? String(n) : '';
    filterBtn.classList.toggle('is-on', n > 0);
    const sf = state.sort.replace(/^-/, '').split(',')[0];
    const f = fields.find((x) => x.id === sf || x.id === `${sf}_at`);
    sortBtn.querySelector('.vb-sort-label').textContent = `${f ? f.label : sf}${state.sort.startsWith('-') ? ' ↓' : ' ↑'}`;
    sortBtn.setAttribute('aria-label', `Sort: ${f ? f.label : sf}, ${state.sort.startsWith('-') ? 'descending' : 'ascending'}`);
    sortBtn.title = 'Sort';
    if (!vctx.tags && state.conds.some((c) => c.field === 'tags')) {
      vctx.tags = [];
      getTags(slug).then((t) => { vctx.tags = t; renderBar(); }).catch(() => {});
    }
    const tags = vctx.tags || [];
    clear(chipsHost, state.conds.map((c, i) => {
      const cf = fields.find((x) => x.id === c.field);
      const b = h('span', { class: 'vb-chip' },
        h('button', { class: 'vb-chip-text', type: 'button', text: condText(cf, c, { ...vctx, tags }), onclick: () => { closePopover(); filterBtn.click(); } }),
        h('button', { class: 'vb-chip-x', type: 'button', 'aria-label': `Remove filter: ${condText(cf, c, { ...vctx, tags })}`, onclick: () => { state.conds = state.conds.filter((_, j) => j !== i); apply(); filterBtn.focus(); } }, icon('x', 11)));
      return b;
    }), base.locked ? h('span', { class: 'vb-chip locked', title: 'A filter made through the API' }, h('span', { class: 'vb-chip-text', text: 'Advanced filter' })) : null);
    const isDirty = dirty();
    saveHost.hidden = !isDirty;
    saveBtn.hidden = !view || !canManageView(slug, view);
    resetBtn.hidden = !isDirty;
    placePopover();
  }

  function apply(refetch = true) {
    setQuery({
      view: view ? view.id : views.some((v) => v.is_default) ? 'all' : '',
      q: state.q,
      sort: state.sort === base.sort ? '' : state.sort,
      ...state.filters,
      filter: sameJson(state.conds, base.conds) ? '' : JSON.stringify({ and: state.conds }),
      cols: sameJson(state.cols, base.cols) ? '' : state.cols.filter((c) => c !== fixedCol).join(','),
    });
    myKey = key();
    table.setSort(state.sort);
    renderBar();
    if (refetch) reload();
  }
  function clearFilters() {
    state.q = '';
    state.conds = [];
    for (const k of cfg.filterKeys) state.filters[k] = '';
    clear(quickHost, cfg.buildFilters(state, apply));
    shell.setSearchValue('');
    apply();
  }
  const viewBody = () => ({
    filter: { and: [...(base.locked ? [base.locked] : []), ...state.conds, ...quickConds()] },
    sort: state.sort,
    columns: state.cols.map((field) => ({ field })),
  });
  async function saveView() {
    setBusy(saveBtn, true);
    try {
      const saved = await patch(orgPath(slug, 'views', view.id), viewBody());
      toast(`Saved the view “${saved.name}”.`, { kind: 'success' });
      navigate(`${listHref}?view=${encodeURIComponent(saved.id)}`, { replace: true });
    } catch (e) { reportError(e, 'View not saved.'); } finally { setBusy(saveBtn, false); }
  }
  async function saveAsNew() {
    const saved = await saveAsNewDialog({ slug, body: { kind: cfg.kind, layout: 'table', ...viewBody() } });
    if (!saved) return;
    toast(`Saved the view “${saved.name}”.`, { kind: 'success' });
    navigate(`${listHref}?view=${encodeURIComponent(saved.id)}`, { replace: true });
  }

  function showCount() {
    countEl.textContent = total == null ? '' : fmtNum(total);
    countEl.title = total == null ? '' : plural(total, cfg.singular);
    showSelection();
  }
  function loadCount(my) {
    get(apiPath + '/count' + qs(params()), { signal: ctx.signal })
      .then((r) => { if (my === gen) { total = r.count; showCount(); } })
      .catch(() => {});
  }

  function updateView() {
    const items = table.items();
    clearBtn.hidden = !filtered();
    placePopover();
    more.hidden = !next;
    setBusy(more, loading && !!next);
    const empty = !items.length && !loading;
    emptyHost.hidden = !empty;
    table.showHead(!empty);
    foot.hidden = empty || !next;
    viewbar.hidden = empty && !filtered() && !failed && !view && !views.length;
    if (!empty) return;
    clear(emptyHost, failed
      ? emptyState({ iconName: 'alert', title: `Couldn’t load ${cfg.entity}`, text: failed.message, actions: [h('button', { class: 'btn', type: 'button', text: 'Try again', onclick: () => reload() })] })
      : filtered()
      ? emptyState({ iconName: 'search', title: `No ${cfg.entity} match`, text: 'Try a different search or remove some filters.', actions: [h('button', { class: 'btn', type: 'button', text: 'Clear filters', onclick: () => clearFilters() })] })
      : emptyState({ iconName: cfg.empty.icon, title: cfg.empty.title, text: cfg.empty.text, actions: editable ? [h('button', { class: 'btn btn-primary', type: 'button', onclick: () => openCreate() }, icon('plus', 15), `New ${cfg.singular}`), importable && h('a', { class: 'btn', href: importHref }, icon('download', 15), 'Import from CSV')].filter(Boolean) : [] }));
  }

  async function reload() {
    const my = ++gen;
    next = null;
    loading = true;
    failed = null;
    total = null;
    showCount();
    table.clearSelection();
    table.showHead(true);
    emptyHost.hidden = true;
    viewbar.hidden = false;
    table.skeleton(12);
    shell.content.scrollTop = 0;
    try {
      const r = await get(apiPath + qs(params({ limit: PAGE, sort: state.sort })), { signal: ctx.signal });
      if (my !== gen) return;
      loading = false;
      next = r.next_cursor || null;
      table.setItems(r.items || []);
      // The count after the rows: a large list's count never holds its first page back, and a
      // list that fits in one page needs no count at all.
      if (next) loadCount(my);
      else { total = table.items().length; showCount(); }
    } catch (e) {
      if (my !== gen) return;
      loading = false;
      table.setItems([]);
      if (e.name === 'AbortError') return;
      if (e.status !== 401) failed = e.fields && e.fields.filter ? { message: `That filter doesn’t work: ${e.fields.filter}.` } : e;
    }
    updateView();
    maybeMore();
  }

  async function loadMore() {
    if (!next || loading) return;
    const my = gen;
    loading = true;
    updateView();
    try {
      const r = await get(apiPath + qs(params({ limit: PAGE, sort: state.sort, cursor: next })), { signal: ctx.signal });
      if (my !== gen) return;
      next = r.next_cursor || null;
      table.append(r.items || []);
    } catch (e) {
      if (my !== gen) return;
      reportError(e);
    }
    loading = false;
    updateView();
    maybeMore();
  }

  // Continuous paging: fetch the next page when the end of the table is near.
  function maybeMore() {
    if (!next || loading || !foot.isConnected) return;
    const root = shell.content.getBoundingClientRect();
    if (foot.getBoundingClientRect().top < root.bottom + 600) loadMore();
  }
  const io = new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting)) maybeMore(); },
    { root: shell.content, rootMargin: '0px 0px 600px 0px' });
  io.observe(foot);

  function exportAs(format) {
    const a = h('a', { href: apiPath + '/export' + qs({ ...matching(), sort: state.sort, format }), download: '', hidden: true, dataset: { native: '' } });
    document.body.appendChild(a);
    a.click();
    a.remove();
    toast(`Exporting ${total != null ? plural(total, cfg.singular) : cfg.entity}…`, { kind: 'info' });
  }

  function openMore() {
    const what = filtered() ? `Export these ${cfg.entity}` : `Export all ${cfg.entity}`;
    const items = [
      { heading: what },
      { label: 'CSV', icon: 'download', onSelect: () => exportAs('csv') },
      { label: 'Excel (.xlsx)', icon: 'download', onSelect: () => exportAs('xlsx') },
      { label: 'JSON lines (.ndjson)', icon: 'download', onSelect: () => exportAs('ndjson') },
      cfg.kind === 'contact' && { label: 'vCard (.vcf)', icon: 'download', onSelect: () => exportAs('vcf') },
    ];
    if (cfg.kind === 'contact' || cfg.kind === 'company') {
      items.push({ separator: true }, { label: 'Find duplicates', icon: 'copy', href: `/o/${slug}/${cfg.entity}/duplicates` });
    }
    openMenu(moreBtn, items.filter(Boolean), { align: 'end' });
  }

  function openCreate() {
    if (!editable) return;
    cfg.create({
      onCreated(item) {
        if (!table.items().length) table.setItems([]);
        table.prepend(item);
        if (total != null) { total += 1; showCount(); }
        updateView();
        announceChange(cfg.entity);
      },
    });
  }

  // After a bulk change: say what happened and show the list as it now is.
  function bulkDone(r, what) {
    const n = r.updated;
    toast(n ? `${what(n)}` : `Nothing to change: the ${cfg.entity} already were as asked.`, { kind: n ? 'success' : 'info' });
    if (n) announceChange(cfg.entity);
    reload();
  }
  async function bulkPost(btn, body, what, failMsg) {
    setBusy(btn, true);
    try {
      bulkDone(await post(`${apiPath}/bulk`, { ...target(), ...body }), what);
    } catch (e) { reportError(e, failMsg); } finally { setBusy(btn, false); }
  }

  function bulkTag() {
    if (!targetCount()) return;
    openTagPicker(tagBtn, {
      slug,
      onPick: (tag) => bulkPost(tagBtn, { add_tags: [tag.id] }, (n) => `Tagged ${plural(n, cfg.singular)} “${tag.name}”.`, 'Tag not added.'),
    });
  }

  async function bulkOwner() {
    if (!targetCount()) return;
    const list = await membersP;
    openMenu(ownerBtn, [
      { heading: 'Change owner to' },
      ...list.map((m) => ({ label: memberName(list, m.user_id) || m.email, onSelect: () => bulkPost(ownerBtn, { set: { owner_id: m.user_id } }, (n) => `Gave ${plural(n, cfg.singular)} to ${memberName(list, m.user_id) || m.email}.`, 'Owner not changed.') })),
      { separator: true },
      { label: 'No owner', onSelect: () => bulkPost(ownerBtn, { set: { owner_id: null } }, (n) => `Removed the owner of ${plural(n, cfg.singular)}.`, 'Owner not changed.') },
    ]);
  }

  function bulkStage() {
    if (!targetCount()) return;
    openMenu(stageBtn, [
      { heading: 'Move to stage' },
      ...stageChoices().map((c) => ({ label: c.label, onSelect: () => bulkPost(stageBtn, { set: c.set }, (n) => `Moved ${plural(n, cfg.singular)} to ${c.label}.`, 'Stage not changed.') })),
    ]);
  }

  async function bulkDelete() {
    const count = targetCount();
    if (!count) return;
    // One click deleting many records asks once, naming how many.
    if (count > 3 && !(await confirmDialog({
      title: `Delete ${plural(count, cfg.singular)}?`,
      message: `They go to the trash, where they can be restored for 30 days.`,
      confirmLabel: `Delete ${plural(count, cfg.singular)}`,
      danger: true,
    }))) return;
    setBusy(delBtn, true);
    if (allMatching) {
      try {
        const r = await post(`${apiPath}/bulk`, { matching: matching(), delete: true });
        announceChange(cfg.entity);
        undoToast({ apiPath, entity: cfg.entity, singular: cfg.singular, done: r.ids, onRestored: () => { if (shell.content.contains(wrap)) reload(); } });
        reload();
      } catch (e) { reportError(e, 'Nothing deleted.'); } finally { setBusy(delBtn, false); }
      return;
    }
    const ids = [...table.selected()];
    const done = await deleteMany({ apiPath, entity: cfg.entity, singular: cfg.singular, ids, onRestored: () => { if (shell.content.contains(wrap)) reload(); } });
    setBusy(delBtn, false);
    table.remove(done);
    if (total != null) { total = Math.max(0, total - done.length); showCount(); }
    updateView();
  }

  renderBar();
  // Back/forward returns to the same rows and scroll position without refetching.
  const hit = cache.get(myKey);
  if (ctx.isBack && hit && Date.now() - hit.at < 5 * 60000) {
    gen += 1;
    next = hit.next;
    total = hit.total;
    table.setItems(hit.items);
    showCount();
    updateView();
    shell.content.scrollTop = ctx.savedScroll || 0;
  } else {
    reload();
  }

  return {
    shortcuts: { c: openCreate },
    destroy() {
      io.disconnect();
      cache.set(myKey, { items: table.items(), next, total, at: Date.now() });
      if (cache.size > 20) cache.delete(cache.keys().next().value);
    },
  };
}
