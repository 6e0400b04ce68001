//! A Redis ACL user per tenant (`chemchat-server tenant redis-user <id>`): it reaches the keys
//! and channels under its tenant's root (`names.rs`) and nothing else, and runs only the
//! commands a server pinned to the tenant sends — listed one by one rather than by category,
//! because categories such as `@read` and `@pubsub` hold `SCAN`, `RANDOMKEY` and `PUBSUB
//! CHANNELS`, which name other tenants' keys and channels whatever the patterns say.

use super::COMMAND_TIMEOUT;
use super::names::tenant_pattern;
use crate::domain::TenantId;
use secrecy::{ExposeSecret, SecretString};

/// The commands of a server pinned to one tenant: connecting (`AUTH` and `HELLO` are always
/// allowed), the health probe, the Lua scripts of the ledger and the limiter (`EVALSHA`, and
/// `SCRIPT LOAD` when Redis lost them; the commands a script runs are checked too, `TIME` among
/// them), presence and attention hashes, and the bus. No `PSUBSCRIBE`: a pinned server
/// subscribes to its own control channel by name.
const COMMANDS: &[&str] = &[
    "ping",
    "evalsha",
    "script|load",
    "time",
    "get",
    "set",
    "del",
    "pexpire",
    "zadd",
    "zrem",
    "zscore",
    "zcard",
    "zcount",
    "zremrangebyscore",
    "hset",
    "hdel",
    "hgetall",
    "publish",
    "subscribe",
    "unsubscribe",
];

/// What `tenant redis-user` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedUser {
    /// The user's name (`chemchat_backends::redis_user`).
    pub user: String,
    /// It did not exist before (otherwise its rights were set again and its password replaced).
    pub created: bool,
}

/// Creates `tenant`'s ACL user on the Redis at `admin_url` (whose user may run `ACL SETUSER`),
/// or sets it again: `reset` first, so a second run leaves the new password as the only one and
/// no right from an older version behind. One command, so the user never exists half made. When
/// Redis keeps its users in an ACL file, it is saved, so the user survives a restart.
pub async fn provision_tenant_user(
    admin_url: &str,
    prefix: &str,
    tenant: &TenantId,
    password: &SecretString,
) -> anyhow::Result<ProvisionedUser> {
    let mut connection = open(admin_url).await?;
    let user = chemchat_backends::redis_user(prefix, tenant.as_str());
    let existing: Option<redis::Value> = redis::cmd("ACL")
        .arg("GETUSER")
        .arg(&user)
        .query_async(&mut connection)
        .await?;
    let pattern = tenant_pattern(prefix, tenant);
    let mut setuser = redis::cmd("ACL");
    setuser
        .arg("SETUSER")
        .arg(&user)
        .arg("reset")
        .arg("on")
        .arg(format!(">{}", password.expose_secret()))
        .arg(format!("~{pattern}"))
        .arg(format!("&{pattern}"));
    for command in COMMANDS {
        setuser.arg(format!("+{command}"));
    }
    // redis-rs names itself on connecting with `CLIENT SETINFO` (Redis 7.2 on), ignoring the
    // answer; allowed where Redis knows it, so a refusal does not fill the ACL log.
    if knows(&mut connection, "client|setinfo").await? {
        setuser.arg("+client|setinfo");
    }
    setuser
        .query_async::<()>(&mut connection)
        .await
        .map_err(|error| {
            // Redis quotes a modifier it refuses; the password's must never reach a log.
            let text = error
                .to_string()
                .replace(password.expose_secret(), "<redacted>");
            anyhow::anyhow!("ACL SETUSER {user} refused: {text}")
        })?;
    save(&mut connection).await;
    Ok(ProvisionedUser {
        user,
        created: existing.is_none(),
    })
}

/// Deletes `tenant`'s ACL user, after its tenant was purged; `None` when there was none. Its
/// open connections are closed with it.
pub async fn drop_tenant_user(
    admin_url: &str,
    prefix: &str,
    tenant: &TenantId,
) -> anyhow::Result<Option<String>> {
    let mut connection = open(admin_url).await?;
    let user = chemchat_backends::redis_user(prefix, tenant.as_str());
    let deleted: u64 = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut connection)
        .await?;
    if deleted == 0 {
        return Ok(None);
    }
    save(&mut connection).await;
    Ok(Some(user))
}

/// Whether this Redis has `command` (older ones refuse an ACL rule naming one they lack).
async fn knows(
    connection: &mut redis::aio::MultiplexedConnection,
    command: &str,
) -> anyhow::Result<bool> {
    let info: Vec<redis::Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(command)
        .query_async(connection)
        .await?;
    Ok(info.iter().any(|entry| *entry != redis::Value::Nil))
}

async fn open(url: &str) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    let connection = tokio::time::timeout(
        COMMAND_TIMEOUT * 10,
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("redis did not answer"))??;
    Ok(connection)
}

/// `ACL SAVE`, when Redis has an ACL file; without one its users live in its configuration
/// (`CONFIG REWRITE`, or the next run of this command, keeps them after a restart).
async fn save(connection: &mut redis::aio::MultiplexedConnection) {
    let saved = redis::cmd("ACL")
        .arg("SAVE")
        .query_async::<()>(connection)
        .await;
    if let Err(error) = saved {
        tracing::debug!(%error, "ACL users not saved to a file (Redis has none configured)");
    }
}
