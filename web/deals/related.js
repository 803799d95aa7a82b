// A contact's or company's deals (open first): title, stage, amount, expected close date.
import { h, clear, qs } from '../util.js';
import { icon } from '../icons.js';
import { get, orgPath } from '../api.js';
import { canEdit } from '../session.js';
import { badge } from '../components/badge.js';
import { formatDate } from '../components/values.js';
import { reportError } from '../components/toast.js';
import { fmtMoney } from '../money.js';
import { openDealForm } from './form.js';

const TONE = { open: 'blue', won: 'green', lost: 'red' };

/** relatedDeals({slug, path: 'companies'|'contacts', record, preset, signal}) → {el, add} */
export function relatedDeals({ slug, path, record, preset, signal }) {
  const list = h('ul', { class: 'related-deals' });
  const today = new Date().toISOString().slice(0, 10);
  const load = async () => {
    try {
      const r = await get(orgPath(slug, path, record.id, 'deals') + qs({ limit: 25 }), { signal });
      clear(list, r.items.length ? r.items.map((d) => h('li', { class: `status-${d.status}` },
        h('a', { href: `/o/${slug}/deals/${d.id}`, text: d.title }),
        badge(d.stage.name, TONE[d.status] || 'gray', { dot: true }),
        h('span', { class: 'num amount', text: d.amount != null ? fmtMoney(d.amount, d.currency) : '' }),
        h('span', { class: `num meta${d.status === 'open' && d.close_date && d.close_date < today ? ' overdue' : ''}`, text: d.close_date ? formatDate(d.close_date) : '' })))
        : h('li', { class: 'tertiary', text: 'No deals yet.' }));
    } catch (e) { if (e.name !== 'AbortError') reportError(e); }
  };
  load();
  const add = canEdit(slug) && h('button', { class: 'btn btn-sm', type: 'button', onclick: async () => {
    try {
      const [pipelines, org] = await Promise.all([get(orgPath(slug, 'pipelines')).then((r) => r.items), get(orgPath(slug))]);
      openDealForm({ slug, pipelines, pipelineId: pipelines[0].id, currency: org.default_currency, preset, onSaved: load });
    } catch (e) { reportError(e); }
  } }, icon('plus', 13), 'New deal');
  return { el: list, add };
}
