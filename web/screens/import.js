// Import a CSV into contacts, companies or deals (admins): upload → mapping (suggested per
// column, with the dedupe rule) → preview of the first rows as they would be written →
// progress (leave and come back: the import has its own address) → report with the failed
// rows as a CSV, and undo within 30 days.
import { h, clear, plural, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, orgPath, API_BASE, currentCsrf } from '../api.js';
import { canAdmin, announceChange } from '../session.js';
import { toast, reportError } from '../components/toast.js';
import { emptyState } from '../components/table.js';
import { setBusy } from '../components/field.js';
import { confirmDialog } from '../components/dialog.js';
import { navigate } from '../router.js';

const KINDS = {
  contacts: { kind: 'contact', label: 'Contacts', one: 'contact' },
  companies: { kind: 'company', label: 'Companies', one: 'company' },
  deals: { kind: 'deal', label: 'Deals', one: 'deal' },
};
const PATH_OF = { contact: 'contacts', company: 'companies', deal: 'deals' };
const MATCHES = {
  contact: [['email', 'Email'], ['phone', 'Phone']],
  company: [['domain', 'Domain'], ['name', 'Name'], ['phone', 'Phone']],
  deal: [],
};
const ACTIONS = [['skip', 'Skip the row'], ['update_empty', 'Fill in empty fields'], ['overwrite', 'Overwrite fields']];
const ROW_ACTION = { create: 'New', created: 'New', update: 'Update', updated: 'Update', skip: 'Skip', skipped: 'Skip', fail: 'Error', failed: 'Error' };
const MAX = 100 * 1024 * 1024;

const card = (title, ...kids) => h('section', { class: 'import-step' }, h('h2', { text: title }), ...kids);
const seconds = (s) => (s == null ? '—' : s < 90 ? `${s} s` : `${Math.ceil(s / 60)} min`);

/** The upload step: /o/:org/:kind/import. */
export async function renderImportNew(ctx, path) {
  const { shell, slug } = ctx;
  const k = KINDS[path];
  shell.setActive(path);
  shell.setTop({ title: `Import ${k.label.toLowerCase()}`, crumbs: [{ label: k.label, href: `/o/${slug}/${path}` }] });
  if (!canAdmin(slug)) {
    clear(shell.content, h('div', { class: 'page' }, emptyState({ iconName: 'lock', title: 'Imports are for admins', text: 'Ask an admin of this organization to import the file.' })));
    return {};
  }
  const vcf = k.kind === 'contact';
  const input = h('input', { type: 'file', accept: vcf ? '.csv,.tsv,.txt,text/csv,.vcf,text/vcard' : '.csv,.tsv,.txt,text/csv', class: 'import-file', 'aria-label': 'CSV file', onchange: () => { if (input.files[0]) send(input.files[0]); } });
  const status = h('p', { class: 'secondary', 'aria-live': 'polite' });
  const bar = h('progress', { max: 100, value: 0, hidden: true, class: 'import-bar' });
  const drop = h('label', { class: 'import-drop' }, icon('download', 20),
    h('strong', { text: vcf ? 'Choose a CSV or vCard file, or drop it here' : 'Choose a CSV file or drop it here' }),
    h('span', { class: 'secondary', text: `Up to 100 MB. UTF-8, UTF-16 or Windows-1252; commas, semicolons or tabs — Harmonia works it out.${vcf ? ' vCards (.vcf) as Google, Apple or Outlook export them.' : ''}` }),
    input);
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); });
  clear(shell.content, h('div', { class: 'page import-page' },
    card(`1. Upload the file of ${k.label.toLowerCase()}`, drop, bar, status)));

  function send(file) {
    if (file.size > MAX) { status.textContent = 'The file is larger than 100 MB.'; return; }
    const form = new FormData();
    form.append('kind', k.kind);
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', API_BASE + orgPath(slug, 'imports'));
    xhr.setRequestHeader('Accept', 'application/json');
    const csrf = currentCsrf();
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    bar.hidden = false;
    status.textContent = `Uploading ${file.name}…`;
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100); });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      bar.hidden = true;
      if (xhr.status === 201 && body) navigate(`/o/${slug}/imports/${body.id}`, { replace: true });
      else status.textContent = (body && body.error && body.error.message) || `Upload failed (${xhr.status}).`;
    });
    xhr.addEventListener('error', () => { bar.hidden = true; status.textContent = 'Cannot reach the server.'; });
    xhr.send(form);
  }
  return {};
}

/** One import at any step: /o/:org/imports/:id. */
export async function renderImport(ctx) {
  const { shell, slug, signal } = ctx;
  const id = ctx.params.id;
  const page = h('div', { class: 'page import-page' });
  clear(shell.content, page);
  let imp;
  try {
    imp = await get(orgPath(slug, 'imports', id), { signal });
  } catch (e) {
    if (e.name === 'AbortError') return {};
    shell.setTop({ title: 'Import' });
    clear(page, emptyState({ iconName: 'alert', title: e.status === 404 ? 'Import not found' : 'Couldn’t load the import', text: e.message }));
    return {};
  }
  const path = PATH_OF[imp.kind];
  const k = KINDS[path];
  shell.setActive(path);
  shell.setTop({ title: imp.file_name, crumbs: [{ label: k.label, href: `/o/${slug}/${path}` }, { label: 'Import' }] });
  let timer = null;
  const stop = () => { clearTimeout(timer); timer = null; };

  function draw() {
    stop();
    if (imp.state === 'uploaded') drawMapping();
    else if (imp.state === 'queued' || imp.state === 'running') drawProgress();
    else drawReport();
  }

  function drawMapping() {
    const targets = imp.targets || [];
    const selects = (imp.columns || []).map((c) => {
      const sel = h('select', { class: 'select', 'aria-label': `Field for column ${c.header || c.index + 1}` },
        h('option', { value: '', text: 'Don’t import' }),
        targets.map((t) => h('option', { value: t.key, text: t.label, selected: (imp.mapping[c.index] || null) === t.key })));
      return { c, sel };
    });
    const rows = selects.map(({ c, sel }) => h('tr', {},
      h('th', { scope: 'row', text: c.header || `Column ${c.index + 1}` }),
      h('td', { class: 'secondary import-samples hide-sm', text: c.samples.filter(Boolean).slice(0, 3).join(' · ') || '—' }),
      h('td', {}, sel)));
    const customMatches = targets.filter((t) => t.key.startsWith('custom.')).map((t) => [t.key, `${t.label} (an id from the other system)`]);
    const match = h('select', { class: 'select', 'aria-label': 'Match existing records on' },
      [['none', 'Don’t match — always create'], ...MATCHES[imp.kind], ...customMatches].map(([v, l]) => h('option', { value: v, text: l, selected: imp.dedupe.match === v })));
    const action = h('select', { class: 'select', 'aria-label': 'When a row matches' },
      ACTIONS.map(([v, l]) => h('option', { value: v, text: l, selected: imp.dedupe.action === v })));
    const previewHost = h('div', { class: 'import-preview' });
    const previewBtn = h('button', { class: 'btn', type: 'button', text: 'Preview', onclick: () => save().then((ok) => ok && showPreview()) });
    const runBtn = h('button', { class: 'btn btn-primary', type: 'button', text: `Import ${plural(imp.row_count, k.one)}`, onclick: () => run() });
    const err = h('p', { class: 'error-text', 'aria-live': 'polite' });
    clear(page,
      h('p', { class: 'secondary', text: imp.format === 'vcard' ? `${plural(imp.row_count, 'vCard')} · ${imp.encoding}${imp.mapping_saved ? ' · mapping from your last import' : ''}` : `${plural(imp.row_count, 'row')} · ${imp.encoding} · separated by ${imp.delimiter === '\t' ? 'tabs' : `“${imp.delimiter}”`}${imp.mapping_saved ? ' · mapping from your last import' : ''}` }),
      card('2. Match the columns to fields', h('div', { class: 'table-card' }, h('table', { class: 'table import-map' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Column' }), h('th', { scope: 'col', class: 'hide-sm', text: 'First values' }), h('th', { scope: 'col', text: 'Field' }))),
        h('tbody', {}, rows)))),
      card('3. Records that already exist', h('div', { class: 'row import-dedupe' },
        h('label', { class: 'field' }, h('span', { class: 'label', text: 'Match on' }), match),
        h('label', { class: 'field' }, h('span', { class: 'label', text: 'When a row matches' }), action))),
      card('4. Check and run', previewHost, err, h('div', { class: 'row import-actions' }, previewBtn, runBtn)));

    async function save() {
      err.textContent = '';
      try {
        imp = await patch(orgPath(slug, 'imports', id), {
          mapping: selects.map(({ sel }) => sel.value || null),
          dedupe: { match: match.value, action: action.value },
        });
        return true;
      } catch (e) {
        err.textContent = e.fields ? Object.values(e.fields).join(' ') : e.message;
        return false;
      }
    }
    async function showPreview() {
      setBusy(previewBtn, true);
      try {
        const p = await get(`${orgPath(slug, 'imports', id, 'preview')}?limit=20`);
        const mapped = [...new Set(selects.map(({ sel }) => sel.value).filter(Boolean))];
        const label = (key) => (targets.find((t) => t.key === key) || { label: key }).label;
        clear(previewHost, h('div', { class: 'table-card' }, h('table', { class: 'table import-rows' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Row' }), h('th', { scope: 'col', text: 'Will be' }), mapped.slice(0, 5).map((m) => h('th', { scope: 'col', text: label(m) })), h('th', { scope: 'col', text: 'Problems' }))),
          h('tbody', {}, p.rows.map((r) => h('tr', { class: Object.keys(r.errors).length ? 'import-bad' : '' },
            h('td', { text: String(r.row) }),
            h('td', {}, h('span', { class: 'badge', text: ROW_ACTION[r.action] || r.action })),
            mapped.slice(0, 5).map((m) => h('td', { class: 'truncate', text: cell(r.values, m) })),
            h('td', { class: 'error-text', text: [...Object.entries(r.errors).map(([f, m]) => `${label(f)}: ${m}`), r.warning].filter(Boolean).join('; ') })))))));
      } catch (e) {
        err.textContent = e.message;
      } finally {
        setBusy(previewBtn, false);
      }
    }
    async function run() {
      if (!(await save())) return;
      setBusy(runBtn, true);
      try {
        imp = await post(orgPath(slug, 'imports', id, 'run'));
        draw();
      } catch (e) {
        err.textContent = e.message;
        setBusy(runBtn, false);
      }
    }
  }

  function cell(values, key) {
    const v = key.startsWith('custom.') ? (values.custom || {})[key.slice(7)] : values[key] ?? values[`${key}s`];
    if (v == null) return '';
    if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? x.email || x.phone || '' : x)).join(', ');
    if (typeof v === 'object') return Object.values(v).filter((x) => typeof x !== 'object').join(', ');
    return String(v);
  }

  function drawProgress() {
    const p = imp.progress;
    const pct = p.rows_total ? Math.round((p.rows_done / p.rows_total) * 100) : 0;
    const cancelBtn = h('button', { class: 'btn', type: 'button', text: 'Cancel import', onclick: async () => {
      setBusy(cancelBtn, true);
      try { imp = await post(orgPath(slug, 'imports', id, 'cancel')); draw(); } catch (e) { reportError(e); setBusy(cancelBtn, false); }
    } });
    clear(page, card(imp.state === 'queued' ? 'Waiting to start…' : 'Importing…',
      h('progress', { class: 'import-bar', max: 100, value: pct, 'aria-label': 'Rows imported' }),
      h('p', { class: 'import-progress', text: `${p.rows_done.toLocaleString()} of ${p.rows_total.toLocaleString()} rows · ${p.rows_per_second ? Math.round(p.rows_per_second).toLocaleString() : '—'} rows/s · ${seconds(p.seconds_left)} left` }),
      h('p', { class: 'secondary', text: 'You can leave this page; the import goes on and this address shows where it is.' }),
      h('div', { class: 'row' }, cancelBtn)));
    timer = setTimeout(poll, 1000);
  }

  async function poll() {
    try {
      imp = await get(orgPath(slug, 'imports', id), { signal });
      if (!['queued', 'running'].includes(imp.state)) announceChange(path);
      draw();
    } catch (e) {
      if (e.name !== 'AbortError') { reportError(e); timer = setTimeout(poll, 3000); }
    }
  }

  function drawReport() {
    const r = imp.report;
    const titles = { done: 'Import finished', cancelled: 'Import cancelled', failed: 'Import failed', undone: 'Import undone' };
    const stat = (n, label) => h('div', { class: 'import-stat' }, h('strong', { text: n.toLocaleString() }), h('span', { class: 'secondary', text: label }));
    const undoBtn = imp.undo_until && !imp.undone_at && h('button', { class: 'btn', type: 'button', onclick: () => undo() }, icon('undo', 15), 'Undo import');
    clear(page, card(titles[imp.state] || imp.state,
      imp.error && h('p', { class: 'error-text', text: imp.error }),
      h('div', { class: 'import-stats' }, stat(r.created, 'created'), stat(r.updated, 'updated'), stat(r.skipped, 'skipped'), stat(r.failed, 'failed')),
      (imp.failures || []).length ? h('div', { class: 'table-card' }, h('table', { class: 'table import-failures' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Row' }), h('th', { scope: 'col', text: 'Why it failed' }))),
        h('tbody', {}, imp.failures.map((f) => h('tr', {}, h('td', { text: String(f.row) }), h('td', { text: f.error })))))) : null,
      (imp.warnings || []).length ? h('div', { class: 'table-card' }, h('table', { class: 'table import-warnings' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Row' }), h('th', { scope: 'col', text: 'To look at' }))),
        h('tbody', {}, imp.warnings.map((f) => h('tr', {}, h('td', { text: String(f.row) }), h('td', { text: f.error })))))) : null,
      imp.undone_at ? h('p', { class: 'secondary' }, 'Undone ', timeEl(imp.undone_at), '. What it created is deleted and what it changed is back as it was.') : null,
      imp.undo_until && !imp.undone_at ? h('p', { class: 'secondary' }, 'You can undo it until ', timeEl(imp.undo_until), ': what it created is deleted, what it changed is restored.') : null,
      h('div', { class: 'row import-actions' },
        r.failed > 0 && h('a', { class: 'btn', href: API_BASE + orgPath(slug, 'imports', id, 'failed.csv'), download: '', dataset: { native: '' } }, icon('download', 15), 'Failed rows (CSV)'),
        undoBtn,
        h('a', { class: 'btn btn-primary', href: `/o/${slug}/${path}`, text: `Open ${k.label.toLowerCase()}` }))));

    async function undo() {
      const ok = await confirmDialog({ title: 'Undo this import?', message: `The ${plural(r.created, 'record')} it created are deleted and the ${plural(r.updated, 'record')} it changed get their previous values back.`, confirmLabel: 'Undo import', danger: true });
      if (!ok) return;
      setBusy(undoBtn, true);
      try {
        imp = await post(orgPath(slug, 'imports', id, 'undo'));
        announceChange(path);
        toast('Import undone.', { kind: 'success' });
        draw();
      } catch (e) {
        reportError(e, 'Could not undo.');
        setBusy(undoBtn, false);
      }
    }
  }

  draw();
  return { destroy: stop };
}
