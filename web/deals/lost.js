// "Why was it lost?": the reason a deal needs when it enters a lost stage.
import { h } from '../util.js';
import { openDialog } from '../components/dialog.js';
import { field, setFieldError } from '../components/field.js';

const COMMON = ['Price', 'Went with a competitor', 'No budget', 'No decision', 'Timing', 'Lost touch'];

/** Promise<string|null>: the reason, or null when cancelled. */
export function askLostReason(title) {
  return new Promise((resolve) => {
    let result = null;
    const reason = field({ label: 'Reason', name: 'lost_reason', attrs: { maxlength: 500, list: 'lost-reasons' } });
    const list = h('datalist', { id: 'lost-reasons' }, COMMON.map((r) => h('option', { value: r })));
    const chips = h('div', { class: 'reason-chips' }, COMMON.map((r) => h('button', { class: 'btn btn-sm', type: 'button', text: r, onclick: () => { reason._input.value = r; reason._input.focus(); } })));
    const d = openDialog({
      title: 'Mark as lost',
      description: `Why was “${title}” lost? The reason is kept with the deal and counts in reports.`,
      size: 'narrow',
      form: true,
      body: [reason, list, chips],
      foot: [
        h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }),
        h('button', { class: 'btn btn-danger', type: 'submit', text: 'Mark as lost' }),
      ],
      onClose: () => resolve(result),
      initialFocus: reason._input,
    });
    d.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = reason._input.value.trim();
      if (!v) { setFieldError(reason, 'Say why the deal was lost.'); reason._input.focus(); return; }
      result = v;
      d.close();
    });
  });
}
