// Initials avatars; the tint follows the name so a record keeps its colour everywhere.
import { h, initials, hashIndex } from '../util.js';
import { memberName } from '../session.js';

const TONES = ['blue', 'green', 'amber', 'violet', 'teal', 'pink', 'red', 'gray'];

/** avatar('Ana Lima', {size: 'lg', square: true}) — size: '' (22px) | 'md' | 'lg' */
export function avatar(name, { size = '', square = false, seed } = {}) {
  const tone = TONES[hashIndex(seed || name, TONES.length)];
  return h('span', { class: `avatar tone-${tone} ${size} ${square ? 'square' : ''}`.trim(), 'aria-hidden': 'true' }, initials(name));
}

/** A member's name that fills in when the members list arrives (tables render before it). */
export function memberChip(membersPromise, userId) {
  if (!userId) return null;
  const span = h('span', { class: 'secondary' });
  membersPromise.then((list) => { span.textContent = memberName(list, userId) || 'Former member'; }).catch(() => {});
  return span;
}
