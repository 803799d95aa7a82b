//! The control plane's features: sign-in and account, organizations,
//! memberships and invitations, API keys, first-run setup, and the access gate
//! (`OrgAccess`) that every organization route passes through.

pub mod access;
pub mod account;
pub mod api_keys;
pub mod api_requests;
pub mod audit_routes;
pub mod client_ip;
pub mod closure;
pub mod closure_routes;
pub mod invites;
pub mod members;
pub mod mfa;
pub mod notifications;
pub mod orgs;
pub mod passkeys;
pub mod resets;
pub mod sessions;
pub mod setup;
