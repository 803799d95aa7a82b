// The shared list screen behind Contacts and Companies: URL-synced search, filters and sort,
// total count, continuous cursor paging, selection with bulk delete + Undo, scroll memory.
import { h, clear, qs, fmtNum, plural } from '../util.js';
import { icon } from '../icons.js';
import { get, del, post } from '../api.js';
import { canEdit, announceChange } from '../session.js';
import { setQuery } from '../router.js';
import { createTable, emptyState } from '../components/table.js';
import { toast, reportError } from '../components/toast.js';
import { setBusy } from '../components/field.js';

const PAGE = 50;
const cache = new Map();

async function eachLimited(ids, n, fn) {
  const results = [];
  let i = 0;
  const worker = async () => {
    while (i < ids.length) {
      const id = ids[i++];
      try { await fn(id); results.push({ id, ok: true }); } catch (error) { results.push({ id, ok: false, error }); }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, ids.length) }, worker));
  return results;
}

/**
 * cfg: {entity, title, singular, apiPath, columns, filterKeys, buildFilters(state, apply), defaultSort,
 *       descFirst: Set of sort keys, empty: {icon, title, text}, create({onCreated}), href(item)}
 */
export function listScreen(ctx, cfg) {
  const { shell, slug, query } = ctx;
  const editable = canEdit(slug);
  const state = { q: query.get('q') || '', sort: query.get('sort') || cfg.defaultSort, filters: {} };
  for (const k of cfg.filterKeys) state.filters[k] = query.get(k) || '';
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
  shell.setTop({
    title: cfg.title,
    count: countEl,
    actions: [newBtn],
    search: { value: state.q, placeholder: `Search ${cfg.entity}…`, onSearch: (v) => { if (v !== state.q) { state.q = v; apply(); } } },
  });

  const selCount = h('span', { class: 'count' });
  const delBtn = h('button', { class: 'btn btn-sm btn-danger', type: 'button', onclick: () => bulkDelete() }, icon('trash', 14), 'Delete');
  const selbar = h('div', { class: 'selbar', role: 'region', 'aria-label': 'Selection', hidden: true }, selCount, delBtn,
    h('button', { class: 'btn btn-sm btn-ghost', type: 'button', text: 'Clear', onclick: () => table.clearSelection() }));

  const table = createTable({
    columns: cfg.columns,
    rowHref: cfg.href,
    selectable: editable,
    caption: cfg.title,
    onSort: (key) => {
      state.sort = state.sort === key ? '-' + key : state.sort === '-' + key ? key : (cfg.descFirst.has(key) ? '-' + key : key);
      apply();
    },
    onSelect: (sel) => {
      selbar.hidden = sel.size === 0;
      selCount.textContent = `${fmtNum(sel.size)} selected`;
    },
  });
  table.setSort(state.sort);

  const clearBtn = h('button', { class: 'btn btn-sm btn-ghost clear-filters', type: 'button', onclick: () => clearFilters() }, icon('x', 13), 'Clear filters');
  const filterbar = h('div', { class: 'filterbar', role: 'group', 'aria-label': 'Filters' }, cfg.buildFilters(state, apply), clearBtn);
  const more = h('button', { class: 'btn', type: 'button', text: 'Load more', onclick: () => loadMore() });
  const foot = h('div', { class: 'table-foot' }, more);
  const emptyHost = h('div', { hidden: true });
  const wrap = h('div', { class: 'table-wrap' }, table.el);
  clear(shell.content, filterbar, wrap, emptyHost, foot, selbar);

  const filtered = () => !!state.q || Object.values(state.filters).some(Boolean);
  const params = (extra) => ({ q: state.q, ...state.filters, ...extra });

  function apply() {
    setQuery({ q: state.q, sort: state.sort === cfg.defaultSort ? '' : state.sort, ...state.filters });
    myKey = key();
    table.setSort(state.sort);
    reload();
  }
  function clearFilters() {
    state.q = '';
    for (const k of cfg.filterKeys) state.filters[k] = '';
    clear(filterbar, cfg.buildFilters(state, apply), clearBtn);
    shell.setSearchValue('');
    apply();
  }

  function showCount() {
    countEl.textContent = total == null ? '' : fmtNum(total);
    countEl.title = total == null ? '' : plural(total, cfg.singular);
  }
  function loadCount(my) {
    get(cfg.apiPath + '/count' + qs(params()), { signal: ctx.signal })
      .then((r) => { if (my === gen) { total = r.count; showCount(); } })
      .catch(() => {});
  }

  function updateView() {
    const items = table.items();
    clearBtn.hidden = !filtered();
    more.hidden = !next;
    setBusy(more, loading && !!next);
    const empty = !items.length && !loading;
    emptyHost.hidden = !empty;
    table.showHead(!empty);
    foot.hidden = empty || !next;
    filterbar.hidden = empty && !filtered() && !failed;
    if (!empty) return;
    clear(emptyHost, failed
      ? emptyState({ iconName: 'alert', title: `Couldn’t load ${cfg.entity}`, text: failed.message, actions: [h('button', { class: 'btn', type: 'button', text: 'Try again', onclick: () => reload() })] })
      : filtered()
      ? emptyState({ iconName: 'search', title: `No ${cfg.entity} match`, text: 'Try a different search or remove some filters.', actions: [h('button', { class: 'btn', type: 'button', text: 'Clear filters', onclick: () => clearFilters() })] })
      : emptyState({ iconName: cfg.empty.icon, title: cfg.empty.title, text: cfg.empty.text, actions: editable ? [h('button', { class: 'btn btn-primary', type: 'button', onclick: () => openCreate() }, icon('plus', 15), `New ${cfg.singular}`)] : [] }));
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
    filterbar.hidden = false;
    table.skeleton(12);
    shell.content.scrollTop = 0;
    loadCount(my);
    try {
      const r = await get(cfg.apiPath + qs(params({ limit: PAGE, sort: state.sort })), { signal: ctx.signal });
      if (my !== gen) return;
      loading = false;
      next = r.next_cursor || null;
      table.setItems(r.items || []);
    } catch (e) {
      if (my !== gen) return;
      loading = false;
      table.setItems([]);
      if (e.name === 'AbortError') return;
      if (e.status !== 401) failed = e;
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
      const r = await get(cfg.apiPath + qs(params({ limit: PAGE, sort: state.sort, cursor: next })), { signal: ctx.signal });
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

  async function bulkDelete() {
    const ids = [...table.selected()];
    if (!ids.length) return;
    setBusy(delBtn, true);
    const results = await eachLimited(ids, 4, (id) => del(`${cfg.apiPath}/${encodeURIComponent(id)}`));
    setBusy(delBtn, false);
    const done = results.filter((r) => r.ok).map((r) => r.id);
    const errors = results.filter((r) => !r.ok);
    table.remove(done);
    if (total != null) { total = Math.max(0, total - done.length); showCount(); }
    updateView();
    if (done.length) announceChange(cfg.entity);
    if (errors.length) reportError(errors[0].error, `Could not delete ${plural(errors.length, cfg.singular)}.`);
    if (!done.length) return;
    toast(`Deleted ${plural(done.length, cfg.singular)}.`, {
      kind: 'success',
      action: {
        label: 'Undo',
        run: async () => {
          const back = await eachLimited(done, 4, (id) => post(`${cfg.apiPath}/${encodeURIComponent(id)}/restore`));
          const bad = back.filter((r) => !r.ok);
          if (bad.length) reportError(bad[0].error, `Could not restore ${plural(bad.length, cfg.singular)}.`);
          else toast(`Restored ${plural(done.length, cfg.singular)}.`, { kind: 'success' });
          announceChange(cfg.entity);
          if (shell.content.contains(wrap)) reload();
        },
      },
    });
  }

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
