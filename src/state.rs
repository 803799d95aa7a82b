//! What every request handler shares: configuration, the control database,
//! the open organizations, the login throttle and the first-run setup token.

use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::audit::requests::RequestLog;
use crate::auth::rate_limit::RateLimiter;
use crate::auth::throttle::Throttle;
use crate::auth::tokens;
use crate::auth::users;
use crate::config::Config;
use crate::db::{Db, DbOptions, Schema};
use crate::tenant::{TenantHooks, Tenants};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub control: Arc<Db>,
    pub tenants: Tenants,
    pub throttle: Throttle,
    /// API rate limits per key, session and address.
    pub rate_limits: RateLimiter,
    /// API requests to organizations, waiting to be written.
    pub api_requests: RequestLog,
    /// The secrets vault (its master key was checked at start-up).
    pub vault: Arc<crate::vault::Vault>,
    setup_token: Mutex<Option<(Vec<u8>, Instant)>>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

const SETUP_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

impl AppState {
    /// Opens (creating if needed) the data directory and the control database.
    pub fn open(config: Config, hooks: TenantHooks) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(config.data_dir.join("tenants"))
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        let opts = DbOptions::new(config.sync_full);
        let control = Db::open(&config.data_dir.join("harmonia.db"), Schema::Control, &opts)?;
        let vault = Arc::new(crate::vault::Vault::open(
            &config.master_key_file,
            &control,
        )?);
        let sealed = crate::auth::mfa::seal_plaintext_keys(&control, &vault)
            .map_err(|e| anyhow::anyhow!("sealing authenticator keys in the vault: {e}"))?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed authenticator app keys in the vault");
        }
        let tenants = Tenants::new(
            config.data_dir.join("tenants"),
            config.max_open_tenants,
            opts,
            hooks,
        );
        let rate_limits = RateLimiter::new(config.rate_limits);
        let control = Arc::new(control);
        let names = control.clone();
        tenants.set_people_source(Arc::new(move |org_id: &str| {
            let org_id = org_id.to_string();
            names.read_blocking(move |c| users::names_in_org(c, &org_id))
        }));
        Ok(AppState(Arc::new(Inner {
            config,
            control,
            tenants,
            throttle: Throttle::default(),
            rate_limits,
            api_requests: RequestLog::default(),
            vault,
            setup_token: Mutex::new(None),
        })))
    }

    /// While nobody has an account: a fresh one-hour setup token (the
    /// previous one stops working). None once the first user exists.
    pub fn issue_setup_token(&self) -> anyhow::Result<Option<String>> {
        let exists = self
            .control
            .read_blocking(users::any_exist)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if exists {
            return Ok(None);
        }
        let token = tokens::random_token();
        *self.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = Some((
            tokens::sha256(&token),
            Instant::now() + SETUP_TOKEN_LIFETIME,
        ));
        Ok(Some(token))
    }

    pub fn setup_token_matches(&self, token: &str) -> bool {
        let guard = self.setup_token.lock().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Some((hash, until)) => {
                Instant::now() < *until
                    && subtle::ConstantTimeEq::ct_eq(
                        hash.as_slice(),
                        tokens::sha256(token).as_slice(),
                    )
                    .into()
            }
            None => false,
        }
    }

    pub fn clear_setup_token(&self) {
        *self.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
