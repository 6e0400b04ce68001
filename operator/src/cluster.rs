//! The ChemChatCluster reconciler: checks that the referenced Secrets exist and what the
//! schema may have let through (`spec.ingress.trustedProxies`), and counts the tenants. Nothing is built for a cluster; tenants copy its settings. Its finalizer keeps it
//! until its tenants are gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chemchat_crds::cluster::{ChemChatClusterStatus, ClusterPhase};
use chemchat_crds::common::ConditionStatus;
use chemchat_crds::{CLUSTER_FINALIZER, ChemChatCluster, ChemChatTenant};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::warn;

use crate::conditions::{self, Want};
use crate::context::{Context, key};
use crate::error::{Error, Result};
use crate::finalizers::{Cleanup, reconcile_with};
use crate::labels::FIELD_MANAGER;

const KIND: &str = "ChemChatCluster";

/// Reconciles one cluster; while it is being deleted, waits for its tenants (see
/// [`wait_for_tenants`]).
#[tracing::instrument(name = "reconcile ChemChatCluster", skip_all, fields(cluster = %cluster.name_any()))]
pub async fn reconcile(cluster: Arc<ChemChatCluster>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let (ctx, calls) = ctx.counted();
    let api: Api<ChemChatCluster> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let shared = ctx.as_ref();
    let result = reconcile_with(
        &api,
        CLUSTER_FINALIZER,
        cluster.clone(),
        |cluster| async move { reconcile_inner(&cluster, shared).await },
        |cluster| async move { wait_for_tenants(&cluster, shared).await },
    )
    .await;
    crate::metrics::reconciled(KIND, started.elapsed());
    crate::metrics::api_calls(KIND, calls.load(std::sync::atomic::Ordering::Relaxed));
    ctx.heartbeat.beat();
    if result.is_ok() {
        ctx.backoff.reset(&key(cluster.as_ref()));
    }
    result
}

/// A cluster outlives the tenants that reference it: each needs the cluster's backends (and
/// database) to clean up its topic, index and rows. Deleting the cluster first therefore waits,
/// phase `Deleting`, naming the tenants, until they are gone; it never deletes them itself
/// (that would wipe every customer of the cluster with one command).
async fn wait_for_tenants(cluster: &ChemChatCluster, ctx: &Context) -> Result<Cleanup> {
    let mut names: Vec<String> = tenants_of(cluster, ctx)
        .await?
        .iter()
        .map(|t| t.name_any())
        .collect();
    if names.is_empty() {
        return Ok(Cleanup::Done);
    }
    names.sort();
    let previous = cluster.status.as_ref();
    let mut status = previous.cloned().unwrap_or_default();
    let generation = cluster.meta().generation.unwrap_or(0);
    conditions::set(
        &mut status.conditions,
        Want {
            type_: "Ready",
            status: ConditionStatus::False,
            reason: "TenantsRemain",
            message: format!(
                "deleting: waiting for its tenants to be deleted first (they clean up their \
                 topics, indexes and rows through this cluster): {}",
                names.join(", ")
            ),
        },
        generation,
        &conditions::now(),
    );
    status.phase = ClusterPhase::Deleting;
    status.tenants = i32::try_from(names.len()).unwrap_or(i32::MAX);
    write_status(cluster, previous, status, ctx).await?;
    Ok(Cleanup::Wait(Duration::from_secs(30)))
}

/// The tenants that reference `cluster`: from the controller's tenant cache when it runs one,
/// else one LIST.
async fn tenants_of(cluster: &ChemChatCluster, ctx: &Context) -> Result<Vec<Arc<ChemChatTenant>>> {
    let (name, namespace) = (cluster.name_any(), cluster.namespace().unwrap_or_default());
    let all = match &ctx.tenants {
        Some(cache) => {
            // An unfilled cache would count too few tenants and release the finalizer early.
            cache
                .wait_until_ready()
                .await
                .map_err(|e| Error::Finalizer(format!("tenant cache: {e}")))?;
            cache.state()
        }
        None => Api::<ChemChatTenant>::all(ctx.client.clone())
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(Arc::new)
            .collect(),
    };
    crate::metrics::tenants(all.len());
    Ok(all
        .into_iter()
        .filter(|t| t.spec.cluster_ref.name == name && t.spec.cluster_ref.namespace == namespace)
        .collect())
}

/// Requeues a failed cluster with its own exponential backoff.
pub fn error_policy(cluster: Arc<ChemChatCluster>, err: &Error, ctx: Arc<Context>) -> Action {
    crate::metrics::failed(KIND, err.metric_label());
    let delay = ctx.backoff.next(&key(cluster.as_ref()));
    warn!(cluster = %cluster.name_any(), error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile_inner(cluster: &ChemChatCluster, ctx: &Context) -> Result<Action> {
    let generation = cluster.meta().generation.unwrap_or(0);
    let secrets = crate::secrets::fetch(&ctx.client, cluster).await?;
    let mine = tenants_of(cluster, ctx).await?.len();
    let previous = cluster.status.as_ref();
    let mut status = previous.cloned().unwrap_or_default();
    let now = conditions::now();
    let (backends, reason, message) = match &secrets {
        Ok(_) => (
            ConditionStatus::True,
            "SecretsPresent",
            "every referenced secret key exists".to_owned(),
        ),
        Err(missing) => (ConditionStatus::False, "SecretMissing", missing.to_string()),
    };
    conditions::set(
        &mut status.conditions,
        Want {
            type_: "BackendsReachable",
            status: backends,
            reason,
            message: message.clone(),
        },
        generation,
        &now,
    );
    // A spec the schema should have refused outranks a missing Secret: its tenants stop
    // updating (each one is Invalid) until it is fixed.
    let (phase, ready, reason, message) = match crate::proxies::trusted_proxies(cluster) {
        Err(invalid) => (
            ClusterPhase::Invalid,
            ConditionStatus::False,
            "InvalidSpec",
            invalid.to_string(),
        ),
        Ok(_) if secrets.is_ok() => (ClusterPhase::Ready, backends, reason, message),
        Ok(_) => (ClusterPhase::Degraded, backends, reason, message),
    };
    conditions::set(
        &mut status.conditions,
        Want {
            type_: "Ready",
            status: ready,
            reason,
            message,
        },
        generation,
        &now,
    );
    status.phase = phase;
    status.observed_generation = generation;
    status.tenants = i32::try_from(mine).unwrap_or(i32::MAX);
    write_status(cluster, previous, status, ctx).await?;
    Ok(Action::requeue(if secrets.is_ok() {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(30)
    }))
}

async fn write_status(
    cluster: &ChemChatCluster,
    previous: Option<&ChemChatClusterStatus>,
    status: ChemChatClusterStatus,
    ctx: &Context,
) -> Result<()> {
    if previous == Some(&status) {
        return Ok(());
    }
    let api: Api<ChemChatCluster> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let patch =
        json!({ "apiVersion": ChemChatCluster::api_version(&()), "kind": KIND, "status": status });
    api.patch_status(
        &cluster.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    if previous.map(|p| p.phase) != Some(status.phase) {
        let note = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.message.clone())
            .unwrap_or_default();
        ctx.event(
            cluster,
            matches!(status.phase, ClusterPhase::Degraded | ClusterPhase::Invalid),
            &format!("{:?}", status.phase),
            note,
        )
        .await;
    }
    Ok(())
}
