//! A tenant's own PostgreSQL roles: the Secret that keeps the current password (and which of the
//! tenant's two roles it is for), the Job that creates that role (`chemchat-server tenant role
//! <id> --slot a|b`, with the cluster's master database URL), the Job that retires the other
//! role once the tenant's pods have rolled to this one (`… --retire`), and the tenant's database
//! URL. Pure: the operator's client code generates the password and follows the Jobs
//! (`crate::database_role`, `crate::retire`).
//!
//! The Secret and the Jobs live in the cluster's (platform) namespace, where the master URL is
//! and where no tenant pod runs; only the tenant URL reaches the tenant namespace.

use std::collections::BTreeMap;

use chemchat_backends::RoleSlot;
use chemchat_crds::contract as env;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use serde_json::json;

use super::jobs::{ServerJob, from_secret, job_name, plain, server_job};
use super::{hash, owner_reference};
use crate::labels;

/// Prefix of the role Job's and the password Secret's names; the tenant id follows.
pub const DATABASE_ROLE_PREFIX: &str = "db-role-";
/// Prefix of the Job that retires the tenant's other role; the tenant id follows.
pub const RETIRE_ROLE_PREFIX: &str = "db-retire-";
/// Key of the password in the password Secret.
pub const PASSWORD_KEY: &str = "password";
/// Annotation of the role and user Jobs: a hash of what they were run for (image, password
/// Secret, slot), so a new image (new migrations, new tables to grant) or a new password runs
/// them again.
pub const INPUTS_ANNOTATION: &str = "chemchat.io/role-inputs";
/// Annotation of the role password Secret: the slot (`a`, `b`) of the role its password is
/// for. A Secret made before there were two roles has none: slot `a`.
pub const ROLE_SLOT_ANNOTATION: &str = "chemchat.io/role-slot";
/// Annotation of a password Secret (role and Redis user), `"true"` once the older credential is
/// retired — the other role, the user's other passwords — which happens once the tenant's pods
/// all run with this password; while it is missing, the operator waits for the rollout (also
/// across restarts), then runs the retire Job.
pub const RETIRED_ANNOTATION: &str = "chemchat.io/older-credential-retired";
/// Pod retries before the Job counts as failed.
const BACKOFF_LIMIT: i32 = 2;
/// Migrating and granting longer than this is stuck.
const DEADLINE_SECONDS: i64 = 600;

/// Name of the tenant's role Job and of its password Secret.
pub fn database_role_name(tenant: &str) -> String {
    job_name(DATABASE_ROLE_PREFIX, tenant)
}

/// Name of the Job that retires the tenant's other role.
pub fn retire_role_job_name(tenant: &str) -> String {
    job_name(RETIRE_ROLE_PREFIX, tenant)
}

/// The Secret keeping the password of `tenant`'s role in `slot`, owned by the tenant. Deleting it
/// rotates the password: the operator makes a new one for the other slot's role.
pub fn role_password_secret(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    password: &str,
    slot: RoleSlot,
) -> Secret {
    let name = tenant.name_any();
    password_secret(
        tenant,
        cluster,
        database_role_name(&name),
        "database-role",
        password,
        BTreeMap::from([(ROLE_SLOT_ANNOTATION.to_owned(), slot.as_str().to_owned())]),
    )
}

/// The slot of the role a role password Secret is for.
pub fn role_slot_of(secret: &Secret) -> RoleSlot {
    secret
        .annotations()
        .get(ROLE_SLOT_ANNOTATION)
        .and_then(|s| RoleSlot::parse(s))
        .unwrap_or(RoleSlot::A)
}

/// A tenant's credential password kept in the cluster's namespace as `secret_name`, owned by the
/// tenant (so it goes with the tenant) and labelled with the credential's `component`.
pub(super) fn password_secret(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    secret_name: String,
    component: &str,
    password: &str,
    annotations: BTreeMap<String, String>,
) -> Secret {
    let name = tenant.name_any();
    let uid = tenant.uid().unwrap_or_default();
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name),
            namespace: cluster.namespace(),
            labels: Some(labels::labels(&name, component)),
            annotations: (!annotations.is_empty()).then_some(annotations),
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

/// What a role Job is run for: the server image (its migrations), the password Secret (its uid
/// changes when the Secret is deleted and made anew) and the slot. Slot `a` hashes as before
/// there were two, so an operator upgrade alone runs no tenant's Job again.
pub fn role_job_inputs(
    cluster: &ChemChatCluster,
    password_secret_uid: &str,
    slot: RoleSlot,
) -> String {
    let image = cluster.spec.image.reference();
    hash(&match slot {
        RoleSlot::A => json!([image, password_secret_uid]),
        RoleSlot::B => json!([image, password_secret_uid, slot.as_str()]),
    })
}

/// What a retire Job is run for: as [`role_job_inputs`], for retiring the slot other than
/// `slot`.
pub fn retire_role_job_inputs(
    cluster: &ChemChatCluster,
    password_secret_uid: &str,
    slot: RoleSlot,
) -> String {
    hash(&json!([
        "retire",
        cluster.spec.image.reference(),
        password_secret_uid,
        slot.as_str()
    ]))
}

/// The Job that migrates the schema and creates `tenant`'s role in `slot` or sets its password.
pub fn role_job(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    inputs: &str,
    slot: RoleSlot,
) -> Job {
    let name = tenant.name_any();
    tenant_role_job(
        tenant,
        cluster,
        database_role_name(&name),
        "database-role",
        inputs,
        slot,
        false,
    )
}

/// The Job that retires `tenant`'s role in the slot other than `slot` (after setting `slot`'s
/// again, which changes nothing): it may no longer log in and its sessions are ended.
pub fn retire_role_job(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    inputs: &str,
    slot: RoleSlot,
) -> Job {
    let name = tenant.name_any();
    tenant_role_job(
        tenant,
        cluster,
        retire_role_job_name(&name),
        "database-role-retire",
        inputs,
        slot,
        true,
    )
}

fn tenant_role_job(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    job_name: String,
    component: &'static str,
    inputs: &str,
    slot: RoleSlot,
    retire: bool,
) -> Job {
    let name = tenant.name_any();
    let database = &cluster.spec.postgres.url_secret_ref;
    let mut args = vec![
        "tenant".to_owned(),
        "role".to_owned(),
        name.clone(),
        "--slot".to_owned(),
        slot.as_str().to_owned(),
    ];
    if retire {
        args.push("--retire".to_owned());
    }
    server_job(
        ServerJob {
            name: job_name,
            component,
            args,
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

/// The tenant's database URL: the cluster's `master` URL with the tenant's role in `slot` and
/// `password` as its user (host, port, database and parameters kept).
pub fn tenant_database_url(
    master: &str,
    tenant: &str,
    password: &str,
    slot: RoleSlot,
) -> Result<String, UnusableDatabaseUrl> {
    let parts = master_parts(master)?;
    let role = chemchat_backends::database_role_in_slot(parts.database, tenant, slot);
    Ok(format!(
        "{}://{role}:{password}@{}{}",
        parts.scheme, parts.host, parts.tail
    ))
}

/// The name of the tenant's role in `slot` on the cluster's database: it depends on the
/// database, as `chemchat-server tenant role` names it.
pub fn tenant_database_role(
    master: &str,
    tenant: &str,
    slot: RoleSlot,
) -> Result<String, UnusableDatabaseUrl> {
    let parts = master_parts(master)?;
    Ok(chemchat_backends::database_role_in_slot(
        parts.database,
        tenant,
        slot,
    ))
}

/// The user of a `scheme://user:password@host/…` URL, if it names one.
pub fn url_user(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    userinfo.split(':').next().filter(|u| !u.is_empty())
}

/// What a tenant's URL keeps of the master's.
struct MasterParts<'a> {
    scheme: &'a str,
    host: &'a str,
    /// The path and the parameters, from the `/` or `?` on.
    tail: &'a str,
    database: &'a str,
}

fn master_parts(master: &str) -> Result<MasterParts<'_>, UnusableDatabaseUrl> {
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
    Ok(MasterParts {
        scheme,
        host,
        tail,
        database,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_url_keeps_the_server_and_swaps_the_user() {
        let role = chemchat_backends::database_role("chat", "acme");
        let a = RoleSlot::A;
        assert_eq!(
            tenant_database_url(
                "postgres://app:pw@db.platform:5432/chat?sslmode=require",
                "acme",
                "s3",
                a
            )
            .unwrap(),
            format!("postgres://{role}:s3@db.platform:5432/chat?sslmode=require")
        );
        assert_eq!(
            tenant_database_url("postgresql://db/chat", "acme", "s3", a).unwrap(),
            format!("postgresql://{role}:s3@db/chat")
        );
        let by_user = chemchat_backends::database_role("app", "acme");
        assert_eq!(
            tenant_database_url("postgres://app@db", "acme", "s3", a).unwrap(),
            format!("postgres://{by_user}:s3@db")
        );
        assert!(tenant_database_url("sqlite://x.db", "acme", "s3", a).is_err());
        assert!(tenant_database_url("postgres://db", "acme", "s3", a).is_err());
    }

    #[test]
    fn each_slot_has_its_role_in_the_url() {
        let master = "postgres://app:pw@db/chat";
        for slot in RoleSlot::ALL {
            let role = tenant_database_role(master, "acme", slot).unwrap();
            assert_eq!(
                role,
                chemchat_backends::database_role_in_slot("chat", "acme", slot)
            );
            let url = tenant_database_url(master, "acme", "s3", slot).unwrap();
            assert_eq!(url_user(&url), Some(role.as_str()));
        }
        assert_ne!(
            tenant_database_role(master, "acme", RoleSlot::A).unwrap(),
            tenant_database_role(master, "acme", RoleSlot::B).unwrap()
        );
        assert_eq!(url_user("postgres://db/chat"), None);
        assert_eq!(url_user("postgres://u@db/chat?x=a@b"), Some("u"));
    }
}
