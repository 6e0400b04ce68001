//! The Job that deletes a tenant's media objects and rows (`chemchat-server tenant purge <id>`)
//! when the tenant is deleted under `deletionPolicy: Delete`.
//!
//! It runs in the cluster's (platform) namespace, beside the Secret with the database URL, so
//! it does not depend on the tenant namespace, which is deleted first (that stops the tenant's
//! servers, so no row is written behind the purge).

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;
use kube::ResourceExt;

use super::jobs::{ServerJob, from_secret, job_name, plain, server_job};
use chemchat_crds::contract as env;

/// Prefix of the purge Job's name; the tenant id follows.
pub const PURGE_JOB_PREFIX: &str = "purge-";
/// Pod retries before the Job counts as failed (the operator then starts a new one later).
const BACKOFF_LIMIT: i32 = 2;
/// A purge that takes longer than this is stuck (a lock, an unreachable database).
const DEADLINE_SECONDS: i64 = 1_800;

/// Name of the tenant's purge Job.
pub fn purge_job_name(tenant: &str) -> String {
    job_name(PURGE_JOB_PREFIX, tenant)
}

/// The purge Job of `tenant`, owned by it (the garbage collector removes it with the tenant),
/// running the cluster's server image. `--missing-ok`: a pod retried after a purge that
/// finished must succeed, not refuse the now unknown id.
pub fn purge_job(tenant: &ChemChatTenant, cluster: &ChemChatCluster) -> Job {
    let name = tenant.name_any();
    let database = &cluster.spec.postgres.url_secret_ref;
    server_job(
        ServerJob {
            name: purge_job_name(&name),
            component: "purge",
            args: vec![
                "tenant".to_owned(),
                "purge".to_owned(),
                name.clone(),
                "--missing-ok".to_owned(),
            ],
            env: purge_env(cluster, &database.name, &database.key),
            backoff_limit: BACKOFF_LIMIT,
            deadline_seconds: DEADLINE_SECONDS,
            annotations: None,
        },
        tenant,
        cluster,
    )
}

/// The purge's configuration: the database (its role goes with its rows), the cluster's Redis
/// (the tenant's ACL user goes too), and the bucket (with the credentials from the cluster's
/// own Secret) so the tenant's `<tenant>/` prefix goes with its rows. Without object storage
/// the media were on the pods' own disks, which went with the namespace.
fn purge_env(cluster: &ChemChatCluster, db_secret: &str, db_key: &str) -> Vec<EnvVar> {
    let redis = &cluster.spec.redis.url_secret_ref;
    let mut vars = vec![
        from_secret(env::DATABASE_URL, db_secret, db_key),
        from_secret(env::REDIS_URL, &redis.name, &redis.key),
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
