//! The apply stage: read what exists, apply what differs, delete what is no longer built.
//!
//! An object is up to date when every field the operator wants is already there with the same
//! value, including the `chemchat.io/applied-hash` annotation (which changes when a field is
//! removed from the build). Up-to-date objects get no request at all, so a no-op reconcile
//! makes no write.
//!
//! **Invariant**: only the tenant's own objects are deleted — the tenant namespace and objects
//! inside it whose controller owner reference carries the tenant's uid ([`Owner`]). Labels
//! select what is read, never what is deleted.

mod diff;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::json;

pub use diff::{Handover, LiveChild, Owner, SyncPlan, is_subset, plan_sync};

use crate::build::ChildKind;
use crate::error::Result;
use crate::labels::{FIELD_MANAGER, HANDOVER_FIELD_MANAGER, children_selector};

fn api(client: &Client, kind: ChildKind, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = kind.api_resource();
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

fn live_child(kind: ChildKind, object: &DynamicObject) -> Result<LiveChild> {
    Ok(LiveChild {
        kind,
        namespace: object.metadata.namespace.clone(),
        name: object.metadata.name.clone().unwrap_or_default(),
        object: serde_json::to_value(object)?,
    })
}

/// Reads the tenant namespace by name and lists each namespaced kind inside it by the
/// tenant's label: one namespaced request per kind, never a cluster-wide list. A kind whose
/// API is not served (`ScaledObject` without KEDA) has nothing to list.
pub async fn list_live(
    client: &Client,
    tenant: &str,
    namespace: &str,
    kinds: &[ChildKind],
) -> Result<Vec<LiveChild>> {
    let params = ListParams::default().labels(&children_selector(tenant));
    let mut live = Vec::new();
    for &kind in kinds {
        if !kind.namespaced() {
            if let Some(object) = api(client, kind, None).get_opt(namespace).await? {
                live.push(live_child(kind, &object)?);
            }
            continue;
        }
        let items = match api(client, kind, Some(namespace)).list(&params).await {
            Ok(list) => list.items,
            Err(kube::Error::Api(status)) if status.is_not_found() => Vec::new(),
            Err(err) => return Err(err.into()),
        };
        for object in &items {
            live.push(live_child(kind, object)?);
        }
    }
    Ok(live)
}

/// Carries out a [`SyncPlan`] in the order that never leaves two autoscalers or none with
/// the replica count: hand `spec.replicas` over, delete the orphans (an old autoscaler goes
/// before a new one arrives: KEDA refuses a Deployment another HPA targets), then server-side
/// apply what differs (one field manager, forced: the operator owns these fields). An orphan
/// already gone is fine.
pub async fn execute(client: &Client, plan: &SyncPlan) -> Result<()> {
    if let Some(h) = &plan.handover {
        // A second field manager keeps the field set when the operator's own apply drops it;
        // the autoscaler's later writes then take it over (Kubernetes' documented way to
        // transfer `replicas` to an HPA).
        let body = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": h.name, "namespace": h.namespace},
            "spec": {"replicas": h.replicas},
        });
        api(client, ChildKind::Deployment, Some(&h.namespace))
            .patch(
                &h.name,
                &PatchParams::apply(HANDOVER_FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await?;
    }
    for (kind, namespace, name) in &plan.delete {
        match api(client, *kind, namespace.as_deref())
            .delete(name, &DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for child in &plan.apply {
        api(client, child.kind, child.namespace.as_deref())
            .patch(&child.name, &params, &Patch::Apply(&child.object))
            .await?;
    }
    Ok(())
}
