//! A PostgreSQL role per tenant (`chemchat-server tenant role <id>`), pinned to its tenant by the
//! restrictive policy `tenant_role_pin` of every table (migration `*_tenant_roles.sql`): it
//! sees and writes its own tenant's rows only, whatever `chemchat.tenant_id` or a worker's
//! switch says. A server connected as one does not migrate (it cannot): it checks that the
//! schema is current and that it is pinned to the tenant it serves.

use super::{Engine, SqlStore};
use crate::domain::TenantId;
use chemchat_crds::contract::TENANT_ROLE_PREFIX;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{AssertSqlSafe, Row};

/// What `tenant role` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedRole {
    /// The role's name (`chemchat_backends::database_role`).
    pub role: String,
    /// It did not exist before (otherwise its password was replaced).
    pub created: bool,
}

/// Why a tenant role could not be provisioned or used.
#[derive(Debug, thiserror::Error)]
pub enum TenantRoleError {
    /// Roles are PostgreSQL's; SQLite has one user.
    #[error("tenant roles need PostgreSQL; this database is SQLite")]
    NotPostgres,
    /// The database refused (a role without CREATEROLE, for one).
    #[error("the database refused: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema is older than this server and the role may not migrate it.
    #[error(
        "the schema is at migration {found} but this server needs {needed}; a tenant role cannot \
         migrate: run `chemchat-server migrate` (or `tenant role`) with the platform's URL first"
    )]
    SchemaBehind {
        /// The newest applied migration.
        found: i64,
        /// The newest migration this server knows.
        needed: i64,
    },
}

/// Creates `tenant`'s role, or gives it a new password: LOGIN, no other attribute, the table
/// rights the server needs (none on `tenant_roles`, read-only on the migration history), and
/// its row in `tenant_roles`. One transaction, so a role never exists unpinned. Run as the
/// platform's role, which needs CREATEROLE.
pub async fn provision_tenant_role(
    store: &SqlStore,
    tenant: &TenantId,
    password: &SecretString,
) -> Result<ProvisionedRole, TenantRoleError> {
    if store.engine != Engine::Postgres {
        return Err(TenantRoleError::NotPostgres);
    }
    let mut tx = store.pool.begin().await?;
    let (database, schema): (String, String) =
        sqlx::query_as("SELECT current_database()::text, current_schema()::text")
            .fetch_one(&mut *tx)
            .await?;
    let role = chemchat_backends::database_role(&database, tenant.as_str());
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&role)
            .fetch_one(&mut *tx)
            .await?;
    // Utility statements take no parameters: PostgreSQL's own format() quotes the role (%1$I),
    // the password (%2$L), the database (%3$I) and the schema (%4$I), so none can break out.
    let templates = [
        if exists {
            "ALTER ROLE %1$I WITH LOGIN PASSWORD %2$L"
        } else {
            "CREATE ROLE %1$I WITH LOGIN NOINHERIT PASSWORD %2$L"
        },
        "GRANT CONNECT ON DATABASE %3$I TO %1$I",
        "GRANT USAGE ON SCHEMA %4$I TO %1$I",
        // Tables added by later migrations are granted when this runs again after them (the
        // operator's role Job runs with every new server image).
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %4$I TO %1$I",
        "REVOKE ALL ON %4$I.tenant_roles FROM %1$I",
        "REVOKE INSERT, UPDATE, DELETE ON %4$I._sqlx_migrations FROM %1$I",
    ];
    for template in templates {
        let statement: String = sqlx::query_scalar("SELECT format($1, $2, $3, $4, $5)")
            .bind(template)
            .bind(&role)
            .bind(password.expose_secret())
            .bind(&database)
            .bind(&schema)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM tenant_roles WHERE tenant_id = $1 AND role_name <> $2")
        .bind(tenant.as_str())
        .bind(&role)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO tenant_roles (role_name, tenant_id) VALUES ($1, $2) \
         ON CONFLICT (role_name) DO UPDATE SET tenant_id = EXCLUDED.tenant_id",
    )
    .bind(&role)
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ProvisionedRole {
        role,
        created: !exists,
    })
}

/// The tenant the store's login role is pinned to: `None` for the platform's role (or SQLite),
/// `Some("")` for a role named like a tenant's but recorded for none (it sees nothing).
pub async fn pinned_tenant(store: &SqlStore) -> Result<Option<String>, TenantRoleError> {
    if store.engine != Engine::Postgres {
        return Ok(None);
    }
    let role: String = sqlx::query_scalar("SELECT session_user::text")
        .fetch_one(&store.pool)
        .await?;
    if !role.starts_with(TENANT_ROLE_PREFIX) {
        return Ok(None);
    }
    let tenant: Option<String> = sqlx::query_scalar("SELECT chemchat_role_tenant()")
        .fetch_one(&store.pool)
        .await?;
    Ok(Some(tenant.unwrap_or_default()))
}

/// Checks that every migration this server knows was applied, for a role that cannot apply them.
pub async fn check_schema_current(store: &SqlStore) -> Result<(), TenantRoleError> {
    let needed = super::migrator(store.engine)
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&store.pool)
        .await?;
    let found: i64 = row.try_get(0)?;
    if found < needed {
        return Err(TenantRoleError::SchemaBehind { found, needed });
    }
    Ok(())
}

/// Drops `tenant`'s role and its record, after its rows were purged: the role's rights are
/// revoked first (PostgreSQL keeps a role that still holds any). Nothing recorded is nothing to
/// do; the platform's role needs CREATEROLE when there is.
pub async fn drop_tenant_role(
    store: &SqlStore,
    tenant: &TenantId,
) -> Result<Option<String>, TenantRoleError> {
    if store.engine != Engine::Postgres {
        return Ok(None);
    }
    let mut tx = store.pool.begin().await?;
    let role: Option<String> =
        sqlx::query_scalar("DELETE FROM tenant_roles WHERE tenant_id = $1 RETURNING role_name")
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(role) = role else {
        return Ok(None);
    };
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&role)
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        let templates = [
            "REVOKE ALL ON ALL TABLES IN SCHEMA %3$I FROM %1$I",
            "REVOKE ALL ON SCHEMA %3$I FROM %1$I",
            "REVOKE ALL ON DATABASE %2$I FROM %1$I",
            "DROP ROLE %1$I",
        ];
        for template in templates {
            let statement: String = sqlx::query_scalar(
                "SELECT format($1, $2, current_database()::text, current_schema()::text)",
            )
            .bind(template)
            .bind(&role)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(Some(role))
}
