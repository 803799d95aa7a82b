// Tags: coloured chips, and a picker that lists the org's tags, filters as you type and
// creates a tag on the fly. tagsBox() is the record page's tag section.
import { h, nextId } from '../util.js';
import { icon } from '../icons.js';
import { post, del, orgPath } from '../api.js';
import { getTags, forgetTags } from '../schema.js';
import { openPopover } from './menu.js';
import { chip, COLORS } from './values.js';
import { reportError } from './toast.js';

/**
 * openTagPicker(anchor, {slug, exclude: Set<id>, onPick(tag)}): a popover with a filter box;
 * Enter picks the highlighted tag or creates "…" when nothing matches exactly.
 */
export function openTagPicker(anchor, { slug, exclude = new Set(), onPick, canCreate = true }) {
  const listId = nextId('tags');
  const input = h('input', { class: 'input', type: 'text', placeholder: 'Find or create a tag…', autocomplete: 'off', role: 'combobox', 'aria-expanded': 'true', 'aria-controls': listId, 'aria-autocomplete': 'list', 'aria-label': 'Tag' });
  const list = h('ul', { class: 'listbox inline', role: 'listbox', id: listId });
  const pop = openPopover(anchor, [input, list], { className: 'tag-picker', label: 'Add tag' });
  let all = [];
  let options = [];
  let active = 0;
  function render() {
    const term = input.value.trim();
    const t = term.toLowerCase();
    options = all.filter((x) => !exclude.has(x.id) && (!t || x.name.toLowerCase().includes(t))).slice(0, 50).map((tag) => ({ tag }));
    if (canCreate && term && !all.some((x) => x.name.toLowerCase() === t)) options.push({ create: term });
    list.replaceChildren();
    if (!options.length) list.appendChild(h('li', { class: 'empty', text: all.length ? 'No tags match' : 'No tags yet — type a name' }));
    options.forEach((o, i) => {
      const li = h('li', { role: 'option', id: `${listId}-${i}`, 'aria-selected': String(i === active) },
        o.create ? [icon('plus', 14), h('span', { class: 'truncate', text: `Create “${o.create}”` })]
          : [chip(o.tag.name, o.tag.color), o.tag.count != null && h('span', { class: 'meta grow right-text', text: String(o.tag.count) })]);
      li.addEventListener('mousedown', (e) => { e.preventDefault(); choose(o); });
      list.appendChild(li);
    });
    setActive(Math.min(active, options.length - 1));
  }
  function setActive(i) {
    active = Math.max(0, i);
    [...list.children].forEach((li, n) => li.setAttribute('aria-selected', String(n === active)));
    const li = list.children[active];
    if (li && li.id) { input.setAttribute('aria-activedescendant', li.id); li.scrollIntoView({ block: 'nearest' }); }
  }
  async function choose(o) {
    if (!o) return;
    let tag = o.tag;
    if (o.create) {
      try {
        tag = await post(orgPath(slug, 'tags'), { name: o.create, color: COLORS[1 + (all.length % (COLORS.length - 1))] });
        forgetTags(slug);
      } catch (e) { reportError(e, 'Could not create the tag.'); return; }
    }
    pop.close();
    onPick(tag);
  }
  input.addEventListener('input', () => { active = 0; render(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); setActive(Math.min(active + 1, options.length - 1)); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); setActive(active - 1); }
    else if (e.key === 'Enter') { e.preventDefault(); choose(options[active]); }
  });
  input.focus();
  render();
  getTags(slug).then((tags) => { all = tags; render(); pop.place(); }).catch((e) => reportError(e));
  return pop;
}

/** The record page's tags: chips (removable) and "Add tag". onChange(record) after each write. */
export function tagsBox({ slug, path, record, editable, onChange }) {
  let current = record;
  const el = h('div', { class: 'tag-box' });
  const base = orgPath(slug, path, record.id, 'tags');
  function render() {
    const tags = current.tags || [];
    el.replaceChildren(...tags.map((t) => chip(t.name, t.color, editable && h('button', {
      class: 'chip-x', type: 'button', 'aria-label': `Remove tag ${t.name}`,
      onclick: () => remove(t),
    }, icon('x', 11)))));
    if (!tags.length && !editable) el.appendChild(h('span', { class: 'meta', text: 'No tags' }));
    if (editable) {
      const add = h('button', { class: 'btn btn-ghost btn-sm add-tag', type: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false' }, icon('plus', 13), tags.length ? 'Tag' : 'Add tag');
      add.addEventListener('click', () => openTagPicker(add, { slug, exclude: new Set(tags.map((t) => t.id)), onPick: (t) => addTag(t) }));
      el.appendChild(add);
    }
  }
  async function addTag(tag) {
    const before = current;
    current = { ...current, tags: [...(current.tags || []), tag] };
    render();
    try {
      current = await post(base, { tag_ids: [tag.id] });
      forgetTags(slug);
      render();
      if (onChange) onChange(current);
      const btn = el.querySelector('.add-tag');
      if (btn) btn.focus();
    } catch (e) { current = before; render(); reportError(e, 'Tag not added.'); }
  }
  async function remove(tag) {
    const before = current;
    current = { ...current, tags: (current.tags || []).filter((t) => t.id !== tag.id) };
    render();
    try {
      current = await del(`${base}/${encodeURIComponent(tag.id)}`);
      forgetTags(slug);
      render();
      if (onChange) onChange(current);
      const btn = el.querySelector('.add-tag');
      if (btn) btn.focus();
    } catch (e) { current = before; render(); reportError(e, 'Tag not removed.'); }
  }
  render();
  return { el, update(r) { current = r; render(); } };
}
