// Settings → Organization → Export everything (owners): ask for an archive of the whole
// organization — every record, relation, definition and file, as NDJSON and files in a
// ZIP (docs/org-export.md) — follow its preparation, and download it while it is kept.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, post, orgPath } from '../api.js';
import { badge } from '../components/badge.js';
import { fmtSize } from '../components/files.js';
import { setBusy } from '../components/field.js';
import { reportError } from '../components/toast.js';

const STATUS = { preparing: ['Preparing…', 'blue'], ready: ['Ready', 'green'], failed: ['Failed', 'red'] };

export function archivePanel(slug, signal) {
  const panel = h('section', { class: 'panel', id: 'org-archives' });
  const ask = h('button', { class: 'btn', type: 'button' }, icon('download', 15), 'Prepare an export');
  let timer = null;
  signal?.addEventListener('abort', () => clearTimeout(timer));

  ask.addEventListener('click', async () => {
    setBusy(ask, true);
    try {
      await post(orgPath(slug, 'archives'), {});
      await load();
    } catch (e) {
      reportError(e);
    } finally {
      setBusy(ask, false);
    }
  });

  function row(a) {
    const [label, tone] = STATUS[a.status] || [a.status, 'gray'];
    const detail = a.status === 'ready'
      ? h('span', { class: 'meta' }, fmtSize(a.size), ' · expires ', timeEl(a.expires_at))
      : a.status === 'failed'
        ? h('span', { class: 'meta', text: a.error ? `It failed: ${a.error}` : 'It failed.' })
        : h('span', { class: 'meta', text: 'Records, files and settings are being gathered. You can leave this page.' });
    return h('li', { class: 'session-row', dataset: { id: a.id, status: a.status } },
      h('span', { class: 'session-icon', 'aria-hidden': 'true' }, icon('download', 16)),
      h('div', { class: 'grow stack-sm' },
        h('span', null, h('strong', null, 'Asked ', timeEl(a.requested_at)), badge(label, tone)),
        detail),
      a.status === 'ready' && h('a', {
        class: 'btn btn-sm', href: `/api/v1${orgPath(slug, 'archives', a.id, 'download')}`,
        download: '', dataset: { native: '' }, text: 'Download',
      }));
  }

  async function load() {
    clearTimeout(timer);
    let items = [];
    try {
      ({ items } = await get(orgPath(slug, 'archives'), { signal }));
    } catch (e) {
      if (e.name !== 'AbortError') reportError(e);
      return;
    }
    const preparing = items.some((a) => a.status === 'preparing');
    ask.disabled = preparing;
    clear(panel,
      h('header', null, h('h2', { text: 'Export everything' }),
        h('p', { text: 'One ZIP file with every contact, company, deal, note, task and activity, their history, custom fields, pipelines and files — in open formats (JSON lines and the files as uploaded). Another Harmonia loads it with “harmonia import-org”. Each export is kept for 7 days.' })),
      items.length > 0 && h('ul', { class: 'session-list archive-list' }, items.slice(0, 5).map(row)),
      h('div', null, ask));
    if (preparing && !signal?.aborted) timer = setTimeout(load, 1500);
  }
  load();
  return panel;
}
