// Settings → Privacy (admins): answer "what do you hold about me?", "delete me" and "stop
// using my data". Find a person by email or phone, see everything linked to them, download
// it as JSON, erase it, or restrict it (read-only, out of exports and webhooks, until
// lifted); every request is listed below with who handled it (the log keeps no personal data).
import { h, clear, timeEl, plural } from '../util.js';
import { get, post, orgPath, API_BASE } from '../api.js';
import { getMembers, memberName } from '../session.js';
import { toast, reportError } from '../components/toast.js';
import { emptyState } from '../components/table.js';
import { field, setBusy, showErrors, clearErrors } from '../components/field.js';
import { confirmDialog } from '../components/dialog.js';
import { settingsFrame } from './settings.js';

const ACTION = { find: 'Looked up', export: 'Exported', erase: 'Erased', restrict: 'Restricted', lift: 'Lifted restriction' };

export async function renderPrivacy(ctx) {
  const { slug, signal } = ctx;
  const page = settingsFrame(ctx, 'privacy', { title: 'Privacy' });
  const members = await getMembers(slug).catch(() => []);
  const email = field({ label: 'Email', name: 'email', type: 'email', placeholder: 'person@example.com' });
  const phone = field({ label: 'Phone', name: 'phone', type: 'tel', placeholder: '+44 20 7946 0000' });
  const findBtn = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Find' });
  const form = h('form', { class: 'form privacy-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); find(); } },
    h('div', { class: 'row privacy-fields' }, email, phone), h('div', { class: 'row' }, findBtn));
  const result = h('div', { class: 'privacy-result' });
  const log = h('div', { class: 'privacy-log' });
  clear(page,
    h('div', { class: 'settings-intro' }, h('p', { text: 'When someone asks what you hold about them, or to be deleted: find them by email or phone, download everything as a file for them, erase it, or restrict it. Erasing deletes their contacts for good with the notes, tasks, activities and files about them alone. Restricting keeps their contacts but makes them read-only and leaves them out of exports and webhooks until you lift it. Every request is logged.' })),
    form, result, h('h2', { class: 'privacy-title', text: 'Requests' }), log);

  const query = () => {
    const q = new URLSearchParams();
    if (email._input.value.trim()) q.set('email', email._input.value.trim());
    if (phone._input.value.trim()) q.set('phone', phone._input.value.trim());
    return q;
  };

  async function find() {
    clearErrors(form);
    setBusy(findBtn, true);
    const q = query();
    try {
      const s = await get(`${orgPath(slug, 'privacy', 'subject')}?${q}`);
      draw(s, q);
      loadLog();
    } catch (e) {
      showErrors(form, e);
    } finally {
      setBusy(findBtn, false);
    }
  }

  function draw(s, q) {
    const n = s.contacts.length + s.contacts_in_trash.length;
    if (!n) {
      clear(result, emptyState({ iconName: 'search', title: 'Nothing found', text: 'No contact has this email or phone number.', compact: true }));
      return;
    }
    const name = (c) => ([c.first_name, c.last_name].filter(Boolean).join(' ') || 'Unnamed') + (c.restricted ? ' (restricted)' : '');
    const line = (label, items, text, href) => h('div', { class: 'privacy-line' },
      h('span', { class: 'secondary', text: label }),
      items.length ? h('span', {}, items.map((x, i) => [i ? ', ' : '', href ? h('a', { href: href(x), text: text(x) }) : text(x)])) : h('span', { class: 'tertiary', text: '—' }));
    const exportA = h('a', { class: 'btn', href: `${API_BASE}${orgPath(slug, 'privacy', 'export')}?${q}`, download: '', dataset: { native: '' }, onclick: () => setTimeout(loadLog, 800), text: 'Download as JSON' });
    const eraseBtn = h('button', { class: 'btn btn-danger', type: 'button', text: 'Erase…', onclick: () => erase(q, n) });
    // Restrict while any of their contacts is not (those in the trash count), lift while any is.
    const restricted = s.contacts.filter((c) => c.restricted).length;
    const restrictBtn = restricted < s.contacts.length || s.contacts_in_trash.length
      ? h('button', { class: 'btn', type: 'button', text: 'Restrict…', onclick: () => restriction(s, q, n, true) }) : null;
    const liftBtn = restricted
      ? h('button', { class: 'btn', type: 'button', text: 'Lift restriction…', onclick: () => restriction(s, q, n, false) }) : null;
    clear(result, h('section', { class: 'privacy-card' },
      line('Contacts', s.contacts, name, (c) => `/o/${slug}/contacts/${c.id}`),
      s.contacts_in_trash.length ? line('In the trash', s.contacts_in_trash, () => 'a deleted contact') : null,
      line('Companies', s.companies, (c) => c.name, (c) => `/o/${slug}/companies/${c.id}`),
      line('Deals', s.deals, (d) => d.title, (d) => `/o/${slug}/deals/${d.id}`),
      line('Notes', s.notes, (x) => (x.text || '').slice(0, 40) || 'Note', (x) => `/o/${slug}/notes/${x.id}`),
      line('Tasks', s.tasks, (x) => x.title, (x) => `/o/${slug}/tasks/${x.id}`),
      line('Activities', s.activities, (x) => x.subject || x.type, (x) => `/o/${slug}/activities/${x.id}`),
      line('Files', s.files, (f) => f.name),
      h('div', { class: 'row privacy-actions' }, exportA, restrictBtn, liftBtn, eraseBtn)));
  }

  async function restriction(s, q, n, on) {
    const ok = await confirmDialog(on
      ? { title: `Restrict ${plural(n, 'contact')}?`, message: 'Their contacts stay, but nobody can change or delete them, and they are left out of exports and webhooks, until an admin lifts the restriction here.', confirmLabel: 'Restrict' }
      : { title: `Lift the restriction of ${plural(n, 'contact')}?`, message: 'Their contacts can be changed again, and are exported and sent to webhooks like any other.', confirmLabel: 'Lift restriction' });
    if (!ok) return;
    try {
      const body = {};
      for (const [k, v] of q) body[k] = v;
      const r = await post(orgPath(slug, 'privacy', on ? 'restrict' : 'lift'), body);
      toast(on ? `Restricted ${plural(r.contacts, 'contact')}.` : `Lifted the restriction of ${plural(r.contacts, 'contact')}.`, { kind: 'success' });
      // Drawn again from what is known (another lookup would be logged as one).
      for (const c of s.contacts) if (r.ids.includes(c.id)) c.restricted = on;
      draw(s, q);
      loadLog();
    } catch (err) { reportError(err, on ? 'Could not restrict.' : 'Could not lift the restriction.'); }
  }

  async function erase(q, n) {
    const ok = await confirmDialog({ title: `Erase ${plural(n, 'contact')} for good?`, message: 'Their contacts, history and tags, and the notes, tasks, activities and files about them alone are deleted now. This can’t be undone.', confirmLabel: 'Erase', danger: true });
    if (!ok) return;
    try {
      const body = {};
      for (const [k, v] of q) body[k] = v;
      const e = await post(orgPath(slug, 'privacy', 'erase'), body);
      toast(`Erased ${plural(e.contacts, 'contact')}, ${plural(e.notes, 'note')}, ${plural(e.tasks, 'task')}, ${plural(e.activities, 'activity', 'activities')} and ${plural(e.files, 'file')}.`, { kind: 'success' });
      clear(result, emptyState({ iconName: 'check', title: 'Erased', text: 'Nothing about this person is left.', compact: true }));
      loadLog();
    } catch (err) { reportError(err, 'Could not erase.'); }
  }

  async function loadLog() {
    try {
      const r = await get(orgPath(slug, 'privacy', 'requests'), { signal });
      const one = { contacts: 'contact', companies: 'company', deals: 'deal', notes: 'note', tasks: 'task', activities: 'activity', files: 'file' };
      const summary = (s) => Object.entries(s || {}).filter(([, v]) => v).map(([k, v]) => plural(v, one[k] || k, k)).join(', ') || 'nothing';
      clear(log, r.items.length
        ? h('div', { class: 'table-card' }, h('table', { class: 'table privacy-requests' },
          h('thead', {}, h('tr', {}, ['What', 'When', 'By', 'Records'].map((t) => h('th', { scope: 'col', text: t })))),
          h('tbody', {}, r.items.map((x) => h('tr', {},
            h('td', { text: ACTION[x.action] || x.action }), h('td', {}, timeEl(x.handled_at)),
            h('td', { text: memberName(members, x.handled_by) || 'an API key or former member' }),
            h('td', { class: 'secondary', text: summary(x.summary) }))))))
        : emptyState({ iconName: 'shield', title: 'No requests yet', text: 'Lookups, exports, erasures and restrictions show up here.', compact: true }));
    } catch (e) {
      if (e.name !== 'AbortError') reportError(e);
    }
  }

  await loadLog();
  return {};
}
