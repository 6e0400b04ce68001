//! Retiring a tenant's older password credential after a rotation (or a first password, whose
//! older credential may be left from an earlier tenant of the same name): once every server pod
//! runs with the current password — the caller checks the rollout, `Workload::rolled_out` — the
//! Job `db-retire-<tenant>` (`chemchat-server tenant role <id> --slot <current> --retire`: the
//! other role may no longer log in, its sessions are ended) or `redis-retire-<tenant>` (`tenant
//! redis-user <id> --retire`: the current password is the user's only one) runs in the cluster's
//! namespace, and once it is complete the password Secret is annotated
//! ([`RETIRED_ANNOTATION`]), so later passes do nothing. Until then the old credential keeps
//! working, for the pods still rolling.

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::build::{INPUTS_ANNOTATION, RETIRED_ANNOTATION};
use crate::database_role::{PasswordCredential, TenantLogin};
use crate::error::Result;
use crate::jobs::{self, JobState, advance};

/// Where the retirement of an older credential stands after one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetireStep {
    /// Retired by the Job, now complete: the Event's note.
    Retired(String),
    /// The Job runs (or is being replaced): what the tenant waits for.
    Running(String),
    /// The Job failed: why, and where its logs are. It is replaced on a later pass.
    Failed(String),
}

/// What a rotated credential waits for before its older one is retired: the pods that may
/// still hold it. A state, not an action, so the status stays the same every pass.
pub fn rollout_waiting(login: &TenantLogin) -> String {
    match login.credential {
        PasswordCredential::DatabaseRole => format!(
            "the server pods are rolling out database {} with a new password; {}, which pods of \
             an older version may still use, is retired once none of them is left",
            login.login, login.older
        ),
        PasswordCredential::RedisUser => format!(
            "the server pods are rolling out a new password of Redis {}; {}, which pods of an \
             older version may still hold, are retired once none of them is left",
            login.login, login.older
        ),
    }
}

/// Advances the retirement of the credential older than `login` by one step (the caller has
/// seen the rollout complete): starts or follows its Job, and once it is complete notes it on
/// the password Secret.
pub async fn retire_older(
    client: &Client,
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    login: &TenantLogin,
) -> Result<RetireStep> {
    let name = tenant.name_any();
    let credential = login.credential;
    let platform = cluster.namespace().unwrap_or_default();
    let job_name = credential.retire_job_name(&name);
    let jobs_api: Api<Job> = Api::namespaced(client.clone(), &platform);
    let inputs = credential.retire_inputs(cluster, login);
    let existing = jobs_api.get_opt(&job_name).await?;
    // A Job of an earlier rotation (another password, another image): replaced.
    if existing
        .as_ref()
        .is_some_and(|job| job.annotations().get(INPUTS_ANNOTATION) != Some(&inputs))
    {
        jobs::delete(&jobs_api, &job_name).await?;
        return Ok(RetireStep::Running(format!(
            "retiring {} of tenant {name}: replacing the Job {platform}/{job_name} of an \
             earlier rotation",
            retiree(login)
        )));
    }
    let job = credential.retire_job(tenant, cluster, &inputs, login);
    Ok(match advance(&jobs_api, existing, &job).await? {
        JobState::Complete => {
            mark_retired(client, &platform, &credential.object_name(&name), login).await?;
            RetireStep::Retired(retired_note(login))
        }
        JobState::Started | JobState::Running => RetireStep::Running(format!(
            "retiring {} of tenant {name}: Job {platform}/{job_name} running",
            retiree(login)
        )),
        JobState::Replacing => RetireStep::Running(format!(
            "retiring {} of tenant {name}: replacing the failed Job {platform}/{job_name}",
            retiree(login)
        )),
        JobState::Failed(why) => RetireStep::Failed(format!(
            "retiring {} of tenant {name}: {why}",
            retiree(login)
        )),
    })
}

/// What is retired, in words: "role … (slot a) of the database", "the other passwords of the
/// Redis user …".
fn retiree(login: &TenantLogin) -> String {
    match login.credential {
        PasswordCredential::DatabaseRole => {
            format!("the database {}", login.older)
        }
        PasswordCredential::RedisUser => {
            format!("the other passwords of the Redis {}", login.login)
        }
    }
}

fn retired_note(login: &TenantLogin) -> String {
    match login.credential {
        PasswordCredential::DatabaseRole => format!(
            "database {} retired: it may no longer log in and its sessions were ended; the \
             tenant's servers use {}",
            login.older, login.login
        ),
        PasswordCredential::RedisUser => format!(
            "Redis {}: other passwords retired; the tenant's servers use the current one",
            login.login
        ),
    }
}

/// Notes on the password Secret that the credential older than its password is retired. The
/// Secret's uid is a precondition: a Secret made anew meanwhile (another rotation) is not
/// marked for a retirement that was not its own.
async fn mark_retired(
    client: &Client,
    platform: &str,
    secret_name: &str,
    login: &TenantLogin,
) -> Result<()> {
    let mut metadata = json!({"annotations": {RETIRED_ANNOTATION: "true"}});
    if !login.secret_uid.is_empty() {
        metadata["uid"] = json!(login.secret_uid);
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), platform);
    match api
        .patch(
            secret_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "metadata": metadata })),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Deleted or made anew since (the uid differs: a conflict or an invalid change,
        // depending on the API server): the next pass sees the new one.
        Err(kube::Error::Api(s)) if matches!(s.code, 404 | 409 | 422) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
