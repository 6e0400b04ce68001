//! Scaling on live WebSocket connections: an HPA on the pods metric, or a KEDA ScaledObject.

use chemchat_crds::contract::METRIC_WEBSOCKET_CONNECTIONS;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec,
    MetricTarget, PodsMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::{Value, json};

use super::meta;
use crate::labels::SERVER_NAME;
use crate::plan::TenantPlan;

/// Scale-down forces clients to reconnect, so it waits long and goes one pod at a time;
/// scale-up reacts at once.
fn behavior() -> HorizontalPodAutoscalerBehavior {
    HorizontalPodAutoscalerBehavior {
        scale_down: Some(HPAScalingRules {
            stabilization_window_seconds: Some(900),
            select_policy: Some("Min".to_owned()),
            policies: Some(vec![HPAScalingPolicy {
                type_: "Pods".to_owned(),
                value: 1,
                period_seconds: 300,
            }]),
            ..HPAScalingRules::default()
        }),
        scale_up: Some(HPAScalingRules {
            stabilization_window_seconds: Some(0),
            select_policy: Some("Max".to_owned()),
            policies: Some(vec![
                HPAScalingPolicy {
                    type_: "Percent".to_owned(),
                    value: 100,
                    period_seconds: 60,
                },
                HPAScalingPolicy {
                    type_: "Pods".to_owned(),
                    value: 4,
                    period_seconds: 60,
                },
            ]),
            ..HPAScalingRules::default()
        }),
    }
}

/// autoscaling/v2 HPA: pods metric `chemchat_websocket_connections`, average per pod.
pub fn hpa(plan: &TenantPlan) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: meta(plan, SERVER_NAME, "autoscaler", true),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: SERVER_NAME.to_owned(),
            },
            min_replicas: Some(plan.min_replicas),
            max_replicas: plan.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Pods".to_owned(),
                pods: Some(PodsMetricSource {
                    metric: MetricIdentifier {
                        name: METRIC_WEBSOCKET_CONNECTIONS.to_owned(),
                        selector: None,
                    },
                    target: MetricTarget {
                        type_: "AverageValue".to_owned(),
                        average_value: Some(Quantity(plan.target_connections_per_pod.to_string())),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: Some(behavior()),
        }),
        ..HorizontalPodAutoscaler::default()
    }
}

/// KEDA ScaledObject doing the same from a Prometheus query (KEDA creates its own HPA, so the
/// operator never builds both).
pub fn scaled_object(plan: &TenantPlan, prometheus_address: &str) -> Value {
    let metadata = meta(plan, SERVER_NAME, "autoscaler", true);
    json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata,
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": SERVER_NAME },
            "minReplicaCount": plan.min_replicas,
            "maxReplicaCount": plan.max_replicas,
            "advanced": { "horizontalPodAutoscalerConfig": { "behavior": behavior() } },
            "triggers": [{
                "type": "prometheus",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": prometheus_address,
                    "query": format!(
                        "sum({METRIC_WEBSOCKET_CONNECTIONS}{{namespace=\"{}\"}})",
                        plan.namespace
                    ),
                    "threshold": plan.target_connections_per_pod.to_string(),
                },
            }],
        },
    })
}
