//! The apply stage: list what exists, apply what differs, delete what is no longer built.
//!
//! An object is up to date when every field the operator wants is already there with the same
//! value, including the `chemchat.io/applied-hash` annotation (which changes when a field is
//! removed from the build). Up-to-date objects get no request at all, so a no-op reconcile
//! makes no write.

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value;

use crate::build::{Child, ChildKind};
use crate::error::Result;
use crate::labels::{FIELD_MANAGER, children_selector};

/// An existing child as listed from the API.
#[derive(Clone, Debug)]
pub struct LiveChild {
    /// Kind.
    pub kind: ChildKind,
    /// Namespace, `None` for cluster-scoped.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Full object.
    pub object: Value,
}

/// What the apply stage will do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncPlan {
    /// Desired objects that are missing or differ.
    pub apply: Vec<Child>,
    /// Live objects the build no longer contains: (kind, namespace, name).
    pub delete: Vec<(ChildKind, Option<String>, String)>,
}

impl SyncPlan {
    /// True when nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.apply.is_empty() && self.delete.is_empty()
    }
}

fn api(client: &Client, kind: ChildKind, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = kind.api_resource();
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Lists every child of `tenant` of the given kinds, across namespaces, by label.
pub async fn list_live(
    client: &Client,
    tenant: &str,
    kinds: &[ChildKind],
) -> Result<Vec<LiveChild>> {
    let params = ListParams::default().labels(&children_selector(tenant));
    let mut live = Vec::new();
    for &kind in kinds {
        for object in api(client, kind, None).list(&params).await?.items {
            live.push(LiveChild {
                kind,
                namespace: object.metadata.namespace.clone(),
                name: object.metadata.name.clone().unwrap_or_default(),
                object: serde_json::to_value(&object)?,
            });
        }
    }
    Ok(live)
}

/// True when every field of `desired` is present in `live` with the same value.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| is_subset(v, lv))),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (d, l) => d == l,
    }
}

/// Compares desired with live: pure, so the decision is unit-tested without a server.
pub fn plan_sync(desired: &[Child], live: &[LiveChild]) -> SyncPlan {
    let same = |c: &Child, l: &LiveChild| {
        c.kind == l.kind && c.namespace == l.namespace && c.name == l.name
    };
    let apply = desired
        .iter()
        .filter(|c| {
            !live
                .iter()
                .any(|l| same(c, l) && is_subset(&c.object, &l.object))
        })
        .cloned()
        .collect();
    let delete = live
        .iter()
        .filter(|l| !desired.iter().any(|c| same(c, l)))
        .map(|l| (l.kind, l.namespace.clone(), l.name.clone()))
        .collect();
    SyncPlan { apply, delete }
}

/// Server-side applies the changed objects (one field manager, forced: the operator owns
/// these fields) and deletes the orphans; an orphan already gone is fine.
pub async fn execute(client: &Client, plan: &SyncPlan) -> Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for child in &plan.apply {
        api(client, child.kind, child.namespace.as_deref())
            .patch(&child.name, &params, &Patch::Apply(&child.object))
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn subset_ignores_server_defaults_but_not_changes() {
        let desired = json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}});
        let live =
            json!({"spec": {"replicas": 2, "ports": [{"port": 80, "protocol": "TCP"}], "x": 1}});
        assert!(is_subset(&desired, &live));
        assert!(!is_subset(&json!({"spec": {"replicas": 3}}), &live));
        assert!(!is_subset(&json!({"spec": {"ports": []}}), &live));
        assert!(!is_subset(&json!({"spec": {"missing": 1}}), &live));
    }

    fn child(kind: ChildKind, name: &str, body: Value) -> Child {
        Child {
            kind,
            namespace: Some("ns".into()),
            name: name.into(),
            object: body,
        }
    }

    fn live(kind: ChildKind, name: &str, body: Value) -> LiveChild {
        LiveChild {
            kind,
            namespace: Some("ns".into()),
            name: name.into(),
            object: body,
        }
    }

    #[test]
    fn plan_applies_differences_and_deletes_orphans() {
        let desired = vec![
            child(ChildKind::Service, "a", json!({"v": 1})),
            child(ChildKind::Deployment, "a", json!({"v": 2})),
        ];
        let existing = vec![
            live(ChildKind::Service, "a", json!({"v": 1, "status": {}})),
            live(ChildKind::Deployment, "a", json!({"v": 1})),
            live(ChildKind::HorizontalPodAutoscaler, "a", json!({})),
        ];
        let plan = plan_sync(&desired, &existing);
        assert_eq!(plan.apply.len(), 1);
        assert_eq!(plan.apply[0].kind, ChildKind::Deployment);
        assert_eq!(
            plan.delete,
            vec![(
                ChildKind::HorizontalPodAutoscaler,
                Some("ns".into()),
                "a".into()
            )]
        );
        let settled = vec![
            live(ChildKind::Service, "a", json!({"v": 1})),
            live(ChildKind::Deployment, "a", json!({"v": 2})),
        ];
        assert!(plan_sync(&desired, &settled).is_empty());
    }
}
