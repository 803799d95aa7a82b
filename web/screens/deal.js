// Deal page: header with the amount and key facts, the stage path (click a stage to move the
// deal there), Won and Lost (Lost asks the reason), the people on the deal with their roles,
// the company, stage history and changes; inline-editable details on the side.
import { h, clear, trimOrNull, timeEl, plural } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, orgPath } from '../api.js';
import { canEdit, getMembers, memberName, announceChange } from '../session.js';
import { avatar } from '../components/avatar.js';
import { badge } from '../components/badge.js';
import { field } from '../components/field.js';
import { menuButton } from '../components/menu.js';
import { reportError, toast } from '../components/toast.js';
import { companyPicker, recordPicker } from '../components/picker.js';
import { ownerSelect } from '../components/editors.js';
import { formatDate } from '../components/values.js';
import { getSchema } from '../schema.js';
import { tagsBox } from '../components/tags.js';
import { customFieldsOf, customProps, valueCtx } from './custom.js';
import { recordHeader, fact, skeletonRecord, notFoundState, propsList, deleteRecord, sideSection } from './record.js';
import { timelinePanel } from '../components/timeline.js';
import { filesPanel } from '../components/files.js';
import { fmtMoney, parseAmount, amountText } from '../money.js';
import { askLostReason } from '../deals/lost.js';
import { currencySelect } from '../deals/form.js';

export const ROLES = [['decision_maker', 'Decision maker'], ['champion', 'Champion'], ['influencer', 'Influencer'], ['user', 'User'], ['other', 'Other']];
const roleLabel = (r) => (ROLES.find(([v]) => v === r) || [r, r])[1];

const plain = (ed) => { ed.querySelector('label').classList.add('sr-only'); return ed; };
function text(key, label, { type = 'text', view } = {}) {
  return {
    key, label,
    view: view || ((d) => (d[key] ? h('span', { text: d[key] }) : null)),
    editor: (d) => { const f = plain(field({ label, name: key, type, value: d[key] || '' })); return { el: f, focus: () => f._input.focus(), value: () => f._input.value }; },
    toPatch: (v) => ({ [key]: trimOrNull(v) }),
  };
}

function dealFields(slug, members) {
  return [
    text('title', 'Title'),
    {
      key: 'amount', label: 'Amount',
      view: (d) => (d.amount != null ? h('span', { class: 'num', text: fmtMoney(d.amount, d.currency) }) : null),
      editor: (d) => {
        const f = plain(field({ label: 'Amount', name: 'amount', value: amountText(d.amount, d.currency), attrs: { inputmode: 'decimal' } }));
        const cur = currencySelect(d.currency);
        cur.setAttribute('aria-label', 'Currency');
        return { el: h('div', { class: 'money-input' }, f, cur), focus: () => f._input.focus(), value: () => ({ text: f._input.value, currency: cur.value }) };
      },
      toPatch: (v) => {
        // What does not parse goes as typed: the server's 422 names the field.
        const amount = parseAmount(v.text, v.currency);
        return { amount: Number.isNaN(amount) ? v.text : amount, currency: v.currency };
      },
    },
    text('close_date', 'Expected close', { type: 'date', view: (d) => (d.close_date ? h('span', { text: formatDate(d.close_date) }) : null) }),
    {
      key: 'owner_id', label: 'Owner',
      view: (d) => (d.owner_id ? h('span', { text: memberName(members, d.owner_id) || 'Former member' }) : null),
      editor: (d) => { const s = ownerSelect(members, d.owner_id); const f = plain(field({ label: 'Owner', name: 'owner_id', control: s })); return { el: f, focus: () => s.focus(), value: () => s.value }; },
      toPatch: (v) => ({ owner_id: v || null }),
    },
    {
      key: 'company_id', label: 'Company',
      view: (d) => (d.company ? h('a', { href: `/o/${slug}/companies/${d.company.id}`, text: d.company.name }) : null),
      editor: (d) => { const p = companyPicker({ org: slug, value: d.company, allowCreate: true }); return { el: p.el, focus: () => p.input.focus(), value: () => p.value() }; },
      toPatch: (v) => ({ company_id: v ? v.id : null }),
    },
    text('source', 'Source'),
    text('next_step', 'Next step'),
  ];
}

/** The stages in order as a path; open stages and the closing ones are buttons that move. */
function stagePath(deal, pipeline, editable, onMove) {
  const at = pipeline.stages.findIndex((s) => s.id === deal.stage_id);
  const open = pipeline.stages.filter((s) => s.kind === 'open');
  return h('ol', { class: `stage-path status-${deal.status}`, 'aria-label': 'Stage' }, open.map((s) => {
    const i = pipeline.stages.indexOf(s);
    const cls = s.id === deal.stage_id ? 'current' : deal.status === 'open' && i < at ? 'done' : deal.status === 'won' ? 'done' : '';
    return h('li', { class: cls },
      h('button', { type: 'button', disabled: !editable || s.id === deal.stage_id, 'aria-current': s.id === deal.stage_id ? 'step' : null, title: `${s.name} · ${s.probability} %`, onclick: () => onMove(s) },
        h('span', { class: 'stage-name', text: s.name })));
  }));
}

function contactsSection(slug, deal, editable, save) {
  const list = h('ul', { class: 'deal-contacts' });
  const render = (d) => {
    clear(list, d.contacts.length ? d.contacts.map((c) => {
      const role = h('select', { class: 'select select-sm', 'aria-label': `Role of ${c.name}`, disabled: !editable }, ROLES.map(([v, l]) => h('option', { value: v, text: l })));
      role.value = c.role;
      role.addEventListener('change', () => save(d.contacts.map((x) => ({ contact_id: x.contact_id, role: x.contact_id === c.contact_id ? role.value : x.role }))));
      return h('li', null, avatar(c.name || '?', { seed: c.contact_id }), h('a', { href: `/o/${slug}/contacts/${c.contact_id}`, text: c.name || 'Unnamed contact' }),
        editable ? role : badge(roleLabel(c.role)),
        editable && h('button', { class: 'btn btn-ghost btn-icon btn-sm', type: 'button', 'aria-label': `Remove ${c.name} from the deal`, onclick: () => save(d.contacts.filter((x) => x.contact_id !== c.contact_id).map(({ contact_id: id, role: r }) => ({ contact_id: id, role: r }))) }, icon('x', 13)));
    }) : h('li', { class: 'tertiary', text: 'No one yet. Add the people who decide, champion or use it.' }));
  };
  render(deal);
  let adder = null;
  const add = editable && h('button', { class: 'btn btn-sm', type: 'button', onclick: () => {
    if (adder) { adder.input.focus(); return; }
    adder = recordPicker({ org: slug, path: 'contacts', placeholder: 'Search contacts…', onChange: (c) => {
      if (!c) return;
      const cur = list._deal.contacts.map(({ contact_id: id, role: r }) => ({ contact_id: id, role: r }));
      if (!cur.some((x) => x.contact_id === c.id)) save([...cur, { contact_id: c.id, role: cur.length ? 'influencer' : 'decision_maker' }]);
      adder.el.remove(); adder = null;
    } });
    list.after(adder.el);
    adder.input.focus();
  } }, icon('plus', 13), 'Add contact');
  list._deal = deal;
  return { el: list, add, update: (d) => { list._deal = d; render(d); } };
}

export async function renderDeal(ctx) {
  const { shell, slug, params, signal } = ctx;
  const editable = canEdit(slug);
  const listHref = `/o/${slug}/deals`;
  shell.setActive('deals');
  shell.setTop({ title: 'Deal', crumbs: [{ label: 'Deals', href: listHref }] });
  clear(shell.content, skeletonRecord());
  const apiPath = orgPath(slug, 'deals', params.id);
  let deal; let members; let schema; let pipelines;
  try {
    [deal, members, schema, pipelines] = await Promise.all([get(apiPath, { signal }), getMembers(slug).catch(() => []),
      getSchema(slug).catch(() => ({ kinds: [] })), get(orgPath(slug, 'pipelines'), { signal }).then((r) => r.items)]);
  } catch (e) {
    if (e.name === 'AbortError') return {};
    if (e.status === 404) { shell.setTop({ title: 'Not found', crumbs: [{ label: 'Deals', href: listHref }] }); clear(shell.content, notFoundState('deal', listHref)); }
    else { reportError(e); clear(shell.content); }
    return {};
  }
  const recordHref = `${listHref}/${deal.id}`;
  const pipelineOf = (d) => pipelines.find((p) => p.id === d.pipeline_id) || { stages: [], name: '' };
  const headHost = h('div');
  const pathHost = h('div', { class: 'stage-path-host' });
  const stageHistHost = h('div');
  // Notes, tasks, activities, changes and stage moves, with the composer.
  const timeline = timelinePanel({ slug, path: 'deals', id: deal.id, kind: 'deal', members, editable });
  const files = filesPanel({ slug, kind: 'deal', id: deal.id, members, editable });
  const live = h('div', { class: 'sr-only', 'aria-live': 'polite' });

  const props = propsList({
    fields: [...dealFields(slug, members), ...customProps(customFieldsOf(schema, 'deal'), valueCtx(slug, schema, members))],
    item: deal, editable,
    save: (body) => patch(apiPath, body),
    onSaved: (d) => { deal = d; render(); },
  });
  const people = contactsSection(slug, deal, editable, async (contacts) => {
    try { deal = await patch(apiPath, { contacts }); render(); props.update(deal); } catch (e) { reportError(e, 'Contacts not saved.'); }
  });
  const tags = tagsBox({ slug, path: 'deals', record: deal, editable, onChange: (r) => { deal = r; } });

  async function moveTo(stage, reason) {
    const body = { stage_id: stage.id };
    if (stage.kind === 'lost') {
      const r = reason || await askLostReason(deal.title);
      if (r == null) return;
      body.lost_reason = r;
    }
    try {
      deal = await post(`${apiPath}/move`, body);
      render(); props.update(deal); announceChange('deals');
      live.textContent = `Moved to ${stage.name}.`;
      if (stage.kind === 'won') toast(`“${deal.title}” won.`, { kind: 'success' });
      if (stage.kind === 'lost') toast(`“${deal.title}” marked as lost.`, { kind: 'info' });
    } catch (e) { reportError(e, 'Deal not moved.'); }
  }
  const stageOfKind = (kind) => pipelineOf(deal).stages.find((s) => s.kind === kind);

  async function loadStageHistory() {
    try {
      const r = await get(`${apiPath}/stage-history`, { signal });
      const who = (id) => (id && id.startsWith('api_key:') ? 'an API key' : memberName(members, id) || 'a former member');
      clear(stageHistHost, h('ul', { class: 'timeline stage-history' }, r.items.map((c) => h('li', null, h('span', { class: 'tl-icon' }, icon(c.from_stage_id ? 'chevRight' : 'plus', 11)),
        h('span', null, c.from_stage_name ? [h('b', { text: c.from_stage_name }), ' → '] : 'Created in ', h('b', { text: c.to_stage_name }), ' by ', who(c.actor), ' · ', timeEl(c.at))))));
    } catch (e) { if (e.name !== 'AbortError') reportError(e); }
  }

  function render() {
    const d = deal;
    const p = pipelineOf(d);
    shell.setTop({ title: d.title, crumbs: [{ label: 'Deals', href: `${listHref}?pipeline=${d.pipeline_id}` }] });
    const won = stageOfKind('won'); const lost = stageOfKind('lost');
    const reopen = d.status !== 'open' && p.stages.find((s) => s.kind === 'open');
    const actions = editable ? [
      d.status === 'open' && won && h('button', { class: 'btn btn-won', type: 'button', onclick: () => moveTo(won) }, icon('check', 14), 'Won'),
      d.status === 'open' && lost && h('button', { class: 'btn btn-lost', type: 'button', onclick: () => moveTo(lost) }, icon('x', 14), 'Lost'),
      reopen && h('button', { class: 'btn', type: 'button', onclick: () => moveTo(reopen) }, icon('undo', 14), 'Reopen'),
      menuButton({ label: 'More actions' }, () => [
        { label: 'Delete deal', icon: 'trash', danger: true, onSelect: () => deleteRecord({ apiPath, entity: 'deals', label: d.title, backHref: listHref, recordHref }) },
      ], { align: 'end' }),
    ] : [];
    const statusBadge = d.status === 'won' ? badge('Won', 'green', { dot: true }) : d.status === 'lost' ? badge('Lost', 'red', { dot: true }) : d.rotting ? badge('Rotting', 'amber', { dot: true }) : null;
    clear(headHost, recordHeader({
      avatarEl: h('span', { class: 'deal-avatar', 'aria-hidden': 'true' }, icon('deals', 20)),
      title: d.title,
      facts: [
        h('span', { class: 'fact deal-head-amount num', text: d.amount != null ? fmtMoney(d.amount, d.currency) : 'No amount' }),
        d.weighted_amount != null && d.status === 'open' && fact('chart', `${fmtMoney(d.weighted_amount, d.currency)} weighted · ${d.stage.probability} %`, 'Weighted amount'),
        statusBadge,
        d.company && fact('companies', h('a', { href: `/o/${slug}/companies/${d.company.id}`, text: d.company.name }), 'Company'),
        d.owner_id && fact('user', memberName(members, d.owner_id) || 'Former member', 'Owner'),
        d.close_date && fact('calendar', formatDate(d.close_date), 'Expected close'),
        d.status === 'open' && fact('clock', `${plural(d.days_in_stage, 'day')} in ${d.stage.name}`, 'Time in stage'),
        d.status === 'open' && d.last_activity_at && fact('phone', h('span', {}, 'Last activity ', timeEl(d.last_activity_at)), 'Latest note, call, meeting or completed task'),
      ],
      actions,
    }));
    clear(pathHost, h('div', { class: 'stage-path-row' }, h('span', { class: 'meta', text: p.name }), stagePath(d, p, editable, (s) => moveTo(s))),
      d.status === 'lost' && d.lost_reason && h('p', { class: 'lost-reason' }, icon('alert', 14), ' Lost: ', h('span', { text: d.lost_reason })));
    timeline.reload();
    people.update(d);
    loadStageHistory();
  }
  render();
  clear(shell.content, h('div', { class: 'record deal-record' }, headHost, pathHost, live, h('div', { class: 'record-body' },
    h('div', { class: 'record-main' },
      sideSection('Contacts', people.el, [people.add]),
      sideSection('Stage history', stageHistHost),
      sideSection('Files', files.el, [files.add]),
      timeline.el),
    h('aside', { class: 'record-side', 'aria-label': 'Details' }, sideSection('Details', props.el), sideSection('Tags', tags.el)))));
  return { shortcuts: {} };
}
