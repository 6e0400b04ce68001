//! The Job that deletes a tenant's media objects and rows (`chemchat-server tenant purge <id>`)
//! when the tenant is deleted under `deletionPolicy: Delete`.
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
        env: Some(purge_env(cluster, &database.name, &database.key)),
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

/// The purge's configuration: the database, and the bucket (with the credentials from the
/// cluster's own Secret) so the tenant's `<tenant>/` prefix goes with its rows. Without object
/// storage the media were on the pods' own disks, which went with the namespace.
fn purge_env(cluster: &ChemChatCluster, db_secret: &str, db_key: &str) -> Vec<EnvVar> {
    let from_secret = |name: &str, secret: &str, key: &str| EnvVar {
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
    };
    let plain = |name: &str, value: &str| EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    };
    let mut vars = vec![
        from_secret(env::DATABASE_URL, db_secret, db_key),
        plain(env::LOG_FORMAT, "json"),
    ];
    if let Some(s3) = &cluster.spec.object_storage {
        if let Some(endpoint) = &s3.endpoint {
            vars.push(plain(env::S3_ENDPOINT, endpoint));
        }
        vars.push(plain(env::S3_BUCKET, &s3.bucket));
        vars.push(plain(env::S3_REGION, &s3.region));
        let credentials = &s3.credentials_secret_ref.name;
        vars.push(from_secret(
            env::S3_ACCESS_KEY_ID,
            credentials,
            "accessKeyId",
        ));
        vars.push(from_secret(
            env::S3_SECRET_ACCESS_KEY,
            credentials,
            "secretAccessKey",
        ));
    }
    vars
}
