//! Turns what the API server shows (the Deployment's, HPA's and ScaledObject's status) into
//! the tenant's status. Pure: the caller supplies the previous status and the time.
//!
//! **Invariant**: a normal rollout or scale-up never makes a serving tenant `Degraded` (nor
//! emits a Warning): readiness follows the Deployment's available pods and its `Progressing`
//! condition, never ready pods against `status.replicas` (which counts surge pods).

mod autoscaler;
mod workload;

use chemchat_crds::common::ConditionStatus;
use chemchat_crds::tenant::{ChemChatTenantStatus, TenantPhase};

pub use autoscaler::{Autoscaling, autoscaling};
pub use workload::{Rollout, Workload, workload};

use crate::conditions::{self, Want};
use crate::plan::TenantPlan;
use crate::provision::ProvisionStatus;

/// Condition types of a tenant.
pub mod types {
    /// Summary condition.
    pub const READY: &str = "Ready";
    /// The namespace exists.
    pub const NAMESPACE_READY: &str = "NamespaceReady";
    /// The server Deployment has available pods.
    pub const WORKLOAD_READY: &str = "WorkloadReady";
    /// `True` while a rollout or scale-up is under way.
    pub const PROGRESSING: &str = "Progressing";
    /// The autoscaler can read its metric and scale (or the tenant has a fixed size).
    pub const AUTOSCALING_READY: &str = "AutoscalingReady";
    /// Present while the pause annotation is set.
    pub const PAUSED: &str = "Paused";
    /// The tenant's Kafka topic exists with its settings (or the cluster has no Kafka).
    pub const TOPICS_READY: &str = "TopicsReady";
    /// The tenant's search index exists (or the cluster has no search backend).
    pub const SEARCH_INDEX_READY: &str = "SearchIndexReady";
    /// `False` (a warning, not a blocker of `Ready`) when several server pods keep media on
    /// their own `emptyDir`s because the cluster has no object storage.
    pub const MEDIA_STORAGE_SHARED: &str = "MediaStorageShared";
    /// The conditions of backends outside Kubernetes; `Ready` needs each of them `True`.
    pub const BACKENDS: [&str; 2] = [TOPICS_READY, SEARCH_INDEX_READY];
}

/// What one reconcile pass found and did, for [`tenant_status`].
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    /// The tenant namespace exists.
    pub namespace_exists: bool,
    /// The server pods.
    pub workload: &'a Workload,
    /// The autoscaler's verdict.
    pub autoscaling: &'a Autoscaling,
    /// The backends' answers this pass; empty while paused.
    pub provisioned: &'a [ProvisionStatus],
    /// The pause annotation is set.
    pub paused: bool,
    /// A rotated credential whose older version is kept until no pod of an older template is
    /// left: what the tenant waits for.
    pub rotating: Option<&'a str>,
}

/// A condition's status, reason and message before it is stamped.
struct Verdict {
    status: ConditionStatus,
    reason: String,
    message: String,
}

fn verdict(ok: bool, reason: &str, message: String) -> Verdict {
    Verdict {
        status: if ok {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        },
        reason: reason.to_owned(),
        message,
    }
}

/// `WorkloadReady` and the phase the pods alone would give.
fn workload_verdict(plan: &TenantPlan, w: &Workload, was_serving: bool) -> (TenantPhase, Verdict) {
    let pods = format!("{} of {} server pods available", w.available, w.desired);
    if plan.suspend {
        let message = "spec.suspend is true: scaled to zero, data kept".to_owned();
        (TenantPhase::Suspended, verdict(false, "Suspended", message))
    } else if w.serving() {
        (TenantPhase::Ready, verdict(true, "ServerAvailable", pods))
    } else if let Rollout::Stalled(message) = w.rollout() {
        let phase = if was_serving {
            TenantPhase::Degraded
        } else {
            TenantPhase::Provisioning
        };
        (phase, verdict(false, "RolloutStalled", message))
    } else if was_serving && w.exists {
        (
            TenantPhase::Degraded,
            verdict(false, "PodsUnavailable", pods),
        )
    } else {
        let message = "waiting for the server pods to become available".to_owned();
        (
            TenantPhase::Provisioning,
            verdict(false, "Provisioning", message),
        )
    }
}

/// `Progressing`: `True` while the Deployment moves towards its spec, or while a rotated
/// credential waits for that rollout (the Deployment as listed before this pass's apply may not
/// show the new template yet, so the wait speaks for itself). A stalled rollout says so first.
fn progressing_verdict(plan: &TenantPlan, w: &Workload, rotating: Option<&str>) -> Verdict {
    if plan.suspend {
        return verdict(false, "Suspended", "scaled to zero".to_owned());
    }
    let rollout = w.rollout();
    let stalled = matches!(rollout, Rollout::Stalled(_));
    if let Some(waiting) = rotating.filter(|_| !stalled) {
        return verdict(true, "RotatingCredentials", waiting.to_owned());
    }
    match rollout {
        Rollout::Creating => verdict(
            true,
            "Creating",
            "creating the server Deployment".to_owned(),
        ),
        Rollout::RollingOut => verdict(
            true,
            "RollingOut",
            format!("{} of {} server pods updated", w.updated, w.desired),
        ),
        Rollout::ScalingUp => verdict(
            true,
            "ScalingUp",
            format!("{} of {} server pods available", w.available, w.desired),
        ),
        Rollout::Stalled(message) => verdict(false, "RolloutStalled", message),
        Rollout::Settled => verdict(
            false,
            "Settled",
            format!("{} server pods on the current version", w.desired),
        ),
    }
}

/// `MediaStorageShared`: every pod sees the same media only through object storage; with
/// `emptyDir`, a file uploaded to one pod is missing on the others and lost with the pod.
fn media_verdict(plan: &TenantPlan) -> Verdict {
    if plan.object_storage.is_some() {
        verdict(
            true,
            "ObjectStorage",
            "media in the cluster's object storage".to_owned(),
        )
    } else if plan.max_replicas > 1 {
        verdict(
            false,
            "EmptyDirPerPod",
            format!(
                "up to {} server pods keep media on their own emptyDir: a file stored by one is \
                 missing on the others and lost with its pod; configure spec.objectStorage on \
                 the ChemChatCluster",
                plan.max_replicas
            ),
        )
    } else {
        verdict(
            true,
            "SinglePod",
            "one server pod: media on its emptyDir".to_owned(),
        )
    }
}

/// The first thing other than the pods that keeps the tenant from being Ready: a backend
/// (this pass's answer, or the previous condition where there is none — while paused nothing
/// is provisioned and the last word stands), then the autoscaler.
fn blocker(
    previous: &ChemChatTenantStatus,
    provisioned: &[ProvisionStatus],
    autoscaling: &Autoscaling,
) -> Option<(String, String)> {
    let backend = types::BACKENDS.iter().find_map(|type_| {
        match provisioned.iter().find(|p| p.condition == *type_) {
            Some(p) => (!p.ready).then(|| (p.reason.to_owned(), p.message.clone())),
            None => previous
                .conditions
                .iter()
                .find(|c| c.type_ == *type_ && c.status != ConditionStatus::True)
                .map(|c| (c.reason.clone(), c.message.clone())),
        }
    });
    backend.or_else(|| {
        (!autoscaling.ready).then(|| (autoscaling.reason.clone(), autoscaling.message.clone()))
    })
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
        autoscaling,
        provisioned,
        paused,
        rotating,
    } = seen;
    let mut status = previous.cloned().unwrap_or_default();
    let was_serving = matches!(status.phase, TenantPhase::Ready | TenantPhase::Degraded);
    let (workload_phase, pods) = workload_verdict(plan, w, was_serving);
    let (phase, ready) = match blocker(&status, provisioned, autoscaling) {
        Some((reason, message)) if !plan.suspend => (
            if was_serving {
                TenantPhase::Degraded
            } else {
                TenantPhase::Provisioning
            },
            verdict(false, &reason, message),
        ),
        _ => (
            workload_phase,
            Verdict {
                status: pods.status,
                reason: pods.reason.clone(),
                message: pods.message.clone(),
            },
        ),
    };
    let ns = if namespace_exists {
        verdict(true, "Created", format!("namespace {}", plan.namespace))
    } else {
        verdict(false, "Creating", format!("namespace {}", plan.namespace))
    };
    let autoscaler = verdict(
        autoscaling.ready,
        &autoscaling.reason,
        autoscaling.message.clone(),
    );
    let backends = provisioned
        .iter()
        .map(|p| (p.condition, verdict(p.ready, p.reason, p.message.clone())));
    let ordered = [
        (types::READY, ready),
        (types::NAMESPACE_READY, ns),
        (types::WORKLOAD_READY, pods),
        (types::PROGRESSING, progressing_verdict(plan, w, rotating)),
        (types::AUTOSCALING_READY, autoscaler),
        (types::MEDIA_STORAGE_SHARED, media_verdict(plan)),
    ];
    for (type_, v) in ordered.into_iter().chain(backends) {
        conditions::set(
            &mut status.conditions,
            Want {
                type_,
                status: v.status,
                reason: &v.reason,
                message: v.message,
            },
            generation,
            now,
        );
    }
    if paused {
        let message = "annotation chemchat.io/reconcile=paused: no writes to children".to_owned();
        conditions::set(
            &mut status.conditions,
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
        conditions::remove(&mut status.conditions, types::PAUSED);
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
    status.replicas = w.available;
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
