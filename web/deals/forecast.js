// The forecast panel: open, weighted and won amounts by expected-close month, owner or stage
// as an SVG bar chart drawn here (no library), won this month against last month, and the
// 90-day win rate.
import { h, qs, clear } from '../util.js';
import { get, orgPath } from '../api.js';
import { reportError } from '../components/toast.js';
import { fmtMoney } from '../money.js';

const NS = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs = {}, ...kids) => {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) if (k) el.append(k);
  return el;
};
const monthLabel = (key) => {
  const m = /^(\d{4})-(\d{2})$/.exec(key);
  return m ? new Intl.DateTimeFormat(undefined, { month: 'short' }).format(new Date(+m[1], +m[2] - 1, 1)) : 'Overdue';
};
// A month's key names it; a stage's label comes from the server; an owner's key is a user id,
// named from the members list the screen already holds.
const rowLabel = (r, by, nameOf) => (by === 'month' ? monthLabel(r.key) : by === 'owner' ? nameOf(r.key) : r.label || '—');
const short = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const GROUPS = [['month', 'Month'], ['owner', 'Owner'], ['stage', 'Stage']];

/** Bars per row for one currency: open (light), weighted (accent), won (green). */
export function barChart(rows, currency, by = 'month', nameOf = (id) => id) {
  const W = 640; const H = 200; const pad = { l: 8, r: 8, t: 16, b: 28 };
  const pick = (r, k) => { const a = r.amounts.find((x) => x.currency === currency); return a ? a[k] : 0; };
  const max = Math.max(1, ...rows.flatMap((r) => [pick(r, 'open'), pick(r, 'won')]));
  const slot = (W - pad.l - pad.r) / rows.length;
  const bw = Math.min(18, slot / 4);
  const y = (v) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const chart = svg('svg', { class: 'bar-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Forecast in ${currency} by ${by === 'month' ? 'expected close month' : by}` });
  chart.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: H - pad.b, y2: H - pad.b, class: 'axis' }));
  rows.forEach((r, i) => {
    const x0 = pad.l + slot * i + slot / 2 - bw * 1.5;
    const bars = [['open', 'bar-open'], ['weighted', 'bar-weighted'], ['won', 'bar-won']];
    bars.forEach(([k, cls], j) => {
      const v = pick(r, k);
      const top = y(v);
      const rect = svg('rect', { x: x0 + j * bw, y: top, width: bw - 2, height: Math.max(0, H - pad.b - top), rx: 2, class: cls });
      rect.append(svg('title', {}, document.createTextNode(`${rowLabel(r, by, nameOf)} · ${k}: ${fmtMoney(v, currency)}`)));
      chart.append(rect);
    });
    const label = svg('text', { x: pad.l + slot * i + slot / 2, y: H - 8, 'text-anchor': 'middle', class: r.key === 'overdue' ? 'lbl overdue' : 'lbl' });
    // Names are cut to what fits under their bars; the full one is in the tooltip.
    const full = rowLabel(r, by, nameOf);
    label.textContent = short(full, Math.max(3, Math.floor(slot / 7)));
    label.append(svg('title', {}, document.createTextNode(full)));
    chart.append(label);
  });
  return chart;
}

export function forecastPanel({ slug, pipelineId, currency, signal, nameOf = (id) => id }) {
  const el = h('section', { class: 'forecast', 'aria-label': 'Forecast' }, h('div', { class: 'forecast-body skeleton-block' }));
  let by = 'month';
  let shown = 0; // answers that arrive after a newer question are dropped
  const load = async () => {
    const asked = ++shown;
    try {
      const f = await get(orgPath(slug, 'deals', 'forecast') + qs({ pipeline: pipelineId, by }), { signal });
      if (asked !== shown) return;
      const currencies = [...new Set(f.rows.flatMap((r) => r.amounts.map((a) => a.currency)))];
      const cur = currencies.includes(currency) ? currency : currencies[0] || currency;
      const sum = (list) => (list.find((x) => x.currency === cur) || { amount: 0 }).amount;
      const thisM = sum(f.won_this_month); const lastM = sum(f.won_last_month);
      const delta = lastM ? Math.round(((thisM - lastM) * 100) / lastM) : null;
      const rate = f.win_rate_90_days;
      const stat = (label, value, sub) => h('div', { class: 'stat' }, h('div', { class: 'stat-label', text: label }), h('div', { class: 'stat-value num', text: value }), sub && h('div', { class: 'stat-sub', text: sub }));
      const openTotal = f.rows.reduce((n, r) => n + ((r.amounts.find((a) => a.currency === cur) || {}).open || 0), 0);
      const weightedTotal = f.rows.reduce((n, r) => n + ((r.amounts.find((a) => a.currency === cur) || {}).weighted || 0), 0);
      const groups = h('div', { class: 'seg forecast-by', role: 'tablist', 'aria-label': 'Group the forecast by' },
        ...GROUPS.map(([key, text]) => {
          const b = h('button', { type: 'button', class: 'seg-btn', role: 'tab', 'aria-selected': String(key === by), text });
          b.addEventListener('click', () => { if (by !== key) { by = key; load(); } });
          return b;
        }));
      clear(el,
        h('div', { class: 'forecast-stats' },
          stat('Open, next 6 months', fmtMoney(openTotal, cur, { compact: true }), `${fmtMoney(weightedTotal, cur, { compact: true })} weighted`),
          stat('Won this month', fmtMoney(thisM, cur, { compact: true }), delta == null ? `last month ${fmtMoney(lastM, cur, { compact: true })}` : `${delta >= 0 ? '+' : ''}${delta} % vs last month`),
          stat('Win rate, 90 days', rate.percent == null ? '—' : `${rate.percent} %`, `${rate.won} won · ${rate.lost} lost`)),
        h('div', { class: 'forecast-chart' }, groups,
          f.rows.length ? barChart(f.rows, cur, by, nameOf) : h('p', { class: 'tertiary forecast-empty', text: 'No open deals with an expected close date in the next six months.' }),
          h('div', { class: 'legend' }, h('span', { class: 'key key-open', text: 'Open' }), h('span', { class: 'key key-weighted', text: 'Weighted' }), h('span', { class: 'key key-won', text: 'Won' }),
            currencies.length > 1 && h('span', { class: 'tertiary', text: `Amounts in ${cur}; other currencies on the board.` }))));
    } catch (e) { if (e.name !== 'AbortError') { reportError(e); el.remove(); } }
  };
  load();
  return el;
}
