// Labelled form fields, API 422 errors next to the matching inputs, and busy buttons.
import { h, nextId } from '../util.js';
import { icon } from '../icons.js';

/**
 * field({label, name, type, value, options: [{value, label}], hint, required, control})
 * name doubles as the API field key (data-field) used to place 422 errors.
 */
export function field({ label, name, type = 'text', value = '', options, hint, required, placeholder, autocomplete, control, controlEl, className = '', attrs = {} }) {
  const id = nextId('f');
  let input = control;
  if (!input) {
    if (options) {
      input = h('select', { class: 'select', id, name });
      for (const o of options) input.appendChild(h('option', { value: o.value, text: o.label }));
      input.value = value ?? '';
    } else if (type === 'textarea') {
      input = h('textarea', { class: 'textarea', id, name });
      input.value = value ?? '';
    } else {
      input = h('input', { class: 'input', id, name, type, placeholder, autocomplete, ...attrs });
      input.value = value ?? '';
    }
  } else if (!input.id) {
    input.id = id;
  }
  if (required) input.required = true;
  const hintEl = hint ? h('p', { class: 'hint', id: nextId('hint'), text: hint }) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  const wrap = h('div', { class: `field ${className}`.trim(), dataset: { field: name || '' } },
    h('label', { htmlFor: input.id, text: label }), controlEl || input, hintEl);
  wrap._input = input;
  return wrap;
}

/** Shows msg under the field wrapper (or any element with data-field). Empty msg clears. */
export function setFieldError(wrap, msg) {
  let err = wrap.querySelector(':scope > .field-error');
  const input = wrap._input || wrap.querySelector('input, select, textarea');
  if (!msg) {
    if (err) err.remove();
    if (input) { input.removeAttribute('aria-invalid'); input.removeAttribute('aria-errormessage'); }
    return;
  }
  if (!err) {
    err = h('p', { class: 'field-error', id: nextId('err') });
    wrap.appendChild(err);
  }
  err.replaceChildren(icon('alert', 12), document.createTextNode(msg.charAt(0).toUpperCase() + msg.slice(1)));
  // The error goes as soon as the person changes the field, not at the next submit.
  if (!wrap._clearsError) {
    wrap._clearsError = true;
    const clearNow = () => { wrap._clearsError = false; setFieldError(wrap, ''); wrap.removeEventListener('input', clearNow); wrap.removeEventListener('change', clearNow); };
    wrap.addEventListener('input', clearNow);
    wrap.addEventListener('change', clearNow);
  }
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', err.id);
  }
}

export function clearErrors(root) {
  for (const w of root.querySelectorAll('[data-field]')) setFieldError(w, '');
  const alert = root.querySelector('.form-alert');
  if (alert) alert.remove();
}

const humanKey = (k) => k.replace(/\[(\d+)\]/g, (_, n) => ` ${+n + 1}`).replace(/[._]/g, ' ');

/**
 * Places API `fields` errors: exact key first (emails[0].email), then shorter prefixes
 * (emails[0], emails). Errors with no matching input are listed in the form alert.
 * Returns true when something was shown.
 */
export function showErrors(root, err, alertHost = root) {
  clearErrors(root);
  const fields = (err && err.fields) || {};
  const leftovers = [];
  let first = null;
  for (const [key, msg] of Object.entries(fields)) {
    let k = key;
    let target = null;
    while (k) {
      target = root.querySelector(`[data-field="${CSS.escape(k)}"]`);
      if (target) break;
      const shorter = k.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
      if (shorter === k) break;
      k = shorter;
    }
    if (target) {
      const folded = target.closest('[hidden]');
      if (folded) folded.hidden = false;
      setFieldError(target, msg);
      if (!first) first = target;
    } else leftovers.push(`${humanKey(key)}: ${msg}`);
  }
  const message = leftovers.length ? leftovers.join(' · ') : !Object.keys(fields).length ? err.message : null;
  if (message) {
    alertHost.prepend(h('div', { class: 'form-alert', role: 'alert' }, icon('alert', 16), h('span', { text: message })));
  }
  const focusEl = first && (first._input || first.querySelector('input, select, textarea'));
  if (focusEl) focusEl.focus();
  return true;
}

export function setBusy(btn, busy) {
  btn.classList.toggle('is-busy', busy);
  btn.disabled = busy;
  if (busy) btn.setAttribute('aria-busy', 'true');
  else btn.removeAttribute('aria-busy');
}

/** A plain <select> element from [{value, label}] */
export function select(options, value = '', props = {}) {
  const el = h('select', { class: 'select', ...props });
  for (const o of options) el.appendChild(h('option', { value: o.value, text: o.label }));
  el.value = value ?? '';
  return el;
}
