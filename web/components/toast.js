// Toasts: short confirmations and errors, with an optional action such as Undo.
import { h } from '../util.js';
import { icon } from '../icons.js';

let region;
function ensureRegion() {
  if (!region || !region.isConnected) {
    region = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(region);
  }
  return region;
}

const KIND_ICON = { success: 'checkCircle', error: 'alert', info: 'info' };
// The one toast with an action (Undo) on screen: it stays until dismissed or replaced.
let closeActionToast = null;

/** toast('Saved', {kind: 'success', action: {label: 'Undo', run() {}}, duration: 6000}) */
export function toast(message, { kind = 'info', action = null, duration } = {}) {
  // An action can't be missed: no timer unless the caller asks for one.
  const ms = duration ?? (action ? null : kind === 'error' ? 7000 : 4000);
  let timer;
  const close = () => {
    clearTimeout(timer);
    el.remove();
    if (closeActionToast === close) closeActionToast = null;
  };
  const el = h('div', { class: `toast ${kind}` },
    h('span', { class: 'toast-icon' }, icon(KIND_ICON[kind] || 'info', 16)),
    h('span', { class: 'toast-msg', text: message }),
    action && h('button', {
      class: 'btn btn-ghost btn-sm toast-action', type: 'button', text: action.label,
      onclick: () => { close(); action.run(); },
    }),
    h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': 'Dismiss', onclick: close }, icon('x', 14)),
  );
  if (kind === 'error') el.setAttribute('role', 'alert');
  const start = () => { if (ms != null) timer = setTimeout(close, ms); };
  if (action) {
    if (closeActionToast) closeActionToast();
    closeActionToast = close;
  }
  el.addEventListener('mouseenter', () => clearTimeout(timer));
  el.addEventListener('mouseleave', start);
  el.addEventListener('focusin', () => clearTimeout(timer));
  ensureRegion().appendChild(el);
  start();
  return close;
}

/** Shows an API failure as a toast. 401 is handled by the redirect to sign-in; aborts are silent. */
export function reportError(e, prefix = '') {
  if (!e || e.name === 'AbortError' || e.status === 401) return;
  // A 403 may mean our role changed: let the app refresh what it knows.
  if (e.status === 403) window.dispatchEvent(new CustomEvent('harmonia:forbidden'));
  toast((prefix ? prefix + ' ' : '') + (e.message || 'Something went wrong.'), { kind: 'error' });
}
