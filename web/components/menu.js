// Popover menus: arrow keys move, Enter/Space choose, Esc or a click outside closes.
import { h } from '../util.js';
import { icon } from '../icons.js';

let openMenuEl = null;

export function closeMenus() {
  if (openMenuEl) openMenuEl._close();
}

/**
 * openMenu(anchor, [{label, icon, onSelect, danger, checked, href} | {separator: true} | {heading}], {align: 'start'|'end', placement: 'below'|'above'})
 */
export function openMenu(anchor, items, { align = 'start', placement = 'below' } = {}) {
  closeMenus();
  const menu = h('div', { class: 'menu', role: 'menu' });
  for (const it of items) {
    if (it.separator) { menu.appendChild(h('div', { class: 'menu-sep', role: 'separator' })); continue; }
    if (it.heading) { menu.appendChild(h('div', { class: 'menu-head', text: it.heading })); continue; }
    const tag = it.href ? 'a' : 'button';
    const el = h(tag, {
      class: `menu-item ${it.danger ? 'danger' : ''}`, role: it.checked != null ? 'menuitemradio' : 'menuitem',
      tabIndex: -1, type: it.href ? null : 'button', href: it.href || null,
      'aria-checked': it.checked != null ? String(!!it.checked) : null,
    },
    it.icon && icon(it.icon, 15),
    h('span', { class: 'truncate grow', text: it.label }),
    it.checked && h('span', { class: 'check' }, icon('check', 14)));
    el.addEventListener('click', (e) => {
      close(false);
      if (it.onSelect) { e.preventDefault(); it.onSelect(); }
    });
    menu.appendChild(el);
  }
  document.body.appendChild(menu);

  const r = anchor.getBoundingClientRect();
  const mw = menu.offsetWidth;
  const mh = menu.offsetHeight;
  let left = align === 'end' ? r.right - mw : r.left;
  left = Math.max(8, Math.min(left, window.innerWidth - mw - 8));
  let top = placement === 'above' ? r.top - mh - 4 : r.bottom + 4;
  if (top + mh > window.innerHeight - 8) top = Math.max(8, r.top - mh - 4);
  if (top < 8) top = 8;
  menu.style.left = `${left}px`;
  menu.style.top = `${top}px`;

  anchor.setAttribute('aria-expanded', 'true');
  const focusables = () => [...menu.querySelectorAll('.menu-item')];
  const onKey = (e) => {
    const list = focusables();
    const i = list.indexOf(document.activeElement);
    if (e.key === 'ArrowDown') { e.preventDefault(); list[(i + 1) % list.length].focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); list[(i - 1 + list.length) % list.length].focus(); }
    else if (e.key === 'Home') { e.preventDefault(); list[0].focus(); }
    else if (e.key === 'End') { e.preventDefault(); list[list.length - 1].focus(); }
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); close(true); }
    else if (e.key === 'Tab') close(false);
  };
  const onDown = (e) => { if (!menu.contains(e.target) && !anchor.contains(e.target)) close(false); };
  const onScroll = (e) => { if (!menu.contains(e.target)) close(false); };
  function close(refocus) {
    if (!menu.isConnected) return;
    menu.remove();
    anchor.setAttribute('aria-expanded', 'false');
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('mousedown', onDown, true);
    window.removeEventListener('resize', onScroll);
    document.removeEventListener('scroll', onScroll, true);
    if (openMenuEl === menu) openMenuEl = null;
    if (refocus) anchor.focus();
  }
  menu._close = () => close(false);
  openMenuEl = menu;
  document.addEventListener('keydown', onKey, true);
  document.addEventListener('mousedown', onDown, true);
  window.addEventListener('resize', onScroll);
  document.addEventListener('scroll', onScroll, true);
  const first = focusables()[0];
  if (first) first.focus();
  return close;
}

/** A button that toggles a menu: menuButton({label, icon, className}, () => items, opts) */
export function menuButton({ label, iconName = 'more', className = 'btn btn-ghost btn-icon', content }, getItems, opts) {
  const btn = h('button', { class: className, type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': content ? null : label, title: content ? null : label },
    content || icon(iconName, 16));
  btn.addEventListener('click', () => {
    if (btn.getAttribute('aria-expanded') === 'true') { closeMenus(); return; }
    openMenu(btn, getItems(), opts);
  });
  btn.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); openMenu(btn, getItems(), opts); }
  });
  return btn;
}

let openPopoverEl = null;
export function closePopover() { if (openPopoverEl) openPopoverEl._close(); }
/** Re-anchors the open popover (after the bar it hangs from changed size). */
export function placePopover() { if (openPopoverEl) openPopoverEl._place(); }

/**
 * A floating panel anchored to a button (filter builder, sort, columns, tag picker): Esc or a
 * click outside closes it and focus returns to the anchor. openPopover(anchor, content, {align,
 * className, onClose, under: an element to hang below, e.g. the bar}) → {el, close, place}
 */
export function openPopover(anchor, content, { align = 'start', className = '', onClose, label, under = null } = {}) {
  closeMenus();
  closePopover();
  const el = h('div', { class: `popover ${className}`.trim(), role: 'dialog', 'aria-label': label || null }, content);
  document.body.appendChild(el);
  const place = () => {
    const r = anchor.getBoundingClientRect();
    const w = el.offsetWidth;
    let left = align === 'end' ? r.right - w : r.left;
    left = Math.max(8, Math.min(left, window.innerWidth - w - 8));
    el.style.left = `${left}px`;
    const bottom = under && under.isConnected ? Math.max(r.bottom, under.getBoundingClientRect().bottom - 2) : r.bottom;
    el.style.top = `${Math.min(bottom + 6, Math.max(8, window.innerHeight - el.offsetHeight - 8))}px`;
  };
  place();
  anchor.setAttribute('aria-expanded', 'true');
  const onKey = (e) => { if (e.key === 'Escape' && !e.defaultPrevented) { e.preventDefault(); e.stopPropagation(); close(true); } };
  const onDown = (e) => {
    if (el.contains(e.target) || anchor.contains(e.target)) return;
    if (e.target.closest && e.target.closest('.menu, .popover, dialog')) return;
    close(false);
  };
  function close(refocus) {
    if (!el.isConnected) return;
    el.remove();
    anchor.setAttribute('aria-expanded', 'false');
    el.removeEventListener('keydown', onKey);
    document.removeEventListener('mousedown', onDown, true);
    window.removeEventListener('resize', place);
    if (openPopoverEl === el) openPopoverEl = null;
    if (refocus && anchor.isConnected) anchor.focus();
    if (onClose) onClose();
  }
  el._close = () => close(false);
  el._place = place;
  openPopoverEl = el;
  el.addEventListener('keydown', onKey);
  document.addEventListener('mousedown', onDown, true);
  window.addEventListener('resize', place);
  return { el, close: () => close(true), place };
}
