// The command palette: Ctrl/Cmd-K, "/" or the top bar's search button open it. Typing searches
// contacts and companies (debounced; stale requests are aborted, late answers ignored); results
// are grouped by type with the matched text marked. ↑/↓ move, Enter opens, Esc or a click
// outside closes. An empty input lists the recent searches a result was opened from.
import { h, clear, nextId } from '../util.js';
import { icon } from '../icons.js';
import { navigate } from '../router.js';
import { get, orgPath } from '../api.js';
import { avatar } from './avatar.js';
import { closeMenus } from './menu.js';
import { MAX_QUERY, TYPES, searchRecords, groupResults, recordHref, highlighted, recentSearches, rememberSearch, forgetRecentSearches } from '../search.js';

const DEBOUNCE_MS = 60;
const BUSY_DELAY_MS = 150; // fast answers never flash the loading bar
const CACHE_MAX = 30;
const phone = window.matchMedia('(max-width: 600px)');

const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || '';
const mac = /mac|iphone|ipad/i.test(platform);
/** The shortcut as this machine spells it, for hints and tooltips. */
export const paletteShortcut = mac ? '⌘K' : 'Ctrl K';
export const paletteKeyShortcuts = mac ? 'Meta+K /' : 'Control+K /';

let current = null;

export function closePalette() {
  if (current) current.close();
}

/** Opens the palette for an organization (or focuses it if it is already open). */
export function openPalette({ slug }) {
  if (current && current.slug === slug) { current.focus(); return current; }
  closePalette();
  closeMenus();
  current = createPalette(slug);
  return current;
}

const hint = (keys, text) => h('span', { class: 'palette-hint' }, keys.map((k) => h('kbd', { class: 'kbd', text: k })), text);

function stateView({ iconName, title, text = '', error = false, action = null }) {
  return h('div', { class: `palette-state${error ? ' error' : ''}` },
    h('span', { class: 'palette-state-icon' }, icon(iconName, 18)),
    h('p', { class: 'palette-state-title', text: title }),
    text && h('p', { class: 'palette-state-text', text }),
    action);
}

function createPalette(slug) {
  const prevFocus = document.activeElement;
  const listId = nextId('pal-list');
  const titleId = nextId('pal-title');
  const recentLabelId = nextId('pal-recent');

  const input = h('input', {
    class: 'palette-input', type: 'text', maxlength: MAX_QUERY, placeholder: phone.matches ? 'Search…' : 'Search contacts, companies and deals…',
    autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', enterkeyhint: 'go',
    role: 'combobox', 'aria-expanded': 'false', 'aria-controls': listId, 'aria-autocomplete': 'list', 'aria-labelledby': titleId,
  });
  const cancelBtn = h('button', { class: 'btn btn-ghost btn-sm palette-cancel', type: 'button', text: 'Cancel', onclick: () => close() });
  const head = h('div', { class: 'palette-head' }, icon('search', 18), input, cancelBtn, h('span', { class: 'palette-progress', 'aria-hidden': 'true' }));
  const note = h('div', { class: 'palette-note', hidden: true }, icon('info', 14), h('span', { text: 'The search index is being rebuilt; results may be incomplete.' }));
  const clearRecent = h('button', { class: 'link-btn palette-clear', type: 'button', text: 'Clear', onclick: () => { forgetRecentSearches(slug); showRecents(); input.focus(); } });
  const recentHead = h('div', { class: 'palette-group-label', hidden: true }, h('span', { id: recentLabelId, text: 'Recent searches' }), clearRecent);
  const list = h('div', { class: 'palette-list', id: listId, role: 'listbox', 'aria-label': 'Search results' });
  const msg = h('div', { class: 'palette-msg', hidden: true });
  const body = h('div', { class: 'palette-body' }, recentHead, list, msg);
  const status = h('div', { class: 'sr-only', role: 'status' });
  const foot = h('div', { class: 'palette-foot', 'aria-hidden': 'true' }, hint(['↑', '↓'], 'to move'), hint(['↵'], 'to open'), hint(['esc'], 'to close'));
  const el = h('dialog', { class: 'palette', 'aria-labelledby': titleId },
    h('h2', { class: 'sr-only', id: titleId, text: 'Search contacts, companies and deals' }), head, note, body, foot, status);

  let options = []; // [{kind: 'result'|'recent', el, href, q}]
  let active = -1;
  let shownQ = ''; // the query whose answer is on screen; '' while recent searches show
  let failed = false;
  let seq = 0;
  let ctrl = null;
  let timer = 0;
  let busyTimer = 0;
  let openWhenReady = false;
  let closed = false;
  let pointer = '';
  const cache = new Map();

  const query = () => input.value.trim();

  function setBusy(on) {
    clearTimeout(busyTimer);
    if (on) {
      list.setAttribute('aria-busy', 'true');
      busyTimer = setTimeout(() => el.classList.add('is-busy'), BUSY_DELAY_MS);
    } else {
      list.removeAttribute('aria-busy');
      el.classList.remove('is-busy');
    }
  }

  function cancelPending() {
    clearTimeout(timer);
    timer = 0;
    if (ctrl) ctrl.abort();
    ctrl = null;
    seq += 1;
    openWhenReady = false;
    setBusy(false);
  }

  function run(q) {
    clearTimeout(timer);
    timer = 0;
    if (ctrl) ctrl.abort();
    const mine = new AbortController();
    ctrl = mine;
    const my = ++seq;
    setBusy(true);
    searchRecords(slug, q, { signal: mine.signal }).then((r) => {
      if (my !== seq || closed) return;
      ctrl = null;
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value);
      cache.set(q, r);
      setBusy(false);
      showResults(q, r);
      if (openWhenReady) { openWhenReady = false; openActive(); }
    }, (e) => {
      if (my !== seq || closed || (e && e.name === 'AbortError')) return;
      ctrl = null;
      openWhenReady = false;
      setBusy(false);
      showError(q, e);
    });
  }

  function onInput() {
    cancelPending();
    const q = query();
    if (!q) { showRecents(); return; }
    if (cache.has(q)) { showResults(q, cache.get(q)); return; }
    setBusy(true);
    timer = setTimeout(() => run(q), DEBOUNCE_MS);
  }

  function setView({ nodes = [], opts = [], state = null, recent = false }) {
    clear(list, nodes);
    options = opts;
    active = -1;
    input.removeAttribute('aria-activedescendant');
    input.setAttribute('aria-expanded', String(opts.length > 0));
    recentHead.hidden = !recent;
    if (recent) list.setAttribute('aria-labelledby', recentLabelId);
    else list.removeAttribute('aria-labelledby');
    list.hidden = !opts.length;
    clear(msg, state);
    msg.hidden = !state;
    body.scrollTop = 0;
    if (opts.length) setActive(0, { scroll: false });
  }

  function showRecents() {
    shownQ = '';
    failed = false;
    note.hidden = true;
    const recent = recentSearches(slug);
    if (!recent.length) {
      setView({ state: stateView({ iconName: 'search', title: 'Search contacts and companies', text: 'Type a name, an email address or a company; results appear as you type.' }) });
      status.textContent = '';
      return;
    }
    const opts = recent.map((q) => ({
      kind: 'recent',
      q,
      el: h('div', { class: 'palette-option recent', id: nextId('pal-o'), role: 'option', 'aria-selected': 'false' },
        h('span', { class: 'palette-icon' }, icon('clock', 15)),
        h('span', { class: 'palette-text' }, h('span', { class: 'palette-title', text: q })),
        h('span', { class: 'palette-enter', 'aria-hidden': 'true', text: '↵' })),
    }));
    setView({ nodes: opts.map((o) => o.el), opts, recent: true });
    status.textContent = '';
  }

  function resultOption(it) {
    const href = recordHref(slug, it);
    const title = typeof it.title === 'string' && it.title.trim() ? it.title : 'Untitled';
    const sub = typeof it.subtitle === 'string' ? it.subtitle : '';
    const snip = it.snippet && typeof it.snippet.text === 'string' && it.snippet.text.trim() ? it.snippet : null;
    // When the title or subtitle holds the snippet's text, the match is marked there instead of
    // being repeated on a line of its own.
    const at = (text) => (snip ? text.indexOf(snip.text) : -1);
    const inTitle = at(title) >= 0;
    const inSub = !inTitle && at(sub) >= 0;
    const marked = (text) => {
      const d = at(text);
      return highlighted(text, (Array.isArray(snip.ranges) ? snip.ranges : []).map((r) => (Array.isArray(r) ? [Math.max(0, r[0]) + d, Math.min(snip.text.length, r[1]) + d] : r)));
    };
    const el = h('a', { class: 'palette-option', id: nextId('pal-o'), role: 'option', href, tabIndex: -1, 'aria-selected': 'false', dataset: TYPES[it.type].download ? { native: '' } : {} },
      avatar(title, { size: 'md', square: TYPES[it.type].square, seed: it.id }),
      h('span', { class: 'palette-text' },
        h('span', { class: 'palette-line' },
          h('span', { class: 'palette-title' }, inTitle ? marked(title) : title),
          sub.trim() && h('span', { class: 'palette-sub' }, inSub ? marked(sub) : sub)),
        snip && !inTitle && !inSub && h('span', { class: 'palette-snippet' }, marked(snip.text))),
      h('span', { class: 'palette-enter', 'aria-hidden': 'true', text: '↵' }));
    return { kind: 'result', el, href, fileId: TYPES[it.type].download ? it.id : null };
  }

  function showResults(q, r) {
    shownQ = q;
    failed = false;
    note.hidden = !(r && r.rebuilding === true);
    const opts = [];
    const nodes = groupResults(r && r.items).map((g) => {
      const labelId = nextId('pal-g');
      return h('div', { class: 'palette-group', role: 'group', 'aria-labelledby': labelId },
        h('div', { class: 'palette-group-label', id: labelId, role: 'presentation', text: g.label }),
        g.items.map((it) => { const o = resultOption(it); opts.push(o); return o.el; }));
    });
    const n = opts.length;
    setView({ nodes, opts, state: n ? null : stateView({ iconName: 'search', title: `No matches for “${q}”`, text: 'Check the spelling, or try fewer or different words.' }) });
    status.textContent = n ? `${n} ${n === 1 ? 'result' : 'results'}` : `No matches for “${q}”`;
  }

  function showError(q, e) {
    shownQ = q;
    failed = true;
    note.hidden = true;
    const message = (e && e.message) || 'Search failed.';
    const retry = h('button', { class: 'btn btn-sm', type: 'button', text: 'Try again', onclick: () => { input.focus(); if (query()) run(query()); } });
    setView({ state: stateView({ iconName: 'alert', title: message, error: true, action: retry }) });
    status.textContent = message;
  }

  function setActive(i, { scroll = true } = {}) {
    const prev = options[active];
    if (prev) prev.el.setAttribute('aria-selected', 'false');
    active = i;
    const o = options[i];
    if (!o) { input.removeAttribute('aria-activedescendant'); return; }
    o.el.setAttribute('aria-selected', 'true');
    input.setAttribute('aria-activedescendant', o.el.id);
    if (!scroll) return;
    const group = o.el.parentElement;
    if (i === 0) body.scrollTop = 0;
    else if (group.getAttribute('role') === 'group' && group.querySelector('[role="option"]') === o.el) group.firstElementChild.scrollIntoView({ block: 'nearest' });
    o.el.scrollIntoView({ block: 'nearest' });
  }

  function move(delta) {
    const n = options.length;
    if (!n) return;
    setActive(active < 0 ? (delta > 0 ? 0 : n - 1) : (active + delta + n) % n);
  }

  function choose(o) {
    if (o.kind === 'recent') {
      input.value = o.q;
      input.setSelectionRange(o.q.length, o.q.length);
      input.focus();
      cancelPending();
      if (cache.has(o.q)) showResults(o.q, cache.get(o.q));
      else run(o.q);
      return;
    }
    rememberSearch(slug, shownQ);
    close();
    if (o.fileId) openFile(o);
    else navigate(o.href);
  }

  // A file opens on the record it is attached to (previewed there); one attached to nothing
  // is downloaded.
  async function openFile(o) {
    let target = null;
    try {
      const f = await get(orgPath(slug, 'files', o.fileId));
      const link = (f.links || []).find((l) => !l.deleted && TYPES[l.kind] && !TYPES[l.kind].download);
      if (link) target = `/o/${encodeURIComponent(slug)}/${TYPES[link.kind].path}/${encodeURIComponent(link.id)}?file=${encodeURIComponent(o.fileId)}`;
    } catch { target = null; }
    if (target) navigate(target);
    else window.location.assign(o.href);
  }

  function openActive() {
    const o = options[active];
    if (o) choose(o);
  }

  // Enter before the answer for what is typed has arrived opens its first result when it does.
  function enter() {
    const q = query();
    if (q && (q !== shownQ || timer || ctrl)) {
      if (!ctrl || timer) run(q);
      openWhenReady = true;
      return;
    }
    if (q && failed) { run(q); return; }
    openActive();
  }

  input.addEventListener('input', onInput);
  input.addEventListener('keydown', (e) => {
    if (e.isComposing || e.keyCode === 229) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); move(e.key === 'ArrowDown' ? 1 : -1); }
    else if (e.key === 'Enter' && !e.altKey) { e.preventDefault(); enter(); }
  });

  // Pointer: hovering makes a row active (only when the pointer really moved, so rows scrolling
  // under a still mouse don't steal it); clicking opens. Focus stays in the input.
  list.addEventListener('mousemove', (e) => {
    const at = `${e.clientX},${e.clientY}`;
    if (at === pointer) return;
    pointer = at;
    const row = e.target.closest('[role="option"]');
    const i = row ? options.findIndex((o) => o.el === row) : -1;
    if (i >= 0 && i !== active) setActive(i, { scroll: false });
  });
  list.addEventListener('mousedown', (e) => { if (e.target.closest('[role="option"]')) e.preventDefault(); });
  list.addEventListener('click', (e) => {
    const row = e.target.closest('[role="option"]');
    const o = row && options.find((x) => x.el === row);
    if (!o) return;
    // Ctrl/Cmd/Shift-click on a result: let the browser open it in a new tab or window.
    if (o.kind === 'result' && (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)) { rememberSearch(slug, shownQ); return; }
    e.preventDefault();
    choose(o);
  });

  // Esc, a click outside, Tab kept inside, Ctrl/Cmd-K selects the query again.
  el.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
  let downOutside = false;
  const outside = (e) => {
    const r = el.getBoundingClientRect();
    return e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom;
  };
  el.addEventListener('mousedown', (e) => { downOutside = e.target === el && outside(e); });
  el.addEventListener('click', (e) => {
    if (downOutside && e.target === el && outside(e)) close();
    downOutside = false;
  });
  el.addEventListener('keydown', (e) => {
    if ((e.key === 'k' || e.key === 'K') && (e.metaKey || e.ctrlKey)) { e.preventDefault(); input.focus(); input.select(); return; }
    if (e.key !== 'Tab') return;
    e.preventDefault();
    const items = [...el.querySelectorAll('input, button:not([disabled])')].filter((x) => x.offsetParent !== null);
    if (!items.length) return;
    const i = items.indexOf(document.activeElement);
    items[e.shiftKey ? (i <= 0 ? items.length - 1 : i - 1) : (i + 1) % items.length].focus();
  });

  function close() {
    if (closed) return;
    closed = true;
    cancelPending();
    if (el.open) el.close();
    el.remove();
    if (current === api) current = null;
    if (prevFocus && prevFocus.isConnected && prevFocus !== document.body) prevFocus.focus({ preventScroll: true });
  }

  const api = { slug, close, focus() { input.focus(); input.select(); } };
  document.body.appendChild(el);
  el.showModal();
  showRecents();
  input.focus();
  return api;
}
