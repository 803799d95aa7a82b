// Soft tinted badges for stages, roles and statuses.
import { h } from '../util.js';
import { ROLE_LABEL } from '../session.js';

export const STAGES = [
  { value: 'lead', label: 'Lead', tone: 'blue' },
  { value: 'prospect', label: 'Prospect', tone: 'amber' },
  { value: 'customer', label: 'Customer', tone: 'green' },
  { value: 'former_customer', label: 'Former customer', tone: 'gray' },
];

export function badge(text, tone = 'gray', { dot = false } = {}) {
  return h('span', { class: `badge tone-${tone}` }, dot && h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
}

export function stageBadge(stage) {
  if (!stage) return h('span', { class: 'tertiary', text: '—' });
  const s = STAGES.find((x) => x.value === stage) || { label: stage, tone: 'gray' };
  return badge(s.label, s.tone, { dot: true });
}

const ROLE_TONE = { owner: 'violet', admin: 'blue', member: 'gray', viewer: 'gray' };
export const roleBadge = (role) => badge(ROLE_LABEL[role] || role, ROLE_TONE[role] || 'gray');

export function statusBadge(status) {
  return status === 'invited' ? badge('Invited', 'amber', { dot: true }) : badge('Active', 'green', { dot: true });
}
