//! A tenant's own S3 user against the scripted API server and moto (IAM, and an S3 that checks
//! IAM policies): under `tenantCredentials: PerTenant` (the default) the tenant's Secret gets
//! the key of an IAM user of its own — never the cluster's — which reaches its prefix only;
//! a settled pass makes no IAM call; deleting the key Secret rotates the key and retires the
//! old one only once no pod of an older version is left (also across an operator restart; a
//! suspended tenant has no pod to wait for); the tenant's deletion deletes the user;
//! IAM failing is a condition; `Shared` keeps the cluster's key.

use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use chemchat_backends::object_storage_users::{AccessKey, IamAdmin, tenant_user};
use chemchat_operator::build::BuildOptions;
use chemchat_operator::context::Context;
use chemchat_operator::tenant::reconcile;
use serde_json::{Value, json};

use crate::support::world::{
    CLUSTER, TENANT, current, deployment_reports, tenant, tenant_condition, world,
};
use crate::support::{EVENTS, FakeApi, Recorded, b64, decoded, event_note, events};

const KEY_SECRET: &str = "/api/v1/namespaces/chemchat-system/secrets/s3-user-acme";
const MEDIA_KEYS: &str = "/api/v1/namespaces/chemchat-system/secrets/media-keys";
const TENANT_ENV: &str = "/api/v1/namespaces/chemchat-acme/secrets/chemchat-server-env";
const REGION: &str = "us-east-1";

/// moto's endpoint and its admin's key (`make services`).
fn moto() -> (String, AccessKey) {
    let env = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: these tests need moto (IAM and S3). Run `make test`, or \
                 start the services with `make services` and export what it prints."
            )
        })
    };
    (
        env("CHEMCHAT_TEST_MOTO_ENDPOINT"),
        AccessKey::new(
            env("CHEMCHAT_TEST_MOTO_ACCESS_KEY"),
            env("CHEMCHAT_TEST_MOTO_SECRET_KEY"),
        ),
    )
}

fn iam() -> IamAdmin {
    let (endpoint, key) = moto();
    IamAdmin::new(Some(&endpoint), REGION, &key, Duration::from_secs(5))
}

fn s3(key: &AccessKey) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(key.id(), key.secret(), None, None, "test"))
        .endpoint_url(moto().0)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The error code of a PutObject, or `"ok"`.
async fn put(key: &AccessKey, bucket: &str, object: &str) -> String {
    let answer = s3(key)
        .put_object()
        .bucket(bucket)
        .key(object)
        .body(ByteStream::from_static(b"media"))
        .send()
        .await;
    answer.map_or_else(|e| e.code().unwrap_or("?").to_owned(), |_| "ok".to_owned())
}

/// The key the tenant's servers are given.
fn served_key(fake: &FakeApi) -> AccessKey {
    let env = fake
        .get(TENANT_ENV)
        .expect("the tenant's Secret is applied");
    AccessKey::new(
        decoded(&env, "CHEMCHAT_S3_ACCESS_KEY_ID"),
        decoded(&env, "CHEMCHAT_S3_SECRET_ACCESS_KEY"),
    )
}

/// Acme's world with a bucket of its own on moto as the cluster's object storage, whose
/// `credentialsSecretRef` holds moto's admin key; `mode` is `tenantCredentials`, if any.
async fn s3_world(
    mode: Option<&str>,
    deletion: &str,
) -> (
    std::sync::Arc<chemchat_operator::context::Context>,
    FakeApi,
    String,
) {
    let (endpoint, admin) = moto();
    let bucket = format!(
        "chemchat-op-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    s3(&admin)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let (ctx, fake) = world(tenant("Free", json!({"deletionPolicy": deletion})));
    let mut storage = json!({
        "endpoint": endpoint, "iamEndpoint": endpoint, "region": REGION, "bucket": bucket,
        "credentialsSecretRef": {"name": "media-keys"}
    });
    if let Some(mode) = mode {
        storage["tenantCredentials"] = json!(mode);
    }
    fake.edit(CLUSTER, |c| c["spec"]["objectStorage"] = storage);
    fake.insert(
        MEDIA_KEYS,
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "media-keys", "namespace": "chemchat-system"},
            "data": {"accessKeyId": b64(admin.id()), "secretAccessKey": b64(admin.secret())}}),
    );
    (ctx, fake, bucket)
}

fn ready(fake: &FakeApi) -> Value {
    let status = fake.get(TENANT).unwrap()["status"].clone();
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_tenant_gets_a_key_of_its_own_that_reaches_its_prefix_only() {
    let (ctx, fake, bucket) = s3_world(None, "Retain").await;
    let (_, admin) = moto();
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let key = served_key(&fake);
    assert_ne!(key.id(), admin.id(), "never the cluster's key");
    let kept = fake
        .get(KEY_SECRET)
        .expect("the key is kept in the cluster's namespace");
    assert_eq!(decoded(&kept, "accessKeyId"), key.id());
    assert_eq!(kept["metadata"]["ownerReferences"][0]["uid"], "tenant-uid");
    let user = tenant_user(&bucket, "acme");
    assert_eq!(kept["metadata"]["annotations"]["chemchat.io/s3-user"], user);
    assert_eq!(
        kept["metadata"]["annotations"]["chemchat.io/s3-older-keys-deleted"],
        "true"
    );
    assert_eq!(iam().key_ids(&user).await.unwrap(), [key.id()]);
    assert_eq!(put(&key, &bucket, "acme/m1/original").await, "ok");
    assert_eq!(
        put(&key, &bucket, "globex/m1/original").await,
        "AccessDenied"
    );

    // Settled: with IAM unreachable, a pass still succeeds and writes nothing, so it made no
    // IAM call.
    fake.edit(CLUSTER, |c| {
        c["spec"]["objectStorage"]["iamEndpoint"] = json!("http://127.0.0.1:9")
    });
    fake.take_log();
    reconcile(current(&fake), ctx).await.unwrap();
    let writes: Vec<String> = fake
        .take_log()
        .iter()
        .filter(|r| r.is_write() && r.path != EVENTS)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(served_key(&fake).id(), key.id());
}

/// The types of the Events in `log`, for "no Warning".
fn event_types(log: &[Recorded]) -> Vec<String> {
    log.iter()
        .filter(|r| r.path == EVENTS)
        .filter_map(|r| r.body.as_ref()?["type"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_rotated_key_retires_the_old_one_only_once_the_rollout_is_complete() {
    let (ctx, fake, bucket) = s3_world(Some("PerTenant"), "Retain").await;
    let user = tenant_user(&bucket, "acme");
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let old = served_key(&fake);
    deployment_reports(&fake, i64::MAX);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(fake.get(TENANT).unwrap()["status"]["phase"], "Ready");

    // Rotation: the tenant's Secret gets the new key, which rolls the pods; those of the
    // older template still hold the old key, so it keeps working.
    fake.remove(KEY_SECRET);
    fake.take_log();
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let new = served_key(&fake);
    assert_ne!(
        new.id(),
        old.id(),
        "the tenant's Secret carries the new key"
    );
    let mut keys = iam().key_ids(&user).await.unwrap();
    keys.sort();
    let mut both = vec![old.id().to_owned(), new.id().to_owned()];
    both.sort();
    assert_eq!(keys, both, "the old key is kept while the pods roll");
    assert_eq!(put(&old, &bucket, "acme/m2/original").await, "ok");
    assert_eq!(put(&new, &bucket, "acme/m2/original").await, "ok");
    let progressing = tenant_condition(&fake, "Progressing");
    assert_eq!(progressing["status"], "True");
    assert_eq!(progressing["reason"], "RotatingCredentials");
    let message = progressing["message"].as_str().unwrap();
    assert!(
        message.contains(new.id()) && message.contains(&user),
        "{message}"
    );
    assert_eq!(fake.get(TENANT).unwrap()["status"]["phase"], "Ready");
    let log = fake.take_log();
    assert!(!events(&log).contains(&"S3KeyRotated".to_owned()));
    assert!(!event_types(&log).contains(&"Warning".to_owned()));

    // Mid-rollout, seen by an operator that restarted: nothing but the cluster says where the
    // rotation stands, and the old pod is still there.
    let restarted = std::sync::Arc::new(Context::new(
        ctx.client.clone(),
        BuildOptions::default(),
        Some("restarted".into()),
    ));
    deployment_reports(&fake, 0);
    reconcile(current(&fake), restarted.clone()).await.unwrap();
    assert_eq!(iam().key_ids(&user).await.unwrap().len(), 2);
    assert_eq!(put(&old, &bucket, "acme/m3/original").await, "ok");
    assert_eq!(
        tenant_condition(&fake, "Progressing")["reason"],
        "RotatingCredentials"
    );

    // The rollout is complete: no pod holds the old key any more, and the next pass deletes it.
    deployment_reports(&fake, i64::MAX);
    fake.take_log();
    reconcile(current(&fake), restarted.clone()).await.unwrap();
    assert_eq!(iam().key_ids(&user).await.unwrap(), [new.id()]);
    assert_eq!(
        put(&old, &bucket, "acme/m4/original").await,
        "InvalidAccessKeyId"
    );
    assert_eq!(put(&new, &bucket, "acme/m4/original").await, "ok");
    assert_eq!(
        fake.get(KEY_SECRET).unwrap()["metadata"]["annotations"]["chemchat.io/s3-older-keys-deleted"],
        "true"
    );
    assert_eq!(tenant_condition(&fake, "Progressing")["reason"], "Settled");
    let note = event_note(&fake.take_log(), "S3KeyRotated");
    assert!(note.contains(&user) && note.contains(new.id()), "{note}");
    assert!(!note.contains(new.secret()), "{note}");

    // Settled: a further pass makes no IAM call and no Event.
    fake.take_log();
    reconcile(current(&fake), restarted).await.unwrap();
    assert!(events(&fake.take_log()).is_empty());
}

#[tokio::test]
async fn a_second_rotation_waits_until_the_first_has_rolled_out() {
    let (ctx, fake, bucket) = s3_world(Some("PerTenant"), "Retain").await;
    let user = tenant_user(&bucket, "acme");
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    deployment_reports(&fake, i64::MAX);
    let first = served_key(&fake);
    fake.remove(KEY_SECRET);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let second = served_key(&fake);
    deployment_reports(&fake, 0);

    // IAM allows two keys and both are in use: the third waits, the first keeps working.
    fake.remove(KEY_SECRET);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(ready(&fake)["reason"], "S3UserPending");
    assert_eq!(served_key(&fake).id(), second.id());
    assert_eq!(iam().key_ids(&user).await.unwrap().len(), 2);
    assert_eq!(put(&first, &bucket, "acme/m1/original").await, "ok");

    // Rolled out: the first key goes to make room, the second stays until the third has
    // rolled out in turn.
    deployment_reports(&fake, i64::MAX);
    reconcile(current(&fake), ctx).await.unwrap();
    let third = served_key(&fake);
    let mut keys = iam().key_ids(&user).await.unwrap();
    keys.sort();
    let mut expected = vec![second.id().to_owned(), third.id().to_owned()];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(
        put(&first, &bucket, "acme/m1/original").await,
        "InvalidAccessKeyId"
    );
}

#[tokio::test]
async fn a_suspended_tenant_has_no_pod_to_wait_for() {
    let (ctx, fake, bucket) = s3_world(Some("PerTenant"), "Retain").await;
    let user = tenant_user(&bucket, "acme");
    fake.edit(TENANT, |t| t["spec"]["suspend"] = json!(true));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    deployment_reports(&fake, 0);
    let old = served_key(&fake);
    fake.remove(KEY_SECRET);
    // The pass that applies the new key waits for the Deployment controller to see the new
    // template; once it has, there is no pod of any template and the old key goes.
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(iam().key_ids(&user).await.unwrap().len(), 2);
    reconcile(current(&fake), ctx).await.unwrap();
    let new = served_key(&fake);
    assert_ne!(new.id(), old.id());
    assert_eq!(iam().key_ids(&user).await.unwrap(), [new.id()]);
}

#[tokio::test]
async fn deleting_the_tenant_deletes_its_s3_user_whatever_the_policy() {
    let (ctx, fake, bucket) = s3_world(None, "Retain").await;
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let user = tenant_user(&bucket, "acme");
    assert_eq!(iam().key_ids(&user).await.unwrap().len(), 1);
    fake.edit(TENANT, |t| {
        t["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    });
    fake.take_log();
    reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(
        fake.get(TENANT).unwrap()["metadata"]["finalizers"],
        json!([])
    );
    let note = event_note(&fake.take_log(), "CleanedUp");
    assert!(
        note.contains(&format!("s3-user: deleted IAM user {user}")),
        "{note}"
    );
    assert_eq!(
        iam().delete_user(&user).await.unwrap(),
        chemchat_backends::Deleted::AlreadyGone
    );
}

#[tokio::test]
async fn iam_refusing_is_a_condition_and_a_retried_error() {
    let (ctx, fake, _) = s3_world(None, "Retain").await;
    // A key IAM does not know.
    fake.edit(MEDIA_KEYS, |s| {
        s["data"]["accessKeyId"] = json!(b64("AKIANOTAKEY00000000"));
    });
    let err = reconcile(current(&fake), ctx)
        .await
        .expect_err("a failed IAM call fails the reconcile, for backoff");
    assert!(err.to_string().contains("s3 user"), "{err}");
    let condition = ready(&fake);
    assert_eq!(condition["reason"], "S3UserFailed");
    let message = condition["message"].as_str().unwrap();
    assert!(
        message.contains("IAM") && message.contains("refused"),
        "{message}"
    );
    assert!(
        fake.get(TENANT_ENV).is_none(),
        "no pods on a key that does not exist"
    );
    assert!(fake.get(KEY_SECRET).is_none());
}

#[tokio::test]
async fn shared_keeps_the_clusters_key_and_makes_no_user() {
    let (ctx, fake, bucket) = s3_world(Some("Shared"), "Retain").await;
    reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(served_key(&fake).id(), moto().1.id());
    assert!(fake.get(KEY_SECRET).is_none());
    assert!(
        iam()
            .key_ids(&tenant_user(&bucket, "acme"))
            .await
            .unwrap()
            .is_empty()
    );
}
