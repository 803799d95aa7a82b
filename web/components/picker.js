// Record comboboxes (companies, contacts, any kind's path): type to search, arrows + Enter
// pick, optional "Create “…”" (companies).
import { h, nextId, debounce, qs } from '../util.js';
import { icon } from '../icons.js';
import { get, post, orgPath } from '../api.js';
import { avatar } from './avatar.js';
import { reportError } from './toast.js';

/**
 * companyPicker({org, value: {id, name}|null, allowCreate, placeholder, onChange})
 * → {el, input, value(), set(v)}
 */
export const companyPicker = (o) => recordPicker({ placeholder: 'Search companies…', ...o, path: 'companies' });

/** recordPicker({org, path: 'contacts'|'companies'|…, value, placeholder, onChange, allowCreate (companies)}) */
export function recordPicker({ org, path, value = null, allowCreate = false, placeholder = 'Search…', onChange, id }) {
  const square = path === 'companies';
  const noun = path === 'companies' ? 'companies' : path === 'contacts' ? 'contacts' : 'records';
  let selected = value && value.id ? { id: value.id, name: value.name } : null;
  let options = [];
  let active = -1;
  let reqNo = 0;
  const listId = nextId('lb');
  const input = h('input', {
    class: 'input', type: 'text', role: 'combobox', id: id || nextId('cb'), placeholder, autocomplete: 'off',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
  });
  const list = h('ul', { class: 'listbox', role: 'listbox', id: listId, hidden: true });
  const clearBtn = h('button', { class: 'btn btn-ghost btn-icon btn-sm combo-clear', type: 'button', 'aria-label': `Clear ${square ? 'company' : 'value'}`, hidden: true }, icon('x', 13));
  const el = h('div', { class: 'combo' }, input, clearBtn, list);

  const show = (on) => { list.hidden = !on; input.setAttribute('aria-expanded', String(on)); };
  const sync = () => {
    input.value = selected ? selected.name : '';
    clearBtn.hidden = !selected;
  };
  function choose(v) {
    selected = v;
    sync();
    show(false);
    if (onChange) onChange(selected);
  }
  function setActive(i) {
    active = i;
    [...list.children].forEach((li, n) => li.setAttribute('aria-selected', String(n === i)));
    const li = list.children[i];
    if (li) { input.setAttribute('aria-activedescendant', li.id); li.scrollIntoView({ block: 'nearest' }); }
    else input.removeAttribute('aria-activedescendant');
  }
  function render(term) {
    list.replaceChildren();
    options = [];
    for (const c of opts.items) options.push({ kind: 'pick', id: c.id, name: c.name, domain: c.domain || (c.emails && c.emails[0] && c.emails[0].email) });
    if (allowCreate && term && !opts.items.some((c) => c.name.toLowerCase() === term.toLowerCase())) options.push({ kind: 'create', name: term });
    if (!options.length) list.appendChild(h('li', { class: 'empty', text: term ? `No ${noun} match` : `No ${noun} yet` }));
    options.forEach((o, i) => {
      const li = h('li', { role: 'option', id: `${listId}-${i}`, 'aria-selected': 'false' },
        o.kind === 'create' ? [icon('plus', 14), h('span', { class: 'truncate', text: `Create “${o.name}”` })]
          : [avatar(o.name, { square, seed: o.id }), h('span', { class: 'truncate grow', text: o.name }), o.domain && h('span', { class: 'meta truncate', text: o.domain })]);
      li.addEventListener('mousedown', (e) => { e.preventDefault(); pick(o); });
      list.appendChild(li);
    });
    setActive(options.length ? 0 : -1);
    show(true);
  }
  const opts = { items: [] };
  async function search() {
    const term = input.value.trim();
    const n = ++reqNo;
    try {
      const r = await get(orgPath(org, path) + qs({ q: term, limit: 8, sort: 'name' }));
      if (n !== reqNo || document.activeElement !== input) return;
      opts.items = r.items || [];
      render(term);
    } catch (e) { reportError(e); }
  }
  const searchSoon = debounce(search, 180);
  async function pick(o) {
    if (o.kind === 'pick') return choose({ id: o.id, name: o.name });
    try {
      const c = await post(orgPath(org, 'companies'), { name: o.name });
      choose({ id: c.id, name: c.name });
    } catch (e) { reportError(e, 'Could not create the company.'); }
  }

  input.addEventListener('focus', () => { input.select(); search(); });
  input.addEventListener('input', searchSoon);
  input.addEventListener('blur', () => { searchSoon.cancel(); show(false); if (!input.value.trim() && selected) choose(null); else sync(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); if (list.hidden) search(); else setActive(Math.min(active + 1, options.length - 1)); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); setActive(Math.max(active - 1, 0)); }
    else if (e.key === 'Enter' && !list.hidden && options[active]) { e.preventDefault(); e.stopPropagation(); pick(options[active]); }
    else if (e.key === 'Escape' && !list.hidden) { e.preventDefault(); e.stopPropagation(); show(false); sync(); }
  });
  clearBtn.addEventListener('click', () => { choose(null); input.focus(); });
  sync();
  return { el, input, value: () => selected, set: (v) => { selected = v; sync(); } };
}
