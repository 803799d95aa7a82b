// Settings frame: tabs for Organization, Members, Fields, Tags, Pipelines, Trash, API keys, Webhooks, Org security and Audit log
// (admins), My account and Security.
import { h, clear } from '../util.js';
import { icon } from '../icons.js';
import { canAdmin } from '../session.js';
import { failingJobsNotice } from '../components/jobs-notice.js';

export function settingsFrame(ctx, current, { title, actions = [] }) {
  const { shell, slug } = ctx;
  shell.setActive('settings');
  shell.setTop({ title, crumbs: [{ label: 'Settings', href: `/o/${slug}/settings/members` }], actions });
  const tabs = [
    ['organization', 'Organization', 'briefcase'],
    ['members', 'Members', 'users'],
    ['fields', 'Fields', 'list'],
    ['tags', 'Tags', 'tag'],
    ['pipelines', 'Pipelines', 'deals'],
    ['trash', 'Trash', 'trash'],
    canAdmin(slug) && ['api-keys', 'API keys', 'key'],
    canAdmin(slug) && ['webhooks', 'Webhooks', 'link'],
    canAdmin(slug) && ['org-security', 'Org security', 'lock'],
    canAdmin(slug) && ['audit', 'Audit log', 'clock'],
    canAdmin(slug) && ['privacy', 'Privacy', 'shield'],
    ['account', 'My account', 'user'],
    ['security', 'Security', 'shield'],
  ].filter(Boolean);
  const nav = h('nav', { class: 'tabs', 'aria-label': 'Settings' }, tabs.map(([key, label, ic]) =>
    h('a', { href: `/o/${slug}/settings/${key}`, 'aria-current': key === current ? 'page' : null }, icon(ic, 15), label)));
  const page = h('div', { class: 'page' });
  clear(shell.content, nav, page);
  if (canAdmin(slug)) failingJobsNotice(slug, page);
  return page;
}
