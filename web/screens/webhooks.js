// Settings → Webhooks (admins): outbound hooks (create with the signing secret shown once,
// events, enable/disable, delivery log, test event) and inbound endpoints.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, del, orgPath } from '../api.js';
import { canAdmin } from '../session.js';
import { badge } from '../components/badge.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { toast, reportError } from '../components/toast.js';
import { createTable, emptyState } from '../components/table.js';
import { settingsFrame } from './settings.js';
import { copyBox } from './apikeys.js';
import { inboundSection } from './inbound-hooks.js';

function statusBadge(hook) {
  if (!hook.enabled) return badge(hook.disabled_reason ? 'Disabled after failures' : 'Disabled', hook.disabled_reason ? 'red' : 'gray', { dot: true });
  if (hook.failing_since) return badge('Failing', 'amber', { dot: true });
  return badge('Active', 'green', { dot: true });
}

const eventsText = (events) => (events.includes('*') ? 'All events' : events.length <= 2 ? events.join(', ') : `${events.slice(0, 2).join(', ')} +${events.length - 2}`);

/** Checkboxes for every event type, with "All events" first. */
function eventPicker(types, chosen = []) {
  const all = h('input', { type: 'checkbox', class: 'checkbox', checked: chosen.includes('*') });
  const boxes = types.map((t) => [t, h('input', { type: 'checkbox', class: 'checkbox', value: t, checked: chosen.includes(t) })]);
  const grid = h('div', { class: 'event-grid' }, boxes.map(([t, box]) => h('label', { class: 'check-edit' }, box, h('code', { class: 'mono', text: t }))));
  const sync = () => { for (const [, b] of boxes) b.disabled = all.checked; };
  all.addEventListener('change', sync);
  sync();
  const el = h('fieldset', { class: 'field span-2', dataset: { field: 'events' } },
    h('legend', { text: 'Events' }),
    h('label', { class: 'check-edit' }, all, h('span', null, 'All events', h('span', { class: 'meta', text: ' — including kinds added later' }))),
    grid);
  return { el, value: () => (all.checked ? ['*'] : boxes.filter(([, b]) => b.checked).map(([t]) => t)) };
}

function hookDialog(slug, types, hook, onSaved) {
  const url = field({ label: 'Endpoint URL', name: 'url', type: 'url', required: true, value: hook?.url || '', placeholder: 'https://example.com/harmonia-events', hint: 'Events are POSTed here as JSON, signed with the Harmonia-Signature header.', autocomplete: 'off' });
  const description = field({ label: 'Description', name: 'description', value: hook?.description || '', placeholder: 'Sync to the data warehouse', autocomplete: 'off' });
  const events = eventPicker(types, hook?.events || []);
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: hook ? 'Save' : 'Create webhook' });
  const d = openDialog({
    title: hook ? 'Edit webhook' : 'New webhook',
    form: true,
    body: [url, description, events.el],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    const body = { url: url._input.value.trim(), description: description._input.value.trim(), events: events.value() };
    if (!body.events.length) { showErrors(d.form, { fields: { events: 'Choose at least one event, or All events.' } }, d.body); return; }
    setBusy(submit, true);
    try {
      if (hook) {
        onSaved(await patch(orgPath(slug, 'webhooks', hook.id), body));
        d.close();
        return;
      }
      const created = await post(orgPath(slug, 'webhooks'), body);
      const { secret, ...rest } = created;
      onSaved(rest);
      clear(d.body,
        h('div', { class: 'callout' }, icon('alert', 16), h('span', { text: 'Copy this signing secret now. It is shown only once; Harmonia keeps it encrypted.' })),
        copyBox(secret, 'Signing secret'),
        h('p', { class: 'meta', text: 'Check each delivery: HMAC-SHA256 of “<t>.<body>” with this secret must equal v1 in the Harmonia-Signature header.' }));
      clear(d.foot, h('button', { class: 'btn btn-primary', type: 'button', text: 'Done', onclick: () => d.close() }));
      d.body.querySelector('.copybox .btn').focus();
    } catch (err) {
      showErrors(d.form, err, d.body);
    } finally {
      setBusy(submit, false);
    }
  });
}

async function logDialog(slug, hook) {
  const table = createTable({
    caption: 'Delivery log',
    className: 'table-static',
    columns: [
      { key: 'at', label: 'Time', render: (a) => h('span', { class: 'tertiary' }, timeEl(a.at)) },
      { key: 'event_type', label: 'Event', render: (a) => h('code', { class: 'mono', text: a.event_type }) },
      { key: 'attempt', label: 'Try', render: (a) => h('span', { text: String(a.attempt) }) },
      { key: 'status', label: 'Result', render: (a) => (a.status_code && a.status_code < 300 ? badge(String(a.status_code), 'green') : badge(a.status_code ? String(a.status_code) : 'No answer', 'red')) },
      { key: 'latency', label: 'Time taken', className: 'hide-sm', render: (a) => h('span', { class: 'tertiary', text: `${a.latency_ms} ms` }) },
      { key: 'detail', label: 'Answer', className: 'hide-sm', render: (a) => h('span', { class: 'secondary log-excerpt', title: a.response || a.error || '', text: a.error || a.response || '' }) },
    ],
  });
  const host = h('div', { class: 'table-card' }, table.el);
  const d = openDialog({ title: `Deliveries to ${hook.url}`, size: 'wide', body: [host], foot: [h('button', { class: 'btn', type: 'button', text: 'Close', onclick: () => d.close() })] });
  table.skeleton(3);
  try {
    const r = await get(orgPath(slug, 'webhooks', hook.id, 'deliveries'));
    table.setItems(r.items || []);
    if (!r.items?.length) clear(host, emptyState({ compact: true, iconName: 'info', title: 'No deliveries yet', text: 'Send a test event, or change a record this webhook listens to.' }));
  } catch (e) {
    reportError(e);
  }
}

export async function renderWebhooks(ctx) {
  const { slug, signal } = ctx;
  if (!canAdmin(slug)) {
    const page = settingsFrame(ctx, 'webhooks', { title: 'Webhooks' });
    clear(page, emptyState({ iconName: 'lock', title: 'Only admins manage webhooks', text: 'Ask an owner or admin of this organization.' }));
    return {};
  }
  let types = [];
  const newBtn = h('button', { class: 'btn btn-primary', type: 'button', 'aria-label': 'New webhook', onclick: () => hookDialog(slug, types, null, added) }, icon('plus', 15), h('span', { class: 'hide-sm', text: 'New webhook' }));
  const page = settingsFrame(ctx, 'webhooks', { title: 'Webhooks', actions: [newBtn] });
  const table = createTable({
    caption: 'Outbound webhooks',
    className: 'table-static',
    columns: [
      { key: 'url', label: 'Endpoint', className: 'name-cell', render: (w) => h('span', { class: 'cell-inner' }, icon('link', 15), h('span', null, h('span', { class: 'mono', text: w.url }), w.description && h('span', { class: 'meta', text: ` — ${w.description}` }))) },
      { key: 'events', label: 'Events', className: 'hide-sm', render: (w) => h('span', { class: 'secondary', text: eventsText(w.events) }) },
      { key: 'status', label: 'Status', render: (w) => statusBadge(w) },
      { key: 'secret', label: 'Secret', className: 'hide-sm', render: (w) => h('code', { class: 'mono tertiary', text: `…${w.secret_last4}` }) },
      { key: 'actions', label: '', right: true, render: (w) => h('span', { class: 'row-actions' },
        h('button', { class: 'btn btn-sm', type: 'button', text: 'Send test', 'aria-label': `Send a test event to ${w.url}`, onclick: () => sendTest(w) }),
        h('button', { class: 'btn btn-sm', type: 'button', text: 'Log', 'aria-label': `Delivery log of ${w.url}`, onclick: () => logDialog(slug, w) }),
        h('button', { class: 'btn btn-sm', type: 'button', text: w.enabled ? 'Disable' : 'Enable', 'aria-label': `${w.enabled ? 'Disable' : 'Enable'} ${w.url}`, onclick: () => toggle(w) }),
        h('button', { class: 'btn btn-sm', type: 'button', text: 'Edit', 'aria-label': `Edit ${w.url}`, onclick: () => hookDialog(slug, types, w, replaced) }),
        h('button', { class: 'btn btn-sm', type: 'button', 'aria-label': `Delete ${w.url}`, onclick: () => remove(w) }, icon('trash', 14))) },
    ],
  });
  const card = h('div', { class: 'table-card' }, table.el);
  const emptyHost = h('div');
  const inboundHost = h('section', { class: 'settings-section' });
  clear(page,
    h('div', { class: 'settings-intro' }, h('p', { text: 'Webhooks tell other systems about changes here as they happen: each event is POSTed as signed JSON and retried for up to three days.' })),
    card, emptyHost, inboundHost);

  function sync() {
    const empty = !table.items().length;
    card.hidden = empty;
    clear(emptyHost, empty ? emptyState({ iconName: 'link', title: 'No webhooks yet', text: 'Add one to send contact, company and deal changes to another system.', actions: [h('button', { class: 'btn btn-primary', type: 'button', onclick: () => hookDialog(slug, types, null, added) }, icon('plus', 15), 'New webhook')] }) : null);
  }
  function added(w) { table.prepend(w); sync(); }
  function replaced(w) { table.setItems(table.items().map((x) => (x.id === w.id ? w : x))); }
  async function toggle(w) {
    try {
      replaced(await patch(orgPath(slug, 'webhooks', w.id), { enabled: !w.enabled }));
      toast(w.enabled ? 'Webhook disabled.' : 'Webhook enabled.', { kind: 'success' });
    } catch (e) { reportError(e, 'Could not change the webhook.'); }
  }
  async function sendTest(w) {
    try {
      await post(orgPath(slug, 'webhooks', w.id, 'test'), {});
      toast('Test event sent — see the log for the answer.', { kind: 'success' });
    } catch (e) { reportError(e, 'Could not send the test event.'); }
  }
  async function remove(w) {
    const ok = await confirmDialog({ title: 'Delete this webhook?', message: `${w.url} stops receiving events, and its delivery log is deleted.`, confirmLabel: 'Delete webhook', danger: true });
    if (!ok) return;
    try {
      await del(orgPath(slug, 'webhooks', w.id));
      table.remove([w.id]);
      sync();
      toast('Webhook deleted.', { kind: 'success' });
    } catch (e) { reportError(e, 'Could not delete the webhook.'); }
  }

  table.skeleton(2);
  try {
    const r = await get(orgPath(slug, 'webhooks'), { signal });
    types = r.event_types || [];
    table.setItems(r.items || []);
  } catch (e) {
    reportError(e);
    table.setItems([]);
  }
  sync();
  inboundSection(slug, inboundHost, signal);
  return {};
}
