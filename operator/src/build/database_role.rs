//! A tenant's own PostgreSQL role: the Secret that keeps its password, the Job that creates it
//! (`chemchat-server tenant role <id>`, with the cluster's master database URL) and the
//! tenant's database URL made from both. Pure: the operator's client code generates the
//! password and follows the Job (`crate::database_role`).
//!
//! The Secret and the Job live in the cluster's (platform) namespace, where the master URL is
//! and where no tenant pod runs; only the tenant URL reaches the tenant namespace.

use std::collections::BTreeMap;

use chemchat_crds::contract as env;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use serde_json::json;

use super::jobs::{ServerJob, from_secret, plain, server_job};
use super::{hash, owner_reference};
use crate::labels;

/// Prefix of the role Job's and the password Secret's names; the tenant id follows.
pub const DATABASE_ROLE_PREFIX: &str = "db-role-";
/// Key of the password in the password Secret.
pub const PASSWORD_KEY: &str = "password";
/// Annotation of the role Job: a hash of what it was run for (image and password Secret), so
/// a new image (new migrations, new tables to grant) or a new password runs it again.
pub const INPUTS_ANNOTATION: &str = "chemchat.io/role-inputs";
/// Pod retries before the Job counts as failed.
const BACKOFF_LIMIT: i32 = 2;
/// Migrating and granting longer than this is stuck.
const DEADLINE_SECONDS: i64 = 600;

/// Name of the tenant's role Job and of its password Secret.
pub fn database_role_name(tenant: &str) -> String {
    format!("{DATABASE_ROLE_PREFIX}{tenant}")
}

/// The Secret keeping `tenant`'s role password, owned by the tenant. Deleting it rotates the
/// password: the operator makes a new one and runs the Job again.
pub fn role_password_secret(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    password: &str,
) -> Secret {
    let name = tenant.name_any();
    password_secret(
        tenant,
        cluster,
        database_role_name(&name),
        "database-role",
        password,
    )
}

/// A tenant's credential password kept in the cluster's namespace as `secret_name`, owned by the
/// tenant (so it goes with the tenant) and labelled with the credential's `component`.
pub(super) fn password_secret(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    secret_name: String,
    component: &str,
    password: &str,
) -> Secret {
    let name = tenant.name_any();
    let uid = tenant.uid().unwrap_or_default();
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name),
            namespace: cluster.namespace(),
            labels: Some(labels::labels(&name, component)),
            owner_references: (!uid.is_empty()).then(|| vec![owner_reference(&name, &uid)]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            PASSWORD_KEY.to_owned(),
            ByteString(password.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// What a role Job is run for: the server image (its migrations) and the password Secret (its
/// uid changes when the Secret is deleted and made anew).
pub fn role_job_inputs(cluster: &ChemChatCluster, password_secret_uid: &str) -> String {
    hash(&json!([
        cluster.spec.image.reference(),
        password_secret_uid
    ]))
}

/// The Job that migrates the schema and creates `tenant`'s role or sets its password.
pub fn role_job(tenant: &ChemChatTenant, cluster: &ChemChatCluster, inputs: &str) -> Job {
    let name = tenant.name_any();
    let database = &cluster.spec.postgres.url_secret_ref;
    server_job(
        ServerJob {
            name: database_role_name(&name),
            component: "database-role",
            args: vec!["tenant".to_owned(), "role".to_owned(), name.clone()],
            env: vec![
                from_secret(env::DATABASE_URL, &database.name, &database.key),
                from_secret(
                    env::TENANT_ROLE_PASSWORD,
                    &database_role_name(&name),
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
#[error("spec.postgres.urlSecretRef: {0}")]
pub struct UnusableDatabaseUrl(String);

/// The tenant's database URL: the cluster's `master` URL with the tenant's role and password as
/// its user (host, port, database and parameters kept). The role's name depends on the
/// database, as `chemchat-server tenant role` names it.
pub fn tenant_database_url(
    master: &str,
    tenant: &str,
    password: &str,
) -> Result<String, UnusableDatabaseUrl> {
    let unusable = |why: &str| UnusableDatabaseUrl(why.to_owned());
    let (scheme, rest) = master
        .split_once("://")
        .ok_or_else(|| unusable("not a URL (scheme://…)"))?;
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(unusable("tenant roles need a postgres:// URL"));
    }
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (userinfo.split(':').next().unwrap_or_default(), host),
        None => ("", authority),
    };
    if host.is_empty() {
        return Err(unusable("no host"));
    }
    let path = tail.strip_prefix('/').unwrap_or("");
    let database = path.split('?').next().unwrap_or_default();
    // PostgreSQL's default database is the user's name.
    let database = if database.is_empty() { user } else { database };
    if database.is_empty() || database.contains('%') {
        return Err(unusable(
            "name the database in the URL path, without percent-encoding",
        ));
    }
    let role = chemchat_backends::database_role(database, tenant);
    Ok(format!("{scheme}://{role}:{password}@{host}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_url_keeps_the_server_and_swaps_the_user() {
        let role = chemchat_backends::database_role("chat", "acme");
        assert_eq!(
            tenant_database_url(
                "postgres://app:pw@db.platform:5432/chat?sslmode=require",
                "acme",
                "s3"
            )
            .unwrap(),
            format!("postgres://{role}:s3@db.platform:5432/chat?sslmode=require")
        );
        assert_eq!(
            tenant_database_url("postgresql://db/chat", "acme", "s3").unwrap(),
            format!("postgresql://{role}:s3@db/chat")
        );
        let by_user = chemchat_backends::database_role("app", "acme");
        assert_eq!(
            tenant_database_url("postgres://app@db", "acme", "s3").unwrap(),
            format!("postgres://{by_user}:s3@db")
        );
        assert!(tenant_database_url("sqlite://x.db", "acme", "s3").is_err());
        assert!(tenant_database_url("postgres://db", "acme", "s3").is_err());
    }
}
