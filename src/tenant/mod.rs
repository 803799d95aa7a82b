//! Organizations' own databases: the registry of open ones and the only way a
//! request reaches one (`OrgAccess`, which checks membership and role first).

pub mod access;
pub mod registry;

pub use access::{Actor, OrgAccess};
pub use registry::{Tenant, Tenants};
