// Who is signed in, their organizations and roles, plus small per-org caches.
import { get, setCsrf, orgPath } from './api.js';

export const session = { user: null, orgs: [] };

const RANK = { viewer: 0, member: 1, admin: 2, owner: 3 };
export const ROLES = ['owner', 'admin', 'member', 'viewer'];
export const ROLE_LABEL = { owner: 'Owner', admin: 'Admin', member: 'Member', viewer: 'Viewer' };
export const ROLE_HELP = {
  owner: 'Full control, including owners and the organization itself',
  admin: 'Manage members, API keys and all records',
  member: 'Create and edit records',
  viewer: 'Read-only access',
};

export function applyAuth(data) {
  session.user = data.user || null;
  session.orgs = data.organizations || data.orgs || [];
  setCsrf(data.csrf_token);
  members.clear();
  // The frame redraws what depends on the organizations (a closed one's banner).
  window.dispatchEvent(new CustomEvent('harmonia:orgs'));
}

export function clearSession() {
  session.user = null;
  session.orgs = [];
  setCsrf(null);
  members.clear();
  zoneSetting = null;
}

/** Loads /me; resolves to null when nobody is signed in. */
export async function loadSession() {
  try {
    applyAuth(await get('/me', { quiet401: true }));
    return session.user;
  } catch (e) {
    if (e.status === 401) { clearSession(); return null; }
    throw e;
  }
}

export const findOrg = (slug) => session.orgs.find((o) => o.slug === slug) || null;
export const roleOf = (slug) => (findOrg(slug) || {}).role || 'viewer';
export const canEdit = (slug) => RANK[roleOf(slug)] >= RANK.member;
export const canAdmin = (slug) => RANK[roleOf(slug)] >= RANK.admin;
export const isOwner = (slug) => roleOf(slug) === 'owner';

// Members of an org, used for owner pickers and "created by" names. Cached for a minute.
const members = new Map();
export function getMembers(slug, { fresh = false } = {}) {
  const hit = members.get(slug);
  if (hit && !fresh && Date.now() - hit.at < 60000) return hit.promise;
  const promise = get(orgPath(slug, 'members')).then((r) => r.items || []);
  promise.catch(() => members.delete(slug));
  members.set(slug, { at: Date.now(), promise });
  return promise;
}
export const forgetMembers = (slug) => members.delete(slug);

// The time zone set in the account (null: none; this browser's is used then).
// Task lists group days by it on the server; asked once, updated on save.
let zoneSetting = null;
export function accountZone() {
  if (!zoneSetting) {
    zoneSetting = get('/account/notifications').then((s) => s.time_zone || null);
    zoneSetting.catch(() => { zoneSetting = null; });
  }
  return zoneSetting;
}
export const setAccountZone = (zone) => { zoneSetting = Promise.resolve(zone || null); };

export function memberName(list, userId) {
  if (!userId) return null;
  const m = (list || []).find((x) => x.user_id === userId);
  if (!m) return null;
  if (session.user && m.user_id === session.user.id) return (m.name || m.email) + ' (you)';
  return m.name || m.email;
}

/** Tell the frame that record counts changed (create, delete, restore). */
export const announceChange = (entity) => window.dispatchEvent(new CustomEvent('harmonia:changed', { detail: { entity } }));
