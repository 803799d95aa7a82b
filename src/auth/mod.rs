//! Accounts and authentication: users, passwords, sessions, API-key callers,
//! roles, CSRF, throttling. No HTTP routes: the sign-in routes are in
//! `platform::account`, above the application state.

pub mod activity;
pub mod caller;
pub mod mfa;
pub mod passkey;
pub mod password;
pub mod rate_limit;
pub mod reset;
pub mod roles;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod user_agent;
pub mod users;
