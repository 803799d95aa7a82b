//! Organizations' own databases: the registry of open ones. The only way a
//! request reaches one is `platform::access::OrgAccess`, which checks
//! membership and role first.

pub mod people;
pub mod registry;

pub use registry::{Tenant, TenantHooks, Tenants, jobs_due_after_commit, notices_after_commit};
