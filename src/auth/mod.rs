//! Authentication: passwords, sessions, API-key callers, CSRF, throttling.

pub mod caller;
pub mod client_ip;
pub mod password;
pub mod routes;
pub mod session;
pub mod throttle;
pub mod tokens;
