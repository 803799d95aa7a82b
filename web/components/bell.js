// The notifications bell in the top bar: the unread count (every organization), a panel of the
// latest with "Mark all read", and the person's time zone and which events notify them.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, post, request } from '../api.js';
import { navigate } from '../router.js';
import { openPopover } from './menu.js';
import { openDialog } from './dialog.js';
import { reportError, toast } from './toast.js';
import { setAccountZone } from '../session.js';
import { browserZone as zoneOfBrowser, timeZones } from '../locale.js';

const EVENT_LABEL = { task_assigned: 'Task assigned to you', task_due: 'Task due', mentioned: 'Mentioned you', deal_assigned: 'Deal assigned to you' };
const PATHS = { contact: 'contacts', company: 'companies', deal: 'deals', task: 'tasks', note: 'notes', activity: 'activities' };

// Notices about the organization itself open the settings they concern.
const EVENT_PATHS = { webhook_disabled: 'settings/webhooks', org_export_ready: 'settings/organization' };

function hrefOf(n) {
  if (EVENT_PATHS[n.event]) return `/o/${n.org.slug}/${EVENT_PATHS[n.event]}`;
  if (!n.record_kind || !PATHS[n.record_kind]) return `/o/${n.org.slug}/tasks`;
  return `/o/${n.org.slug}/${PATHS[n.record_kind]}/${n.record_id}`;
}

export function notificationBell() {
  const count = h('span', { class: 'bell-count', hidden: true });
  const btn = h('button', { class: 'btn btn-ghost btn-icon bell', type: 'button', 'aria-label': 'Notifications', 'aria-haspopup': 'dialog', 'aria-expanded': 'false' }, icon('bell', 17), count);

  // Only the latest answer counts: an older refresh finishing late must not bring back a
  // count that a read has since cleared.
  let asked = 0;
  async function refresh() {
    const mine = ++asked;
    try {
      const r = await get('/notifications/unread-count');
      if (mine !== asked) return;
      count.textContent = r.count > 99 ? '99+' : String(r.count);
      count.hidden = !r.count;
      btn.setAttribute('aria-label', r.count ? `Notifications, ${r.count} unread` : 'Notifications');
    } catch { /* the next tick tries again */ }
  }

  async function open() {
    const list = h('ul', { class: 'bell-list' }, h('li', { class: 'meta', text: 'Loading…' }));
    const markAll = h('button', { class: 'link-btn', type: 'button', text: 'Mark all read', onclick: async () => { try { await post('/notifications/read-all'); await fill(); refresh(); } catch (e) { reportError(e); } } });
    const settingsBtn = h('button', { class: 'link-btn', type: 'button', text: 'Settings', onclick: () => { pop.close(); openSettings(); } });
    const panel = h('div', { class: 'bell-panel' }, h('div', { class: 'bell-head' }, h('h2', { text: 'Notifications' }), markAll, settingsBtn), list);
    const pop = openPopover(btn, panel, { align: 'end', className: 'bell-pop', label: 'Notifications' });
    async function fill() {
      try {
        const page = await get('/notifications?limit=30');
        clear(list, page.items.length ? page.items.map((n) => h('li', { class: n.read_at ? 'read' : 'unread' },
          h('a', { href: hrefOf(n), onclick: async (e) => {
            e.preventDefault();
            pop.close();
            if (!n.read_at) { try { await post(`/notifications/${encodeURIComponent(n.id)}/read`); } catch { /* shown as unread until the next refresh */ } refresh(); }
            navigate(hrefOf(n));
          } },
          h('span', { class: 'bell-event', text: EVENT_LABEL[n.event] || n.event }),
          h('span', { class: 'bell-title', text: n.title }),
          h('span', { class: 'meta' }, n.org.name, ' · ', timeEl(n.created_at))))) : h('li', { class: 'meta bell-empty', text: 'You’re all caught up.' }));
      } catch (e) { reportError(e); }
    }
    fill();
  }

  async function openSettings() {
    let s;
    try { s = await get('/account/notifications'); } catch (e) { reportError(e); return; }
    const browserZone = zoneOfBrowser();
    const zones = timeZones();
    const zone = h('select', { class: 'select', name: 'time_zone', 'aria-label': 'Time zone' },
      h('option', { value: '', text: `This browser’s (${browserZone})` }), zones.map((z) => h('option', { value: z, text: z, selected: z === s.time_zone })));
    const boxes = Object.keys(EVENT_LABEL).map((k) => {
      const cb = h('input', { type: 'checkbox', name: k, checked: s.events[k] !== false });
      return { k, cb, el: h('label', { class: 'check-row' }, cb, h('span', { text: EVENT_LABEL[k] })) };
    });
    const save = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Save' });
    const d = openDialog({
      title: 'Notifications', form: true, size: 'narrow',
      description: 'Your time zone sets where your days begin in task lists. Dated tasks remind at 09:00 and repeating tasks keep their time of day in it.',
      body: [h('div', { class: 'field' }, h('label', { text: 'Time zone' }), zone), h('fieldset', { class: 'check-list' }, h('legend', { text: 'Notify me when' }), boxes.map((b) => b.el))],
      foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), save],
    });
    d.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const events = Object.fromEntries(boxes.map((b) => [b.k, b.cb.checked]));
      try {
        const saved = await request('PUT', '/account/notifications', { time_zone: zone.value || browserZone, events });
        setAccountZone(saved && saved.time_zone);
        d.close();
        toast('Notification settings saved.', { kind: 'success' });
      } catch (err) { reportError(err); }
    });
  }

  btn.addEventListener('click', open);
  refresh();
  const timer = setInterval(refresh, 60000);
  const onFocus = () => refresh();
  window.addEventListener('focus', onFocus);
  return { el: btn, refresh, destroy: () => { clearInterval(timer); window.removeEventListener('focus', onFocus); } };
}
