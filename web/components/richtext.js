// Rich text of notes and activities. Bodies arrive sanitized by the server; they are still
// rebuilt here node by node from an inert parse (no innerHTML on the page): only the
// composer's tags, only http/https/mailto links, mentions shown with the member's name.
import { h } from '../util.js';
import { icon } from '../icons.js';

const TAGS = new Set(['P', 'BR', 'H1', 'H2', 'H3', 'H4', 'STRONG', 'B', 'EM', 'I', 'U', 'S', 'UL', 'OL', 'LI', 'A', 'BLOCKQUOTE', 'CODE', 'PRE', 'SPAN']);
const SAFE_URL = /^(https?:|mailto:)/i;

function rebuild(node, members, out) {
  for (const n of node.childNodes) {
    if (n.nodeType === Node.TEXT_NODE) { out.appendChild(document.createTextNode(n.nodeValue)); continue; }
    if (n.nodeType !== Node.ELEMENT_NODE) continue;
    if (!TAGS.has(n.tagName)) { rebuild(n, members, out); continue; }
    if (n.tagName === 'SPAN' && n.dataset.member) {
      const m = (members || []).find((x) => x.user_id === n.dataset.member);
      const name = m && (m.name || m.email);
      out.appendChild(h('span', { class: 'mention', dataset: { member: n.dataset.member }, text: `@${name || 'former member'}` }));
      continue;
    }
    const el = document.createElement(n.tagName.toLowerCase());
    if (n.tagName === 'A') {
      const href = n.getAttribute('href') || '';
      if (SAFE_URL.test(href)) { el.setAttribute('href', href); el.setAttribute('rel', 'noopener noreferrer'); el.setAttribute('target', '_blank'); el.dataset.native = ''; }
    }
    rebuild(n, members, el);
    out.appendChild(el);
  }
  return out;
}

/** A sanitized HTML body as DOM nodes (a <div class="rich">). */
export function richBody(html, members) {
  const doc = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  return rebuild(doc.body, members, h('div', { class: 'rich' }));
}

/**
 * A small editor: contenteditable with bold, italic, list and link, and @ opening a member
 * picker. html() gives what to send; mentions are <span data-member="id">@Name</span>.
 */
export function richEditor({ members, placeholder = 'Write a note…', label = 'Note' }) {
  const area = h('div', { class: 'rich-input', contenteditable: 'true', role: 'textbox', 'aria-multiline': 'true', 'aria-label': label, 'data-placeholder': placeholder });
  const picker = h('ul', { class: 'mention-list', role: 'listbox', hidden: true, 'aria-label': 'Members' });
  const cmd = (name, arg) => { area.focus(); document.execCommand(name, false, arg); };
  const tool = (title, content, run) => h('button', { class: 'btn btn-ghost btn-sm tool', type: 'button', title, 'aria-label': title, onmousedown: (e) => e.preventDefault(), onclick: run }, content);
  const toolbar = h('div', { class: 'rich-tools', role: 'toolbar', 'aria-label': 'Formatting' },
    tool('Bold (Ctrl+B)', h('b', { text: 'B' }), () => cmd('bold')),
    tool('Italic (Ctrl+I)', h('i', { text: 'I' }), () => cmd('italic')),
    tool('Bulleted list', icon('list', 14), () => cmd('insertUnorderedList')),
    tool('Link', icon('link', 14), () => {
      const url = window.prompt('Link address (https://…)');
      if (url && SAFE_URL.test(url.trim())) cmd('createLink', url.trim());
    }),
    tool('Mention a member', '@', () => { cmd('insertText', '@'); openPicker(''); }));

  let active = 0;
  let shown = [];
  function openPicker(q) {
    const low = q.toLowerCase();
    shown = members.filter((m) => m.status !== 'invited' && (m.name || m.email).toLowerCase().includes(low)).slice(0, 8);
    picker.replaceChildren(...shown.map((m, i) => h('li', { role: 'option', class: i === active ? 'active' : '', 'aria-selected': String(i === active), text: m.name || m.email, onmousedown: (e) => { e.preventDefault(); choose(m); } })));
    picker.hidden = !shown.length;
  }
  const closePicker = () => { picker.hidden = true; shown = []; active = 0; };
  // The "@word" just before the caret, if the caret is in a text node right after one.
  function atWord() {
    const sel = window.getSelection();
    if (!sel.rangeCount || !area.contains(sel.anchorNode) || sel.anchorNode.nodeType !== Node.TEXT_NODE) return null;
    const text = sel.anchorNode.nodeValue.slice(0, sel.anchorOffset);
    const m = /(^|\s)@([^\s@]{0,30})$/.exec(text);
    return m ? { node: sel.anchorNode, start: sel.anchorOffset - m[2].length - 1, end: sel.anchorOffset, q: m[2] } : null;
  }
  function choose(m) {
    const w = atWord();
    if (!w) { closePicker(); return; }
    const range = document.createRange();
    range.setStart(w.node, w.start);
    range.setEnd(w.node, w.end);
    range.deleteContents();
    const span = h('span', { class: 'mention', contenteditable: 'false', dataset: { member: m.user_id }, text: `@${m.name || m.email}` });
    const space = document.createTextNode('\u00a0');
    range.insertNode(space);
    range.insertNode(span);
    const sel = window.getSelection();
    sel.removeAllRanges();
    const after = document.createRange();
    after.setStartAfter(space);
    sel.addRange(after);
    closePicker();
  }
  area.addEventListener('input', () => { const w = atWord(); if (w) openPicker(w.q); else closePicker(); });
  area.addEventListener('keydown', (e) => {
    if (picker.hidden) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      active = (active + (e.key === 'ArrowDown' ? 1 : shown.length - 1)) % shown.length;
      const w = atWord();
      openPicker(w ? w.q : '');
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault();
      e.stopPropagation();
      if (shown[active]) choose(shown[active]);
    } else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closePicker(); }
  });
  area.addEventListener('blur', () => setTimeout(closePicker, 150));

  const el = h('div', { class: 'rich-editor' }, toolbar, area, picker);
  return {
    el,
    area,
    focus: () => area.focus(),
    isEmpty: () => !area.textContent.trim(),
    html: () => area.innerHTML,
    clear: () => { area.replaceChildren(); },
  };
}
