// Constant line icons (24×24, stroke), built with DOM calls from the shapes below.
const NS = 'http://www.w3.org/2000/svg';

const ICONS = {
  contacts: [['circle', { cx: 12, cy: 8, r: 3.75 }], ['path', { d: 'M4.5 20c.6-3.6 3.6-5.75 7.5-5.75s6.9 2.15 7.5 5.75' }]],
  companies: [['path', { d: 'M4 21V5.5A1.5 1.5 0 0 1 5.5 4h8A1.5 1.5 0 0 1 15 5.5V21' }], ['path', { d: 'M15 9.5h3.5A1.5 1.5 0 0 1 20 11v10' }], ['path', { d: 'M2.5 21h19M8 8h3M8 12h3M8 16h3' }]],
  settings: [['path', { d: 'M4 6h8M16 6h4M4 12h2M10 12h10M4 18h10M18 18h2' }], ['circle', { cx: 14, cy: 6, r: 2 }], ['circle', { cx: 8, cy: 12, r: 2 }], ['circle', { cx: 16, cy: 18, r: 2 }]],
  users: [['circle', { cx: 9, cy: 8.5, r: 3.25 }], ['path', { d: 'M3 19.5c.5-3.2 3-5 6-5s5.5 1.8 6 5' }], ['path', { d: 'M15.5 5.4a3.25 3.25 0 0 1 0 6.2M17.5 14.8c1.9.6 3.1 2.2 3.5 4.7' }]],
  key: [['circle', { cx: 8, cy: 15, r: 3.75 }], ['path', { d: 'M10.8 12.2 19 4M16 7l2.5 2.5M14 9l2 2' }]],
  user: [['circle', { cx: 12, cy: 8, r: 3.75 }], ['path', { d: 'M4.5 20c.6-3.6 3.6-5.75 7.5-5.75s6.9 2.15 7.5 5.75' }]],
  search: [['circle', { cx: 11, cy: 11, r: 6.25 }], ['path', { d: 'm20 20-4.5-4.5' }]],
  plus: [['path', { d: 'M12 5v14M5 12h14' }]],
  bell: [['path', { d: 'M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z' }], ['path', { d: 'M10 20.5a2 2 0 0 0 4 0' }]],
  filter: [['path', { d: 'M4 6h16M7 12h10M10 18h4' }]],
  sort: [['path', { d: 'M7 4v16M4 17l3 3 3-3M14 7h6M14 12h4M14 17h2' }]],
  columns: [['rect', { x: 4, y: 4.5, width: 16, height: 15, rx: 1.5 }], ['path', { d: 'M9.5 4.5v15M14.5 4.5v15' }]],
  tag: [['path', { d: 'M3.5 12.2V4.8c0-.7.6-1.3 1.3-1.3h7.4l8.3 8.3-8.7 8.7z' }], ['circle', { cx: 8.2, cy: 8.2, r: 1.4 }]],
  hash: [['path', { d: 'M9 4 7 20M17 4l-2 16M4.5 9h16M3.5 15h16' }]],
  calendar: [['rect', { x: 4, y: 5.5, width: 16, height: 14.5, rx: 1.5 }], ['path', { d: 'M4 10h16M8.5 3.5v4M15.5 3.5v4' }]],
  text: [['path', { d: 'M5 6.5V5h14v1.5M12 5v14M9.5 19h5' }]],
  list: [['path', { d: 'M9 7h11M9 12h11M9 17h11' }], ['circle', { cx: 5, cy: 7, r: 1, fill: 'currentColor' }], ['circle', { cx: 5, cy: 12, r: 1, fill: 'currentColor' }], ['circle', { cx: 5, cy: 17, r: 1, fill: 'currentColor' }]],
  deals: [['path', { d: 'M4 19V5M4 19h16' }], ['path', { d: 'M8 15v-3M12 15V8M16 15v-5' }]],
  chart: [['path', { d: 'M4 20h16' }], ['rect', { x: 5, y: 11, width: 3, height: 6 }], ['rect', { x: 10.5, y: 7, width: 3, height: 10 }], ['rect', { x: 16, y: 4, width: 3, height: 13 }]],
  grip: [['circle', { cx: 9, cy: 7, r: 1 }], ['circle', { cx: 15, cy: 7, r: 1 }], ['circle', { cx: 9, cy: 12, r: 1 }], ['circle', { cx: 15, cy: 12, r: 1 }], ['circle', { cx: 9, cy: 17, r: 1 }], ['circle', { cx: 15, cy: 17, r: 1 }]],
  money: [['rect', { x: 3, y: 6.5, width: 18, height: 11, rx: 1.5 }], ['circle', { cx: 12, cy: 12, r: 2.5 }]],
  x: [['path', { d: 'M6.5 6.5l11 11M17.5 6.5l-11 11' }]],
  check: [['path', { d: 'm5 12.5 4.5 4.5L19 7.5' }]],
  chevDown: [['path', { d: 'm7 10 5 5 5-5' }]],
  chevRight: [['path', { d: 'm10 7 5 5-5 5' }]],
  selector: [['path', { d: 'm8 9.5 4-4 4 4M8 14.5l4 4 4-4' }]],
  arrowUp: [['path', { d: 'M12 19V5M6.5 10.5 12 5l5.5 5.5' }]],
  arrowDown: [['path', { d: 'M12 5v14M6.5 13.5 12 19l5.5-5.5' }]],
  menu: [['path', { d: 'M4 7h16M4 12h16M4 17h16' }]],
  trash: [['path', { d: 'M4.5 7h15M10 11v6M14 11v6M6.5 7l.8 12.1A2 2 0 0 0 9.3 21h5.4a2 2 0 0 0 2-1.9L17.5 7M9 7V4.5h6V7' }]],
  logout: [['path', { d: 'M14.5 4H18a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3.5M10 16.5 14.5 12 10 7.5M14.5 12H4' }]],
  copy: [['rect', { x: 8.5, y: 8.5, width: 11.5, height: 11.5, rx: 2 }], ['path', { d: 'M15.5 8.5V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v7.5a2 2 0 0 0 2 2h2.5' }]],
  mail: [['rect', { x: 3, y: 5, width: 18, height: 14, rx: 2 }], ['path', { d: 'm3.5 7 8.5 6 8.5-6' }]],
  phone: [['path', { d: 'M5.5 4h3l1.8 4.4-2.1 1.4a11 11 0 0 0 6 6l1.4-2.1 4.4 1.8v3a2 2 0 0 1-2.2 2A16.5 16.5 0 0 1 3.5 6.2 2 2 0 0 1 5.5 4z' }]],
  globe: [['circle', { cx: 12, cy: 12, r: 8.75 }], ['path', { d: 'M3.5 12h17M12 3.25c2.3 2.4 3.4 5.3 3.4 8.75S14.3 18.4 12 20.75C9.7 18.4 8.6 15.5 8.6 12S9.7 5.6 12 3.25z' }]],
  pin: [['path', { d: 'M12 21s-6.5-5.9-6.5-11.2a6.5 6.5 0 0 1 13 0C18.5 15.1 12 21 12 21z' }], ['circle', { cx: 12, cy: 9.8, r: 2.3 }]],
  pencil: [['path', { d: 'M4 20h4L19.2 8.8a2 2 0 0 0 0-2.8l-1.2-1.2a2 2 0 0 0-2.8 0L4 16v4zM13.5 6.5l4 4' }]],
  more: [['circle', { cx: 5.5, cy: 12, r: 1.2, fill: 'currentColor' }], ['circle', { cx: 12, cy: 12, r: 1.2, fill: 'currentColor' }], ['circle', { cx: 18.5, cy: 12, r: 1.2, fill: 'currentColor' }]],
  lock: [['rect', { x: 5, y: 10.5, width: 14, height: 10, rx: 2 }], ['path', { d: 'M8.5 10.5V7.5a3.5 3.5 0 0 1 7 0v3' }]],
  briefcase: [['rect', { x: 3.5, y: 7, width: 17, height: 13, rx: 2 }], ['path', { d: 'M9 7V5.5A1.5 1.5 0 0 1 10.5 4h3A1.5 1.5 0 0 1 15 5.5V7M3.5 12.5h17' }]],
  download: [['path', { d: 'M12 4v11M7 10.5l5 5 5-5M5 19.5h14' }]],
  undo: [['path', { d: 'M9 14 4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11' }]],
  alert: [['circle', { cx: 12, cy: 12, r: 8.75 }], ['path', { d: 'M12 7.5v5.5M12 16.3v.2' }]],
  checkCircle: [['circle', { cx: 12, cy: 12, r: 8.75 }], ['path', { d: 'm8.3 12.3 2.5 2.5 5-5.3' }]],
  info: [['circle', { cx: 12, cy: 12, r: 8.75 }], ['path', { d: 'M12 11v5.5M12 7.7v.2' }]],
  clock: [['circle', { cx: 12, cy: 12, r: 8.75 }], ['path', { d: 'M12 7.5V12l3 2' }]],
  sparkle: [['path', { d: 'M12 4v4M12 16v4M4 12h4M16 12h4M6.5 6.5l2 2M15.5 15.5l2 2M17.5 6.5l-2 2M8.5 15.5l-2 2' }]],
  shield: [['path', { d: 'M12 3.5 5 6v5.5c0 4.3 3 7.6 7 9 4-1.4 7-4.7 7-9V6l-7-2.5z' }]],
  paperclip: [['path', { d: 'M20 11.5 12.3 19.2a4.8 4.8 0 0 1-6.8-6.8l8-8a3.2 3.2 0 0 1 4.5 4.5l-8 8a1.6 1.6 0 0 1-2.3-2.3l7.3-7.3' }]],
  file: [['path', { d: 'M6.5 3.5h7l4 4v13h-11z' }], ['path', { d: 'M13.5 3.5v4h4' }]],
  image: [['rect', { x: 4, y: 4.5, width: 16, height: 15, rx: 1.5 }], ['circle', { cx: 9, cy: 9.5, r: 1.5 }], ['path', { d: 'm4.5 17 4.5-4.5 3.5 3.5 2.5-2.5 4.5 4.5' }]],
  link: [['path', { d: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1' }]],
};

export function icon(name, size = 16, cls = '') {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', size);
  svg.setAttribute('height', size);
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', size <= 14 ? '2' : '1.75');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  if (cls) svg.setAttribute('class', cls);
  for (const [tag, attrs] of ICONS[name] || []) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    svg.appendChild(el);
  }
  return svg;
}

/** The Harmonia mark: an H on an accent tile (same shape as favicon.svg). */
export function logo(size = 28) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', size);
  svg.setAttribute('height', size);
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('aria-hidden', 'true');
  const parts = [
    ['rect', { width: 32, height: 32, rx: 8, fill: '#5752c8' }],
    ['path', { d: 'M9 21.5V10.5M23 21.5V10.5M9 16h14', stroke: '#fff', 'stroke-width': 2.6, 'stroke-linecap': 'round', fill: 'none' }],
    ['circle', { cx: 16, cy: 16, r: 2.2, fill: '#c9c6ff' }],
  ];
  for (const [tag, attrs] of parts) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    svg.appendChild(el);
  }
  return svg;
}
