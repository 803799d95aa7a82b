// "New organization" dialog for platform admins.
import { h } from '../util.js';
import { post } from '../api.js';
import { loadSession } from '../session.js';
import { navigate } from '../router.js';
import { openDialog } from '../components/dialog.js';
import { field, showErrors, clearErrors, setBusy } from '../components/field.js';
import { toast } from '../components/toast.js';

export function openOrgDialog() {
  const name = field({ label: 'Name', name: 'name', required: true, placeholder: 'Acme Inc.' });
  const slug = field({ label: 'URL name (optional)', name: 'slug', placeholder: 'acme', hint: 'Lowercase letters, digits and dashes. Leave empty to derive it from the name.' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Create organization' });
  const d = openDialog({
    title: 'New organization',
    form: true,
    size: 'narrow',
    body: [name, slug],
    foot: [h('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => d.close() }), submit],
  });
  d.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(d.form);
    const body = { name: name._input.value.trim() };
    if (slug._input.value.trim()) body.slug = slug._input.value.trim();
    setBusy(submit, true);
    try {
      const org = await post('/orgs', body);
      await loadSession();
      d.close();
      toast(`Created ${org.name}.`, { kind: 'success' });
      navigate(`/o/${org.slug}/contacts`);
    } catch (err) {
      showErrors(d.form, err, d.body);
    } finally {
      setBusy(submit, false);
    }
  });
}
