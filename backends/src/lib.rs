//! The tenant's backends outside Kubernetes — Kafka topics, the search index, the credentials a
//! tenant's servers get instead of the platform's and (feature `iam`, the operator's) its own S3
//! user — and the telemetry both binaries install (logs and OpenTelemetry traces), as one crate
//! that the server (which writes to them) and the operator (which provisions and deletes them)
//! share, so the index mapping and the topic settings have a single definition.
//!
//! **API boundary**: no kube, no Kubernetes types. Callers turn their own configuration (the
//! operator: the cluster spec and tenant overrides) into [`topics::TopicSettings`] and index
//! shard counts; this crate only talks to the backends.

pub mod credentials;
pub mod error;
#[cfg(feature = "iam")]
pub mod object_storage_users;
pub mod search_index;
pub mod telemetry;
pub mod tenant_credentials;
pub mod topics;

pub use credentials::BasicAuth;
pub use error::{Backend, Error, Result};
pub use tenant_credentials::{
    RoleSlot, TenantKey, database_role, database_role_in_slot, redis_user,
};

/// What a delete did. Both variants are success: cleanup is idempotent, so something already
/// gone never holds up a caller (the operator's finalizer in particular).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// It existed and was deleted.
    Deleted,
    /// There was nothing to delete.
    AlreadyGone,
}
