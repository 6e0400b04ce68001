//! The Job that deletes a tenant's rows (`chemchat-server tenant purge <id>`) when the tenant
//! is deleted under `deletionPolicy: Delete`.
//!
//! It runs in the cluster's (platform) namespace, beside the Secret with the database URL, so
//! it does not depend on the tenant namespace, which is deleted first (that stops the tenant's
//! servers, so no row is written behind the purge).

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
use chemchat_crds::contract as env;

/// Prefix of the purge Job's name; the tenant id follows.
pub const PURGE_JOB_PREFIX: &str = "purge-";
/// Pod retries before the Job counts as failed (the operator then starts a new one later).
const BACKOFF_LIMIT: i32 = 2;
/// A purge that takes longer than this is stuck (a lock, an unreachable database).
const DEADLINE_SECONDS: i64 = 1_800;

/// Name of the tenant's purge Job.
pub fn purge_job_name(tenant: &str) -> String {
    format!("{PURGE_JOB_PREFIX}{tenant}")
}

/// The purge Job of `tenant`, owned by it (the garbage collector removes it with the tenant),
/// running the cluster's server image. `--missing-ok`: a pod retried after a purge that
/// finished must succeed, not refuse the now unknown id.
pub fn purge_job(tenant: &ChemChatTenant, cluster: &ChemChatCluster) -> Job {
    let name = tenant.name_any();
    let image = &cluster.spec.image;
    let database = &cluster.spec.postgres.url_secret_ref;
    let quantity = |q: &str| Quantity(q.to_owned());
    let container = Container {
        name: "purge".to_owned(),
        image: Some(image.reference()),
        image_pull_policy: Some(image.pull_policy.as_str().to_owned()),
        args: Some(vec![
            "tenant".to_owned(),
            "purge".to_owned(),
            name.clone(),
            "--missing-ok".to_owned(),
        ]),
        env: Some(vec![
            EnvVar {
                name: env::DATABASE_URL.to_owned(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: database.name.clone(),
                        key: database.key.clone(),
                        optional: None,
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
            EnvVar {
                name: env::LOG_FORMAT.to_owned(),
                value: Some("json".to_owned()),
                ..EnvVar::default()
            },
        ]),
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
            name: Some(purge_job_name(&name)),
            namespace: cluster.namespace(),
            labels: Some(labels::labels(&name, "purge")),
            owner_references: (!uid.is_empty()).then(|| vec![owner_reference(&name, &uid)]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(BACKOFF_LIMIT),
            active_deadline_seconds: Some(DEADLINE_SECONDS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels::labels(&name, "purge")),
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
