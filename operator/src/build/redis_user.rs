//! A tenant's own Redis ACL user: the Secret that keeps its current password, the Job that
//! creates the user or adds that password beside its others (`chemchat-server tenant
//! redis-user <id>`, with the cluster's Redis URL, whose user may run `ACL SETUSER`), the Job
//! that leaves that password as its only one once the tenant's pods have rolled to it (`…
//! --retire`), and the tenant's Redis URL. The user reaches only the tenant's keys and channels
//! (`<prefix>chemchat:<tenant>:*`), so a compromised tenant pod cannot read or forge another
//! tenant's live traffic. Pure, like the database role's (`database_role.rs`).
//!
//! The Secret and the Jobs live in the cluster's namespace, beside the cluster's Redis URL; only
//! the tenant's URL reaches the tenant namespace.

use std::collections::BTreeMap;

use chemchat_crds::contract as env;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use serde_json::json;

use super::database_role::{INPUTS_ANNOTATION, PASSWORD_KEY, password_secret};
use super::hash;
use super::jobs::{ServerJob, from_secret, job_name, plain, server_job};

/// Prefix of the user Job's and the password Secret's names; the tenant id follows.
pub const REDIS_USER_PREFIX: &str = "redis-user-";
/// Prefix of the Job that retires the user's other passwords; the tenant id follows.
pub const RETIRE_REDIS_PREFIX: &str = "redis-retire-";
/// Pod retries before the Job counts as failed.
const BACKOFF_LIMIT: i32 = 2;
/// One `ACL SETUSER` longer than this is stuck (an unreachable Redis).
const DEADLINE_SECONDS: i64 = 300;

/// Name of the tenant's Redis user Job and of its password Secret.
pub fn redis_user_name(tenant: &str) -> String {
    job_name(REDIS_USER_PREFIX, tenant)
}

/// Name of the Job that retires the tenant's other Redis passwords.
pub fn retire_redis_job_name(tenant: &str) -> String {
    job_name(RETIRE_REDIS_PREFIX, tenant)
}

/// The Secret keeping `tenant`'s Redis password, owned by the tenant. Deleting it rotates the
/// password: the operator makes a new one, adds it to the user and, once the tenant's pods have
/// all rolled to it, retires the others.
pub fn redis_password_secret(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    password: &str,
) -> Secret {
    let name = tenant.name_any();
    password_secret(
        tenant,
        cluster,
        redis_user_name(&name),
        "redis-user",
        password,
        BTreeMap::new(),
    )
}

/// What a user Job is run for: the server image (the commands its servers send) and the
/// password Secret (its uid changes when the Secret is deleted and made anew).
pub fn redis_user_job_inputs(cluster: &ChemChatCluster, password_secret_uid: &str) -> String {
    hash(&json!([
        "redis-user",
        cluster.spec.image.reference(),
        password_secret_uid
    ]))
}

/// What a retire Job is run for, likewise.
pub fn retire_redis_job_inputs(cluster: &ChemChatCluster, password_secret_uid: &str) -> String {
    hash(&json!([
        "redis-user-retire",
        cluster.spec.image.reference(),
        password_secret_uid
    ]))
}

/// The Job that creates `tenant`'s Redis user or sets it again, adding its password beside the
/// user's others.
pub fn redis_user_job(tenant: &ChemChatTenant, cluster: &ChemChatCluster, inputs: &str) -> Job {
    let name = tenant.name_any();
    tenant_user_job(
        tenant,
        cluster,
        redis_user_name(&name),
        "redis-user",
        inputs,
        false,
    )
}

/// The Job that sets `tenant`'s Redis user again with its password as the only one.
pub fn retire_redis_job(tenant: &ChemChatTenant, cluster: &ChemChatCluster, inputs: &str) -> Job {
    let name = tenant.name_any();
    tenant_user_job(
        tenant,
        cluster,
        retire_redis_job_name(&name),
        "redis-user-retire",
        inputs,
        true,
    )
}

fn tenant_user_job(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    job_name: String,
    component: &'static str,
    inputs: &str,
    retire: bool,
) -> Job {
    let name = tenant.name_any();
    let redis = &cluster.spec.redis.url_secret_ref;
    let mut args = vec!["tenant".to_owned(), "redis-user".to_owned(), name.clone()];
    if retire {
        args.push("--retire".to_owned());
    }
    server_job(
        ServerJob {
            name: job_name,
            component,
            args,
            env: vec![
                from_secret(env::REDIS_URL, &redis.name, &redis.key),
                from_secret(
                    env::TENANT_REDIS_PASSWORD,
                    &redis_user_name(&name),
                    PASSWORD_KEY,
                ),
                plain(env::LOG_FORMAT, "json"),
            ],
            backoff_limit: BACKOFF_LIMIT,
            deadline_seconds: DEADLINE_SECONDS,
            annotations: Some(BTreeMap::from([(
                INPUTS_ANNOTATION.to_owned(),
                inputs.to_owned(),
            )])),
        },
        tenant,
        cluster,
    )
}

/// Why a tenant URL cannot be made from the cluster's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("spec.redis.urlSecretRef: {0}")]
pub struct UnusableRedisUrl(String);

/// The tenant's Redis URL: the cluster's `admin` URL with the tenant's user and password as its
/// credentials (scheme, host, port, database and parameters kept). The operator sets no key
/// prefix, so the user is `chemchat_tenant_<tenant>`, as `tenant redis-user` names it.
pub fn tenant_redis_url(
    admin: &str,
    tenant: &str,
    password: &str,
) -> Result<String, UnusableRedisUrl> {
    let unusable = |why: &str| UnusableRedisUrl(why.to_owned());
    let (scheme, rest) = admin
        .split_once("://")
        .ok_or_else(|| unusable("not a URL (scheme://…)"))?;
    if scheme != "redis" && scheme != "rediss" {
        return Err(unusable("tenant users need a redis:// or rediss:// URL"));
    }
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() {
        return Err(unusable("no host"));
    }
    let user = chemchat_backends::redis_user("", tenant);
    Ok(format!("{scheme}://{user}:{password}@{host}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_url_keeps_the_server_and_swaps_the_credentials() {
        assert_eq!(
            tenant_redis_url("redis://default:admin@redis.data:6379/2", "acme", "s3").unwrap(),
            "redis://chemchat_tenant_acme:s3@redis.data:6379/2"
        );
        assert_eq!(
            tenant_redis_url("rediss://redis?insecure=true", "acme", "s3").unwrap(),
            "rediss://chemchat_tenant_acme:s3@redis?insecure=true"
        );
        assert_eq!(
            tenant_redis_url("redis://:admin@redis", "acme", "s3").unwrap(),
            "redis://chemchat_tenant_acme:s3@redis"
        );
        assert!(tenant_redis_url("redis+unix:///run/redis.sock", "acme", "s3").is_err());
        assert!(tenant_redis_url("redis://", "acme", "s3").is_err());
        assert!(tenant_redis_url("redis.data:6379", "acme", "s3").is_err());
    }
}
