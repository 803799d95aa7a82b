// The one door to the server: adds the CSRF header, parses errors into ApiError with a
// human message, retries once after refreshing the CSRF token, and reports 401s.

const BASE = '/api/v1';
let csrfToken = null;
let onUnauthenticated = () => {};
let signInAgain = null;

export const setCsrf = (t) => { csrfToken = t || null; };
/** The CSRF token, for requests that do not go through `request` (uploads with progress). */
export const currentCsrf = () => csrfToken;
export { BASE as API_BASE };
export const setUnauthenticatedHandler = (fn) => { onUnauthenticated = fn; };
/** fn() → Promise<boolean>: signs the same person in again in place (a dialog). */
export const setReauthenticator = (fn) => { signInAgain = fn; };

export class ApiError extends Error {
  constructor(status, code, message, fields = null, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

const CODE_BY_STATUS = { 400: 'bad_request', 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 422: 'validation_failed', 429: 'rate_limited' };

function messageFor(status, code, serverMsg, retryAfter) {
  switch (code) {
    case 'unauthenticated': return 'Your session has ended. Please sign in again.';
    case 'csrf_failed': return 'Your session token expired. Reload the page and try again.';
    case 'forbidden': return "You don't have permission to do that in this organization.";
    case 'mfa_enrollment_required': return 'This organization requires two-factor sign-in. Set it up under Settings → Security.';
    case 'not_found': return 'Not found. It may have been deleted, or you may not have access.';
    case 'payload_too_large': return 'That is too large to save.';
    case 'validation_failed': return serverMsg && !/^validation failed\.?$/i.test(serverMsg) ? serverMsg : 'Some fields need attention.';
    case 'rate_limited': {
      const s = parseInt(retryAfter, 10);
      return Number.isFinite(s) && s > 0 ? `Too many attempts. Try again in ${s < 90 ? s + ' s' : Math.ceil(s / 60) + ' min'}.` : 'Too many attempts. Wait a moment and try again.';
    }
  }
  if (status >= 500) return 'Something went wrong on the server. Please try again.';
  return serverMsg || `Request failed (${status}).`;
}

export async function request(method, path, body, opts = {}) {
  const unsafe = !['GET', 'HEAD'].includes(method);
  const headers = { Accept: 'application/json' };
  if (unsafe) {
    if (method !== 'DELETE' || body !== undefined) headers['Content-Type'] = 'application/json';
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  }
  let res;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? (unsafe && method !== 'DELETE' ? '{}' : undefined) : JSON.stringify(body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (res.ok) return data;

  const err = (data && data.error) || {};
  const code = err.code || CODE_BY_STATUS[res.status] || 'error';
  const retryAfter = res.headers.get('Retry-After');
  if (res.status === 403 && code === 'csrf_failed' && unsafe && !opts.retried) {
    const me = await request('GET', '/me', undefined, { quiet401: true }).catch(() => null);
    if (me && me.csrf_token) {
      csrfToken = me.csrf_token;
      return request(method, path, body, { ...opts, retried: true });
    }
  }
  // A change refused because the session ended is not thrown away: the person signs in again
  // in a dialog and the same change is sent once more. Saying no keeps them on the page (the
  // form keeps its values); a read that finds no session still goes to the sign-in page.
  if (res.status === 401 && unsafe && !opts.quiet401 && !opts.reauthed && signInAgain) {
    if (await signInAgain()) return request(method, path, body, { ...opts, reauthed: true });
    throw new ApiError(401, 'unauthenticated', messageFor(401, 'unauthenticated'));
  }
  if (res.status === 401 && !opts.quiet401) onUnauthenticated();
  if (res.status === 403 && code === 'mfa_enrollment_required') window.dispatchEvent(new CustomEvent('harmonia:mfa-required'));
  throw new ApiError(res.status, code, messageFor(res.status, code, err.message, retryAfter), err.fields || null, retryAfter);
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const patch = (path, body, opts) => request('PATCH', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

/** Path of an org-scoped resource: orgPath('acme', 'contacts', id) → /orgs/acme/contacts/<id> */
export const orgPath = (org, ...parts) => ['/orgs', org, ...parts].map((p, i) => (i ? encodeURIComponent(p) : p)).join('/');
