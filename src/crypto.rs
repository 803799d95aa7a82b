//! The process's one crypto provider for TLS clients.

/// Makes ring the process's crypto provider for every rustls user that asks
/// for the default (the HTTP client of webhooks, the tests' HTTP clients).
/// Ring is the only provider compiled in, tests and benchmark included
/// (Cargo.toml), but `ClientConfig::builder` and the tests' reqwest
/// (`rustls-no-provider`) take only an installed one and panic without it.
/// Later calls are no-ops.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
