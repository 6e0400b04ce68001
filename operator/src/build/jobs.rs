//! The one-off Jobs that run the server image's subcommands in the cluster's (platform)
//! namespace, beside the Secrets they read: a deleted tenant's purge, a tenant's database role
//! and its Redis user. Each is owned by its tenant, so the garbage collector removes it with the
//! tenant.

use std::collections::BTreeMap;

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, PodSpec, PodTemplateSpec, ResourceRequirements,
    SecretKeySelector,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::owner_reference;
use super::workload::{restricted_container, restricted_pod};
use crate::labels;

/// Longest name of a Job: its pods carry the name as a label value (`job-name`).
const MAX_JOB_NAME: usize = 63;

/// `prefix` and the tenant id as a Job's name. Where the two are longer than a label allows
/// (tenant ids reach 54 characters), the id is cut and a hash of the whole id appended, so two
/// long ids sharing a beginning still name two Jobs.
pub(super) fn job_name(prefix: &str, tenant: &str) -> String {
    if prefix.len() + tenant.len() <= MAX_JOB_NAME {
        return format!("{prefix}{tenant}");
    }
    let digest = super::hash(&serde_json::Value::String(tenant.to_owned()));
    let keep = MAX_JOB_NAME.saturating_sub(prefix.len() + 1 + digest.len());
    let head: String = tenant.chars().take(keep).collect();
    format!("{prefix}{}-{digest}", head.trim_end_matches('-'))
}

/// What differs between the server Jobs.
pub(super) struct ServerJob {
    /// The Job's name.
    pub name: String,
    /// The `component` label, and the container's name.
    pub component: &'static str,
    /// `chemchat-server`'s arguments.
    pub args: Vec<String>,
    /// Its configuration.
    pub env: Vec<EnvVar>,
    /// Pod retries before the Job counts as failed (the operator then starts a new one later).
    pub backoff_limit: i32,
    /// Longer than this is stuck (a lock, an unreachable database).
    pub deadline_seconds: i64,
    /// Annotations of the Job.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `job` as a Job of `tenant`, running `cluster`'s server image under the restricted Pod
/// Security profile.
pub(super) fn server_job(
    job: ServerJob,
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
) -> Job {
    let tenant_name = tenant.name_any();
    let image = &cluster.spec.image;
    let quantity = |q: &str| Quantity(q.to_owned());
    let container = Container {
        name: job.component.to_owned(),
        image: Some(image.reference()),
        image_pull_policy: Some(image.pull_policy.as_str().to_owned()),
        args: Some(job.args),
        env: Some(job.env),
        resources: Some(ResourceRequirements {
            requests: Some(
                [
                    ("cpu".to_owned(), quantity("50m")),
                    ("memory".to_owned(), quantity("64Mi")),
                ]
                .into(),
            ),
            limits: Some(
                [
                    ("cpu".to_owned(), quantity("500m")),
                    ("memory".to_owned(), quantity("256Mi")),
                ]
                .into(),
            ),
            ..ResourceRequirements::default()
        }),
        security_context: Some(restricted_container()),
        ..Container::default()
    };
    let uid = tenant.uid().unwrap_or_default();
    Job {
        metadata: ObjectMeta {
            name: Some(job.name),
            namespace: cluster.namespace(),
            labels: Some(labels::labels(&tenant_name, job.component)),
            annotations: job.annotations,
            owner_references: (!uid.is_empty()).then(|| vec![owner_reference(&tenant_name, &uid)]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(job.backoff_limit),
            active_deadline_seconds: Some(job.deadline_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels::labels(&tenant_name, job.component)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    automount_service_account_token: Some(false),
                    security_context: Some(restricted_pod()),
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// A variable read from a key of a Secret in the Job's namespace.
pub(super) fn from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// A variable with a plain value.
pub(super) fn plain(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}
