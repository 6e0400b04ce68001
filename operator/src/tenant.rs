//! The ChemChatTenant reconciler: fetch → validate → build → apply → status; cleanup through
//! the finalizer is in [`crate::deletion`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chemchat_backends::BasicAuth;
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
use crate::database_role::{self, RoleStep};
use crate::error::{Error, Result};
use crate::finalizers::reconcile_with;
use crate::labels::FIELD_MANAGER;
use crate::observe;
use crate::plan::plan;
use crate::provision::{ProvisionStatus, Target};

const KIND: &str = "ChemChatTenant";
/// How often a settled tenant is looked at again even without a watch event.
const RESYNC: Duration = Duration::from_secs(300);
/// How soon a tenant waiting for its cluster or secrets, or for pods, is looked at again.
const WAIT: Duration = Duration::from_secs(30);
/// How soon a tenant whose database role or Redis user Job runs is looked at again (it takes
/// seconds).
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
    // the tenant's own database role: its URL replaces the master's before anything is built
    let role =
        database_role::ensure(&ctx.client, tenant, &cluster, &secrets.database_url, paused).await?;
    secrets.database_url = match settle(role, Credential::DatabaseRole, tenant, ctx).await? {
        Ok(url) => url,
        Err(action) => return Ok(action),
    };
    // and its own Redis user, whose URL replaces the cluster's likewise
    let user =
        database_role::ensure_redis_user(&ctx.client, tenant, &cluster, &secrets.redis_url, paused)
            .await?;
    secrets.redis_url = match settle(user, Credential::RedisUser, tenant, ctx).await? {
        Ok(url) => url,
        Err(action) => return Ok(action),
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
        workload: &observe::workload(&live),
        autoscaling: &observe::autoscaling(&desired, &live),
        provisioned: &answers,
        paused,
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
    Ok(Action::requeue(
        if phase == TenantPhase::Ready || phase == TenantPhase::Suspended {
            RESYNC
        } else {
            WAIT
        },
    ))
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

/// A credential of the tenant's own, made by a Job of the operator.
#[derive(Clone, Copy)]
enum Credential {
    DatabaseRole,
    RedisUser,
}

impl Credential {
    /// The condition reasons while its Job runs and once it failed.
    fn reasons(self) -> (&'static str, &'static str) {
        match self {
            Self::DatabaseRole => ("DatabaseRolePending", "DatabaseRoleFailed"),
            Self::RedisUser => ("RedisUserPending", "RedisUserFailed"),
        }
    }

    fn error(self, message: String) -> Error {
        match self {
            Self::DatabaseRole => Error::DatabaseRole(message),
            Self::RedisUser => Error::RedisUser(message),
        }
    }
}

/// The credential's URL once it is ready. Until then the tenant's status says why and the
/// pass ends: `Err(action)` polls again while the Job runs; a failed Job is an error, retried
/// with backoff.
async fn settle(
    step: RoleStep,
    credential: Credential,
    tenant: &ChemChatTenant,
    ctx: &Context,
) -> Result<std::result::Result<String, Action>> {
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
