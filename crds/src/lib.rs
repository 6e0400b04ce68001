//! ChemChat's Kubernetes API and the configuration contract between operator and server.
//!
//! The [`contract`] module has no dependencies so the server can use it without pulling in
//! the Kubernetes client stack. Everything else sits behind the default `resources` feature.

pub mod contract;

#[cfg(feature = "resources")]
pub mod cluster;
#[cfg(feature = "resources")]
pub mod common;
#[cfg(feature = "resources")]
pub mod generate;
#[cfg(feature = "resources")]
pub mod tenant;
#[cfg(feature = "resources")]
pub mod tier;

#[cfg(feature = "resources")]
pub use cluster::{ChemChatCluster, ChemChatClusterSpec, ChemChatClusterStatus};
#[cfg(feature = "resources")]
pub use tenant::{ChemChatTenant, ChemChatTenantSpec, ChemChatTenantStatus};

/// API group of every ChemChat resource.
pub const GROUP: &str = "chemchat.io";
/// API version of the resources in this crate.
pub const VERSION: &str = "v1alpha1";
/// Finalizer the operator puts on tenants so external cleanup runs before deletion.
pub const FINALIZER: &str = "chemchat.io/cleanup";
/// Annotation that pauses reconciliation (value [`PAUSED`]).
pub const RECONCILE_ANNOTATION: &str = "chemchat.io/reconcile";
/// Value of [`RECONCILE_ANNOTATION`] that stops writes but keeps status current.
pub const PAUSED: &str = "paused";
/// Annotation that, set to `"true"` on a tenant being deleted, releases it without cleaning up
/// its data outside Kubernetes: for backends that are gone for good.
pub const SKIP_CLEANUP_ANNOTATION: &str = "chemchat.io/skip-cleanup";
/// Finalizer the operator puts on clusters so they outlive the tenants that need their
/// backends for cleanup.
pub const CLUSTER_FINALIZER: &str = "chemchat.io/tenants";
/// Label carrying the tenant name on every child object.
pub const TENANT_LABEL: &str = "chemchat.io/tenant";
