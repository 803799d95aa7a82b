// Settings → Webhooks, lower part: inbound endpoints other systems push signed records to.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, del, orgPath, API_BASE } from '../api.js';
import { badge } from '../components/badge.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { toast, reportError } from '../components/toast.js';
import { createTable, emptyState } from '../components/table.js';
import { copyBox } from './apikeys.js';

const endpointUrl = (id) => new URL(`${API_BASE}/hooks/${encodeURIComponent(id)}`, window.location.origin).href;

function createDialog(slug, onCreated) {
  const name = field({ label: 'Name', name: 'name', required: true, placeholder: 'Website contact form', hint: 'What sends to it.', autocomplete: 'off' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Create endpoint' });
  const d = openDialog({
    title: 'New inbound endpoint',
    form: true,
    size: 'narrow',
    body: [name],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    setBusy(submit, true);
    try {
      const created = await post(orgPath(slug, 'inbound-hooks'), { name: name._input.value.trim() });
      const { secret, url, ...rest } = created;
      onCreated(rest);
      clear(d.body,
        h('div', { class: 'callout' }, icon('alert', 16), h('span', { text: 'Copy the secret now. It is shown only once.' })),
        copyBox(endpointUrl(rest.id), 'POST signed events to'),
        copyBox(secret, 'Signing secret'),
        h('p', { class: 'meta', text: 'Sign each body like outbound webhooks: Harmonia-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, “<t>.<body>”)>. Body: {"id": "<unique event id>", "records": [{"kind": "contact", "external_id": "…", "fields": {…}}]}.' }));
      clear(d.foot, h('button', { class: 'btn btn-primary', type: 'button', text: 'Done', onclick: () => d.close() }));
    } catch (err) {
      showErrors(d.form, err, d.body);
    } finally {
      setBusy(submit, false);
    }
  });
}

export async function inboundSection(slug, host, signal) {
  const newBtn = h('button', { class: 'btn', type: 'button', onclick: () => createDialog(slug, added) }, icon('plus', 15), 'New inbound endpoint');
  const table = createTable({
    caption: 'Inbound endpoints',
    className: 'table-static',
    columns: [
      { key: 'name', label: 'Name', className: 'name-cell', render: (x) => h('span', { class: 'cell-inner' }, icon('download', 15), h('span', { text: x.name })) },
      { key: 'url', label: 'URL', className: 'hide-sm', render: (x) => h('code', { class: 'mono secondary', text: endpointUrl(x.id) }) },
      { key: 'status', label: 'Status', render: (x) => (x.enabled ? badge('Active', 'green', { dot: true }) : badge('Disabled', 'gray', { dot: true })) },
      { key: 'last', label: 'Last event', className: 'hide-sm', render: (x) => (x.last_received_at ? h('span', { class: 'tertiary' }, timeEl(x.last_received_at)) : h('span', { class: 'tertiary', text: 'Never' })) },
      { key: 'actions', label: '', right: true, render: (x) => h('span', { class: 'row-actions' },
        h('button', { class: 'btn btn-sm', type: 'button', text: x.enabled ? 'Disable' : 'Enable', 'aria-label': `${x.enabled ? 'Disable' : 'Enable'} ${x.name}`, onclick: () => toggle(x) }),
        h('button', { class: 'btn btn-sm', type: 'button', 'aria-label': `Delete ${x.name}`, onclick: () => remove(x) }, icon('trash', 14))) },
    ],
  });
  const card = h('div', { class: 'table-card' }, table.el);
  const emptyHost = h('div');
  clear(host,
    h('div', { class: 'section-head' }, h('h2', { text: 'Inbound endpoints' }), newBtn),
    h('p', { class: 'meta', text: 'Let a website or another system push contacts, companies, deals and activities in, matched by their own ids.' }),
    card, emptyHost);

  function sync() {
    const empty = !table.items().length;
    card.hidden = empty;
    clear(emptyHost, empty ? emptyState({ compact: true, iconName: 'download', title: 'No inbound endpoints', text: 'Create one to receive leads from a form or an integration.' }) : null);
  }
  function added(x) { table.prepend(x); sync(); }
  async function toggle(x) {
    try {
      const y = await patch(orgPath(slug, 'inbound-hooks', x.id), { enabled: !x.enabled });
      table.setItems(table.items().map((z) => (z.id === y.id ? y : z)));
    } catch (e) { reportError(e, 'Could not change the endpoint.'); }
  }
  async function remove(x) {
    const ok = await confirmDialog({ title: `Delete “${x.name}”?`, message: 'Anything sending to it is refused from now on.', confirmLabel: 'Delete endpoint', danger: true });
    if (!ok) return;
    try {
      await del(orgPath(slug, 'inbound-hooks', x.id));
      table.remove([x.id]);
      sync();
      toast('Endpoint deleted.', { kind: 'success' });
    } catch (e) { reportError(e, 'Could not delete the endpoint.'); }
  }
  table.skeleton(1);
  try {
    const r = await get(orgPath(slug, 'inbound-hooks'), { signal });
    table.setItems(r.items || []);
  } catch (e) {
    reportError(e);
    table.setItems([]);
  }
  sync();
}
