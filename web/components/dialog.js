// Modal dialogs on the native <dialog>: the page behind is inert, Tab cycles inside, Esc closes,
// focus returns to where it was.
import { h, nextId } from '../util.js';
import { icon } from '../icons.js';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * openDialog({title, body: Node|Node[], foot: Node[], size: 'wide'|'narrow', onClose, form: true})
 * Returns {el, body, foot, close}. With form: true the dialog content is a <form> whose submit
 * event the caller handles (Enter submits).
 */
export function openDialog({ title, description, body = [], foot = [], size = '', onClose, form = false, initialFocus }) {
  const titleId = nextId('dlg');
  const prevFocus = document.activeElement;
  const bodyEl = h('div', { class: 'dialog-body' }, description && h('p', { text: description }), body);
  const footEl = h('div', { class: 'dialog-foot' }, foot);
  const inner = [
    h('div', { class: 'dialog-head' },
      h('h2', { id: titleId, text: title }),
      h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': 'Close', onclick: () => close() }, icon('x', 16)),
    ),
    bodyEl,
    foot.length ? footEl : null,
  ];
  const wrap = form ? h('form', { class: 'dialog-form', novalidate: true }, inner) : null;
  const el = h('dialog', { class: `dialog ${size}`, 'aria-labelledby': titleId }, wrap || inner);
  if (wrap) {
    wrap.classList.add('dialog-inner');
    el.classList.add('has-form');
  }

  let closed = false;
  function close(result) {
    if (closed) return;
    closed = true;
    el.close();
    el.remove();
    if (prevFocus && prevFocus.isConnected) prevFocus.focus();
    if (onClose) onClose(result);
  }
  el.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
  el.addEventListener('mousedown', (e) => { if (e.target === el) el.dataset.downOutside = '1'; });
  el.addEventListener('click', (e) => {
    if (e.target === el && el.dataset.downOutside) close();
    delete el.dataset.downOutside;
  });
  el.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const items = [...el.querySelectorAll(FOCUSABLE)].filter((x) => x.offsetParent !== null);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  });

  document.body.appendChild(el);
  el.showModal();
  const target = initialFocus || el.querySelector('.dialog-body ' + FOCUSABLE.split(', ').join(', .dialog-body '));
  if (target) target.focus();
  return { el, form: wrap, body: bodyEl, foot: footEl, close };
}

/** Promise<boolean>: confirm({title, message, confirmLabel, danger}) */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    let ok = false;
    const yes = h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, type: 'button', text: confirmLabel, onclick: () => { ok = true; d.close(); } });
    const d = openDialog({
      title,
      size: 'narrow',
      body: [h('p', { text: message })],
      foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), yes],
      onClose: () => resolve(ok),
      initialFocus: yes,
    });
  });
}
