//! Which watch events are worth a reconcile. Each function hashes the part of an object the
//! reconciler reads; kube-runtime's `predicate_filter` drops an event whose hash did not
//! change. Pure, so the filters are unit-tested.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use chemchat_crds::ChemChatTenant;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::ResourceExt;

/// A tenant's spec (its generation), annotations (pause, skip-cleanup), finalizers and
/// deletion. Not its status: the operator's own status writes must not trigger another pass.
pub fn tenant_changes(tenant: &ChemChatTenant) -> Option<u64> {
    let mut h = DefaultHasher::new();
    tenant.metadata.generation.hash(&mut h);
    tenant.annotations().hash(&mut h);
    tenant.finalizers().hash(&mut h);
    tenant
        .metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .hash(&mut h);
    Some(h.finish())
}

/// What a cluster reconcile reads of a tenant: which cluster it references and whether it is
/// on its way out. Not the tenant's status, which changes with its pods.
pub fn cluster_membership(tenant: &ChemChatTenant) -> Option<u64> {
    let mut h = DefaultHasher::new();
    let r = &tenant.spec.cluster_ref;
    (&r.namespace, &r.name).hash(&mut h);
    tenant.metadata.deletion_timestamp.is_some().hash(&mut h);
    tenant.finalizers().hash(&mut h);
    Some(h.finish())
}

/// An HPA's spec and the conditions `AutoscalingReady` mirrors (type, status, reason,
/// message). Not `currentMetrics`, `currentReplicas` or `lastScaleTime`, which change with
/// every metric scrape and would re-reconcile every autoscaled tenant every few seconds.
pub fn autoscaler_changes(hpa: &HorizontalPodAutoscaler) -> Option<u64> {
    let mut h = DefaultHasher::new();
    hpa.metadata.generation.hash(&mut h);
    let conditions = hpa.status.as_ref().and_then(|s| s.conditions.as_ref());
    for c in conditions.into_iter().flatten() {
        (&c.type_, &c.status, &c.reason, &c.message).hash(&mut h);
    }
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::autoscaling::v2::{
        HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus,
    };
    use serde_json::json;

    use super::*;

    fn hpa(current: i32, scaling_active: &str) -> HorizontalPodAutoscaler {
        HorizontalPodAutoscaler {
            metadata: kube::api::ObjectMeta {
                generation: Some(1),
                ..Default::default()
            },
            status: Some(HorizontalPodAutoscalerStatus {
                current_replicas: Some(current),
                desired_replicas: current,
                conditions: Some(vec![HorizontalPodAutoscalerCondition {
                    type_: "ScalingActive".into(),
                    status: scaling_active.into(),
                    reason: Some("ValidMetricFound".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn metric_churn_is_no_reason_to_reconcile_a_condition_change_is() {
        assert_eq!(
            autoscaler_changes(&hpa(2, "True")),
            autoscaler_changes(&hpa(5, "True"))
        );
        assert_ne!(
            autoscaler_changes(&hpa(2, "True")),
            autoscaler_changes(&hpa(2, "False"))
        );
    }

    #[test]
    fn a_status_write_is_no_reason_to_reconcile_a_spec_or_annotation_change_is() {
        let tenant = |generation: i64, status: &str, annotations: serde_json::Value| {
            serde_json::from_value::<ChemChatTenant>(json!({
                "apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatTenant",
                "metadata": {"name": "acme", "generation": generation, "annotations": annotations},
                "spec": {"clusterRef": {"name": "main", "namespace": "chemchat-system"},
                         "displayName": "Acme"},
                "status": {"phase": status}
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let base = tenant_changes(&tenant(1, "Pending", json!({})));
        assert_eq!(base, tenant_changes(&tenant(1, "Ready", json!({}))));
        assert_ne!(base, tenant_changes(&tenant(2, "Pending", json!({}))));
        let skip = json!({"chemchat.io/skip-cleanup": "true"});
        assert_ne!(base, tenant_changes(&tenant(1, "Pending", skip)));
    }
}
