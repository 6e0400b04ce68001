//! Turns what the API server shows (the Deployment's and HPA's status) into the tenant's
//! status. Pure: the caller supplies the previous status and the time.

use chemchat_crds::common::ConditionStatus;
use chemchat_crds::tenant::{ChemChatTenantStatus, TenantPhase};
use serde_json::Value;

use crate::apply::LiveChild;
use crate::build::ChildKind;
use crate::conditions::{self, Want};
use crate::plan::TenantPlan;
use crate::provision::ProvisionStatus;

/// Condition types of a tenant.
pub mod types {
    /// Summary condition.
    pub const READY: &str = "Ready";
    /// The namespace exists.
    pub const NAMESPACE_READY: &str = "NamespaceReady";
    /// The server Deployment has ready pods.
    pub const WORKLOAD_READY: &str = "WorkloadReady";
    /// Present while the pause annotation is set.
    pub const PAUSED: &str = "Paused";
    /// The tenant's Kafka topic exists with its settings (or the cluster has no Kafka).
    pub const TOPICS_READY: &str = "TopicsReady";
    /// The tenant's search index exists (or the cluster has no search backend).
    pub const SEARCH_INDEX_READY: &str = "SearchIndexReady";
    /// The conditions of backends outside Kubernetes; `Ready` needs each of them `True`.
    pub const BACKENDS: [&str; 2] = [TOPICS_READY, SEARCH_INDEX_READY];
}

/// Ready server pods and live connections, read off the live children.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    /// The Deployment exists.
    pub exists: bool,
    /// Ready pods.
    pub ready: i32,
    /// Pods the Deployment wants.
    pub wanted: i32,
    /// Live WebSocket connections (HPA metric average × replicas).
    pub connections: i64,
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Parses the plain and milli forms of a quantity the HPA reports (`1500`, `1500500m`).
fn quantity(v: &Value) -> f64 {
    let s = v.as_str().unwrap_or("0");
    match s.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().unwrap_or(0.0) / 1000.0,
        None => s.parse::<f64>().unwrap_or(0.0),
    }
}

/// Reads the workload state from the listed children.
pub fn workload(live: &[LiveChild]) -> Workload {
    let mut w = Workload::default();
    if let Some(d) = live.iter().find(|l| l.kind == ChildKind::Deployment) {
        w.exists = true;
        w.ready = i32::try_from(int(&d.object["status"]["readyReplicas"])).unwrap_or(0);
        w.wanted = i32::try_from(int(&d.object["status"]["replicas"])).unwrap_or(0);
    }
    if let Some(h) = live
        .iter()
        .find(|l| l.kind == ChildKind::HorizontalPodAutoscaler)
    {
        let replicas = int(&h.object["status"]["currentReplicas"]);
        let average = h.object["status"]["currentMetrics"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["type"] == "Pods"))
            .map(|m| quantity(&m["pods"]["current"]["averageValue"]))
            .unwrap_or(0.0);
        // Rounded: the metric is an average of whole connections.
        w.connections = (average * replicas as f64).round() as i64;
    }
    w
}

/// What one reconcile pass found and did, for [`tenant_status`].
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    /// The tenant namespace exists.
    pub namespace_exists: bool,
    /// The server pods.
    pub workload: Workload,
    /// The backends' answers this pass; empty while paused.
    pub provisioned: &'a [ProvisionStatus],
    /// The pause annotation is set.
    pub paused: bool,
}

/// The tenant status after a successful build/apply pass.
pub fn tenant_status(
    previous: Option<&ChemChatTenantStatus>,
    generation: i64,
    plan: &TenantPlan,
    seen: Observed<'_>,
    now: &str,
) -> ChemChatTenantStatus {
    let Observed {
        namespace_exists,
        workload: w,
        provisioned,
        paused,
    } = seen;
    let mut status = previous.cloned().unwrap_or_default();
    let was_serving = matches!(status.phase, TenantPhase::Ready | TenantPhase::Degraded);
    let (workload_phase, workload_ready, workload_reason, workload_message) = if plan.suspend {
        (
            TenantPhase::Suspended,
            ConditionStatus::False,
            "Suspended",
            "spec.suspend is true: scaled to zero, data kept".to_owned(),
        )
    } else if w.ready >= 1 && w.ready >= w.wanted {
        (
            TenantPhase::Ready,
            ConditionStatus::True,
            "ServerReady",
            format!("{} of {} server pods ready", w.ready, w.wanted),
        )
    } else if was_serving && w.exists {
        (
            TenantPhase::Degraded,
            ConditionStatus::False,
            "PodsUnavailable",
            format!("{} of {} server pods ready", w.ready, w.wanted),
        )
    } else {
        (
            TenantPhase::Provisioning,
            ConditionStatus::False,
            "Provisioning",
            "waiting for the server pods to become ready".to_owned(),
        )
    };
    // `Ready` needs every backend condition True: this pass's answer, or the previous
    // condition where there is none (while paused nothing is provisioned and the last word
    // stands).
    let blocked = types::BACKENDS.iter().find_map(|type_| {
        match provisioned.iter().find(|p| p.condition == *type_) {
            Some(p) => (!p.ready).then(|| (p.reason.to_owned(), p.message.clone())),
            None => status
                .conditions
                .iter()
                .find(|c| c.type_ == *type_ && c.status != ConditionStatus::True)
                .map(|c| (c.reason.clone(), c.message.clone())),
        }
    });
    let (phase, ready, reason, message) = match blocked {
        Some((reason, message)) if !plan.suspend => (
            if was_serving {
                TenantPhase::Degraded
            } else {
                TenantPhase::Provisioning
            },
            ConditionStatus::False,
            reason,
            message,
        ),
        _ => (
            workload_phase,
            workload_ready,
            workload_reason.to_owned(),
            workload_message.clone(),
        ),
    };
    let c = &mut status.conditions;
    conditions::set(
        c,
        Want {
            type_: types::READY,
            status: ready,
            reason: &reason,
            message,
        },
        generation,
        now,
    );
    let ns = if namespace_exists {
        (ConditionStatus::True, "Created")
    } else {
        (ConditionStatus::False, "Creating")
    };
    conditions::set(
        c,
        Want {
            type_: types::NAMESPACE_READY,
            status: ns.0,
            reason: ns.1,
            message: format!("namespace {}", plan.namespace),
        },
        generation,
        now,
    );
    conditions::set(
        c,
        Want {
            type_: types::WORKLOAD_READY,
            status: workload_ready,
            reason: workload_reason,
            message: workload_message,
        },
        generation,
        now,
    );
    for p in provisioned {
        let ok = if p.ready {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        };
        conditions::set(
            c,
            Want {
                type_: p.condition,
                status: ok,
                reason: p.reason,
                message: p.message.clone(),
            },
            generation,
            now,
        );
    }
    if paused {
        let message = "annotation chemchat.io/reconcile=paused: no writes to children".to_owned();
        conditions::set(
            c,
            Want {
                type_: types::PAUSED,
                status: ConditionStatus::True,
                reason: "Paused",
                message,
            },
            generation,
            now,
        );
    } else {
        conditions::remove(c, types::PAUSED);
    }
    status.observed_generation = generation;
    status.phase = phase;
    status.namespace = Some(plan.namespace.clone());
    status.endpoint = Some(match &plan.ingress {
        Some((host, Some(_))) => format!("https://{host}"),
        Some((host, None)) => format!("http://{host}"),
        None => format!(
            "http://{}.{}.svc",
            crate::labels::SERVER_NAME,
            plan.namespace
        ),
    });
    status.replicas = w.ready;
    status.active_connections = w.connections;
    status
}

/// The status of a tenant that cannot be built: `Invalid` (spec) or `Pending` (waiting).
pub fn blocked_status(
    previous: Option<&ChemChatTenantStatus>,
    generation: i64,
    phase: TenantPhase,
    reason: &str,
    message: String,
    now: &str,
) -> ChemChatTenantStatus {
    let mut status = previous.cloned().unwrap_or_default();
    conditions::set(
        &mut status.conditions,
        Want {
            type_: types::READY,
            status: ConditionStatus::False,
            reason,
            message,
        },
        generation,
        now,
    );
    status.observed_generation = generation;
    status.phase = phase;
    status
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn connections_come_from_the_hpa_metric() {
        let live = vec![
            LiveChild {
                kind: ChildKind::Deployment,
                namespace: None,
                name: "d".into(),
                object: json!({"status": {"readyReplicas": 3, "replicas": 3}}),
            },
            LiveChild {
                kind: ChildKind::HorizontalPodAutoscaler,
                namespace: None,
                name: "h".into(),
                object: json!({"status": {"currentReplicas": 3, "currentMetrics": [
                    {"type": "Pods", "pods": {"current": {"averageValue": "1500500m"}}}
                ]}}),
            },
        ];
        assert_eq!(
            workload(&live),
            Workload {
                exists: true,
                ready: 3,
                wanted: 3,
                connections: 4502
            }
        );
    }
}
