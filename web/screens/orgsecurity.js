// Org settings → Security: require two-factor sign-in of every member (owners and admins).
import { h, clear } from '../util.js';
import { icon } from '../icons.js';
import { get, patch, orgPath } from '../api.js';
import { canAdmin, findOrg } from '../session.js';
import { showErrors, clearErrors } from '../components/field.js';
import { toast, reportError } from '../components/toast.js';
import { emptyState } from '../components/table.js';
import { settingsFrame } from './settings.js';

export async function renderOrgSecurity(ctx) {
  const { slug, signal } = ctx;
  const page = settingsFrame(ctx, 'org-security', { title: 'Organization security' });
  page.classList.add('page-narrow');
  if (!canAdmin(slug)) {
    clear(page, emptyState({ iconName: 'lock', title: 'Only admins change security settings', text: 'Ask an owner or admin of this organization.' }));
    return {};
  }
  let org;
  try { org = await get(orgPath(slug), { signal }); } catch (e) { if (e.name !== 'AbortError') reportError(e); return {}; }
  const name = (findOrg(slug) || org).name;
  const box = h('input', { type: 'checkbox', class: 'checkbox', id: 'require-mfa', checked: !!org.require_mfa });
  const form = h('div', { class: 'stack' },
    h('label', { class: 'toggle-row', htmlFor: 'require-mfa', dataset: { field: 'require_mfa' } }, box,
      h('span', { class: 'stack-sm' }, h('strong', { text: 'Require two-factor sign-in' }),
        h('span', { class: 'meta', text: `Members of ${name} without an authenticator app or a passkey are asked to set one up before they can open its data. API keys keep working.` }))));
  box.addEventListener('change', async () => {
    clearErrors(form);
    box.disabled = true;
    try {
      const r = await patch(orgPath(slug), { require_mfa: box.checked });
      box.checked = !!r.require_mfa;
      toast(r.require_mfa ? 'Two-factor sign-in is now required.' : 'Two-factor sign-in is no longer required.', { kind: 'success' });
    } catch (err) {
      box.checked = !box.checked;
      showErrors(form, err);
    } finally {
      box.disabled = false;
    }
  });
  clear(page,
    h('section', { class: 'panel' },
      h('header', null, h('h2', { text: 'Two-factor sign-in' }),
        h('p', { text: 'A second step after the password stops someone who stole or guessed a password.' })),
      form,
      h('p', { class: 'meta' }, icon('info', 13), ' To turn this on you need a second factor yourself (Settings → Security), so you can’t lock yourself out.')));
  return {};
}
