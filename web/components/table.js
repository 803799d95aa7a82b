// Data table: sticky header, sortable headers, selection checkboxes, skeleton rows,
// row click opens the record, arrow keys move between rows.
import { h } from '../util.js';
import { icon } from '../icons.js';
import { navigate } from '../router.js';

const SKEL_W = ['w-60', 'w-80', 'w-50', 'w-70', 'w-40', 'w-90'];

/**
 * createTable({columns: [{key, label, sort, render(item), className, right}], rowHref(item),
 *   selectable, onSort(sortKey), onSelect(Set), caption})
 */
export function createTable({ columns: initialColumns, rowHref, selectable = false, onSort, onSelect, caption, className = '' }) {
  let columns = initialColumns;
  const selected = new Set();
  let anchor = null; // the row last clicked, for shift-click ranges
  let items = [];
  let sort = '';
  const headRow = h('tr');
  const thead = h('thead', null, headRow);
  const tbody = h('tbody');
  const table = h('table', { class: `table ${className}`.trim() }, caption && h('caption', { class: 'sr-only', text: caption }), thead, tbody);
  const all = selectable ? h('input', { type: 'checkbox', class: 'checkbox', 'aria-label': 'Select all rows' }) : null;

  function renderHead() {
    headRow.replaceChildren();
    if (all) headRow.appendChild(h('th', { class: 'col-check', scope: 'col' }, all));
    for (const c of columns) {
      const th = h('th', { scope: 'col', class: [c.className, c.right && 'right', c.sort && 'sortable'].filter(Boolean).join(' ') });
      if (c.sort && onSort) {
        const dir = sort === c.sort ? 'ascending' : sort === '-' + c.sort ? 'descending' : null;
        if (dir) th.setAttribute('aria-sort', dir);
        th.appendChild(h('button', { class: 'sort-btn', type: 'button', onclick: () => onSort(c.sort) },
          c.label, icon(dir === 'descending' ? 'arrowDown' : 'arrowUp', 12)));
      } else th.textContent = c.label;
      headRow.appendChild(th);
    }
  }

  function syncAll() {
    if (!all) return;
    const n = items.filter((x) => selected.has(x.id)).length;
    all.checked = n > 0 && n === items.length;
    all.indeterminate = n > 0 && n < items.length;
  }
  function changed() { syncAll(); if (onSelect) onSelect(new Set(selected)); }

  function row(item) {
    const tr = h('tr', { dataset: { id: item.id } });
    if (selectable) {
      const cb = h('input', { type: 'checkbox', class: 'checkbox', checked: selected.has(item.id), 'aria-label': 'Select row' });
      // Shift-click sets every row from the last one clicked to this one, like a spreadsheet.
      let shift = false;
      cb.addEventListener('click', (e) => { shift = e.shiftKey; });
      cb.addEventListener('change', () => {
        const here = items.findIndex((x) => x.id === item.id);
        const from = shift && anchor != null ? items.findIndex((x) => x.id === anchor) : -1;
        const range = from >= 0 && here >= 0 ? items.slice(Math.min(from, here), Math.max(from, here) + 1) : [item];
        for (const it of range) {
          if (cb.checked) selected.add(it.id); else selected.delete(it.id);
        }
        for (const r of tbody.rows) {
          if (!range.some((it) => it.id === r.dataset.id)) continue;
          r.classList.toggle('is-selected', cb.checked);
          const box = r.querySelector('.col-check input');
          if (box) box.checked = cb.checked;
        }
        anchor = item.id;
        shift = false;
        changed();
      });
      tr.appendChild(h('td', { class: 'col-check' }, cb));
      if (selected.has(item.id)) tr.classList.add('is-selected');
    }
    for (const c of columns) {
      const v = c.render(item);
      tr.appendChild(h('td', { class: [c.className, c.right && 'right num'].filter(Boolean).join(' ') }, v == null || v === '' ? h('span', { class: 'tertiary', text: '—' }) : v));
    }
    if (rowHref) {
      tr.addEventListener('click', (e) => {
        if (e.target.closest('a, button, input, select, label') || getSelection().toString()) return;
        navigate(rowHref(item));
      });
    }
    return tr;
  }

  if (all) {
    all.addEventListener('change', () => {
      for (const it of items) if (all.checked) selected.add(it.id); else selected.delete(it.id);
      for (const tr of tbody.rows) {
        const cb = tr.querySelector('.col-check input');
        if (cb) cb.checked = all.checked;
        tr.classList.toggle('is-selected', all.checked);
      }
      changed();
    });
  }

  // Up/Down move focus between the rows' first links.
  tbody.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const tr = e.target.closest('tr');
    if (!tr || e.target.tagName === 'SELECT') return;
    const next = e.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
    const col = [...tr.cells].indexOf(e.target.closest('td'));
    const link = next && ((next.cells[col] && next.cells[col].querySelector('a, button, input')) || next.querySelector('a, button, input'));
    if (link) { e.preventDefault(); link.focus(); }
  });

  // A table with the `fit` class spreads over the width it has (table-layout: fixed, cells
  // truncate); below a floor per visible column it scrolls sideways instead, with the name
  // column pinned (CSS). Columns hidden by the width rules don't count.
  if (/\bfit\b/.test(className) && typeof ResizeObserver === 'function') {
    const floor = () => {
      let w = 0;
      for (const th of headRow.cells) {
        if (!th.offsetWidth && getComputedStyle(th).display === 'none') continue;
        w += th.classList.contains('col-check') ? 40 : th.classList.contains('name-cell') ? 150 : 96;
      }
      table.style.minWidth = `${w}px`;
    };
    new ResizeObserver(floor).observe(table);
  }
  // A cell cut short shows its whole text on hover.
  tbody.addEventListener('mouseover', (e) => {
    const td = e.target.closest && e.target.closest('td');
    if (!td || td.title || td.classList.contains('col-check')) return;
    const cut = [...td.querySelectorAll('a, span'), td].find((x) => x.scrollWidth > x.clientWidth + 1);
    if (cut) td.title = cut.textContent.trim();
  });

  renderHead();
  return {
    el: table,
    setSort(s) { sort = s; renderHead(); },
    setColumns(cols) {
      columns = cols;
      renderHead();
      tbody.replaceChildren(...items.map(row));
      syncAll();
    },
    setItems(list) {
      items = list.slice();
      for (const id of [...selected]) if (!items.some((x) => x.id === id)) selected.delete(id);
      tbody.replaceChildren(...items.map(row));
      syncAll();
    },
    append(list) {
      items.push(...list);
      for (const it of list) tbody.appendChild(row(it));
      syncAll();
    },
    prepend(item) {
      items.unshift(item);
      tbody.prepend(row(item));
      syncAll();
    },
    remove(ids) {
      const set = new Set(ids);
      items = items.filter((x) => !set.has(x.id));
      for (const tr of [...tbody.rows]) if (set.has(tr.dataset.id)) tr.remove();
      for (const id of ids) selected.delete(id);
      changed();
    },
    skeleton(n = 10) {
      tbody.replaceChildren();
      for (let i = 0; i < n; i++) {
        const tr = h('tr', { class: 'skel-row', 'aria-hidden': 'true' });
        if (selectable) tr.appendChild(h('td', { class: 'col-check' }));
        columns.forEach((c, j) => {
          tr.appendChild(h('td', { class: [c.className, c.right && 'right'].filter(Boolean).join(' ') },
            j === 0 ? h('span', { class: 'cell-inner row' }, h('span', { class: 'skel circle' }), h('span', { class: `skel ${SKEL_W[i % 6]}` }))
              : h('span', { class: `skel ${SKEL_W[(i + j) % 6]}` })));
        });
        tbody.appendChild(tr);
      }
    },
    items: () => items,
    selected: () => new Set(selected),
    clearSelection() {
      selected.clear();
      for (const tr of tbody.rows) {
        tr.classList.remove('is-selected');
        const cb = tr.querySelector('.col-check input');
        if (cb) cb.checked = false;
      }
      changed();
    },
    showHead(on) { thead.hidden = !on; },
  };
}

/** An empty state: emptyState({icon, title, text, actions: [Node]}) */
export function emptyState({ iconName = 'info', title, text, actions = [], compact = false }) {
  return h('div', { class: `empty ${compact ? 'compact' : ''}` },
    h('span', { class: 'empty-icon' }, icon(iconName, 20)),
    h('h2', { text: title }),
    text && h('p', { text }),
    actions.length ? h('div', { class: 'row' }, actions) : null);
}
