// The app frame: sidebar (org switcher, navigation with counts, user menu), per-page top bar
// with title, search and primary action, and the drawer below 768 px.
import { h, clear, fmtNum, debounce } from './util.js';
import { icon } from './icons.js';
import { get, post, orgPath } from './api.js';
import { session, findOrg, clearSession } from './session.js';
import { navigate } from './router.js';
import { avatar } from './components/avatar.js';
import { menuButton } from './components/menu.js';
import { toast, reportError } from './components/toast.js';
import { confirmDialog } from './components/dialog.js';
import { openOrgDialog } from './screens/org-new.js';
import { notificationBell } from './components/bell.js';
import { openPalette, closePalette, paletteShortcut, paletteKeyShortcuts } from './components/palette.js';

const narrow = window.matchMedia('(max-width: 767.98px)');

export function mountShell(root, slug) {
  const org = findOrg(slug);
  const counts = { contacts: h('span', { class: 'count' }), companies: h('span', { class: 'count' }), deals: h('span', { class: 'count' }) };
  const navLinks = {
    contacts: h('a', { href: `/o/${slug}/contacts` }, icon('contacts', 16), 'Contacts', counts.contacts),
    companies: h('a', { href: `/o/${slug}/companies` }, icon('companies', 16), 'Companies', counts.companies),
    deals: h('a', { href: `/o/${slug}/deals` }, icon('deals', 16), 'Deals', counts.deals),
    tasks: h('a', { href: `/o/${slug}/tasks` }, icon('checkCircle', 16), 'Tasks'),
    settings: h('a', { href: `/o/${slug}/settings/members` }, icon('settings', 16), 'Settings'),
  };

  const orgHeader = session.orgs.length > 1 || session.user.is_platform_admin
    ? menuButton({ className: 'org-switch', label: 'Switch organization', content: [avatar(org.name, { size: 'md', square: true }), h('span', { class: 'org-name', text: org.name }), icon('selector', 14)] },
      () => [
        { heading: 'Organizations' },
        ...session.orgs.map((o) => ({ label: o.name, checked: o.slug === slug, href: `/o/${o.slug}/contacts` })),
        ...(session.user.is_platform_admin ? [{ separator: true }, { label: 'New organization…', icon: 'plus', onSelect: () => openOrgDialog() }] : []),
      ])
    : h('div', { class: 'org-switch static' }, avatar(org.name, { size: 'md', square: true }), h('span', { class: 'org-name', text: org.name }));

  const userBtn = menuButton({
    className: 'user-btn', label: 'Account menu',
    content: [avatar(session.user.name || session.user.email, { size: 'md', seed: session.user.id }),
      h('span', { class: 'who' }, h('span', { class: 'name', text: session.user.name || session.user.email }), h('span', { class: 'email', text: session.user.email })),
      icon('selector', 14)],
  }, () => [
    { label: 'My account', icon: 'user', href: `/o/${slug}/settings/account` },
    { separator: true },
    { label: 'Sign out', icon: 'logout', onSelect: () => signOut(false) },
    { label: 'Sign out everywhere', icon: 'shield', onSelect: () => signOut(true) },
  ], { placement: 'above' });

  const sidebar = h('aside', { class: 'sidebar', id: 'sidebar', 'aria-label': 'Main' },
    orgHeader,
    h('nav', { class: 'nav', 'aria-label': 'Sections' }, navLinks.contacts, navLinks.companies, navLinks.deals, navLinks.tasks),
    h('nav', { class: 'nav', 'aria-label': 'Organization' }, h('div', { class: 'nav-label', text: 'Organization' }), navLinks.settings),
    h('div', { class: 'sidebar-foot' }, userBtn));

  const toggle = h('button', { class: 'btn btn-ghost btn-icon menu-toggle', type: 'button', 'aria-label': 'Open navigation', 'aria-controls': 'sidebar', 'aria-expanded': 'false' }, icon('menu', 18));
  const titleEl = h('div', { class: 'topbar-title' });
  // The list filter (list screens only) and the trigger of the search palette (every screen).
  const searchInput = h('input', { class: 'input', type: 'search', id: 'global-search', placeholder: 'Search', autocomplete: 'off', 'aria-label': 'Search' });
  const search = h('div', { class: 'search', role: 'search', hidden: true }, icon('search', 15), searchInput);
  const openSearch = () => openPalette({ slug });
  const trigger = h('button', {
    class: 'search-trigger', type: 'button', title: `Search contacts, companies and deals (${paletteShortcut})`,
    'aria-label': 'Search contacts, companies and deals', 'aria-haspopup': 'dialog', 'aria-keyshortcuts': paletteKeyShortcuts, onclick: openSearch,
  }, icon('search', 15), h('span', { class: 'search-trigger-label', text: 'Search…' }), h('kbd', { text: paletteShortcut }));
  const actions = h('div', { class: 'topbar-actions' });
  const bell = notificationBell();
  const topbar = h('header', { class: 'topbar' }, toggle, titleEl, search, trigger, bell.el, actions);
  const content = h('main', { class: 'content', id: 'content', tabIndex: -1 });
  // A closed organization says so on every page, with its erase date.
  const banner = h('div', { class: 'org-banner', role: 'note', hidden: true });
  const drawBanner = () => {
    const o = findOrg(slug);
    banner.hidden = !(o && o.purge_at);
    if (banner.hidden) return;
    const when = new Date(o.purge_at).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
    clear(banner, icon('lock', 15),
      h('span', { text: `${o.name} is closed and read-only. It will be erased on ${when}.` }),
      o.role === 'owner' && h('a', { href: `/o/${slug}/settings/organization`, text: 'Download its data or reopen it' }));
  };
  drawBanner();
  window.addEventListener('harmonia:orgs', drawBanner);
  const backdrop = h('div', { class: 'drawer-backdrop' });
  const el = h('div', { class: 'shell' }, h('a', { class: 'skip-link', href: '#content', dataset: { native: '' }, text: 'Skip to content' }), sidebar, backdrop, h('div', { class: 'main' }, banner, topbar, content));
  clear(root, el);

  // Drawer on phones.
  const setDrawer = (open) => {
    el.classList.toggle('drawer-open', open);
    toggle.setAttribute('aria-expanded', String(open));
    sidebar.inert = narrow.matches && !open;
    if (open) (sidebar.querySelector('a[aria-current], a, button') || sidebar).focus();
  };
  toggle.addEventListener('click', () => setDrawer(true));
  backdrop.addEventListener('click', () => { setDrawer(false); toggle.focus(); });
  sidebar.addEventListener('keydown', (e) => { if (e.key === 'Escape' && el.classList.contains('drawer-open')) { setDrawer(false); toggle.focus(); } });
  const onMedia = () => setDrawer(false);
  narrow.addEventListener('change', onMedia);
  setDrawer(false);

  // The list filter: shown while a screen binds it (setTop's search); the palette searches everything.
  let searchHandler = null;
  const fire = debounce(() => searchHandler && searchHandler(searchInput.value.trim()), 220);
  searchInput.addEventListener('input', () => { if (searchHandler) fire(); });
  searchInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      if (searchHandler) { fire.cancel(); searchHandler(searchInput.value.trim()); }
    } else if (e.key === 'Escape') {
      if (searchInput.value) { searchInput.value = ''; if (searchHandler) { fire.cancel(); searchHandler(''); } }
      else searchInput.blur();
    }
  });

  async function refreshCounts() {
    for (const k of ['contacts', 'companies', 'deals']) {
      get(orgPath(slug, k, 'count') + (k === 'deals' ? '?status=open' : '')).then((r) => { counts[k].textContent = fmtNum(r.count); }).catch(() => {});
    }
  }
  const onChanged = () => refreshCounts();
  window.addEventListener('harmonia:changed', onChanged);
  refreshCounts();

  async function signOut(everywhere) {
    if (everywhere && !(await confirmDialog({ title: 'Sign out everywhere?', message: 'This signs you out on every device and browser, including this one.', confirmLabel: 'Sign out everywhere', danger: true }))) return;
    try {
      await post(everywhere ? '/auth/logout-all' : '/auth/logout', undefined, { quiet401: true });
    } catch (e) {
      if (e.status !== 401) { reportError(e); return; }
    }
    clearSession();
    navigate('/login', { replace: true });
    toast(everywhere ? 'Signed out on all devices.' : 'Signed out.', { kind: 'success' });
  }

  return {
    slug,
    el,
    content,
    /** setTop({title, crumbs: [{label, href}], count, actions: [Node], search: {value, placeholder, onSearch}}) */
    setTop({ title, crumbs = [], count = null, actions: acts = [], search: s = null }) {
      clear(titleEl,
        crumbs.map((c) => [h('a', { class: 'crumb', href: c.href, text: c.label }), h('span', { class: 'sep', 'aria-hidden': 'true', text: '/' })]),
        h('h1', { text: title }),
        count);
      clear(actions, acts);
      searchHandler = s ? s.onSearch : null;
      searchInput.value = s ? s.value || '' : '';
      searchInput.placeholder = s ? s.placeholder : 'Search';
      search.hidden = !s;
      trigger.classList.toggle('compact', !!s);
      document.title = `${title} · ${org.name} · Harmonia`;
    },
    setActive(section) {
      for (const [k, a] of Object.entries(navLinks)) {
        if (k === section) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
      setDrawer(false);
    },
    setSearchValue(v) { searchInput.value = v; },
    focusSearch() { searchInput.focus(); searchInput.select(); },
    openSearch,
    refreshCounts,
    destroy() {
      closePalette();
      bell.destroy();
      window.removeEventListener('harmonia:changed', onChanged);
      window.removeEventListener('harmonia:orgs', drawBanner);
      narrow.removeEventListener('change', onMedia);
    },
  };
}

