//! The server Deployment as its controller reports it: how many pods serve, whether a
//! rollout or a scale-up is under way, whether it has stalled, and whether a pod of an older
//! template is left (what revoking a rotated credential waits for).

use serde_json::Value;

use crate::apply::LiveChild;
use crate::build::{Child, ChildKind};
use crate::labels::{CONFIG_HASH_ANNOTATION, SERVER_NAME};

/// The server pods, read off the live Deployment and HPA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    /// The Deployment exists.
    pub exists: bool,
    /// Pods wanted (`spec.replicas`, whoever sets it).
    pub desired: i32,
    /// Pods of the current template (`status.updatedReplicas`).
    pub updated: i32,
    /// Pods of every template, the current one and older ones (`status.replicas`).
    pub pods: i32,
    /// Pods shutting down, of any template (`status.terminatingReplicas`, reported by API
    /// servers with the `DeploymentReplicaSetTerminatingReplicas` feature, Kubernetes 1.33 on;
    /// 0 where it is not).
    pub terminating: i32,
    /// The environment hash on the pod template (`chemchat.io/config-hash`).
    pub config_hash: Option<String>,
    /// Pods serving for at least `minReadySeconds` (`status.availableReplicas`).
    pub available: i32,
    /// The Deployment controller has reported on it at least once.
    pub reported: bool,
    /// The Deployment controller has seen the latest spec.
    pub observed: bool,
    /// The Deployment's `Progressing` condition is `False` (the progress deadline passed):
    /// its message.
    pub stalled: Option<String>,
    /// Live WebSocket connections (HPA metric average × replicas).
    pub connections: i64,
}

/// Where the server's rollout stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// No Deployment yet, or its controller has not reported on it.
    Creating,
    /// Not every wanted pod is of the current template, pods of an older one remain, or the
    /// controller has not seen the change yet.
    RollingOut,
    /// Fewer pods serve than are wanted: a scale-up, or pods still starting.
    ScalingUp,
    /// The Deployment gave up: its progress deadline passed.
    Stalled(String),
    /// Every wanted pod is current and serving, and no pod of an older template is left.
    Settled,
}

impl Workload {
    /// At least one pod serves and the rollout has not stalled. A surge pod, a scale-up or a
    /// rollout leaves this true: only a real outage or a stuck rollout makes it false.
    pub fn serving(&self) -> bool {
        self.available >= 1 && self.stalled.is_none()
    }

    /// The rollout state, for the `Progressing` condition.
    pub fn rollout(&self) -> Rollout {
        if !self.exists || !self.reported {
            Rollout::Creating
        } else if let Some(message) = &self.stalled {
            Rollout::Stalled(message.clone())
        } else if !self.observed || self.updated < self.desired || self.pods > self.updated {
            // `pods > updated`: the older ReplicaSet's pods are still being scaled down, as
            // `kubectl rollout status` counts them.
            Rollout::RollingOut
        } else if self.available < self.desired {
            Rollout::ScalingUp
        } else {
            Rollout::Settled
        }
    }

    /// Every server pod runs the template `desired` builds (its environment hash, which
    /// covers every credential in the tenant's Secret) and no pod of an older template is
    /// left, not even one still draining: until then a credential only an older environment
    /// carried is still in use. No Deployment, or one scaled to zero, runs no pod at all.
    pub fn rolled_out(&self, desired: &[Child]) -> bool {
        !self.exists
            || (self.config_hash.as_deref() == desired_config_hash(desired)
                && self.on_one_template())
    }

    /// Every pod runs the Deployment's current template and none of an older one is left,
    /// not even one still draining. No Deployment runs no pod at all.
    pub fn on_one_template(&self) -> bool {
        !self.exists || (self.rollout() == Rollout::Settled && self.terminating == 0)
    }
}

/// The environment hash on the pod template of the server Deployment in `desired`.
fn desired_config_hash(desired: &[Child]) -> Option<&str> {
    desired
        .iter()
        .find(|c| c.kind == ChildKind::Deployment && c.name == SERVER_NAME)
        .and_then(|d| template_config_hash(&d.object))
}

fn template_config_hash(deployment: &Value) -> Option<&str> {
    deployment["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION].as_str()
}

fn int(v: &Value) -> i32 {
    v.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(0)
}

/// Parses the plain and milli forms of a quantity the HPA reports (`1500`, `1500500m`).
fn quantity(v: &Value) -> f64 {
    let s = v.as_str().unwrap_or("0");
    match s.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().unwrap_or(0.0) / 1000.0,
        None => s.parse::<f64>().unwrap_or(0.0),
    }
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Reads the workload state from the listed children.
pub fn workload(live: &[LiveChild]) -> Workload {
    let mut w = Workload::default();
    let named = |kind| {
        live.iter()
            .find(move |l: &&LiveChild| l.kind == kind && l.name == SERVER_NAME)
    };
    if let Some(d) = named(ChildKind::Deployment) {
        let (spec, status) = (&d.object["spec"], &d.object["status"]);
        w.exists = true;
        // The API server defaults an absent `spec.replicas` to 1.
        w.desired = spec["replicas"]
            .as_i64()
            .map_or(1, |_| int(&spec["replicas"]));
        w.updated = int(&status["updatedReplicas"]);
        w.pods = int(&status["replicas"]);
        w.terminating = int(&status["terminatingReplicas"]);
        w.config_hash = template_config_hash(&d.object).map(str::to_owned);
        w.available = int(&status["availableReplicas"]);
        w.reported = status["observedGeneration"].is_i64();
        w.observed =
            status["observedGeneration"].as_i64() >= d.object["metadata"]["generation"].as_i64();
        w.stalled = condition(&d.object, "Progressing")
            .filter(|c| c["status"] == "False")
            .map(|c| {
                c["message"]
                    .as_str()
                    .unwrap_or("progress deadline exceeded")
                    .to_owned()
            });
    }
    if let Some(h) = named(ChildKind::HorizontalPodAutoscaler) {
        let replicas = int(&h.object["status"]["currentReplicas"]);
        let average = h.object["status"]["currentMetrics"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["type"] == "Pods"))
            .map(|m| quantity(&m["pods"]["current"]["averageValue"]))
            .unwrap_or(0.0);
        // Rounded: the metric is an average of whole connections.
        w.connections = (average * f64::from(replicas)).round() as i64;
    }
    w
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn live(kind: ChildKind, object: Value) -> LiveChild {
        LiveChild {
            kind,
            namespace: Some("ns".into()),
            name: SERVER_NAME.into(),
            object,
        }
    }

    fn deployment(replicas: i64, updated: i64, available: i64, progressing: &str) -> LiveChild {
        live(
            ChildKind::Deployment,
            json!({"metadata": {"generation": 2}, "spec": {"replicas": replicas,
                    "template": {"metadata": {"annotations": {CONFIG_HASH_ANNOTATION: "env-2"}}}},
                "status": {"observedGeneration": 2,
                    "replicas": replicas + i64::from(updated < replicas),
                    "updatedReplicas": updated, "availableReplicas": available,
                    "conditions": [{"type": "Progressing", "status": progressing,
                        "message": "ReplicaSet \"x\" has timed out progressing."}]}}),
        )
    }

    #[test]
    fn connections_come_from_the_hpa_metric() {
        let hpa = live(
            ChildKind::HorizontalPodAutoscaler,
            json!({"status": {"currentReplicas": 3, "currentMetrics": [
                {"type": "Pods", "pods": {"current": {"averageValue": "1500500m"}}}
            ]}}),
        );
        let w = workload(&[deployment(3, 3, 3, "True"), hpa]);
        assert_eq!((w.desired, w.available, w.connections), (3, 3, 4502));
        assert_eq!(w.rollout(), Rollout::Settled);
    }

    #[test]
    fn surge_pods_scale_ups_and_rollouts_keep_serving() {
        // A rollout: one surge pod on top of three (status.replicas is 4), one updated.
        let rolling = workload(&[deployment(3, 1, 3, "True")]);
        assert!(rolling.serving());
        assert_eq!(rolling.rollout(), Rollout::RollingOut);
        // A scale-up from 2 to 6: all updated, two available.
        let scaling = workload(&[deployment(6, 6, 2, "True")]);
        assert!(scaling.serving());
        assert_eq!(scaling.rollout(), Rollout::ScalingUp);
        // A new spec the controller has not seen yet is a rollout too.
        let mut unseen = deployment(3, 3, 3, "True");
        unseen.object["metadata"]["generation"] = json!(3);
        assert_eq!(workload(&[unseen]).rollout(), Rollout::RollingOut);
    }

    #[test]
    fn a_stalled_rollout_or_no_available_pod_is_not_serving() {
        let stalled = workload(&[deployment(3, 1, 3, "False")]);
        assert!(!stalled.serving());
        assert!(matches!(stalled.rollout(), Rollout::Stalled(m) if m.contains("timed out")));
        assert!(!workload(&[deployment(3, 3, 0, "True")]).serving());
        assert_eq!(workload(&[]).rollout(), Rollout::Creating);
        let unreported = live(ChildKind::Deployment, json!({"spec": {"replicas": 1}}));
        assert_eq!(workload(&[unreported]).rollout(), Rollout::Creating);
    }

    /// A build whose server pods carry the environment hash `config_hash`.
    fn desired(config_hash: &str) -> Vec<Child> {
        vec![Child {
            kind: ChildKind::Deployment,
            namespace: Some("ns".into()),
            name: SERVER_NAME.into(),
            object: json!({"spec": {"template": {"metadata": {"annotations": {
                CONFIG_HASH_ANNOTATION: config_hash}}}}}),
        }]
    }

    #[test]
    fn pods_of_an_older_template_left_are_a_rollout() {
        // Three new pods serve; the old ReplicaSet's last pod is still being scaled down.
        let mut draining = deployment(3, 3, 4, "True");
        draining.object["status"]["replicas"] = json!(4);
        let w = workload(&[draining]);
        assert_eq!(w.rollout(), Rollout::RollingOut);
        assert!(w.serving());
        assert!(!w.rolled_out(&desired("env-2")));
    }

    #[test]
    fn rolled_out_needs_the_built_environment_on_every_pod_and_no_older_pod() {
        let settled = workload(&[deployment(3, 3, 3, "True")]);
        assert!(settled.rolled_out(&desired("env-2")));
        // The template still carries the previous environment: its apply is what rolls.
        assert!(!settled.rolled_out(&desired("env-3")));
        // Updated but not yet serving, or stalled: older pods are kept meanwhile.
        assert!(!workload(&[deployment(3, 1, 3, "True")]).rolled_out(&desired("env-2")));
        assert!(!workload(&[deployment(3, 3, 3, "False")]).rolled_out(&desired("env-2")));
        // A pod still draining (preStop) holds the older environment until it exits.
        let mut terminating = deployment(3, 3, 3, "True");
        terminating.object["status"]["terminatingReplicas"] = json!(1);
        assert!(!workload(&[terminating]).rolled_out(&desired("env-2")));
        // The controller has not seen the new spec yet.
        let mut unseen = deployment(3, 3, 3, "True");
        unseen.object["metadata"]["generation"] = json!(3);
        assert!(!workload(&[unseen]).rolled_out(&desired("env-2")));
    }

    #[test]
    fn no_deployment_or_no_pod_runs_an_older_environment() {
        assert!(workload(&[]).rolled_out(&desired("env-2")));
        let suspended = workload(&[deployment(0, 0, 0, "True")]);
        assert_eq!(suspended.rollout(), Rollout::Settled);
        assert!(suspended.rolled_out(&desired("env-2")));
    }
}
