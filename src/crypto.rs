//! The process's one crypto provider for TLS clients.

/// Makes ring the process's crypto provider for every rustls user that asks
/// for the default (the HTTP client of webhooks, the tests' browser driver).
/// The release binary carries ring only (the TLS server's); a test build
/// also compiles aws-lc-rs, and with two providers rustls cannot pick one
/// itself and panics at the first connection. Later calls are no-ops.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
