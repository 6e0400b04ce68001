//! The ChemChatTenant reconciler: fetch → validate → build → apply → status; cleanup through
//! the finalizer is in [`crate::deletion`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chemchat_backends::BasicAuth;
use chemchat_backends::object_storage_users::AccessKey;
use chemchat_crds::tenant::{ChemChatTenantStatus, TenantPhase};
use chemchat_crds::{ChemChatCluster, ChemChatTenant, FINALIZER, PAUSED, RECONCILE_ANNOTATION};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use crate::apply::{self, LiveChild};
use crate::build::{ChildKind, build};
use crate::conditions;
use crate::context::{Context, key};
use crate::database_role::{Logins, RoleStep, TenantLogin};
use crate::error::{Error, Result};
use crate::finalizers::reconcile_with;
use crate::labels::FIELD_MANAGER;
use crate::observe;
use crate::plan::plan;
use crate::provision::{BACKEND_TIMEOUT, ProvisionStatus, Target};
use crate::retire::{self, RetireStep};
use crate::s3_user::{S3User, TenantS3Key};

const KIND: &str = "ChemChatTenant";
/// How often a settled tenant is looked at again even without a watch event.
const RESYNC: Duration = Duration::from_secs(300);
/// How soon a tenant waiting for its cluster or secrets, or for pods (a rollout, or one that
/// an S3 key rotation waits for), is looked at again.
const WAIT: Duration = Duration::from_secs(30);
/// How soon a tenant whose database role or Redis user Job (or the Job retiring an older one)
/// runs, or whose S3 key Secret was made concurrently, is looked at again (it takes seconds).
const ROLE_POLL: Duration = Duration::from_secs(5);

/// Reconciles one tenant; the entry point given to the controller. Each pass is a trace of
/// its own (a span with the tenant's name; its API calls and backend work are inside).
#[tracing::instrument(name = "reconcile ChemChatTenant", skip_all, fields(tenant = %tenant.name_any()))]
pub async fn reconcile(tenant: Arc<ChemChatTenant>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let (ctx, calls) = ctx.counted();
    let api: Api<ChemChatTenant> = Api::all(ctx.client.clone());
    let object_key = key(tenant.as_ref());
    let shared = ctx.as_ref();
    let result = reconcile_with(
        &api,
        FINALIZER,
        tenant,
        |tenant| async move { apply(&tenant, shared).await },
        |tenant| async move { crate::deletion::cleanup(&tenant, shared).await },
    )
    .await;
    crate::metrics::reconciled(KIND, started.elapsed());
    crate::metrics::api_calls(KIND, calls.load(std::sync::atomic::Ordering::Relaxed));
    ctx.heartbeat.beat();
    if result.is_ok() {
        ctx.backoff.reset(&object_key);
    }
    result
}

/// Requeues a failed tenant with its own exponential backoff.
pub fn error_policy(tenant: Arc<ChemChatTenant>, err: &Error, ctx: Arc<Context>) -> Action {
    crate::metrics::failed(KIND, err.metric_label());
    let delay = ctx.backoff.next(&key(tenant.as_ref()));
    warn!(tenant = %tenant.name_any(), error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn is_paused(tenant: &ChemChatTenant) -> bool {
    tenant
        .annotations()
        .get(RECONCILE_ANNOTATION)
        .is_some_and(|v| v == PAUSED)
}

async fn apply(tenant: &ChemChatTenant, ctx: &Context) -> Result<Action> {
    let name = tenant.name_any();
    let generation = tenant.meta().generation.unwrap_or(0);
    let previous = tenant.status.as_ref();
    let cluster_ref = &tenant.spec.cluster_ref;
    // fetch
    let clusters: Api<ChemChatCluster> =
        Api::namespaced(ctx.client.clone(), &cluster_ref.namespace);
    let Some(cluster) = clusters.get_opt(&cluster_ref.name).await? else {
        let message = format!(
            "spec.clusterRef: ChemChatCluster {}/{} not found",
            cluster_ref.namespace, cluster_ref.name
        );
        let status = observe::blocked_status(
            previous,
            generation,
            TenantPhase::Pending,
            "ClusterNotFound",
            message,
            &conditions::now(),
        );
        write_status(tenant, previous, status, ctx).await?;
        return Ok(Action::requeue(WAIT));
    };
    // validate: an invalid spec waits for a change of the spec, it is never retried.
    let plan = match plan(tenant, &cluster) {
        Ok(plan) => plan,
        Err(invalid) => {
            let status = observe::blocked_status(
                previous,
                generation,
                TenantPhase::Invalid,
                "InvalidSpec",
                invalid.to_string(),
                &conditions::now(),
            );
            write_status(tenant, previous, status, ctx).await?;
            return Ok(Action::await_change());
        }
    };
    let mut secrets = match crate::secrets::fetch(&ctx.client, &cluster).await? {
        Ok(secrets) => secrets,
        Err(missing) => {
            let status = observe::blocked_status(
                previous,
                generation,
                TenantPhase::Pending,
                "SecretMissing",
                format!("cluster {}: {missing}", cluster.name_any()),
                &conditions::now(),
            );
            write_status(tenant, previous, status, ctx).await?;
            return Ok(Action::requeue(WAIT));
        }
    };
    let paused = is_paused(tenant);
    let logins = Logins {
        client: &ctx.client,
        tenant,
        cluster: &cluster,
        namespace: &plan.namespace,
        paused,
    };
    // the tenant's own database role: its URL replaces the master's before anything is built
    let role = logins.database_role(&secrets.database_url).await?;
    let role = match settle(role, Credential::DatabaseRole, tenant, ctx).await? {
        Ok(login) => login,
        Err(action) => return Ok(action),
    };
    secrets.database_url = role.url.clone();
    // and its own Redis user, whose URL replaces the cluster's likewise
    let user = logins.redis_user(&secrets.redis_url).await?;
    let user = match settle(user, Credential::RedisUser, tenant, ctx).await? {
        Ok(login) => login,
        Err(action) => return Ok(action),
    };
    secrets.redis_url = user.url.clone();
    // and, under `tenantCredentials: PerTenant`, its own S3 user, whose key replaces the
    // cluster's likewise
    let s3_admin = match (
        crate::s3_user::per_tenant(&cluster),
        &secrets.s3_credentials,
    ) {
        (Some(storage), Some((id, secret))) => Some((storage, AccessKey::new(id, secret))),
        _ => None,
    };
    let s3_user = s3_admin.as_ref().map(|(storage, cluster_key)| S3User {
        client: &ctx.client,
        tenant,
        cluster: &cluster,
        storage,
        cluster_key,
        namespace: &plan.namespace,
        timeout: BACKEND_TIMEOUT,
    });
    let s3_key = match &s3_user {
        Some(s3_user) => {
            let step = s3_user.ensure(paused).await?;
            match settle(step, Credential::S3User, tenant, ctx).await? {
                Ok(key) => {
                    secrets.s3_credentials =
                        Some((key.key.id().to_owned(), key.key.secret().to_owned()));
                    Some(key)
                }
                Err(action) => return Ok(action),
            }
        }
        None => None,
    };
    // build (pure), then apply what differs
    let desired = build(&plan, &secrets, &ctx.options)?;
    let live = apply::list_live(&ctx.client, &name, &plan.namespace, &ChildKind::ALL).await?;
    let owner = apply::Owner {
        uid: &plan.uid,
        namespace: &plan.namespace,
    };
    let sync = apply::plan_sync(&desired, &live, owner);
    if paused {
        info!(tenant = %name, pending = sync.apply.len() + sync.delete.len(), "paused: not writing children");
    } else if !sync.is_empty() {
        info!(tenant = %name, apply = sync.apply.len(), delete = sync.delete.len(), "applying children");
        apply::execute(&ctx.client, &sync).await?;
    }
    // The Deployment as listed before the apply: a template changed just now shows the
    // previous environment, so a rotation that rolls the pods waits for a later pass.
    let workload = observe::workload(&live);
    let rolled_out = workload.rolled_out(&desired);
    let mut rotating = Vec::new();
    let mut retire_job_runs = false;
    for login in [&role, &user].into_iter().filter(|l| l.retire && !paused) {
        if !rolled_out {
            rotating.push(retire::rollout_waiting(login));
            continue;
        }
        if let Some((waiting, runs)) = retire_older(login, tenant, &cluster, ctx).await? {
            rotating.push(waiting);
            retire_job_runs |= runs;
        }
    }
    match (&s3_user, &s3_key) {
        (Some(s3_user), Some(key)) if key.retire && !paused => {
            if rolled_out {
                retire_older_keys(s3_user, key, tenant, ctx).await?;
            } else {
                rotating.push(s3_rotation_waiting(key));
            }
        }
        _ => {}
    }
    let rotating = (!rotating.is_empty()).then(|| rotating.join("; "));
    // provision the topic and the index; not while paused, as that writes too
    let provisioned = if paused {
        Vec::new()
    } else {
        let target = Target {
            tenant: name.clone(),
            kafka: plan.kafka.clone(),
            search: plan.search.clone(),
            search_credentials: secrets
                .search_credentials
                .as_ref()
                .map(|(user, password)| BasicAuth::new(user, password)),
            // Made above, before the tenant's Secret; only cleanup needs it here.
            s3_user: None,
        };
        provision(tenant, &target, ctx).await
    };
    // status
    // After a successful apply the namespace exists even if the list predates it.
    let namespace_exists = !paused
        || live
            .iter()
            .any(|l: &LiveChild| l.kind == ChildKind::Namespace);
    let answers: Vec<ProvisionStatus> = provisioned.iter().map(|(_, p)| p.clone()).collect();
    let seen = observe::Observed {
        namespace_exists,
        workload: &workload,
        autoscaling: &observe::autoscaling(&desired, &live),
        provisioned: &answers,
        paused,
        rotating: rotating.as_deref(),
    };
    let status = observe::tenant_status(previous, generation, &plan, seen, &conditions::now());
    let phase = status.phase;
    write_status(tenant, previous, status, ctx).await?;
    // The status says what failed; failing the reconcile hands the retry to error_policy's
    // backoff instead of the fixed requeue below.
    if let Some((provisioner, failed)) = provisioned.iter().find(|(_, p)| p.retry) {
        return Err(Error::Provision {
            provisioner,
            message: failed.message.clone(),
        });
    }
    let settled = phase == TenantPhase::Ready || phase == TenantPhase::Suspended;
    Ok(Action::requeue(if retire_job_runs {
        ROLE_POLL
    } else if settled && rotating.is_none() {
        RESYNC
    } else {
        WAIT
    }))
}

/// Asks every provisioner, concurrently (each may wait out a timeout on a dead backend), to
/// ensure its part, and publishes an Event for each thing that changed.
async fn provision(
    tenant: &ChemChatTenant,
    target: &Target,
    ctx: &Context,
) -> Vec<(&'static str, ProvisionStatus)> {
    let answers = futures::future::join_all(
        ctx.provisioners
            .iter()
            .map(|p| async move { p.ensure(target).await.map(|status| (p.name(), status)) }),
    )
    .await;
    let provisioned: Vec<_> = answers.into_iter().flatten().collect();
    for (provisioner, status) in &provisioned {
        if let Some((reason, note)) = &status.changed {
            info!(tenant = %target.tenant, provisioner, note = %note, "provisioned");
            ctx.event(tenant, false, reason, note.clone()).await;
        } else if !status.ready {
            warn!(tenant = %target.tenant, provisioner, reason = status.reason, message = %status.message, "not provisioned");
        }
    }
    provisioned
}

/// What a rotated S3 key waits for before the user's older keys are deleted: the pods that
/// still hold one of them. A state, not an action, so the status stays the same every pass.
fn s3_rotation_waiting(key: &TenantS3Key) -> String {
    format!(
        "the server pods are rolling out S3 access key {} of user {}; its older keys are \
         deleted once no pod of an older version is left",
        key.key.id(),
        key.user
    )
}

/// Deletes the older keys of the tenant's S3 user after a rotation (or a first key), once no
/// server pod of an older version, which may hold one of them, is left; an Event when there
/// were any. IAM refusing or not answering is retried on the next pass.
async fn retire_older_keys(
    s3_user: &S3User<'_>,
    key: &TenantS3Key,
    tenant: &ChemChatTenant,
    ctx: &Context,
) -> Result<()> {
    match s3_user.retire_older_keys(key).await? {
        Ok(0) => {}
        Ok(deleted) => {
            let note = format!(
                "S3 user {}: {deleted} older access key(s) deleted; the tenant's servers use {}",
                key.user,
                key.key.id()
            );
            info!(tenant = %tenant.name_any(), %note, "S3 key rotated");
            ctx.event(tenant, false, "S3KeyRotated", note).await;
        }
        Err(err) => {
            warn!(tenant = %tenant.name_any(), error = %err, "cannot delete older S3 keys yet")
        }
    }
    Ok(())
}

/// Retires the credential older than `login` once the tenant's rollout is complete, by its
/// Job; an Event once it is retired, a Warning when the Job failed (retried on a later pass).
/// `Some`: what the tenant still waits for, and whether a Job runs (worth looking at again
/// soon; a failed one is replaced a backoff period later).
async fn retire_older(
    login: &TenantLogin,
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
    ctx: &Context,
) -> Result<Option<(String, bool)>> {
    let name = tenant.name_any();
    Ok(
        match retire::retire_older(&ctx.client, tenant, cluster, login).await? {
            RetireStep::Retired(note) => {
                info!(tenant = %name, %note, "older credential retired");
                ctx.event(tenant, false, login.credential.retired_reason(), note)
                    .await;
                None
            }
            RetireStep::Running(waiting) => Some((waiting, true)),
            RetireStep::Failed(why) => {
                warn!(tenant = %name, error = %why, "cannot retire an older credential yet");
                ctx.event(tenant, true, "RetireFailed", why.clone()).await;
                Some((why, false))
            }
        },
    )
}

/// A credential of the tenant's own, made by a Job of the operator (or, the S3 user, by the
/// operator itself through IAM).
#[derive(Clone, Copy)]
enum Credential {
    DatabaseRole,
    RedisUser,
    S3User,
}

impl Credential {
    /// The condition reasons while its Job runs and once it failed.
    fn reasons(self) -> (&'static str, &'static str) {
        match self {
            Self::DatabaseRole => ("DatabaseRolePending", "DatabaseRoleFailed"),
            Self::RedisUser => ("RedisUserPending", "RedisUserFailed"),
            Self::S3User => ("S3UserPending", "S3UserFailed"),
        }
    }

    fn error(self, message: String) -> Error {
        match self {
            Self::DatabaseRole => Error::DatabaseRole(message),
            Self::RedisUser => Error::RedisUser(message),
            Self::S3User => Error::S3User(message),
        }
    }
}

/// The credential (URL, key) once it is ready. Until then the tenant's status says why and the
/// pass ends: `Err(action)` polls again while the Job runs; a failed Job is an error, retried
/// with backoff.
async fn settle<T>(
    step: RoleStep<T>,
    credential: Credential,
    tenant: &ChemChatTenant,
    ctx: &Context,
) -> Result<std::result::Result<T, Action>> {
    let (pending, failed) = credential.reasons();
    let (phase, reason, message, broken) = match step {
        RoleStep::Ready(url) => return Ok(Ok(url)),
        RoleStep::Waiting(message) => (TenantPhase::Provisioning, pending, message, false),
        RoleStep::Failed(message) => (TenantPhase::Degraded, failed, message, true),
    };
    let previous = tenant.status.as_ref();
    let generation = tenant.meta().generation.unwrap_or(0);
    let status = observe::blocked_status(
        previous,
        generation,
        phase,
        reason,
        message.clone(),
        &conditions::now(),
    );
    write_status(tenant, previous, status, ctx).await?;
    if broken {
        return Err(credential.error(message));
    }
    Ok(Err(Action::requeue(ROLE_POLL)))
}

/// Patches the status only when it changed, and emits an Event when the phase did.
pub(crate) async fn write_status(
    tenant: &ChemChatTenant,
    previous: Option<&ChemChatTenantStatus>,
    status: ChemChatTenantStatus,
    ctx: &Context,
) -> Result<()> {
    if previous == Some(&status) {
        return Ok(());
    }
    let api: Api<ChemChatTenant> = Api::all(ctx.client.clone());
    let patch = json!({
        "apiVersion": ChemChatTenant::api_version(&()),
        "kind": KIND,
        "status": status,
    });
    api.patch_status(
        &tenant.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    if previous.map(|p| p.phase) != Some(status.phase) {
        let note = status
            .conditions
            .iter()
            .find(|c| c.type_ == observe::types::READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        let warning = matches!(status.phase, TenantPhase::Invalid | TenantPhase::Degraded);
        ctx.event(tenant, warning, &format!("{:?}", status.phase), note)
            .await;
    }
    Ok(())
}
