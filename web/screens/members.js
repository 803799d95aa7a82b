// Members: who is in the organization, their roles and invitations.
import { h, clear, timeEl } from '../util.js';
import { icon } from '../icons.js';
import { get, post, patch, del, orgPath } from '../api.js';
import { session, findOrg, canAdmin, isOwner, forgetMembers, loadSession, ROLES, ROLE_LABEL, ROLE_HELP } from '../session.js';
import { navigate } from '../router.js';
import { avatar } from '../components/avatar.js';
import { roleBadge, statusBadge } from '../components/badge.js';
import { field, select, showErrors, clearErrors, setBusy } from '../components/field.js';
import { openDialog, confirmDialog } from '../components/dialog.js';
import { menuButton } from '../components/menu.js';
import { toast, reportError } from '../components/toast.js';
import { createTable } from '../components/table.js';
import { settingsFrame } from './settings.js';
import { copyBox } from './apikeys.js';

const roleOptions = (slug) => ROLES.filter((r) => r !== 'owner' || isOwner(slug)).map((r) => ({ value: r, label: ROLE_LABEL[r] }));

function inviteDialog(slug, onDone) {
  const email = field({ label: 'Email', name: 'email', type: 'email', required: true, placeholder: 'name@company.com', autocomplete: 'off' });
  const roleSel = select(roleOptions(slug), 'member');
  const help = h('p', { class: 'hint', text: ROLE_HELP.member });
  const role = field({ label: 'Role', name: 'role', control: roleSel });
  role.appendChild(help);
  roleSel.addEventListener('change', () => { help.textContent = ROLE_HELP[roleSel.value]; });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Send invitation' });
  const d = openDialog({
    title: 'Invite a member',
    description: 'They get a link to join this organization with the role you pick.',
    form: true,
    size: 'narrow',
    body: [email, role],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    if (!email._input.value.trim()) { showErrors(d.form, { fields: { email: 'Enter an email address.' } }, d.body); return; }
    setBusy(submit, true);
    try {
      const r = await post(orgPath(slug, 'members'), { email: email._input.value.trim(), role: roleSel.value });
      onDone();
      const who = (r.member && (r.member.email || r.member.name)) || email._input.value.trim();
      if (r.invite_url) {
        clear(d.body,
          h('p', null, 'Send this link to ', h('b', { text: who }), '. It works once and expires; anyone with it can join as ', h('b', { text: (ROLE_LABEL[roleSel.value] || '').toLowerCase() }), '.'),
          copyBox(r.invite_url, 'Invitation link'));
      } else {
        clear(d.body, h('div', { class: 'callout info' }, icon('checkCircle', 16), h('span', null, h('b', { text: who }), ' already has an account and was added to the organization.')));
      }
      clear(d.foot, h('button', { class: 'btn btn-primary', type: 'button', text: 'Done', onclick: () => d.close() }));
      d.foot.querySelector('button').focus();
    } catch (err) {
      showErrors(d.form, err, d.body);
    } finally {
      setBusy(submit, false);
    }
  });
}

export async function renderMembers(ctx) {
  const { slug, signal } = ctx;
  const admin = canAdmin(slug);
  const org = findOrg(slug);
  const inviteBtn = admin && h('button', { class: 'btn btn-primary', type: 'button', 'aria-label': 'Invite member', onclick: () => inviteDialog(slug, load) }, icon('plus', 15), h('span', { class: 'hide-sm', text: 'Invite member' }));
  const page = settingsFrame(ctx, 'members', { title: 'Members', actions: [inviteBtn] });
  const me = session.user.id;

  const columns = [
    {
      key: 'member', label: 'Member', className: 'name-cell',
      render: (m) => h('span', { class: 'member-cell' }, avatar(m.name || m.email, { size: 'md', seed: m.user_id }),
        h('span', { class: 'who' }, h('span', null, m.name || m.email, m.user_id === me && h('span', { class: 'badge outline you', text: 'You' })),
          m.name && h('span', { class: 'meta', text: m.email }))),
    },
    { key: 'role', label: 'Role', render: (m) => roleCell(m) },
    { key: 'status', label: 'Status', className: 'hide-sm', render: (m) => statusBadge(m.status) },
    { key: 'joined', label: 'Joined', className: 'hide-sm', render: (m) => (m.status === 'invited' ? h('span', { class: 'tertiary', text: 'Pending' }) : h('span', { class: 'tertiary' }, timeEl(m.joined_at))) },
    { key: 'actions', label: '', right: true, render: (m) => rowMenu(m) },
  ];
  const table = createTable({ columns, caption: 'Members', className: 'table-static tall' });
  clear(page,
    h('div', { class: 'settings-intro' }, h('p', { text: `Everyone who can sign in to ${org.name}. Members create and edit records, viewers can only read, admins also manage people and API keys.` })),
    h('div', { class: 'table-card' }, table.el));

  // The only owner can neither step down nor leave: don't offer what must fail.
  const soleOwner = (m) => m.role === 'owner' && m.status !== 'invited'
    && table.items().filter((x) => x.role === 'owner' && x.status !== 'invited').length === 1;

  function roleCell(m) {
    const locked = !admin || (m.role === 'owner' && !isOwner(slug)) || soleOwner(m);
    if (locked) {
      const badge = roleBadge(m.role);
      if (soleOwner(m)) badge.title = 'The only owner. Make someone else an owner first to change this.';
      return badge;
    }
    const sel = select(roleOptions(slug), m.role, { class: 'select role-select', 'aria-label': `Role of ${m.name || m.email}` });
    sel.addEventListener('change', async () => {
      const before = m.role;
      const role = sel.value;
      sel.disabled = true;
      try {
        const updated = await patch(orgPath(slug, 'members', m.user_id), { role });
        m.role = (updated && updated.role) || role;
        forgetMembers(slug);
        toast(`${m.name || m.email} is now ${ROLE_LABEL[m.role].toLowerCase()}.`, { kind: 'success' });
        if (m.user_id === me) { await loadSession(); navigate(location.pathname, { replace: true }); }
      } catch (e) {
        sel.value = before;
        reportError(e, 'Role not changed.');
      } finally {
        sel.disabled = false;
      }
    });
    return sel;
  }

  function rowMenu(m) {
    const self = m.user_id === me;
    if ((!admin && !self) || soleOwner(m)) return h('span');
    const canReset = admin && !self && m.status === 'active' && (m.role !== 'owner' || isOwner(slug));
    return menuButton({ label: `Actions for ${m.name || m.email}`, className: 'btn btn-ghost btn-icon btn-sm' }, () => [
      admin && m.status === 'invited' && { label: 'New invitation link', icon: 'link', onSelect: () => reinvite(m) },
      canReset && { label: 'Password reset link…', icon: 'key', onSelect: () => resetLink(m) },
      { label: self ? 'Leave organization' : m.status === 'invited' ? 'Cancel invitation' : 'Remove from organization', icon: self ? 'logout' : 'trash', danger: true, onSelect: () => remove(m, self) },
    ].filter(Boolean), { align: 'end' });
  }

  async function reinvite(m) {
    try {
      const r = await post(orgPath(slug, 'members', m.user_id, 'invite'));
      const d = openDialog({
        title: 'New invitation link',
        size: 'narrow',
        body: [h('p', null, 'Send this link to ', h('b', { text: m.email }), '. Earlier links for them no longer work.'), copyBox(r.invite_url, 'Invitation link')],
        foot: [h('button', { class: 'btn btn-primary', type: 'button', text: 'Done', onclick: () => d.close() })],
      });
    } catch (e) { reportError(e, 'Could not make a new link.'); }
  }

  async function resetLink(m) {
    const who = m.name || m.email;
    const ok = await confirmDialog({ title: `Make a reset link for ${who}?`, message: `Anyone with the link can choose a new password for ${m.email} within the next hour. Using it signs ${who} out everywhere.`, confirmLabel: 'Make link' });
    if (!ok) return;
    try {
      const r = await post(orgPath(slug, 'members', m.user_id, 'reset-link'));
      const d = openDialog({
        title: `Reset link for ${who}`, size: 'narrow',
        body: [
          h('div', { class: 'callout' }, icon('alert', 16), h('span', { text: 'Give this link to them privately. It works once, for one hour, and is shown only now.' })),
          copyBox(r.reset_url, 'Reset link'),
        ],
        foot: [h('button', { class: 'btn btn-primary', type: 'button', text: 'Done', onclick: () => d.close() })],
      });
    } catch (e) { reportError(e, 'Could not make a reset link.'); }
  }

  async function remove(m, self) {
    const who = m.name || m.email;
    const ok = await confirmDialog(self
      ? { title: `Leave ${org.name}?`, message: 'You will lose access to its contacts and companies until someone invites you again.', confirmLabel: 'Leave', danger: true }
      : { title: `Remove ${who}?`, message: `${who} will lose access to ${org.name}. Records they own stay in place.`, confirmLabel: 'Remove', danger: true });
    if (!ok) return;
    try {
      await del(orgPath(slug, 'members', m.user_id));
      forgetMembers(slug);
      if (self) { await loadSession(); navigate('/', { replace: true }); toast(`You left ${org.name}.`, { kind: 'success' }); return; }
      table.remove([m.user_id]);
      toast(`Removed ${who}.`, { kind: 'success' });
    } catch (e) { reportError(e, `Could not remove ${who}.`); }
  }

  async function load() {
    forgetMembers(slug);
    try {
      const r = await get(orgPath(slug, 'members'), { signal });
      const items = (r.items || []).map((m) => ({ ...m, id: m.user_id }));
      const rank = { owner: 0, admin: 1, member: 2, viewer: 3 };
      items.sort((a, b) => (a.status === b.status ? 0 : a.status === 'invited' ? 1 : -1) || rank[a.role] - rank[b.role] || (a.name || a.email).localeCompare(b.name || b.email));
      table.setItems(items);
    } catch (e) { reportError(e); table.setItems([]); }
  }
  table.skeleton(4);
  await load();
  return {};
}
