//! `chemchat-operator run`: metrics server, leader election, then both controllers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kube::runtime::PredicateConfig;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::cli::RunArgs;
use crate::context::Context;
use crate::heartbeat::Heartbeat;
use crate::http::{self, Health};
use crate::labels::MANAGED_BY;
use crate::leader::LeaseLock;
use crate::predicates;

const LEASE_NAME: &str = "chemchat-operator-leader";
const LEASE_DURATION: Duration = Duration::from_secs(15);
/// Tenants reconciled at once: each pass may wait out a backend's timeout, and more at once
/// would only queue at the API server.
const TENANT_CONCURRENCY: u16 = 4;
/// Clusters reconciled at once (there are few).
const CLUSTER_CONCURRENCY: u16 = 2;

/// Runs the operator until SIGTERM/SIGINT or until leadership is lost.
pub fn main(args: RunArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let telemetry =
        runtime.block_on(async { chemchat_backends::telemetry::init(true, "chemchat-operator") });
    let outcome = runtime.block_on(run(args));
    // The last reconciles' spans are sent before the process ends.
    telemetry.shutdown();
    outcome
}

/// The tenant a child belongs to, from its `chemchat.io/tenant` label.
fn owner_tenant<K: kube::Resource>(child: &K) -> Option<ObjectRef<ChemChatTenant>> {
    child
        .meta()
        .labels
        .as_ref()?
        .get(chemchat_crds::TENANT_LABEL)
        .map(|name| ObjectRef::new(name))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn run(args: RunArgs) -> Result<(), String> {
    let options = args.build.options()?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics recorder: {e}"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let heartbeat = Arc::new(Heartbeat::default());
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(&args.metrics_addr)
        .await
        .map_err(|e| format!("bind {}: {e}", args.metrics_addr))?;
    let mut http_stop = stop_rx.clone();
    let http_task = tokio::spawn(http::serve(
        listener,
        Health {
            ready: ready.clone(),
            heartbeat: Some(heartbeat.clone()),
            metrics: Some(metrics),
        },
        async move {
            let _ = http_stop.wait_for(|s| *s).await;
        },
    ));
    let signal_tx = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = signal_tx.send(true);
    });

    let client = Client::try_default()
        .await
        .map_err(|e| format!("kube client: {e}"))?;
    let lock = LeaseLock::new(
        Api::<Lease>::namespaced(client.clone(), &args.lease_namespace),
        LEASE_NAME,
        &args.identity,
        LEASE_DURATION,
    );
    // A follower is healthy and ready: it serves metrics and waits.
    ready.store(true, Ordering::Relaxed);
    let mut waiting = stop_rx.clone();
    loop {
        // A follower's loop is the election: it is alive while it keeps asking.
        heartbeat.beat();
        match lock.try_acquire_or_renew().await {
            Ok(true) => break,
            Ok(false) => info!(identity = %args.identity, "waiting for leadership"),
            Err(err) => warn!(error = %err, "leader election"),
        }
        tokio::select! {
            _ = tokio::time::sleep(lock.renew_interval()) => {},
            _ = waiting.wait_for(|s| *s) => return Ok(()),
        }
    }
    info!(identity = %args.identity, "became leader");
    let renew_tx = stop_tx.clone();
    let lost = Arc::new(AtomicBool::new(false));
    let lost_flag = lost.clone();
    tokio::spawn(async move {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(lock.renew_interval()).await;
            match lock.try_acquire_or_renew().await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => break,
                Err(err) => warn!(error = %err, "lease renewal failed"),
            }
            if last_ok.elapsed() >= LEASE_DURATION {
                break;
            }
        }
        // Someone else may already lead: stop writing at once.
        error!("leadership lost");
        lost_flag.store(true, Ordering::Relaxed);
        let _ = renew_tx.send(true);
    });

    // One cache of tenants, filled by the tenant controller's own watch: the cluster
    // reconciler counts tenants in it instead of listing them, and the cluster watch below maps
    // a cluster to its tenants through it.
    let (tenant_cache, tenant_writer) = reflector::store::<ChemChatTenant>();
    let ctx = Arc::new(
        Context::new(client.clone(), options, Some(args.identity.clone()))
            .with_tenant_cache(tenant_cache.clone())
            .with_heartbeat(heartbeat),
    );
    let tenant_events = watcher::watcher(
        Api::<ChemChatTenant>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(tenant_writer)
    .applied_objects()
    .predicate_filter(predicates::tenant_changes, PredicateConfig::default());
    let children =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let autoscaler_events = watcher::watcher(
        Api::<HorizontalPodAutoscaler>::all(client.clone()),
        children.clone(),
    )
    .default_backoff()
    .applied_objects()
    .predicate_filter(predicates::autoscaler_changes, PredicateConfig::default());
    let cluster_events = watcher::watcher(
        Api::<ChemChatCluster>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .applied_objects()
    .predicate_filter(
        kube::runtime::predicates::generation,
        PredicateConfig::default(),
    );
    let stop = |rx: &watch::Receiver<bool>| {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let store = tenant_cache.clone();
    // Not `owns`: kube-runtime maps an owner reference to an ObjectRef in the child's
    // namespace, which never matches a cluster-scoped tenant. The tenant label does.
    let tenant_controller = Controller::for_stream(tenant_events, tenant_cache.clone())
        .with_config(controller::Config::default().concurrency(TENANT_CONCURRENCY))
        .watches(Api::<Deployment>::all(client.clone()), children, |d| {
            owner_tenant(&d)
        })
        .watches_stream(autoscaler_events, |h| owner_tenant(&h))
        // A cluster's spec change (image, backends) concerns every tenant that references it;
        // its status (which counts tenants) does not.
        .watches_stream(cluster_events, move |cluster| {
            let (name, ns) = (cluster.name_any(), cluster.namespace().unwrap_or_default());
            store
                .state()
                .into_iter()
                .filter(|t| t.spec.cluster_ref.name == name && t.spec.cluster_ref.namespace == ns)
                .map(|t| ObjectRef::from_obj(t.as_ref()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(stop(&stop_rx))
        .run(
            crate::tenant::reconcile,
            crate::tenant::error_policy,
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));
    let clusters = Controller::new(
        Api::<ChemChatCluster>::all(client.clone()),
        watcher::Config::default(),
    );
    let cluster_cache = clusters.store();
    // A tenant created or deleted changes its cluster's count, and may release a cluster
    // waiting to be deleted (which also looks again every 30 s).
    let membership_events = watcher::watcher(
        Api::<ChemChatTenant>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects()
    .predicate_filter(predicates::cluster_membership, PredicateConfig::default());
    let cluster_controller = clusters
        .with_config(controller::Config::default().concurrency(CLUSTER_CONCURRENCY))
        .watches_stream(membership_events, |tenant| {
            let r = &tenant.spec.cluster_ref;
            Some(ObjectRef::new(&r.name).within(&r.namespace))
        })
        .graceful_shutdown_on(stop(&stop_rx))
        .run(
            crate::cluster::reconcile,
            crate::cluster::error_policy,
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));
    // With nothing to reconcile there is no reconcile to renew the heartbeat.
    let idle_caches = (tenant_cache, cluster_cache, ctx.heartbeat.clone());
    let mut idle_stop = stop_rx.clone();
    tokio::spawn(async move {
        let (tenants, clusters, heartbeat) = idle_caches;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => {},
                _ = idle_stop.wait_for(|s| *s) => return,
            }
            if tenants.state().is_empty() && clusters.state().is_empty() {
                heartbeat.beat();
            }
        }
    });
    tokio::join!(tenant_controller, cluster_controller);
    let _ = stop_tx.send(true);
    let _ = http_task.await;
    if lost.load(Ordering::Relaxed) {
        return Err("leadership lost; exiting so a restart rejoins the election".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    #[test]
    fn a_child_maps_to_its_cluster_scoped_tenant() {
        let deployment = Deployment {
            metadata: ObjectMeta {
                namespace: Some("chemchat-acme".into()),
                labels: Some([(chemchat_crds::TENANT_LABEL.to_owned(), "acme".to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Deployment::default()
        };
        let tenant = owner_tenant(&deployment).unwrap_or_else(|| ObjectRef::new("none"));
        assert_eq!(tenant, ObjectRef::new("acme"));
        assert_eq!(tenant.namespace, None, "cluster-scoped: no namespace");
        assert!(owner_tenant(&Deployment::default()).is_none());
    }
}
