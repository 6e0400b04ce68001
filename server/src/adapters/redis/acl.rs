//! A Redis ACL user per tenant (`chemchat-server tenant redis-user <id>`): it reaches the keys
//! and channels under its tenant's root (`names.rs`) and nothing else, and runs only the
//! commands a server pinned to the tenant sends — listed one by one rather than by category,
//! because categories such as `@read` and `@pubsub` hold `SCAN`, `RANDOMKEY` and `PUBSUB
//! CHANNELS`, which name other tenants' keys and channels whatever the patterns say.
//!
//! A Redis user may have several passwords. A new password is added beside the user's others
//! (kept by their SHA-256, which `ACL GETUSER` lists), so the pods still holding the old URL keep
//! connecting while the tenant's servers roll to the new one; once none is left, `--retire` sets
//! the user again with the new password alone.

use super::COMMAND_TIMEOUT;
use super::names::tenant_pattern;
use crate::domain::TenantId;
use redis::Value;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

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

/// What becomes of the user's other passwords when it is set again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherPasswords {
    /// They keep working: the tenant's servers of an older version may still hold one.
    Keep,
    /// They stop working: no server holds one any more (`tenant redis-user --retire`).
    Retire,
}

/// What `tenant redis-user` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedUser {
    /// The user's name (`chemchat_backends::redis_user`).
    pub user: String,
    /// It did not exist before (otherwise its rights were set again and its password added).
    pub created: bool,
    /// Its other passwords that work besides this one after the command.
    pub kept: usize,
    /// Its other passwords that no longer work ([`OtherPasswords::Retire`]).
    pub retired: usize,
}

/// Creates `tenant`'s ACL user on the Redis at `admin_url` (whose user may run `ACL SETUSER`),
/// or sets it again: `reset` first, so no right from an older version is left behind, then
/// `password` and, with [`OtherPasswords::Keep`], the user's other passwords again by their
/// SHA-256 (`#<hex>`) — with [`OtherPasswords::Retire`], `password` alone. One command, so the
/// user never exists half made. When Redis keeps its users in an ACL file, it is saved, so the
/// user survives a restart. Connections opened with a retired password stay open (Redis ties a
/// connection to its user, not to a password); the operator retires one only once no pod that
/// held it is left.
pub async fn provision_tenant_user(
    admin_url: &str,
    prefix: &str,
    tenant: &TenantId,
    password: &SecretString,
    others: OtherPasswords,
) -> anyhow::Result<ProvisionedUser> {
    let mut connection = open(admin_url).await?;
    let user = chemchat_backends::redis_user(prefix, tenant.as_str());
    let existing: Option<Value> = redis::cmd("ACL")
        .arg("GETUSER")
        .arg(&user)
        .query_async(&mut connection)
        .await?;
    let this = password_hash(password);
    let other_hashes: Vec<String> = existing
        .as_ref()
        .map(password_hashes)
        .unwrap_or_default()
        .into_iter()
        .filter(|hash| *hash != this)
        .collect();
    let pattern = tenant_pattern(prefix, tenant);
    let mut setuser = redis::cmd("ACL");
    setuser
        .arg("SETUSER")
        .arg(&user)
        .arg("reset")
        .arg("on")
        .arg(format!(">{}", password.expose_secret()));
    if others == OtherPasswords::Keep {
        for hash in &other_hashes {
            setuser.arg(format!("#{hash}"));
        }
    }
    setuser
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
    let (kept, retired) = match others {
        OtherPasswords::Keep => (other_hashes.len(), 0),
        OtherPasswords::Retire => (0, other_hashes.len()),
    };
    Ok(ProvisionedUser {
        user,
        created: existing.is_none(),
        kept,
        retired,
    })
}

/// A password as Redis keeps it: SHA-256, in lowercase hex.
fn password_hash(password: &SecretString) -> String {
    Sha256::digest(password.expose_secret().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hashes of a user's passwords in its `ACL GETUSER` answer (field `passwords`; a flat
/// array of names and values over RESP2, a map over RESP3). Only well-formed ones: each is
/// given back to `ACL SETUSER` as `#<hex>`.
fn password_hashes(user: &Value) -> Vec<String> {
    let fields: Vec<(&Value, &Value)> = match user {
        Value::Array(items) => items.chunks_exact(2).map(|f| (&f[0], &f[1])).collect(),
        Value::Map(entries) => entries.iter().map(|(k, v)| (k, v)).collect(),
        _ => Vec::new(),
    };
    let hashes = fields
        .into_iter()
        .find(|(name, _)| text(name).as_deref() == Some("passwords"))
        .map(|(_, value)| value);
    match hashes {
        Some(Value::Array(items) | Value::Set(items)) => items
            .iter()
            .filter_map(text)
            .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .collect(),
        _ => Vec::new(),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn the_hashes_are_read_from_either_protocol_and_checked() {
        let good = "a".repeat(64);
        let passwords = Value::Array(vec![bulk(&good), bulk("not-a-hash"), bulk(&"A".repeat(64))]);
        let resp2 = Value::Array(vec![
            bulk("flags"),
            Value::Array(vec![bulk("on")]),
            bulk("passwords"),
            passwords.clone(),
        ]);
        assert_eq!(password_hashes(&resp2), std::slice::from_ref(&good));
        let resp3 = Value::Map(vec![(bulk("passwords"), passwords)]);
        assert_eq!(password_hashes(&resp3), [good]);
        assert!(password_hashes(&Value::Nil).is_empty());
    }

    #[test]
    fn a_password_hashes_as_redis_keeps_it() {
        // SHA-256 of "foo", as `ACL GETUSER` shows a user set with `>foo`.
        assert_eq!(
            password_hash(&SecretString::from("foo")),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
    }
}
