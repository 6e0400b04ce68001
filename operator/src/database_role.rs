//! A tenant's own PostgreSQL role, provisioned on every reconcile before the tenant's Secret is
//! built: the password Secret (made once, with a random password), then the role Job
//! (`chemchat-server tenant role <id>` with the master URL), followed until it is complete.
//! Only then does the tenant's Secret get its database URL — the tenant's role, never the
//! master — so a new tenant's pods never start on credentials that do not work yet, and a new
//! image's pods start only after its migrations ran.
//!
//! Rotation: delete the Secret `db-role-<tenant>` in the cluster's namespace. The next pass makes
//! a new password, runs the Job again (ALTER ROLE … PASSWORD), then writes the new URL into the
//! tenant's Secret, which rolls its pods.

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

use crate::build::{
    INPUTS_ANNOTATION, PASSWORD_KEY, database_role_name, role_job, role_job_inputs,
    role_password_secret, tenant_database_url,
};
use crate::error::Result;
use crate::jobs::{self, JobState, advance};

/// Where the tenant's database role stands.
#[derive(Clone, PartialEq, Eq)]
pub enum RoleStep {
    /// The role exists with the password in its Secret: the tenant's database URL.
    Ready(String),
    /// Not yet (the Job runs, or the reconcile is paused); look again soon.
    Waiting(String),
    /// The Job failed, or the cluster's URL cannot be turned into a tenant's.
    Failed(String),
}

impl std::fmt::Debug for RoleStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The URL carries the password.
            RoleStep::Ready(_) => f.write_str("Ready(<redacted>)"),
            RoleStep::Waiting(why) => write!(f, "Waiting({why})"),
            RoleStep::Failed(why) => write!(f, "Failed({why})"),
        }
    }
}

/// A new password: 32 random bytes as hex, safe in a URL's userinfo as it is.
fn new_password() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Advances `tenant`'s role by one step. `paused`: write nothing, use what exists.
pub async fn ensure(
    client: &Client,
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    master_url: &str,
    paused: bool,
) -> Result<RoleStep> {
    let name = tenant.name_any();
    let platform = cluster.namespace().unwrap_or_default();
    let object_name = database_role_name(&name);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &platform);
    let secret = match secrets.get_opt(&object_name).await? {
        Some(secret) => secret,
        None if paused => {
            return Ok(RoleStep::Waiting(format!(
                "paused before the database role of tenant {name} was made"
            )));
        }
        None => {
            let fresh = role_password_secret(tenant, cluster, &new_password());
            match secrets.create(&PostParams::default(), &fresh).await {
                Ok(secret) => secret,
                // Made by a pass whose answer was lost: use that one.
                Err(kube::Error::Api(s)) if s.code == 409 => secrets.get(&object_name).await?,
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
    let url = match tenant_database_url(master_url, &name, &password) {
        Ok(url) => url,
        Err(unusable) => return Ok(RoleStep::Failed(unusable.to_string())),
    };
    let inputs = role_job_inputs(cluster, &secret.uid().unwrap_or_default());
    let jobs_api: Api<Job> = Api::namespaced(client.clone(), &platform);
    let existing = jobs_api.get_opt(&object_name).await?;
    let current = existing
        .as_ref()
        .is_some_and(|job| job.annotations().get(INPUTS_ANNOTATION) == Some(&inputs));
    if paused {
        return Ok(if current {
            RoleStep::Ready(url)
        } else {
            RoleStep::Waiting(format!(
                "paused before the database role of tenant {name} was updated"
            ))
        });
    }
    if existing.is_some() && !current {
        jobs::delete(&jobs_api, &object_name).await?;
        return Ok(RoleStep::Waiting(format!(
            "updating the database role of tenant {name} for a new image or password: Job \
             {platform}/{object_name} replaced"
        )));
    }
    Ok(
        match advance(&jobs_api, existing, &role_job(tenant, cluster, &inputs)).await? {
            JobState::Complete => RoleStep::Ready(url),
            JobState::Started | JobState::Running => RoleStep::Waiting(format!(
                "making the database role of tenant {name}: Job {platform}/{object_name} running"
            )),
            JobState::Replacing => RoleStep::Waiting(format!(
                "making the database role of tenant {name}: replacing the failed Job \
                 {platform}/{object_name}"
            )),
            JobState::Failed(why) => RoleStep::Failed(format!("database role {why}")),
        },
    )
}
