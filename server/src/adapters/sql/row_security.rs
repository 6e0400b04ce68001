//! Row-level security only protects tenants from a role it binds: a PostgreSQL superuser, or a
//! role with `BYPASSRLS`, reads every tenant's rows whatever the policies say. The server
//! refuses to start as such a role unless told that this is intended.

use super::{Engine, SqlStore};

/// Why the server will not start on this role.
#[derive(Debug, thiserror::Error)]
#[error(
    "configuration error: CHEMCHAT_DATABASE_URL: the PostgreSQL role '{role}' is a superuser or has \
     BYPASSRLS, so row-level security would not separate tenants; connect as an ordinary role \
     (see ARCHITECTURE.md), or set CHEMCHAT_ALLOW_RLS_BYPASS=true to accept it"
)]
pub struct BypassingRole {
    /// The role.
    pub role: String,
}

/// Checks the role the store connects as; `allow` turns a refusal into a loud warning.
pub async fn check_row_security(store: &SqlStore, allow: bool) -> Result<(), anyhow::Error> {
    if store.engine != Engine::Postgres {
        return Ok(());
    }
    let (role, bypasses): (String, bool) = sqlx::query_as(
        "SELECT rolname::text, (rolsuper OR rolbypassrls) FROM pg_roles \
         WHERE rolname = current_user",
    )
    .fetch_one(&store.pool)
    .await?;
    if !bypasses {
        return Ok(());
    }
    if allow {
        tracing::warn!(%role, "CHEMCHAT_ALLOW_RLS_BYPASS: connected as a role that bypasses \
            row-level security; tenants are separated by the queries' tenant filters alone");
        return Ok(());
    }
    Err(BypassingRole { role }.into())
}
