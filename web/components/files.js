// The Files section of a record page: drop zone and picker, several uploads at once each with
// its own progress bar and cancel (XHR: fetch has no upload progress), the list with
// thumbnail or icon, name, size, who and when; image lightbox, PDF preview, download,
// rename, delete with undo. Downloads are plain links to the content URL (attachment).
import { h, clear, relTime, exactTime } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, del, orgPath, currentCsrf, API_BASE } from '../api.js';
import { memberName } from '../session.js';
import { openDialog } from './dialog.js';
import { menuButton } from './menu.js';
import { toast, reportError } from './toast.js';
import { field } from './field.js';

const IMAGE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export function fmtSize(n) {
  if (n == null) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function iconFor(type) {
  if (IMAGE.has(type)) return 'image';
  return 'file';
}

/** filesPanel({slug, kind, id, members, editable}) → {el, add, reload} */
export function filesPanel({ slug, kind, id, members = [], editable }) {
  const base = orgPath(slug, 'files');
  const contentUrl = (f, inline) => `${API_BASE}${orgPath(slug, 'files', f.id, 'content')}${inline ? '?inline=true' : ''}`;
  const thumbUrl = (f) => `${API_BASE}${orgPath(slug, 'files', f.id, 'thumbnail')}`;
  let maxBytes = null;
  let files = [];
  let loaded = false;
  let refetchTimer = null;

  const input = h('input', { type: 'file', multiple: true, class: 'sr-only', tabindex: -1, 'aria-hidden': 'true', dataset: { testid: 'file-input' } });
  const add = editable ? h('button', { class: 'btn btn-ghost btn-sm', type: 'button', dataset: { testid: 'attach-files' }, onclick: () => input.click() }, icon('paperclip', 14), 'Attach') : null;
  const uploads = h('ul', { class: 'file-uploads', 'aria-label': 'Uploads' });
  const list = h('ul', { class: 'file-list', 'aria-label': 'Files' });
  const zone = h('div', { class: 'file-drop', hidden: true },
    icon('paperclip', 16), h('span', null, 'Drop files here or ', h('button', { class: 'link-btn', type: 'button', text: 'choose files', onclick: () => input.click() })));
  const el = h('div', { class: 'files-panel', dataset: { testid: 'files' } }, input, zone, uploads, list);

  input.addEventListener('change', () => { start([...input.files]); input.value = ''; });
  if (editable) {
    let depth = 0;
    el.addEventListener('dragenter', (e) => { if (hasFiles(e)) { depth += 1; el.classList.add('dragging'); } });
    el.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) el.classList.remove('dragging'); });
    el.addEventListener('dragover', (e) => { if (hasFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } });
    el.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      el.classList.remove('dragging');
      start([...e.dataTransfer.files]);
    });
  }
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');

  async function limit() {
    if (maxBytes == null) {
      try { maxBytes = (await get(orgPath(slug, 'files', 'usage'))).max_upload_bytes; } catch { maxBytes = Infinity; }
    }
    return maxBytes;
  }

  async function start(chosen) {
    if (!chosen.length) return;
    const max = await limit();
    for (const file of chosen) uploadOne(file, max);
  }

  function uploadOne(file, max) {
    const bar = h('progress', { max: 100, value: 0, 'aria-label': `Uploading ${file.name}` });
    const status = h('span', { class: 'meta', text: fmtSize(file.size) });
    const xhr = new XMLHttpRequest();
    const cancel = h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': `Cancel ${file.name}`, onclick: () => { xhr.abort(); row.remove(); } }, icon('x', 14));
    const row = h('li', { class: 'file-upload', dataset: { testid: 'upload' } }, icon('file', 16), h('span', { class: 'file-name', text: file.name }), bar, status, cancel);
    uploads.appendChild(row);
    const fail = (msg) => {
      row.classList.add('failed');
      bar.remove();
      status.textContent = msg;
      status.classList.add('error-text');
      cancel.setAttribute('aria-label', 'Dismiss');
      cancel.onclick = () => row.remove();
    };
    if (file.size > max) { fail(`Larger than the ${fmtSize(max)} limit`); return; }
    const form = new FormData();
    form.append('record', `${kind}:${id}`);
    form.append('file', file, file.name);
    xhr.open('POST', API_BASE + base);
    xhr.setRequestHeader('Accept', 'application/json');
    const csrf = currentCsrf();
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100); });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status === 201) {
        row.remove();
        files = [body, ...files.filter((f) => f.id !== body.id)];
        render();
        if (IMAGE.has(body.content_type) && !body.has_thumbnail) refetchSoon();
      } else {
        fail((body && body.error && body.error.message) || `Upload failed (${xhr.status})`);
      }
    });
    xhr.addEventListener('error', () => fail('Cannot reach the server'));
    xhr.send(form);
  }

  // A thumbnail is made in the background just after the upload.
  function refetchSoon() {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(() => { if (el.isConnected) reload(); }, 1200);
  }

  function preview(f) {
    const url = contentUrl(f, true);
    const body = IMAGE.has(f.content_type)
      ? h('img', { class: 'lightbox-img', src: url, alt: f.name })
      : h('iframe', { class: 'pdf-frame', src: url, title: f.name });
    openDialog({
      title: f.name,
      size: 'wide lightbox',
      body: [body],
      foot: [h('a', { class: 'btn', href: contentUrl(f, false), download: f.name, dataset: { native: '' } }, icon('download', 14), 'Download')],
    });
  }

  function rename(f) {
    const nameField = field({ label: 'Name', name: 'name', value: f.name });
    const dlg = openDialog({
      title: 'Rename file', form: true, body: [nameField],
      foot: [
        h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => dlg.close() }),
        h('button', { class: 'btn btn-primary', type: 'submit', text: 'Rename' }),
      ],
    });
    dlg.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const updated = await patch(orgPath(slug, 'files', f.id), { name: nameField._input.value });
        files = files.map((x) => (x.id === f.id ? updated : x));
        render();
        dlg.close();
      } catch (err) { reportError(err); }
    });
  }

  async function remove(f) {
    try {
      await del(orgPath(slug, 'files', f.id));
      files = files.filter((x) => x.id !== f.id);
      render();
      toast(`Deleted ${f.name}`, {
        action: {
          label: 'Undo',
          run: async () => {
            try { await post(orgPath(slug, 'files', f.id, 'restore')); await reload(); } catch (err) { reportError(err); }
          },
        },
        duration: 8000,
      });
    } catch (err) { reportError(err); }
  }

  function item(f) {
    const previewable = IMAGE.has(f.content_type) || f.content_type === 'application/pdf';
    const visual = f.has_thumbnail
      ? h('img', { class: 'file-thumb', src: thumbUrl(f), alt: '', loading: 'lazy', width: 40, height: 40 })
      : h('span', { class: 'file-icon' }, icon(iconFor(f.content_type), 18));
    const name = previewable
      ? h('button', { class: 'link-btn file-name', type: 'button', text: f.name, title: f.name, onclick: () => preview(f) })
      : h('a', { class: 'file-name', href: contentUrl(f, false), download: f.name, dataset: { native: '' }, text: f.name, title: f.name });
    const who = memberName(members, f.created_by) || (f.created_by.startsWith('api_key:') ? 'API key' : 'Former member');
    const meta = h('span', { class: 'meta' }, `${fmtSize(f.size)} · ${who} · `, h('time', { datetime: f.created_at, title: exactTime(f.created_at), text: relTime(f.created_at) }));
    const actions = [
      h('a', { class: 'btn btn-ghost btn-icon btn-sm', href: contentUrl(f, false), download: f.name, dataset: { native: '' }, 'aria-label': `Download ${f.name}`, title: 'Download' }, icon('download', 14)),
      editable && menuButton({ label: `More actions for ${f.name}` }, () => [
        { label: 'Rename', icon: 'pencil', onSelect: () => rename(f) },
        { label: 'Delete', icon: 'trash', danger: true, onSelect: () => remove(f) },
      ], { align: 'end' }),
    ];
    return h('li', { class: 'file-item', dataset: { testid: 'file', id: f.id } }, visual, h('div', { class: 'file-info' }, name, meta), h('div', { class: 'file-actions' }, actions));
  }

  function render() {
    clear(list, files.map(item));
    zone.hidden = !(editable && loaded && files.length === 0);
    if (!editable && loaded && !files.length) list.appendChild(h('li', { class: 'meta', text: 'No files yet.' }));
  }

  async function reload() {
    try {
      const page = await get(`${base}?record=${encodeURIComponent(`${kind}:${id}`)}&limit=200`);
      files = page.items;
      loaded = true;
      render();
    } catch (e) { reportError(e); }
  }

  // Opened from a search hit (`?file=<id>`): show that file — its preview when it has one,
  // otherwise its row, marked.
  function reveal(fileId) {
    const f = files.find((x) => x.id === fileId);
    if (!f) return;
    const row = list.querySelector(`[data-id="${CSS.escape(fileId)}"]`);
    if (row) {
      row.classList.add('file-found');
      row.scrollIntoView({ block: 'center' });
    }
    if (IMAGE.has(f.content_type) || f.content_type === 'application/pdf') preview(f);
  }

  const wanted = new URLSearchParams(window.location.search).get('file');
  reload().then(() => { if (wanted) reveal(wanted); });
  return { el, add, reload };
}
