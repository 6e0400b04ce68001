//! A tenant's own credentials, provisioned on every reconcile before the tenant's Secret is
//! built: its PostgreSQL role and, likewise, its Redis ACL user. For each, the password Secret
//! (made once, with a random password), then the Job (`chemchat-server tenant role <id>` with
//! the master database URL; `tenant redis-user <id>` with the cluster's Redis URL), followed
//! until it is complete. Only then does the tenant's Secret get its URL — the tenant's own,
//! never the cluster's — so a new tenant's pods never start on credentials that do not work
//! yet, and a new image's pods start only after its migrations ran.
//!
//! Rotation: delete the Secret `db-role-<tenant>` (or `redis-user-<tenant>`) in the cluster's
//! namespace. The next pass makes a new password, runs the Job again (ALTER ROLE … PASSWORD;
//! ACL SETUSER), then writes the new URL into the tenant's Secret, which rolls its pods.

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

use crate::build::{
    INPUTS_ANNOTATION, PASSWORD_KEY, database_role_name, redis_password_secret, redis_user_job,
    redis_user_job_inputs, redis_user_name, role_job, role_job_inputs, role_password_secret,
    tenant_database_url, tenant_redis_url,
};
use crate::error::Result;
use crate::jobs::{self, JobState, advance};

/// Where one of the tenant's credentials stands; `T` is what the tenant's Secret gets once it
/// is ready (a URL here, an S3 key in `crate::s3_user`).
#[derive(Clone, PartialEq, Eq)]
pub enum RoleStep<T = String> {
    /// It exists with the password in its Secret: the tenant's URL.
    Ready(T),
    /// Not yet (the Job runs, or the reconcile is paused); look again soon.
    Waiting(String),
    /// The Job failed, or the cluster's URL cannot be turned into a tenant's.
    Failed(String),
}

impl<T> std::fmt::Debug for RoleStep<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The URL carries the password.
            RoleStep::Ready(_) => f.write_str("Ready(<redacted>)"),
            RoleStep::Waiting(why) => write!(f, "Waiting({why})"),
            RoleStep::Failed(why) => write!(f, "Failed({why})"),
        }
    }
}

/// One kind of tenant credential: what it is called and how its objects and URL are made.
struct Credential {
    /// "database role", "Redis user".
    noun: &'static str,
    /// Name of its password Secret and of its Job.
    object_name: String,
    secret: fn(&ChemChatTenant, &ChemChatCluster, &str) -> Secret,
    inputs: fn(&ChemChatCluster, &str) -> String,
    job: fn(&ChemChatTenant, &ChemChatCluster, &str) -> Job,
    /// The tenant's URL from the cluster's and the password, or why it cannot be made.
    url: fn(&str, &str, &str) -> std::result::Result<String, String>,
}

/// A new password: 32 random bytes as hex, safe in a URL's userinfo as it is.
fn new_password() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Advances `tenant`'s database role by one step. `paused`: write nothing, use what exists.
pub async fn ensure(
    client: &Client,
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    master_url: &str,
    paused: bool,
) -> Result<RoleStep> {
    let role = Credential {
        noun: "database role",
        object_name: database_role_name(&tenant.name_any()),
        secret: role_password_secret,
        inputs: role_job_inputs,
        job: role_job,
        url: |master, tenant, password| {
            tenant_database_url(master, tenant, password).map_err(|e| e.to_string())
        },
    };
    advance_credential(client, tenant, cluster, &role, master_url, paused).await
}

/// Advances `tenant`'s Redis user by one step, like its database role.
pub async fn ensure_redis_user(
    client: &Client,
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    admin_url: &str,
    paused: bool,
) -> Result<RoleStep> {
    let user = Credential {
        noun: "Redis user",
        object_name: redis_user_name(&tenant.name_any()),
        secret: redis_password_secret,
        inputs: redis_user_job_inputs,
        job: redis_user_job,
        url: |admin, tenant, password| {
            tenant_redis_url(admin, tenant, password).map_err(|e| e.to_string())
        },
    };
    advance_credential(client, tenant, cluster, &user, admin_url, paused).await
}

async fn advance_credential(
    client: &Client,
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    credential: &Credential,
    cluster_url: &str,
    paused: bool,
) -> Result<RoleStep> {
    let name = tenant.name_any();
    let noun = credential.noun;
    let platform = cluster.namespace().unwrap_or_default();
    let object_name = &credential.object_name;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &platform);
    let secret = match secrets.get_opt(object_name).await? {
        Some(secret) => secret,
        None if paused => {
            return Ok(RoleStep::Waiting(format!(
                "paused before the {noun} of tenant {name} was made"
            )));
        }
        None => {
            let fresh = (credential.secret)(tenant, cluster, &new_password());
            match secrets.create(&PostParams::default(), &fresh).await {
                Ok(secret) => secret,
                // Made by a pass whose answer was lost: use that one.
                Err(kube::Error::Api(s)) if s.code == 409 => secrets.get(object_name).await?,
                Err(err) => return Err(err.into()),
            }
        }
    };
    let password = secret
        .data
        .as_ref()
        .and_then(|d| d.get(PASSWORD_KEY))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .filter(|p| !p.is_empty());
    let Some(password) = password else {
        return Ok(RoleStep::Failed(format!(
            "Secret {platform}/{object_name} has no `{PASSWORD_KEY}`; delete it and a new \
             password is made"
        )));
    };
    let url = match (credential.url)(cluster_url, &name, &password) {
        Ok(url) => url,
        Err(unusable) => return Ok(RoleStep::Failed(unusable)),
    };
    let inputs = (credential.inputs)(cluster, &secret.uid().unwrap_or_default());
    let jobs_api: Api<Job> = Api::namespaced(client.clone(), &platform);
    let existing = jobs_api.get_opt(object_name).await?;
    let current = existing
        .as_ref()
        .is_some_and(|job| job.annotations().get(INPUTS_ANNOTATION) == Some(&inputs));
    if paused {
        return Ok(if current {
            RoleStep::Ready(url)
        } else {
            RoleStep::Waiting(format!(
                "paused before the {noun} of tenant {name} was updated"
            ))
        });
    }
    if existing.is_some() && !current {
        jobs::delete(&jobs_api, object_name).await?;
        return Ok(RoleStep::Waiting(format!(
            "updating the {noun} of tenant {name} for a new image or password: Job \
             {platform}/{object_name} replaced"
        )));
    }
    let job = (credential.job)(tenant, cluster, &inputs);
    Ok(match advance(&jobs_api, existing, &job).await? {
        JobState::Complete => RoleStep::Ready(url),
        JobState::Started | JobState::Running => RoleStep::Waiting(format!(
            "making the {noun} of tenant {name}: Job {platform}/{object_name} running"
        )),
        JobState::Replacing => RoleStep::Waiting(format!(
            "making the {noun} of tenant {name}: replacing the failed Job \
             {platform}/{object_name}"
        )),
        JobState::Failed(why) => RoleStep::Failed(format!("{noun} {why}")),
    })
}
