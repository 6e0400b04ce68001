//! The pure half of the apply stage: desired against live, decided without a server.

use serde_json::Value;

use crate::build::{Child, ChildKind};
use crate::labels::FIELD_MANAGER;
use crate::quantity;

/// An existing child as read from the API.
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

impl LiveChild {
    /// The uid in the object's controller owner reference, if it has one.
    pub fn controller_uid(&self) -> Option<&str> {
        self.object["metadata"]["ownerReferences"]
            .as_array()?
            .iter()
            .find(|r| r["controller"] == true)?["uid"]
            .as_str()
    }
}

/// Whose children a sync may delete: objects in `namespace` (or that namespace itself) whose
/// controller owner reference carries `uid`. A label can be copied onto anything; a uid cannot.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    /// The tenant's uid.
    pub uid: &'a str,
    /// The tenant's namespace.
    pub namespace: &'a str,
}

impl Owner<'_> {
    /// True when `live` belongs to this owner and may therefore be deleted.
    pub fn owns(&self, live: &LiveChild) -> bool {
        let placed = match live.kind {
            ChildKind::Namespace => live.name == self.namespace,
            _ => live.namespace.as_deref() == Some(self.namespace),
        };
        placed && !self.uid.is_empty() && live.controller_uid() == Some(self.uid)
    }
}

/// `spec.replicas` of a Deployment the operator stops setting, to be re-applied under a
/// field manager of its own first so that dropping the field does not reset it to 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    /// Namespace of the Deployment.
    pub namespace: String,
    /// Name of the Deployment.
    pub name: String,
    /// The replica count to keep.
    pub replicas: i64,
}

/// What the apply stage will do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncPlan {
    /// `spec.replicas` to hand over to the autoscaler before the Deployment is applied.
    pub handover: Option<Handover>,
    /// Owned live objects the build no longer contains: (kind, namespace, name).
    pub delete: Vec<(ChildKind, Option<String>, String)>,
    /// Desired objects that are missing or differ.
    pub apply: Vec<Child>,
}

impl SyncPlan {
    /// True when nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.apply.is_empty() && self.delete.is_empty() && self.handover.is_none()
    }
}

/// True for what the API server stores as nothing: `null`, `[]` and `{}` (an empty list
/// survives neither omitempty nor the protobuf round trip through etcd).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// True when two strings are the same quantity in different spellings: the API server
/// stores `"2000"` as `"2k"` and `"1024Mi"` as `"1Gi"`.
fn same_quantity(d: &str, l: &str) -> bool {
    matches!((quantity::parse_milli(d), quantity::parse_milli(l)), (Some(a), Some(b)) if a == b)
}

/// True when every field of `desired` is present in `live` with the same value, as the API
/// server would store it (canonical quantities, empty lists dropped).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, v)| match l.get(k) {
            Some(lv) => is_subset(v, lv),
            None => is_empty(v),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (Value::String(d), Value::String(l)) => d == l || same_quantity(d, l),
        (d, l) => d == l || (is_empty(d) && is_empty(l)),
    }
}

/// True when the operator's own applies set `spec.replicas` on this live object.
fn applied_replicas(live: &Value) -> bool {
    live["metadata"]["managedFields"]
        .as_array()
        .is_some_and(|entries| {
            entries.iter().any(|e| {
                e["manager"] == FIELD_MANAGER
                    && e["operation"] == "Apply"
                    && e["fieldsV1"]["f:spec"].get("f:replicas").is_some()
            })
        })
}

/// The fewest pods the desired autoscaler keeps (HPA or ScaledObject).
fn autoscaler_floor(desired: &[Child]) -> i64 {
    desired
        .iter()
        .find_map(|c| match c.kind {
            ChildKind::HorizontalPodAutoscaler => c.object["spec"]["minReplicas"].as_i64(),
            ChildKind::ScaledObject => c.object["spec"]["minReplicaCount"].as_i64(),
            _ => None,
        })
        .unwrap_or(1)
}

/// A Deployment about to lose its `spec.replicas` keeps its current count (at least the
/// autoscaler's floor: an HPA does nothing for a Deployment at zero).
fn handover(apply: &[Child], desired: &[Child], live: &[LiveChild]) -> Option<Handover> {
    let deployment = apply
        .iter()
        .find(|c| c.kind == ChildKind::Deployment && c.object["spec"].get("replicas").is_none())?;
    let current = live.iter().find(|l| {
        l.kind == ChildKind::Deployment
            && l.name == deployment.name
            && l.namespace == deployment.namespace
    })?;
    if !applied_replicas(&current.object) {
        return None;
    }
    let replicas = current.object["spec"]["replicas"].as_i64().unwrap_or(1);
    Some(Handover {
        namespace: deployment.namespace.clone().unwrap_or_default(),
        name: deployment.name.clone(),
        replicas: replicas.max(autoscaler_floor(desired)),
    })
}

/// Compares desired with live: pure, so the decision is unit-tested without a server.
pub fn plan_sync(desired: &[Child], live: &[LiveChild], owner: Owner<'_>) -> SyncPlan {
    let same = |c: &Child, l: &LiveChild| {
        c.kind == l.kind && c.namespace == l.namespace && c.name == l.name
    };
    let apply: Vec<Child> = desired
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
        .filter(|l| owner.owns(l) && !desired.iter().any(|c| same(c, l)))
        .map(|l| (l.kind, l.namespace.clone(), l.name.clone()))
        .collect();
    SyncPlan {
        handover: handover(&apply, desired, live),
        delete,
        apply,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OWNER: Owner<'static> = Owner {
        uid: "u1",
        namespace: "ns",
    };

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

    #[test]
    fn subset_compares_as_the_api_server_stores() {
        let live = json!({"rules": null, "hard": {"cpu": "2", "memory": "1Gi", "pods": "2k"}});
        let desired = json!({"rules": [], "subjects": [], "labels": {},
            "hard": {"cpu": "2000m", "memory": "1024Mi", "pods": "2000"}});
        assert!(is_subset(&desired, &live));
        assert!(!is_subset(&json!({"hard": {"cpu": "3"}}), &live));
        assert!(!is_subset(&json!({"hard": {"memory": "1G"}}), &live));
        assert!(!is_subset(&json!({"rules": [{"verbs": []}]}), &live));
        assert!(!is_subset(&json!({"name": "abc"}), &json!({"name": "abd"})));
    }

    fn child(kind: ChildKind, name: &str, body: Value) -> Child {
        Child {
            kind,
            namespace: Some("ns".into()),
            name: name.into(),
            object: body,
        }
    }

    fn owned_by(uid: &str, mut body: Value) -> Value {
        body["metadata"]["ownerReferences"] = json!([{"uid": uid, "controller": true}]);
        body
    }

    fn live(kind: ChildKind, name: &str, body: Value) -> LiveChild {
        LiveChild {
            kind,
            namespace: Some("ns".into()),
            name: name.into(),
            object: owned_by("u1", body),
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
        let plan = plan_sync(&desired, &existing, OWNER);
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
        assert!(plan_sync(&desired, &settled, OWNER).is_empty());
    }

    #[test]
    fn only_objects_controlled_by_the_tenant_uid_in_its_namespace_are_deleted() {
        let mut elsewhere = live(ChildKind::ConfigMap, "copied", json!({}));
        elsewhere.namespace = Some("other".into());
        let mut foreign_namespace = live(ChildKind::Namespace, "chemchat-other", json!({}));
        foreign_namespace.namespace = None;
        let not_controller = LiveChild {
            object: json!({"metadata": {"ownerReferences": [{"uid": "u1", "controller": false}]}}),
            ..live(ChildKind::Secret, "restored", json!({}))
        };
        let candidates = vec![
            // An HPA that KEDA made from a ScaledObject: it carries the tenant's labels.
            LiveChild {
                object: owned_by("scaled-object-uid", json!({})),
                ..live(ChildKind::HorizontalPodAutoscaler, "keda-hpa", json!({}))
            },
            LiveChild {
                object: json!({}),
                ..live(ChildKind::Service, "unowned", json!({}))
            },
            not_controller,
            elsewhere,
            foreign_namespace,
        ];
        assert!(plan_sync(&[], &candidates, OWNER).delete.is_empty());
        assert!(
            plan_sync(&[], &candidates[..1], Owner { uid: "", ..OWNER })
                .delete
                .is_empty(),
            "an empty uid (a rendered plan) owns nothing"
        );
    }

    fn managed(replicas: i64, manager: &str) -> Value {
        json!({"spec": {"replicas": replicas}, "metadata": {"managedFields": [
            {"manager": manager, "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]}})
    }

    #[test]
    fn replicas_the_operator_set_are_handed_over_before_an_autoscaler_takes_them() {
        let desired = vec![
            child(
                ChildKind::Deployment,
                "d",
                json!({"spec": {"paused": false}}),
            ),
            child(
                ChildKind::HorizontalPodAutoscaler,
                "d",
                json!({"spec": {"minReplicas": 2}}),
            ),
        ];
        let handed = |replicas, manager| {
            let existing = vec![live(ChildKind::Deployment, "d", managed(replicas, manager))];
            plan_sync(&desired, &existing, OWNER).handover
        };
        let expected = |replicas| {
            Some(Handover {
                namespace: "ns".into(),
                name: "d".into(),
                replicas,
            })
        };
        assert_eq!(handed(5, FIELD_MANAGER), expected(5));
        assert_eq!(
            handed(0, FIELD_MANAGER),
            expected(2),
            "never below the floor"
        );
        assert_eq!(handed(5, "kube-controller-manager"), None);
        assert_eq!(plan_sync(&desired, &[], OWNER).handover, None);
    }
}
