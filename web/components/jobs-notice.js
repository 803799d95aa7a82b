// Above the settings pages, for admins: the organization's background jobs
// that failed their last run, so a stopped job is seen, not discovered weeks later.
import { h } from '../util.js';
import { icon } from '../icons.js';
import { get, orgPath } from '../api.js';

export async function failingJobsNotice(slug, page) {
  let items;
  try {
    ({ items } = await get(orgPath(slug, 'jobs')));
  } catch {
    return; // the notice is a hint; the page works without it
  }
  const failing = items.filter((j) => j.last_outcome === 'failed');
  if (!failing.length || !page.isConnected) return;
  const what = failing.length === 1 ? 'A background job failed' : `${failing.length} background jobs failed`;
  page.before(h('div', { class: 'callout jobs-notice', role: 'status' }, icon('alert', 16),
    h('span', null, h('b', { text: `${what}: ` }),
      failing.map((j) => `${j.name} — ${j.last_error || 'no detail'}`).join('; '),
      '. Harmonia tries again by itself; if it keeps failing, tell whoever runs this server.')));
}
