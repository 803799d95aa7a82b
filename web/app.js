// Boot: load the session, map routes to screens, mount the app frame, global shortcuts.
import { h, clear, isTyping, tickTimes } from './util.js';
import { setUnauthenticatedHandler, setReauthenticator, post } from './api.js';
import { signInAgain } from './components/reauth.js';
import { applyPrefs } from './locale.js';
import { setPhoneCountry } from './phone.js';
import { session, loadSession, clearSession, findOrg } from './session.js';
import { route, start, navigate, currentRoute } from './router.js';
import { mountShell } from './shell.js';
import { closeMenus, closePopover } from './components/menu.js';
import { closePalette } from './components/palette.js';
import { emptyState } from './components/table.js';
import { reportError } from './components/toast.js';
import { openOrgDialog } from './screens/org-new.js';
import { renderLogin, renderSetup, renderInvite, renderReset } from './screens/auth.js';
import { renderContacts } from './screens/contacts.js';
import { renderContact } from './screens/contact.js';
import { renderCompanies } from './screens/companies.js';
import { renderCompany } from './screens/company.js';
import { renderDeals } from './screens/deals.js';
import { renderDeal } from './screens/deal.js';
import { renderPipelines } from './screens/pipelines.js';
import { renderMembers } from './screens/members.js';
import { renderApiKeys } from './screens/apikeys.js';
import { renderWebhooks } from './screens/webhooks.js';
import { renderAccount } from './screens/account.js';
import { renderSecurity } from './screens/security.js';
import { renderOrgSecurity } from './screens/orgsecurity.js';
import { renderFields } from './screens/fields.js';
import { renderTags } from './screens/tagsettings.js';
import { renderOrgSettings } from './screens/orgsettings.js';
import { renderTrash } from './screens/trash.js';
import { renderAudit } from './screens/audit.js';
import { renderDuplicates } from './screens/duplicates.js';
import { renderImport, renderImportNew } from './screens/import.js';
import { renderPrivacy } from './screens/privacy.js';
import { renderTasks, openQuickTask, renderLinked } from './screens/tasks.js';

route('/', 'home');
route('/login', 'login');
route('/setup', 'setup');
route('/invite', 'invite');
route('/reset-password', 'reset');
route('/o/:org', 'orgHome');
route('/o/:org/contacts', 'contacts');
route('/o/:org/contacts/duplicates', 'contactDuplicates');
route('/o/:org/companies/duplicates', 'companyDuplicates');
route('/o/:org/contacts/import', 'importContacts');
route('/o/:org/companies/import', 'importCompanies');
route('/o/:org/deals/import', 'importDeals');
route('/o/:org/imports/:id', 'import');
route('/o/:org/contacts/:id', 'contact');
route('/o/:org/companies', 'companies');
route('/o/:org/companies/:id', 'company');
route('/o/:org/deals', 'deals');
route('/o/:org/deals/:id', 'deal');
route('/o/:org/settings/pipelines', 'pipelines');
route('/o/:org/tasks', 'tasks');
route('/o/:org/notes/:id', 'attached');
route('/o/:org/activities/:id', 'attached');
route('/o/:org/tasks/:id', 'attached');
route('/o/:org/settings', 'settingsHome');
route('/o/:org/settings/organization', 'orgSettings');
route('/o/:org/settings/members', 'members');
route('/o/:org/settings/api-keys', 'apiKeys');
route('/o/:org/settings/webhooks', 'webhooks');
route('/o/:org/settings/fields', 'fields');
route('/o/:org/settings/tags', 'tags');
route('/o/:org/settings/trash', 'trash');
route('/o/:org/settings/audit', 'audit');
route('/o/:org/settings/privacy', 'privacy');
route('/o/:org/settings/account', 'account');
route('/o/:org/settings/security', 'security');
route('/o/:org/settings/org-security', 'orgSecurity');

const SCREENS = {
  contacts: renderContacts, contact: renderContact, companies: renderCompanies, company: renderCompany,
  deals: renderDeals, deal: renderDeal, pipelines: renderPipelines, tasks: renderTasks, attached: renderLinked,
  members: renderMembers, apiKeys: renderApiKeys, webhooks: renderWebhooks, account: renderAccount, fields: renderFields, tags: renderTags, orgSettings: renderOrgSettings, trash: renderTrash, audit: renderAudit,
  contactDuplicates: (ctx) => renderDuplicates(ctx, 'contacts'), companyDuplicates: (ctx) => renderDuplicates(ctx, 'companies'),
  importContacts: (ctx) => renderImportNew(ctx, 'contacts'), importCompanies: (ctx) => renderImportNew(ctx, 'companies'),
  importDeals: (ctx) => renderImportNew(ctx, 'deals'), import: renderImport, privacy: renderPrivacy,
  security: renderSecurity, orgSecurity: renderOrgSecurity,
};

const root = document.getElementById('app');
let shell = null;
let screen = null;
let controller = null;

function teardownScreen() {
  if (controller) controller.abort();
  controller = null;
  if (screen && screen.destroy) screen.destroy();
  screen = null;
  closeMenus();
  closePopover();
  closePalette();
}
function teardownShell() {
  teardownScreen();
  if (shell) shell.destroy();
  shell = null;
}

const toLogin = () => {
  const here = location.pathname + location.search;
  navigate(here === '/' || here.startsWith('/login') ? '/login' : `/login?next=${encodeURIComponent(here)}`, { replace: true });
};

const safeNext = (n) => (n && n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : '/');

function pageState(title, text, actions = []) {
  return h('div', { class: 'state' }, emptyState({ iconName: 'info', title, text, actions }));
}

async function onRoute(r) {
  teardownScreen();
  const q = r.query;
  if (r.name === 'login' || r.name === 'setup' || r.name === 'invite' || r.name === 'reset') {
    teardownShell();
    if (r.name === 'login' && session.user) { navigate(safeNext(q.get('next')), { replace: true }); return; }
    ({ login: renderLogin, setup: renderSetup, invite: renderInvite, reset: renderReset })[r.name](root, r);
    return;
  }
  if (!session.user) { teardownShell(); toLogin(); return; }

  // An unknown address inside an organization: "not found" inside the app frame.
  const inOrg = r.name === 'notFound' && /^\/o\/([^/]+)\//.exec(location.pathname);
  if (inOrg && findOrg(decodeURIComponent(inOrg[1]))) {
    const slug = decodeURIComponent(inOrg[1]);
    if (!shell || shell.slug !== slug) { teardownShell(); shell = mountShell(root, slug); }
    shell.setActive('');
    shell.setTop({ title: 'Not found' });
    clear(shell.content, pageState('Page not found', 'There is nothing at this address in this organization.', [h('a', { class: 'btn', href: `/o/${slug}/contacts`, text: 'Go to contacts' })]));
    return;
  }
  if (r.name === 'home' || r.name === 'notFound') {
    if (r.name === 'home' && session.orgs.length) { navigate(`/o/${session.orgs[0].slug}/contacts`, { replace: true }); return; }
    teardownShell();
    document.title = 'Harmonia';
    clear(root, r.name === 'home'
      ? pageState('You’re not in an organization yet', session.user.is_platform_admin ? 'Create the first organization to start adding contacts.' : 'Ask an admin to invite you, then open the link from the invitation.',
        session.user.is_platform_admin ? [h('button', { class: 'btn btn-primary', type: 'button', text: 'New organization', onclick: () => openOrgDialog() })] : [h('button', { class: 'btn', type: 'button', text: 'Sign out', onclick: () => signOut() })])
      : pageState('Page not found', 'There is nothing at this address.', [h('a', { class: 'btn', href: '/', text: 'Go home' })]));
    return;
  }

  const slug = r.params.org;
  if (!findOrg(slug)) {
    try { await loadSession(); } catch (e) { reportError(e); }
    if (!session.user) { toLogin(); return; }
    if (!findOrg(slug)) {
      teardownShell();
      clear(root, pageState('Organization not found', 'It doesn’t exist or you are not a member of it.', [h('a', { class: 'btn', href: '/', text: 'Go to my organization' })]));
      return;
    }
  }
  if (r.name === 'orgHome') { navigate(`/o/${slug}/contacts`, { replace: true }); return; }
  if (r.name === 'settingsHome') { navigate(`/o/${slug}/settings/members`, { replace: true }); return; }
  if (!shell || shell.slug !== slug) {
    teardownShell();
    shell = mountShell(root, slug);
  }
  // Dates in this organization: the person's own format and zone, else the organization's.
  applyPrefs(session.user, findOrg(slug));
  setPhoneCountry((findOrg(slug) || {}).default_country);
  controller = new AbortController();
  const ctx = { shell, slug, params: r.params, query: q, isBack: r.isBack, savedScroll: r.savedScroll, signal: controller.signal };
  const mine = controller;
  shell.content.scrollTop = 0;
  rendering = true;
  try {
    const s = await SCREENS[r.name](ctx);
    if (mine !== controller) { if (s && s.destroy) s.destroy(); return; }
    screen = s || {};
  } catch (e) {
    if (e.name !== 'AbortError') reportError(e);
  } finally {
    if (mine === controller) rendering = false;
  }
  if (mine === controller) sendToEnrol();
}

async function signOut() {
  try { await post('/auth/logout', undefined, { quiet401: true }); } catch { /* already signed out */ }
  clearSession();
  navigate('/login', { replace: true });
}

// Keyboard: Ctrl/Cmd-K (even while typing) or "/" open the search palette, "c" create, "e" edit.
// Not while typing (except Ctrl/Cmd-K) or in a dialog.
document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || document.querySelector('dialog[open]')) return;
  const k = e.key;
  if ((k === 'k' || k === 'K') && (e.metaKey || e.ctrlKey) && !e.altKey && !e.shiftKey && shell) { e.preventDefault(); shell.openSearch(); return; }
  if (isTyping(e) || e.metaKey || e.ctrlKey || e.altKey) return;
  if (e.target.closest && e.target.closest('.popover')) return;
  if (k === '/' && shell) { e.preventDefault(); shell.openSearch(); return; }
  const fn = screen && screen.shortcuts && screen.shortcuts[k];
  if (fn) { e.preventDefault(); fn(); return; }
  // "t": quick add a task from anywhere (linked to the record on screen).
  if (k === 't' && shell) { e.preventDefault(); openQuickTask(shell.slug); }
});

setReauthenticator(signInAgain);
setUnauthenticatedHandler(() => {
  const r = currentRoute();
  if (r && ['login', 'setup', 'invite', 'reset'].includes(r.name)) return;
  clearSession();
  teardownShell();
  toLogin();
});

setInterval(tickTimes, 60000);
window.addEventListener('harmonia:forbidden', () => { loadSession().catch(() => {}); });
// The organization requires a second factor this person lacks: its data is closed until they
// set one up, so send them to the page where they can (it uses no organization route).
// A screen being drawn finishes first (it would otherwise draw over the security page).
let rendering = false;
let mfaBlocked = null;
function sendToEnrol() {
  const r = currentRoute();
  const slug = r && r.params && r.params.org;
  if (!slug || slug !== mfaBlocked || r.name === 'security') return;
  navigate(`/o/${slug}/settings/security`, { replace: true });
}
window.addEventListener('harmonia:mfa-required', () => {
  const r = currentRoute();
  mfaBlocked = r && r.params && r.params.org;
  if (!rendering) sendToEnrol();
});

(async () => {
  try {
    await loadSession();
  } catch (e) {
    reportError(e);
  }
  start(onRoute, () => (shell ? shell.content : null));
})();
