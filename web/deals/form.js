// New deal: title, amount in the deal's currency (typed as a decimal, sent as minor units),
// pipeline and stage, expected close date, company, owner. 422 errors show next to the inputs.
import { h } from '../util.js';
import { post, orgPath } from '../api.js';
import { getMembers, session } from '../session.js';
import { openDialog } from '../components/dialog.js';
import { field, showErrors, clearErrors, setBusy, setFieldError } from '../components/field.js';
import { companyPicker } from '../components/picker.js';
import { ownerSelect } from '../components/editors.js';
import { toast } from '../components/toast.js';
import { parseAmount } from '../money.js';

export const CURRENCIES = ['USD', 'EUR', 'GBP', 'CHF', 'CAD', 'AUD', 'JPY', 'SEK', 'NOK', 'DKK', 'PLN', 'CZK', 'INR', 'BRL', 'MXN', 'SGD', 'HKD', 'NZD', 'ZAR', 'CNY'];

export function currencySelect(value) {
  const list = CURRENCIES.includes(value) ? CURRENCIES : [value, ...CURRENCIES];
  const s = h('select', { class: 'select', name: 'currency' }, list.map((c) => h('option', { value: c, text: c })));
  s.value = value;
  return s;
}

export async function openDealForm({ slug, pipelines, pipelineId, stageId, currency, preset = {}, onSaved }) {
  const members = await getMembers(slug).catch(() => []);
  const title = field({ label: 'Title', name: 'title', required: true, attrs: { maxlength: 200 }, value: preset.title || '' });
  const cur = currencySelect(currency);
  const amount = field({ label: 'Amount', name: 'amount', attrs: { inputmode: 'decimal', autocomplete: 'off' }, placeholder: '0.00' });
  const money = h('div', { class: 'money-input' }, amount, field({ label: 'Currency', name: 'currency', control: cur }));
  const pipeSel = h('select', { class: 'select', name: 'pipeline_id' }, pipelines.map((p) => h('option', { value: p.id, text: p.name })));
  pipeSel.value = pipelineId;
  const stageSel = h('select', { class: 'select', name: 'stage_id' });
  const fillStages = () => {
    const p = pipelines.find((x) => x.id === pipeSel.value) || pipelines[0];
    stageSel.replaceChildren(...p.stages.filter((s) => s.kind === 'open').map((s) => h('option', { value: s.id, text: `${s.name} · ${s.probability} %` })));
    if (p.stages.some((s) => s.id === stageId)) stageSel.value = stageId;
  };
  fillStages();
  pipeSel.addEventListener('change', fillStages);
  const close = field({ label: 'Expected close', name: 'close_date', type: 'date' });
  const company = companyPicker({ org: slug, value: preset.company || null, allowCreate: true });
  const owner = ownerSelect(members, session.user.id);
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Create deal' });
  const d = openDialog({
    title: 'New deal',
    form: true,
    body: [title, money,
      h('div', { class: 'grid-2' }, field({ label: 'Pipeline', name: 'pipeline_id', control: pipeSel }), field({ label: 'Stage', name: 'stage_id', control: stageSel })),
      h('div', { class: 'grid-2' }, close, field({ label: 'Owner', name: 'owner_id', control: owner })),
      field({ label: 'Company', name: 'company_id', control: company.input, controlEl: company.el })],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
    initialFocus: title._input,
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    const minor = parseAmount(amount._input.value, cur.value);
    if (Number.isNaN(minor)) { setFieldError(amount, 'Type an amount like 1250 or 1250.50'); amount._input.focus(); return; }
    const c = company.value();
    const body = {
      title: title._input.value.trim(), amount: minor, currency: cur.value, pipeline_id: pipeSel.value, stage_id: stageSel.value,
      close_date: close._input.value || null, owner_id: owner.value || null, company_id: c ? c.id : null,
      ...(preset.contacts ? { contacts: preset.contacts } : {}),
    };
    setBusy(submit, true);
    try {
      const saved = await post(orgPath(slug, 'deals'), body);
      d.close();
      toast(`Deal “${saved.title}” created.`, { kind: 'success' });
      if (onSaved) onSaved(saved);
    } catch (err) { showErrors(d.form, err, d.body); } finally { setBusy(submit, false); }
  });
}
