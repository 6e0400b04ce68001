//! `AutoscalingReady`: the autoscaler's own verdict, mirrored so that a tenant whose
//! autoscaler cannot read its metric is not Ready and says why.

use chemchat_crds::common::ConditionStatus;
use serde_json::Value;

use crate::apply::LiveChild;
use crate::build::{Child, ChildKind};

/// The `AutoscalingReady` condition's status, reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Autoscaling {
    /// True when the autoscaler works (or none is wanted).
    pub ready: bool,
    /// CamelCase reason, the autoscaler's own where it gave one.
    pub reason: String,
    /// What the autoscaler said.
    pub message: String,
}

impl Autoscaling {
    fn new(ready: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            ready,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    /// As a condition status.
    pub fn status(&self) -> ConditionStatus {
        if self.ready {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

const HPA: &str = "HorizontalPodAutoscaler";
const SCALED_OBJECT: &str = "ScaledObject";

fn conditions(object: &Value) -> &[Value] {
    object["status"]["conditions"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A condition's reason, or `fallback` where the autoscaler gave none (a condition reason
/// must not be empty).
fn reason<'a>(c: &'a Value, fallback: &'a str) -> &'a str {
    match text(&c["reason"]) {
        "" => fallback,
        r => r,
    }
}

/// An HPA works when `AbleToScale` and `ScalingActive` are both `True`; `ScalingActive` is
/// `False` when the metric cannot be read (no adapter rule, nothing scraped).
/// The same words whether the autoscaler was only just applied or has not reported yet, so
/// the pass after the first writes no status.
fn pending(kind: &str) -> Autoscaling {
    Autoscaling::new(
        false,
        "AutoscalerPending",
        format!("waiting for the {kind}'s first status"),
    )
}

fn hpa(object: &Value) -> Autoscaling {
    let found = conditions(object);
    let [able, active] =
        ["AbleToScale", "ScalingActive"].map(|t| found.iter().find(|c| c["type"] == t));
    let (Some(able), Some(active)) = (able, active) else {
        return pending(HPA);
    };
    match [able, active].into_iter().find(|c| c["status"] != "True") {
        Some(c) => Autoscaling::new(
            false,
            reason(c, "AutoscalerNotReady"),
            format!(
                "HorizontalPodAutoscaler {}: {}",
                text(&c["type"]),
                text(&c["message"])
            ),
        ),
        // ScalingActive's message is stable while scaling works; AbleToScale's changes with
        // every scale and would rewrite the status each time.
        None => Autoscaling::new(
            true,
            "ScalingActive",
            format!("HorizontalPodAutoscaler: {}", text(&active["message"])),
        ),
    }
}

/// A ScaledObject works when KEDA's `Ready` condition is `True`.
fn scaled_object(object: &Value) -> Autoscaling {
    match conditions(object).iter().find(|c| c["type"] == "Ready") {
        Some(c) if c["status"] == "True" => {
            Autoscaling::new(true, "ScaledObjectReady", "ScaledObject: ready")
        }
        Some(c) => Autoscaling::new(
            false,
            reason(c, "ScaledObjectNotReady"),
            format!("ScaledObject: {}", text(&c["message"])),
        ),
        None => pending(SCALED_OBJECT),
    }
}

/// The autoscaler the build wants, as it reports itself on the live object of the same kind
/// and name. No autoscaler wanted (fixed size, suspended) is `True`, so every tenant has the
/// same conditions.
pub fn autoscaling(desired: &[Child], live: &[LiveChild]) -> Autoscaling {
    let Some(wanted) = desired.iter().find(|c| {
        matches!(
            c.kind,
            ChildKind::HorizontalPodAutoscaler | ChildKind::ScaledObject
        )
    }) else {
        return Autoscaling::new(true, "NotAutoscaled", "fixed replica count: no autoscaler");
    };
    let current = live.iter().find(|l| {
        l.kind == wanted.kind && l.name == wanted.name && l.namespace == wanted.namespace
    });
    match (wanted.kind, current) {
        (ChildKind::ScaledObject, Some(l)) => scaled_object(&l.object),
        (_, Some(l)) => hpa(&l.object),
        (ChildKind::ScaledObject, None) => pending(SCALED_OBJECT),
        (_, None) => pending(HPA),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn child(kind: ChildKind) -> Child {
        Child {
            kind,
            namespace: Some("ns".into()),
            name: "s".into(),
            object: json!({}),
        }
    }

    fn live(kind: ChildKind, conditions: Value) -> LiveChild {
        LiveChild {
            kind,
            namespace: Some("ns".into()),
            name: "s".into(),
            object: json!({"status": {"conditions": conditions}}),
        }
    }

    #[test]
    fn an_hpa_that_cannot_read_its_metric_is_not_ready_and_says_why() {
        let desired = [child(ChildKind::HorizontalPodAutoscaler)];
        let failing = live(
            ChildKind::HorizontalPodAutoscaler,
            json!([
                {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "ok"},
                {"type": "ScalingActive", "status": "False", "reason": "FailedGetPodsMetric",
                 "message": "unable to get metric chemchat_websocket_connections"}
            ]),
        );
        let seen = autoscaling(&desired, &[failing]);
        assert!(!seen.ready);
        assert_eq!(seen.reason, "FailedGetPodsMetric");
        assert!(
            seen.message.contains("chemchat_websocket_connections"),
            "{}",
            seen.message
        );
        let working = live(
            ChildKind::HorizontalPodAutoscaler,
            json!([
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "m"},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "computed"}
            ]),
        );
        assert!(autoscaling(&desired, &[working]).ready);
        let fresh = live(ChildKind::HorizontalPodAutoscaler, json!(null));
        assert_eq!(autoscaling(&desired, &[fresh]).reason, "AutoscalerPending");
        assert!(!autoscaling(&desired, &[]).ready);
    }

    #[test]
    fn a_scaled_object_mirrors_kedas_ready_condition() {
        let desired = [child(ChildKind::ScaledObject)];
        let failing = live(
            ChildKind::ScaledObject,
            json!([{"type": "Ready", "status": "False", "reason": "TriggerError", "message": "prometheus query failed"}]),
        );
        let seen = autoscaling(&desired, &[failing]);
        assert_eq!((seen.ready, seen.reason.as_str()), (false, "TriggerError"));
        let ready = live(
            ChildKind::ScaledObject,
            json!([{"type": "Ready", "status": "True"}]),
        );
        assert!(autoscaling(&desired, &[ready]).ready);
        assert!(
            autoscaling(&[], &[]).ready,
            "fixed size needs no autoscaler"
        );
    }
}
