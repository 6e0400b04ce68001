//! A tenant's PostgreSQL login roles (`chemchat-server tenant role <id> --slot a|b`), pinned to
//! their tenant by the restrictive policy `tenant_role_pin` of every table (migration
//! `*_tenant_roles.sql`): each sees and writes its own tenant's rows only, whatever
//! `chemchat.tenant_id` or a worker's switch says. A server connected as one does not migrate (it
//! cannot): it checks that the schema is current and that it is pinned to the tenant it serves.
//!
//! Two roles per tenant (`chemchat_backends::RoleSlot`, migration `*_tenant_role_slots.sql`),
//! because a role has one password: a rotation gives the new password to the role the tenant's
//! servers do not use, so the pods still on the old URL keep working while they roll; once none
//! is left, `--retire` retires the other role — it may no longer log in and its open sessions
//! are ended, so from then on the old password opens nothing.

use super::{Engine, SqlStore};
use crate::domain::TenantId;
use chemchat_backends::{RoleSlot, database_role_in_slot};
use chemchat_crds::contract::TENANT_ROLE_PREFIX;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{AssertSqlSafe, Row};

/// How long the retirement waits for each ended session to exit.
const SESSION_END_TIMEOUT_MS: i64 = 5_000;

/// What `tenant role` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedRole {
    /// The role's name (`chemchat_backends::database_role_in_slot`).
    pub role: String,
    /// Its slot.
    pub slot: RoleSlot,
    /// It did not exist before (otherwise its password was replaced).
    pub created: bool,
}

/// What `tenant role --retire` did to the tenant's other role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredRole {
    /// The retired role's name.
    pub role: String,
    /// Its slot.
    pub slot: RoleSlot,
    /// It existed (otherwise there was nothing to retire).
    pub existed: bool,
    /// Its sessions that were open and are now ended.
    pub sessions_ended: u64,
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
    /// The retired role logs in no more, but its open sessions could not be ended.
    #[error(
        "role {role} may no longer log in, but its open sessions could not be ended ({source}): \
         the platform's role needs the rights of pg_signal_backend \
         (GRANT pg_signal_backend TO <platform role>)"
    )]
    SessionsNotEnded {
        /// The retired role.
        role: String,
        /// What PostgreSQL said.
        source: sqlx::Error,
    },
}

/// Creates `tenant`'s role in `slot`, or gives it a new password: LOGIN, no other attribute,
/// the table rights the server needs (none on `tenant_roles`, read-only on the migration
/// history), and its row in `tenant_roles`. One transaction, so a role never exists unpinned.
/// The other slot's role is left as it is: pods of an older version may still use it. Run as
/// the platform's role, which needs CREATEROLE.
pub async fn provision_tenant_role(
    store: &SqlStore,
    tenant: &TenantId,
    slot: RoleSlot,
    password: &SecretString,
) -> Result<ProvisionedRole, TenantRoleError> {
    if store.engine != Engine::Postgres {
        return Err(TenantRoleError::NotPostgres);
    }
    let mut tx = store.begin_on(&store.pool, "BEGIN").await?;
    let (database, schema): (String, String) =
        sqlx::query_as("SELECT current_database()::text, current_schema()::text")
            .fetch_one(&mut *tx)
            .await?;
    let role = database_role_in_slot(&database, tenant.as_str(), slot);

    let exists = role_exists(&mut tx, &role).await?;
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
    // A row of the tenant naming neither of its roles is stale; the other slot's row stays, as
    // its role may still serve pods of an older version (and pins it while it exists).
    let [role_a, role_b] =
        RoleSlot::ALL.map(|s| database_role_in_slot(&database, tenant.as_str(), s));
    sqlx::query(
        "DELETE FROM tenant_roles WHERE tenant_id = $1 AND role_name <> $2 AND role_name <> $3",
    )
    .bind(tenant.as_str())
    .bind(role_a)
    .bind(role_b)
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
        slot,
        created: !exists,
    })
}

/// Retires `tenant`'s role in the slot other than `keep`, once no server uses it any more: it
/// may no longer log in and has no password (committed first, so no new session starts), then
/// its open sessions are ended, waiting for each to exit. Its grants and its row in
/// `tenant_roles` stay (it stays pinned), so a later rotation gives it a password again. A role
/// that does not exist is nothing to do. Ending another role's sessions needs the rights of
/// `pg_signal_backend` (or membership of the role), beyond CREATEROLE.
pub async fn retire_tenant_role(
    store: &SqlStore,
    tenant: &TenantId,
    keep: RoleSlot,
) -> Result<RetiredRole, TenantRoleError> {
    if store.engine != Engine::Postgres {
        return Err(TenantRoleError::NotPostgres);
    }
    let slot = keep.other();
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&store.pool)
        .await?;
    let role = database_role_in_slot(&database, tenant.as_str(), slot);
    let mut tx = store.begin_on(&store.pool, "BEGIN").await?;
    let exists = role_exists(&mut tx, &role).await?;
    if !exists {
        return Ok(RetiredRole {
            role,
            slot,
            existed: false,
            sessions_ended: 0,
        });
    }
    let statement: String =
        sqlx::query_scalar("SELECT format('ALTER ROLE %I WITH NOLOGIN PASSWORD NULL', $1)")
            .bind(&role)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(AssertSqlSafe(statement))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // After the commit: a session that started before it is ended here, and none starts since.
    let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE usename = $1")
        .bind(&role)
        .fetch_all(&store.pool)
        .await?;
    let mut sessions_ended = 0;
    for pid in pids {
        // `true` once it exited; `false` when it had exited already (or did not in time,
        // which PostgreSQL warns about).
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, $2)")
            .bind(pid)
            .bind(SESSION_END_TIMEOUT_MS)
            .fetch_one(&store.pool)
            .await
            .map_err(|source| TenantRoleError::SessionsNotEnded {
                role: role.clone(),
                source,
            })?;
        sessions_ended += u64::from(ended);
    }
    Ok(RetiredRole {
        role,
        slot,
        existed: true,
        sessions_ended,
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

/// Drops `tenant`'s roles (both slots) and their records, after its rows were purged: each
/// role's rights are revoked first (PostgreSQL keeps a role that still holds any). The roles
/// dropped; none is nothing to do. The platform's role needs CREATEROLE when there are any.
pub async fn drop_tenant_role(
    store: &SqlStore,
    tenant: &TenantId,
) -> Result<Vec<String>, TenantRoleError> {
    if store.engine != Engine::Postgres {
        return Ok(Vec::new());
    }
    let mut tx = store.begin_on(&store.pool, "BEGIN").await?;
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *tx)
        .await?;
    let mut roles: Vec<String> =
        sqlx::query_scalar("DELETE FROM tenant_roles WHERE tenant_id = $1 RETURNING role_name")
            .bind(tenant.as_str())
            .fetch_all(&mut *tx)
            .await?;
    // Both slots' names too: a role is always recorded with its row, but one left over by an
    // interrupted purge has none any more.
    for slot in RoleSlot::ALL {
        let role = database_role_in_slot(&database, tenant.as_str(), slot);
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    let mut dropped = Vec::new();
    for role in roles {
        let exists = role_exists(&mut tx, &role).await?;
        if !exists {
            continue;
        }
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
        dropped.push(role);
    }
    tx.commit().await?;
    Ok(dropped)
}

/// Whether the cluster has a role named `role`.
async fn role_exists(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    role: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(role)
        .fetch_one(&mut **tx)
        .await
}
