//! One typed configuration: command-line flags, each also settable as a
//! `HARMONIA_*` environment variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

/// Flags of `harmonia serve` (also accepted with no subcommand).
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "HARMONIA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The URL people use to reach this server (for links in invites and setup;
    /// cookies are marked Secure when it is https). Default: http://<listen>,
    /// or https://<listen> with --tls-cert.
    #[arg(long, env = "HARMONIA_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// How many organizations' databases stay open at once (least recently used close first).
    #[arg(long, env = "HARMONIA_MAX_OPEN_TENANTS", default_value_t = 256)]
    pub max_open_tenants: usize,
    /// Let anyone create an account and an organization (off: platform admins create orgs).
    #[arg(long, env = "HARMONIA_ALLOW_SIGNUP", default_value_t = false)]
    pub allow_signup: bool,
    /// Take the client address from the last X-Forwarded-For entry (only behind a reverse proxy you run).
    #[arg(long, env = "HARMONIA_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// synchronous=FULL: every commit reaches the disk before the response (survives power loss).
    #[arg(long, env = "HARMONIA_SYNC_FULL", default_value_t = false)]
    pub sync_full: bool,
    /// Seconds a request may take before it is answered with 408.
    #[arg(long, env = "HARMONIA_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// The largest file one upload may carry, in MiB.
    #[arg(long, env = "HARMONIA_MAX_UPLOAD_MB", default_value_t = 50)]
    pub max_upload_mb: u64,
    /// /readyz fails when the data directory's file system has less free space than this (MiB).
    #[arg(long, env = "HARMONIA_MIN_FREE_SPACE_MB", default_value_t = 256)]
    pub min_free_space_mb: u64,
    /// Serve /metrics (Prometheus) on the main address to requests bearing this token.
    #[arg(long, env = "HARMONIA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Serve /metrics (Prometheus), without a token, on this separate address only.
    #[arg(long, env = "HARMONIA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// API requests a minute allowed per API key and per session (0: no limit).
    #[arg(long, env = "HARMONIA_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_per_minute: u32,
    /// Requests an API key or session may make at once before the per-minute rate applies.
    #[arg(long, env = "HARMONIA_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// Requests a minute allowed per address without credentials: sign-in, setup, invites, hooks (0: no limit).
    #[arg(
        long,
        env = "HARMONIA_RATE_LIMIT_ANONYMOUS_PER_MINUTE",
        default_value_t = 120
    )]
    pub rate_limit_anonymous_per_minute: u32,
    /// Requests an address without credentials may make at once.
    #[arg(
        long,
        env = "HARMONIA_RATE_LIMIT_ANONYMOUS_BURST",
        default_value_t = 60
    )]
    pub rate_limit_anonymous_burst: u32,
    /// The secrets vault's master key (64 hex digits; created, mode 0600, on
    /// first start when unset). Default: <data-dir>/master.key. Back it up
    /// apart from the backups: they do not contain it.
    #[arg(long, env = "HARMONIA_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Let webhooks reach private, loopback and link-local addresses (tests, closed networks).
    #[arg(long, env = "HARMONIA_WEBHOOKS_ALLOW_PRIVATE", default_value_t = false)]
    pub webhooks_allow_private: bool,
    /// First wait (ms) before retrying a failed webhook delivery; each retry doubles it.
    #[arg(long, env = "HARMONIA_WEBHOOK_RETRY_BASE_MS", default_value_t = 30_000)]
    pub webhook_retry_base_ms: u64,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2) with this PEM certificate chain
    /// (re-read on SIGHUP). Needs --tls-key.
    #[arg(long, env = "HARMONIA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (re-read on SIGHUP).
    #[arg(long, env = "HARMONIA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Also listen on this address for plain HTTP and answer every request with a
    /// redirect (308) to HTTPS. Needs --tls-cert.
    #[arg(long, env = "HARMONIA_REDIRECT_HTTP", requires = "tls_cert")]
    pub redirect_http: Option<SocketAddr>,
    #[command(flatten)]
    pub backup: BackupArgs,
}

/// Scheduled backups (docs/operations.md).
#[derive(Args, Clone, Debug, Default)]
pub struct BackupArgs {
    /// Make an encrypted backup of everything into this directory every day (off when unset).
    #[arg(long, env = "HARMONIA_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Time of day of the daily backup, HH:MM.
    #[arg(long, env = "HARMONIA_BACKUP_AT", default_value = "03:00")]
    pub backup_at: String,
    /// Time zone of --backup-at (an IANA name such as Europe/Paris).
    #[arg(long, env = "HARMONIA_BACKUP_TIME_ZONE", default_value = "UTC")]
    pub backup_time_zone: String,
    /// Scheduled backups older than this many days are deleted.
    #[arg(long, env = "HARMONIA_BACKUP_KEEP_DAYS", default_value_t = 90)]
    pub backup_keep_days: u32,
    /// The backup key (created, mode 0600, on first use). Default: <data-dir>/backup.key.
    #[arg(long, env = "HARMONIA_BACKUP_KEY_FILE")]
    pub backup_key_file: Option<PathBuf>,
}

impl BackupArgs {
    pub fn key_file(&self, data_dir: &Path) -> PathBuf {
        self.backup_key_file
            .clone()
            .unwrap_or_else(|| crate::backup::default_key_file(data_dir))
    }
}

/// What the running server needs to know, built from flags.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub public_url: url::Url,
    pub max_open_tenants: usize,
    pub allow_signup: bool,
    pub trust_forwarded_for: bool,
    pub sync_full: bool,
    pub request_timeout: Duration,
    /// The largest file one upload may carry, in bytes.
    pub max_upload_bytes: u64,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in whatever happens.
    pub session_absolute: Duration,
    /// An open organization unused this long is closed.
    pub tenant_idle: Duration,
    pub backup: BackupArgs,
    /// /readyz's free-space threshold.
    pub min_free_bytes: u64,
    /// The bearer token of /metrics on the main address (none: not served there).
    pub metrics_token: Option<String>,
    /// API rate limits (`auth::rate_limit`).
    pub rate_limits: Limits,
    /// Where the vault's master key is read (or created).
    pub master_key_file: PathBuf,
    /// Webhooks may target private addresses.
    pub webhooks_allow_private: bool,
    /// First retry wait of a failed webhook delivery (doubling, capped at 6 hours).
    pub webhook_retry_base: Duration,
    /// The server itself speaks TLS (--tls-cert): cookies are Secure and
    /// HSTS is sent whatever the public URL says.
    pub tls: bool,
}

impl Config {
    pub fn new(data_dir: PathBuf, serve: &ServeArgs) -> Config {
        let tls = serve.tls_cert.is_some();
        let public_url = serve.public_url.clone().unwrap_or_else(|| {
            let scheme = if tls { "https" } else { "http" };
            url::Url::parse(&format!("{scheme}://{}", serve.listen))
                .unwrap_or_else(|_| url::Url::parse("http://127.0.0.1:8080").expect("static url"))
        });
        Config {
            data_dir: data_dir.clone(),
            public_url,
            max_open_tenants: serve.max_open_tenants.max(1),
            allow_signup: serve.allow_signup,
            trust_forwarded_for: serve.trust_forwarded_for,
            sync_full: serve.sync_full,
            request_timeout: Duration::from_secs(serve.request_timeout_secs.max(1)),
            max_upload_bytes: serve.max_upload_mb.saturating_mul(1024 * 1024),
            session_idle: Duration::from_secs(7 * 24 * 3600),
            session_absolute: Duration::from_secs(30 * 24 * 3600),
            tenant_idle: Duration::from_secs(300),
            backup: serve.backup.clone(),
            min_free_bytes: serve.min_free_space_mb.saturating_mul(1 << 20),
            metrics_token: serve.metrics_token.clone().filter(|t| !t.trim().is_empty()),
            rate_limits: Limits {
                caller: Rate::new(serve.rate_limit_per_minute, serve.rate_limit_burst),
                address: Rate::new(
                    serve.rate_limit_anonymous_per_minute,
                    serve.rate_limit_anonymous_burst,
                ),
            },
            master_key_file: serve
                .master_key_file
                .clone()
                .unwrap_or_else(|| crate::vault::default_key_file(&data_dir)),
            webhooks_allow_private: serve.webhooks_allow_private,
            webhook_retry_base: Duration::from_millis(serve.webhook_retry_base_ms.max(1)),
            tls,
        }
    }

    /// Defaults for tests and tools: everything as `serve` would have it.
    pub fn for_data_dir(data_dir: PathBuf) -> Config {
        let serve = ServeArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            max_open_tenants: 256,
            allow_signup: false,
            trust_forwarded_for: false,
            sync_full: false,
            request_timeout_secs: 30,
            max_upload_mb: 50,
            min_free_space_mb: 0,
            metrics_token: None,
            metrics_listen: None,
            rate_limit_per_minute: 600,
            rate_limit_burst: 100,
            rate_limit_anonymous_per_minute: 120,
            rate_limit_anonymous_burst: 60,
            master_key_file: None,
            webhooks_allow_private: false,
            webhook_retry_base_ms: 30_000,
            tls_cert: None,
            tls_key: None,
            redirect_http: None,
            backup: BackupArgs {
                backup_at: "03:00".into(),
                backup_time_zone: "UTC".into(),
                backup_keep_days: 90,
                ..BackupArgs::default()
            },
        };
        Config::new(data_dir, &serve)
    }

    /// Cookies get `Secure` and answers HSTS when people reach the server
    /// over HTTPS: its own TLS, or a proxy's when --public-url is https.
    pub fn secure_cookies(&self) -> bool {
        self.tls || self.public_url.scheme() == "https"
    }

    /// `public_url` + path, without a doubled slash.
    pub fn link(&self, path_and_query: &str) -> String {
        format!(
            "{}{}",
            self.public_url.as_str().trim_end_matches('/'),
            path_and_query
        )
    }
}

/// A rate: `per_minute` requests a minute on average, `burst` at once.
/// `per_minute == 0` turns the limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_minute: u32, burst: u32) -> Rate {
        Rate { per_minute, burst }
    }
}

/// The API rate limits the server applies (flags `--rate-limit-*`,
/// `auth::rate_limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Per API key and per session.
    pub caller: Rate,
    /// Per address, for requests without credentials.
    pub address: Rate,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            caller: Rate::new(600, 100),
            address: Rate::new(120, 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packaged settings file (packaging/harmonia.env) names every
    /// `serve` flag's variable, and nothing that is not one.
    #[test]
    fn the_packaged_env_file_names_every_flag() {
        let file = include_str!("../packaging/harmonia.env");
        let named: Vec<&str> = file
            .lines()
            .map(|l| l.trim_start_matches('#'))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .filter(|k| k.starts_with("HARMONIA_") && !k.contains(' '))
            .collect();
        let cmd = <ServeArgs as Args>::augment_args(clap::Command::new("serve"));
        let mut known = vec![
            "HARMONIA_DATA_DIR".to_string(),
            "HARMONIA_LOG".to_string(),
            "HARMONIA_LOG_FORMAT".to_string(),
        ];
        for arg in cmd.get_arguments() {
            let Some(env) = arg.get_env() else {
                panic!("--{} has no HARMONIA_* variable", arg.get_id());
            };
            let env = env.to_string_lossy().into_owned();
            assert!(
                named.contains(&env.as_str()),
                "packaging/harmonia.env lacks {env}"
            );
            known.push(env);
        }
        for name in &named {
            assert!(
                known.iter().any(|k| k == name),
                "packaging/harmonia.env names {name}, which no flag reads"
            );
        }
    }
}
