// Signing in again without leaving the page. When a change is refused because the session
// ended (expired, or signed out elsewhere), the request waits while this dialog asks for the
// password (and the second step, where the account has one); then the same change is sent
// again. The form behind keeps everything that was typed, whatever the answer.
import { h } from '../util.js';
import { post } from '../api.js';
import { session, applyAuth } from '../session.js';
import { openDialog } from './dialog.js';
import { field, showErrors, clearErrors, setBusy } from './field.js';

let pending = null;

/** Promise<boolean>: true once signed in again as the same person; false if they gave up. */
export function signInAgain() {
  if (!session.user) return Promise.resolve(false);
  // Several changes refused at once share one dialog.
  if (!pending) pending = ask(session.user).finally(() => { pending = null; });
  return pending;
}

function ask(user) {
  return new Promise((resolve) => {
    let ok = false;
    const email = field({ label: 'Email', name: 'email', type: 'email', value: user.email, autocomplete: 'username' });
    email._input.readOnly = true;
    const password = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: 'Sign in and save' });
    const d = openDialog({
      title: 'Your session has ended',
      size: 'narrow',
      form: true,
      body: [
        h('p', { text: 'Sign in again to save your changes. What you typed is kept on this page.' }),
        email, password,
      ],
      foot: [h('button', { class: 'btn', type: 'button', text: 'Not now', onclick: () => d.close() }), submit],
      onClose: () => resolve(ok),
      initialFocus: password._input,
    });
    d.el.classList.add('reauth-dialog');
    let challenge = null;
    let code = null;
    const done = (r) => {
      // Only the same person may carry on with what was typed.
      if (!r.user || r.user.id !== user.id) { showErrors(d.form, { message: 'Sign in as ' + user.email + '.' }, d.body); return; }
      applyAuth(r);
      ok = true;
      d.close();
    };
    const secondStep = (first) => {
      challenge = first.challenge;
      const methods = first.methods || [];
      const recovery = !methods.includes('totp');
      code = recovery
        ? field({ label: 'Recovery code', name: 'recovery_code', autocomplete: 'off', required: true, placeholder: 'xxxxx-xxxxx', attrs: { spellcheck: 'false' } })
        : field({ label: 'Code from your authenticator app', name: 'code', autocomplete: 'one-time-code', required: true, placeholder: '123 456', attrs: { inputmode: 'numeric', maxlength: 12, spellcheck: 'false' } });
      code.dataset.recovery = recovery ? '1' : '';
      d.body.replaceChildren(h('p', { text: recovery ? 'Enter one of your recovery codes.' : 'Enter the 6-digit code your authenticator app shows for Harmonia.' }), code);
      code._input.focus();
    };
    d.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(d.form);
      setBusy(submit, true);
      try {
        if (!challenge) {
          if (!password._input.value) { showErrors(d.form, { fields: { password: 'Enter your password.' } }, d.body); return; }
          const r = await post('/auth/login', { email: user.email, password: password._input.value }, { quiet401: true });
          if (r.mfa_required) secondStep(r);
          else done(r);
        } else {
          const value = code._input.value.trim();
          const key = code.dataset.recovery ? 'recovery_code' : 'code';
          if (!value) { showErrors(d.form, { fields: { [key]: 'Enter the code.' } }, d.body); return; }
          done(await post('/auth/mfa/verify', { challenge, [key]: value }, { quiet401: true }));
        }
      } catch (err) {
        if (!challenge) {
          password._input.value = '';
          showErrors(d.form, err.status === 401 ? { fields: { password: 'That password is not right.' } } : err, d.body);
        } else if (err.code === 'challenge_expired') {
          challenge = null;
          d.body.replaceChildren(h('p', { text: 'That took too long. Enter your password again.' }), email, password);
          password._input.value = '';
          password._input.focus();
        } else {
          code._input.value = '';
          const key = code.dataset.recovery ? 'recovery_code' : 'code';
          showErrors(d.form, err.code === 'invalid_code' ? { fields: { [key]: 'That code is not right. Try the next one.' } } : err, d.body);
        }
      } finally {
        setBusy(submit, false);
      }
    });
  });
}
