//! The ChemChatCluster reconciler: checks that the referenced Secrets exist and counts the
//! tenants. Nothing is built for a cluster; tenants copy its settings.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chemchat_crds::cluster::{ChemChatClusterStatus, ClusterPhase};
use chemchat_crds::common::ConditionStatus;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::warn;

use crate::conditions::{self, Want};
use crate::context::{Context, key};
use crate::error::{Error, Result};
use crate::labels::FIELD_MANAGER;

const KIND: &str = "ChemChatCluster";

/// Reconciles one cluster.
pub async fn reconcile(cluster: Arc<ChemChatCluster>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_inner(&cluster, &ctx).await;
    crate::metrics::reconciled(KIND, started.elapsed());
    if result.is_ok() {
        ctx.backoff.reset(&key(cluster.as_ref()));
    }
    result
}

/// Requeues a failed cluster with its own exponential backoff.
pub fn error_policy(cluster: Arc<ChemChatCluster>, err: &Error, ctx: Arc<Context>) -> Action {
    crate::metrics::failed(KIND, err.metric_label());
    let delay = ctx.backoff.next(&key(cluster.as_ref()));
    warn!(cluster = %cluster.name_any(), error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile_inner(cluster: &ChemChatCluster, ctx: &Context) -> Result<Action> {
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let generation = cluster.meta().generation.unwrap_or(0);
    let secrets = crate::secrets::fetch(&ctx.client, cluster).await?;
    let tenants: Api<ChemChatTenant> = Api::all(ctx.client.clone());
    let all = tenants.list(&ListParams::default()).await?.items;
    crate::metrics::tenants(all.len());
    let mine = all
        .iter()
        .filter(|t| t.spec.cluster_ref.name == name && t.spec.cluster_ref.namespace == namespace)
        .count();
    let previous = cluster.status.as_ref();
    let mut status = previous.cloned().unwrap_or_default();
    let now = conditions::now();
    let (phase, ok, reason, message) = match &secrets {
        Ok(_) => (
            ClusterPhase::Ready,
            ConditionStatus::True,
            "SecretsPresent",
            "every referenced secret key exists".to_owned(),
        ),
        Err(missing) => (
            ClusterPhase::Degraded,
            ConditionStatus::False,
            "SecretMissing",
            missing.to_string(),
        ),
    };
    conditions::set(
        &mut status.conditions,
        Want {
            type_: "BackendsReachable",
            status: ok,
            reason,
            message: message.clone(),
        },
        generation,
        &now,
    );
    conditions::set(
        &mut status.conditions,
        Want {
            type_: "Ready",
            status: ok,
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
            status.phase != ClusterPhase::Ready,
            &format!("{:?}", status.phase),
            note,
        )
        .await;
    }
    Ok(())
}
