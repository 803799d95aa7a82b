// The browser's half of passkeys: WebAuthn options from the server (binary fields as
// base64url) into navigator.credentials, and the answer back as JSON.

const fromB64 = (s) => {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
};
const toB64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export const passkeysSupported = () => !!(window.PublicKeyCredential && navigator.credentials);

export async function autofillAvailable() {
  return passkeysSupported() && !!PublicKeyCredential.isConditionalMediationAvailable && PublicKeyCredential.isConditionalMediationAvailable();
}

function creationOptions(o) {
  const pk = { ...o.publicKey };
  pk.challenge = fromB64(pk.challenge);
  pk.user = { ...pk.user, id: fromB64(pk.user.id) };
  pk.excludeCredentials = (pk.excludeCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) }));
  return { publicKey: pk };
}

function requestOptions(o, signal, conditional) {
  const pk = { ...o.publicKey };
  pk.challenge = fromB64(pk.challenge);
  pk.allowCredentials = (pk.allowCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) }));
  const opts = { publicKey: pk, signal };
  if (conditional) opts.mediation = 'conditional';
  return opts;
}

/** Registers a new passkey; resolves to the credential as JSON for the server. */
export async function createPasskey(options) {
  const cred = await navigator.credentials.create(creationOptions(options));
  const r = cred.response;
  return {
    id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
    response: { attestationObject: toB64(r.attestationObject), clientDataJSON: toB64(r.clientDataJSON), transports: r.getTransports ? r.getTransports() : [] },
    extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

/** Signs in with a passkey (in the autofill list when `conditional`); the answer as JSON. */
export async function getPasskey(options, { signal, conditional = false } = {}) {
  const cred = await navigator.credentials.get(requestOptions(options, signal, conditional));
  const r = cred.response;
  return {
    id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
    response: {
      authenticatorData: toB64(r.authenticatorData), clientDataJSON: toB64(r.clientDataJSON), signature: toB64(r.signature),
      userHandle: r.userHandle ? toB64(r.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

/** A person-readable reason for a failed or cancelled passkey prompt. */
export function passkeyError(e) {
  if (e && e.name === 'NotAllowedError') return 'The passkey prompt was closed or timed out.';
  if (e && e.name === 'InvalidStateError') return 'This device already has a passkey for your account.';
  if (e && e.name === 'SecurityError') return 'Passkeys need this server to be opened by its domain name.';
  return (e && e.message) || 'The passkey did not work.';
}
