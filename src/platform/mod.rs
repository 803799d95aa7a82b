//! The control plane: users, organizations, memberships, API keys, first-run setup.

pub mod api_keys;
pub mod invites;
pub mod members;
pub mod orgs;
pub mod roles;
pub mod setup;
pub mod users;
