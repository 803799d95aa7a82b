// The pipeline board: a column per stage with its count and sums, cards loaded by page as a
// column scrolls, drag and drop (pointer and touch: one Pointer Events path) with a drop
// placeholder and auto-scroll at the edges, keyboard moves announced to screen readers, quick
// add at the top of a column. Moves are optimistic and roll back when the server refuses.
import { h, clear, qs, fmtNum, plural } from '../util.js';
import { icon } from '../icons.js';
import { get, post, orgPath } from '../api.js';
import { canEdit, getMembers, memberName } from '../session.js';
import { avatar } from '../components/avatar.js';
import { reportError, toast } from '../components/toast.js';
import { fmtMoney, fmtTotals, weightedOf } from '../money.js';
import { formatDate } from '../components/values.js';
import { askLostReason } from './lost.js';

const PAGE = 25;
const today = () => new Date().toISOString().slice(0, 10);

/** One card: title, company, amount, owner, close date (red when past), rotting marker. */
function card(slug, d, members) {
  const overdue = d.status === 'open' && d.close_date && d.close_date < today();
  const owner = d.owner_id ? memberName(members, d.owner_id) || 'Former member' : null;
  return h('li', { class: 'deal-card', tabIndex: 0, dataset: { id: d.id }, 'aria-label': `${d.title}${d.amount != null ? ', ' + fmtMoney(d.amount, d.currency) : ''}` },
    h('div', { class: 'deal-card-top' },
      h('a', { class: 'deal-card-title', href: `/o/${slug}/deals/${d.id}`, text: d.title, tabIndex: -1, draggable: 'false' }),
      d.rotting && h('span', { class: 'rot-dot', title: `Left alone too long (${plural(d.days_in_stage, 'day')} in stage)`, 'aria-label': 'Rotting' })),
    d.company && h('div', { class: 'deal-card-sub', text: d.company.name }),
    h('div', { class: 'deal-card-foot' },
      h('span', { class: 'deal-amount num', text: d.amount != null ? fmtMoney(d.amount, d.currency) : '—' }),
      d.close_date && h('span', { class: `deal-date num${overdue ? ' overdue' : ''}`, title: overdue ? 'Expected close date has passed' : 'Expected close date', text: formatDate(d.close_date) }),
      owner && h('span', { class: 'deal-owner', title: owner }, avatar(owner.replace(/\s*\(.*\)$/, ''), { seed: d.owner_id }))));
}

export function createBoard({ slug, pipeline, filter, signal, announce, onOpen }) {
  const editable = canEdit(slug);
  const boardPath = orgPath(slug, 'pipelines', pipeline.id, 'board');
  const deals = new Map(); // id → deal
  const cols = new Map(); // stage id → {stage, el, list, head, count, totals, next, loading, sentinel}
  let members = [];
  const el = h('div', { class: 'board', role: 'region', 'aria-label': `${pipeline.name} board` });
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) loadMore(e.target.dataset.stage);
  }, { root: null, rootMargin: '300px' });

  function headText(c) {
    const sum = fmtTotals(c.totals) || '—';
    clear(c.head,
      h('div', { class: 'col-title' }, h('span', { class: `stage-dot kind-${c.stage.kind}`, 'aria-hidden': 'true' }), h('h2', { text: c.stage.name }),
        h('span', { class: 'col-count num', text: fmtNum(c.count) })),
      h('div', { class: 'col-sum num' }, h('span', { class: 'col-total', text: sum }),
        c.stage.kind === 'open' && h('span', { class: 'col-weighted', title: `Weighted at ${c.stage.probability} %`, text: fmtTotals(c.totals, 'weighted') ? `${fmtTotals(c.totals, 'weighted')} weighted` : '' })));
  }

  function column(stage) {
    const list = h('ol', { class: 'col-cards', 'aria-label': `${stage.name} deals` });
    const sentinel = h('li', { class: 'col-sentinel', 'aria-hidden': 'true', dataset: { stage: stage.id } });
    list.append(sentinel);
    const head = h('header', { class: 'col-head' });
    const c = { stage, list, head, sentinel, count: 0, totals: [], next: null, loading: false };
    const add = editable && stage.kind === 'open' && h('button', { class: 'btn btn-ghost btn-sm col-add', type: 'button', 'aria-label': `Add a deal to ${stage.name}`, onclick: () => quickAdd(c) }, icon('plus', 13));
    c.el = h('section', { class: `board-col kind-${stage.kind}`, dataset: { stage: stage.id } }, h('div', { class: 'col-head-row' }, head, add), list);
    cols.set(stage.id, c);
    return c;
  }

  function quickAdd(c) {
    if (c.list.querySelector('.quick-add')) { c.list.querySelector('.quick-add input').focus(); return; }
    const input = h('input', { class: 'input', placeholder: 'Deal title', 'aria-label': `New deal in ${c.stage.name}`, maxlength: 200 });
    const form = h('form', { class: 'quick-add' }, input);
    const li = h('li', null, form);
    c.list.prepend(li);
    input.focus();
    const close = () => li.remove();
    input.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });
    input.addEventListener('blur', () => { if (!input.value.trim()) close(); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const title = input.value.trim();
      if (!title) return;
      input.disabled = true;
      try {
        const d = await post(orgPath(slug, 'deals'), { title, stage_id: c.stage.id });
        deals.set(d.id, d);
        li.replaceWith(card(slug, d, members));
        c.count += 1;
        headText(c);
        announce(`Added “${d.title}” to ${c.stage.name}.`);
        quickAdd(c);
      } catch (err) { input.disabled = false; reportError(err, 'Deal not added.'); }
    });
  }

  function fill(c, page, append) {
    for (const d of page.deals) {
      deals.set(d.id, d);
      c.list.insertBefore(card(slug, d, members), c.sentinel);
    }
    if (!append) { c.count = page.count; c.totals = page.totals; headText(c); }
    c.next = page.next_cursor;
    c.sentinel.hidden = !c.next;
  }

  async function loadMore(stageId) {
    const c = cols.get(stageId);
    if (!c || !c.next || c.loading) return;
    c.loading = true;
    try {
      const r = await get(boardPath + qs({ stage: stageId, cursor: c.next, limit: PAGE, filter }), { signal });
      fill(c, r.columns[0], true);
    } catch (e) { if (e.name !== 'AbortError') reportError(e); }
    c.loading = false;
  }

  /** The heads again from the server (exact sums after a move). */
  async function refreshHeads() {
    try {
      const r = await get(boardPath + qs({ limit: 1, filter }), { signal });
      for (const col of r.columns) {
        const c = cols.get(col.stage.id);
        if (c) { c.count = col.count; c.totals = col.totals; headText(c); }
      }
    } catch (e) { if (e.name !== 'AbortError') reportError(e); }
  }

  function adjust(c, d, sign) {
    c.count += sign;
    if (d.amount != null) {
      let t = c.totals.find((x) => x.currency === d.currency);
      if (!t) { t = { currency: d.currency, amount: 0, weighted: 0 }; c.totals.push(t); }
      t.amount += sign * d.amount;
      t.weighted += sign * weightedOf(d.amount, c.stage.probability);
    }
    headText(c);
  }

  /** Moves card `id` before `beforeId` (or to the end) of `stageId`: DOM first, then server. */
  async function move(id, stageId, beforeId) {
    const d = deals.get(id);
    const cardEl = el.querySelector(`.deal-card[data-id="${CSS.escape(id)}"]`);
    const to = cols.get(stageId);
    if (!d || !cardEl || !to) return;
    const from = cols.get(d.stage_id);
    const body = { stage_id: stageId };
    if (beforeId) body.before_id = beforeId;
    if (to.stage.kind === 'lost' && from !== to && !d.lost_reason) {
      const reason = await askLostReason(d.title);
      if (reason == null) { cardEl.focus(); return; }
      body.lost_reason = reason;
    }
    const prevNext = cardEl.nextElementSibling;
    const beforeEl = beforeId && to.list.querySelector(`.deal-card[data-id="${CSS.escape(beforeId)}"]`);
    to.list.insertBefore(cardEl, beforeEl || to.sentinel);
    if (from !== to) { adjust(from, d, -1); adjust(to, d, 1); }
    cardEl.focus();
    const pos = [...to.list.querySelectorAll('.deal-card')].indexOf(cardEl) + 1;
    announce(`Moved “${d.title}” to ${to.stage.name}, position ${pos} of ${to.count}.`);
    try {
      const saved = await post(orgPath(slug, 'deals', id, 'move'), body);
      deals.set(id, saved);
      const fresh = card(slug, saved, members);
      cardEl.replaceWith(fresh);
      if (document.activeElement === document.body) fresh.focus();
      if (from !== to) refreshHeads();
    } catch (e) {
      from.list.insertBefore(cardEl, prevNext);
      if (from !== to) { adjust(to, d, -1); adjust(from, d, 1); }
      reportError(e, 'Deal not moved.');
      announce(`“${d.title}” was not moved.`);
    }
  }

  // Keyboard: arrows move focus; Shift+arrows (or Alt+arrows) move the focused card.
  el.addEventListener('keydown', (e) => {
    const cardEl = e.target.closest && e.target.closest('.deal-card');
    if (!cardEl || e.target !== cardEl) return;
    const id = cardEl.dataset.id;
    const c = cols.get(deals.get(id).stage_id);
    const order = [...cols.keys()];
    const at = order.indexOf(c.stage.id);
    const siblings = [...c.list.querySelectorAll('.deal-card')];
    const i = siblings.indexOf(cardEl);
    const moving = e.shiftKey || e.altKey;
    if (e.key === 'Enter') { e.preventDefault(); onOpen(id); return; }
    if (!['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight'].includes(e.key)) return;
    e.preventDefault();
    if (!moving) {
      let target = null;
      if (e.key === 'ArrowUp') target = siblings[i - 1];
      if (e.key === 'ArrowDown') target = siblings[i + 1];
      if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
        const other = cols.get(order[at + (e.key === 'ArrowLeft' ? -1 : 1)]);
        if (other) { const cs = other.list.querySelectorAll('.deal-card'); target = cs[Math.min(i, cs.length - 1)]; }
      }
      if (target) target.focus();
      return;
    }
    if (!editable) return;
    if (e.key === 'ArrowUp' && i > 0) move(id, c.stage.id, siblings[i - 1].dataset.id);
    if (e.key === 'ArrowDown' && i < siblings.length - 1) move(id, c.stage.id, siblings[i + 2] ? siblings[i + 2].dataset.id : null);
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      const other = cols.get(order[at + (e.key === 'ArrowLeft' ? -1 : 1)]);
      if (other) { const first = other.list.querySelector('.deal-card'); move(id, other.stage.id, first ? first.dataset.id : null); }
    }
  });

  // Drag and drop with the pointer (mouse, pen, touch).
  let drag = null;
  const placeholder = h('li', { class: 'drop-placeholder', 'aria-hidden': 'true' });
  el.addEventListener('pointerdown', (e) => {
    const cardEl = e.target.closest('.deal-card');
    if (!editable || !cardEl || e.button !== 0) return;
    drag = { cardEl, id: cardEl.dataset.id, x: e.clientX, y: e.clientY, started: false, pointerId: e.pointerId };
  });
  function startDrag(e) {
    const r = drag.cardEl.getBoundingClientRect();
    drag.dx = e.clientX - r.left;
    drag.dy = e.clientY - r.top;
    drag.ghost = drag.cardEl.cloneNode(true);
    drag.ghost.classList.add('drag-ghost');
    drag.ghost.style.width = `${r.width}px`;
    document.body.append(drag.ghost);
    placeholder.style.height = `${r.height}px`;
    drag.cardEl.classList.add('dragging');
    drag.cardEl.after(placeholder);
    drag.started = true;
    el.classList.add('is-dragging');
    try { el.setPointerCapture(drag.pointerId); } catch { /* released already */ }
  }
  function placeAt(x, y) {
    drag.ghost.style.transform = `translate(${x - drag.dx}px, ${y - drag.dy}px)`;
    const colEl = [...el.querySelectorAll('.board-col')].find((c) => { const r = c.getBoundingClientRect(); return x >= r.left && x <= r.right; });
    if (!colEl) return;
    const c = cols.get(colEl.dataset.stage);
    const cards = [...c.list.querySelectorAll('.deal-card:not(.dragging)')];
    const before = cards.find((k) => { const r = k.getBoundingClientRect(); return y < r.top + r.height / 2; });
    c.list.insertBefore(placeholder, before || c.sentinel);
  }
  function autoScroll(x, y) {
    const edge = 48;
    const br = el.getBoundingClientRect();
    if (x < br.left + edge) el.scrollLeft -= 12; else if (x > br.right - edge) el.scrollLeft += 12;
    const colEl = placeholder.closest('.board-col');
    if (colEl) {
      const list = colEl.querySelector('.col-cards');
      const lr = list.getBoundingClientRect();
      if (y < lr.top + edge) list.scrollTop -= 12; else if (y > lr.bottom - edge) list.scrollTop += 12;
    }
  }
  el.addEventListener('pointermove', (e) => {
    if (!drag) return;
    if (!drag.started) {
      if (Math.hypot(e.clientX - drag.x, e.clientY - drag.y) < 5) return;
      startDrag(e);
    }
    e.preventDefault();
    placeAt(e.clientX, e.clientY);
    autoScroll(e.clientX, e.clientY);
  });
  const endDrag = (commit) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (!d.started) return;
    d.ghost.remove();
    d.cardEl.classList.remove('dragging');
    el.classList.remove('is-dragging');
    const colEl = placeholder.closest('.board-col');
    let next = placeholder.nextElementSibling;
    while (next && !next.classList.contains('deal-card')) next = next.nextElementSibling;
    placeholder.remove();
    // A click right after a drag must not open the deal.
    el.addEventListener('click', (e) => { e.preventDefault(); e.stopPropagation(); }, { capture: true, once: true });
    if (!commit || !colEl) return;
    const beforeId = next ? next.dataset.id : null;
    if (beforeId === d.id) return;
    const cur = deals.get(d.id);
    const sameSpot = cur.stage_id === colEl.dataset.stage && d.cardEl.nextElementSibling === next;
    if (!sameSpot) move(d.id, colEl.dataset.stage, beforeId);
  };
  el.addEventListener('pointerup', () => endDrag(true));
  el.addEventListener('pointercancel', () => endDrag(false));
  el.addEventListener('keydown', (e) => { if (e.key === 'Escape' && drag) endDrag(false); });

  async function load() {
    clear(el, pipeline.stages.map((s) => column(s).el));
    for (const c of cols.values()) {
      headText(c);
      for (let i = 0; i < 3; i++) c.list.insertBefore(h('li', { class: 'deal-card skeleton', 'aria-hidden': 'true' }), c.sentinel);
    }
    try {
      const [r, m] = await Promise.all([get(boardPath + qs({ limit: PAGE, filter }), { signal }), getMembers(slug).catch(() => [])]);
      members = m;
      for (const col of r.columns) {
        const c = cols.get(col.stage.id);
        c.list.querySelectorAll('.skeleton').forEach((x) => x.remove());
        fill(c, col, false);
        io.observe(c.sentinel);
      }
      const open = r.columns.filter((c) => c.stage.kind === 'open').reduce((n, c) => n + c.count, 0);
      announce(`${plural(open, 'open deal')} on ${pipeline.name}.`);
      return r;
    } catch (e) {
      if (e.name !== 'AbortError') { reportError(e); toast('The board could not load.', { kind: 'error' }); }
      return null;
    }
  }

  return { el, load, move, destroy: () => io.disconnect() };
}
