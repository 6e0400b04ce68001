//! Redis adapters (`CHEMCHAT_REDIS_URL`): pub/sub fan-out across instances, presence with
//! TTLs, and rate limits shared by every replica. Every channel and key of a tenant starts with
//! `<prefix>chemchat:<tenant>:` (`names.rs`), so a server pinned to a tenant can run as that
//! tenant's ACL user (`acl.rs`); only a multi-tenant server's budgets of client addresses are
//! shared (an address is the same in every tenant).
//!
//! **Invariant**: Redis is never on the path that stores a message. When it is down, local
//! delivery and the store keep working; cross-instance typing and presence degrade.

mod account_wire;
mod acl;
mod attention;
mod bus;
mod connections;
mod limiter;
mod names;
mod presence;

pub use acl::{OtherPasswords, ProvisionedUser, drop_tenant_user, provision_tenant_user};
pub use attention::RedisAttention;
pub use bus::RedisBus;
pub use connections::RedisLedger;
pub use limiter::RedisLimiter;
pub use presence::RedisPresence;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// How long one Redis command may take before the caller gives up (and degrades).
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// A reconnecting connection with short timeouts, so a dead Redis costs milliseconds, not the
/// operating system's TCP timeout.
pub async fn connect(client: &redis::Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(2));
    client.get_connection_manager_with_config(config).await
}
