//! Which tenant a request belongs to, and whether this server serves it.

use super::{App, AppError, AppResult};
use crate::domain::{Tenant, TenantId};

/// The server's tenancy mode.
#[derive(Debug, Clone)]
pub struct Tenancy {
    /// Set when the server is pinned to one tenant (one Deployment per tenant on Kubernetes).
    pub pinned: Option<TenantId>,
    /// The tenant of requests that name none.
    pub default: TenantId,
    /// The first user of the default tenant becomes its owner (the embedded default).
    pub first_user_owns: bool,
}

impl App {
    /// Resolves the tenant a request named explicitly (a header) or through its host name, else
    /// the default. A pinned server answers 404 for every explicitly named tenant but its own,
    /// exactly as for a tenant that does not exist, and ignores host names (inside a cluster the
    /// host is the Service's DNS name, not a tenant).
    pub async fn resolve_tenant(
        &self,
        explicit: Option<&str>,
        from_host: Option<&str>,
    ) -> AppResult<Tenant> {
        let requested = if self.tenancy.pinned.is_some() {
            explicit
        } else {
            explicit.or(from_host)
        };
        let id = match requested {
            Some(raw) => TenantId::parse(raw).map_err(|_| AppError::tenant_not_found(raw))?,
            None => self
                .tenancy
                .pinned
                .clone()
                .unwrap_or_else(|| self.tenancy.default.clone()),
        };
        if self
            .tenancy
            .pinned
            .as_ref()
            .is_some_and(|pinned| *pinned != id)
        {
            return Err(AppError::tenant_not_found(id.as_str()));
        }
        self.store
            .tenant(&id)
            .await?
            .ok_or_else(|| AppError::tenant_not_found(id.as_str()))
    }
}
