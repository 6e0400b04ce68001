//! `IamAdmin` against moto, whose S3 checks IAM policies: a tenant's user reaches its own prefix
//! and no other tenant's; every step repeats safely.
//!
//! What moto 5.2.1 cannot check, and so is proven elsewhere: it ignores `StringLike`
//! conditions (the `s3:prefix` of the listing statement: `policy.rs`'s unit test checks the
//! document), it miscomputes the signature of a query value holding `/` (a listing with the
//! prefix `acme/`), it rejects presigned URLs once authentication is on, and it checks
//! DeleteObjects against the bucket instead of each key (the single DeleteObject is used here).

use std::time::Duration;

use aws_sdk_s3::Client as S3;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use chemchat_backends::Deleted;
use chemchat_backends::object_storage_users::{AccessKey, IamAdmin, UserOutcome, tenant_user};

use crate::support::{closed_port, moto, unique};

const REGION: &str = "us-east-1";

fn admin() -> IamAdmin {
    let (endpoint, key) = moto();
    IamAdmin::new(Some(&endpoint), REGION, &key, Duration::from_secs(5))
}

fn s3(key: &AccessKey) -> S3 {
    let (endpoint, _) = moto();
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(key.id(), key.secret(), None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    S3::from_conf(config)
}

/// A bucket of its own, made with the admin's key.
async fn bucket() -> String {
    let bucket = unique("chemchat-iam");
    s3(&moto().1)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    bucket
}

/// `tenant`'s user with its policy and a key, as the operator makes them.
async fn provisioned(admin: &IamAdmin, bucket: &str, tenant: &str) -> (String, AccessKey) {
    let user = tenant_user(bucket, tenant);
    assert_eq!(
        admin.ensure_user(&user).await.unwrap(),
        UserOutcome::Created
    );
    admin
        .put_media_policy(&user, REGION, bucket, tenant)
        .await
        .unwrap();
    let key = admin.create_key(&user).await.unwrap();
    (user, key)
}

/// The error code of an S3 call, or `"ok"`.
async fn put(client: &S3, bucket: &str, key: &str) -> String {
    let answer = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"media"))
        .send()
        .await;
    answer.map_or_else(|e| e.code().unwrap_or("?").to_owned(), |_| "ok".to_owned())
}

async fn get(client: &S3, bucket: &str, key: &str) -> String {
    let answer = client.get_object().bucket(bucket).key(key).send().await;
    match answer {
        Ok(object) => {
            let bytes = object.body.collect().await.unwrap().into_bytes();
            assert_eq!(&bytes[..], b"media");
            "ok".to_owned()
        }
        Err(e) => e.code().unwrap_or("?").to_owned(),
    }
}

async fn delete(client: &S3, bucket: &str, key: &str) -> String {
    let answer = client.delete_object().bucket(bucket).key(key).send().await;
    answer.map_or_else(|e| e.code().unwrap_or("?").to_owned(), |_| "ok".to_owned())
}

#[tokio::test]
async fn a_tenant_key_reaches_its_own_prefix_only() {
    let (admin, bucket) = (admin(), bucket().await);
    let (a, b) = (unique("a"), unique("b"));
    let (_, a_key) = provisioned(&admin, &bucket, &a).await;
    let (_, b_key) = provisioned(&admin, &bucket, &b).await;
    let (a_s3, b_s3) = (s3(&a_key), s3(&b_key));
    let mine = format!("{a}/media-1/original");
    let theirs = format!("{b}/media-2/original");
    assert_eq!(put(&a_s3, &bucket, &mine).await, "ok");
    assert_eq!(put(&b_s3, &bucket, &theirs).await, "ok");
    assert_eq!(get(&a_s3, &bucket, &mine).await, "ok");
    let head = a_s3.head_object().bucket(&bucket).key(&mine).send().await;
    assert_eq!(head.unwrap().content_length(), Some(5));
    // A multipart upload starts and is aborted under the tenant's prefix.
    let upload = a_s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key(format!("{a}/media-3/original"))
        .send()
        .await
        .unwrap();
    a_s3.abort_multipart_upload()
        .bucket(&bucket)
        .key(format!("{a}/media-3/original"))
        .upload_id(upload.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    // B's objects: neither read, nor overwritten, nor deleted with A's key.
    assert_eq!(get(&a_s3, &bucket, &theirs).await, "AccessDenied");
    assert_eq!(put(&a_s3, &bucket, &theirs).await, "AccessDenied");
    assert_eq!(delete(&a_s3, &bucket, &theirs).await, "AccessDenied");
    // Nor a key beside the prefix that only starts like it.
    assert_eq!(
        put(&a_s3, &bucket, &format!("{a}-corp/media/original")).await,
        "AccessDenied"
    );
    // Nor the bucket's own settings.
    let policy = a_s3.get_bucket_policy().bucket(&bucket).send().await;
    assert_eq!(policy.unwrap_err().code(), Some("AccessDenied"));
    assert_eq!(
        get(&b_s3, &bucket, &theirs).await,
        "ok",
        "B's object is intact"
    );
    assert_eq!(delete(&a_s3, &bucket, &mine).await, "ok");
    assert_eq!(get(&a_s3, &bucket, &mine).await, "NoSuchKey");
}

#[tokio::test]
async fn making_again_changes_nothing_and_deleting_twice_is_already_gone() {
    let (admin, bucket, tenant) = (admin(), bucket().await, unique("acme"));
    let (user, first) = provisioned(&admin, &bucket, &tenant).await;
    assert_eq!(
        admin.ensure_user(&user).await.unwrap(),
        UserOutcome::Unchanged
    );
    admin
        .put_media_policy(&user, REGION, &bucket, &tenant)
        .await
        .unwrap();
    assert_eq!(admin.key_ids(&user).await.unwrap(), [first.id()]);
    // Rotation: a second key, then every key but it goes; the first no longer signs.
    let second = admin.create_key(&user).await.unwrap();
    assert_ne!(first.id(), second.id());
    assert_eq!(
        admin
            .delete_keys_except(&user, Some(second.id()))
            .await
            .unwrap(),
        1
    );
    assert_eq!(admin.key_ids(&user).await.unwrap(), [second.id()]);
    let object = format!("{tenant}/media/original");
    assert_eq!(put(&s3(&second), &bucket, &object).await, "ok");
    assert_eq!(
        put(&s3(&first), &bucket, &object).await,
        "InvalidAccessKeyId"
    );
    assert_eq!(admin.delete_user(&user).await.unwrap(), Deleted::Deleted);
    assert_eq!(
        admin.delete_user(&user).await.unwrap(),
        Deleted::AlreadyGone
    );
    assert!(admin.key_ids(&user).await.unwrap().is_empty());
    assert_eq!(
        put(&s3(&second), &bucket, &object).await,
        "InvalidAccessKeyId"
    );
}

#[tokio::test]
async fn an_unreachable_iam_endpoint_is_named_and_keys_are_not_printed() {
    let key = AccessKey::new("AKIDEXAMPLE", "wJalrXUtnFEMI-s3cr3t");
    assert!(!format!("{key:?}").contains("s3cr3t"));
    let address = format!("http://{}", closed_port());
    let admin = IamAdmin::new(Some(&address), REGION, &key, Duration::from_secs(2));
    let err = admin.ensure_user("chemchat-acme").await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&address) && message.contains("IAM"),
        "{message}"
    );
    assert!(!message.contains("s3cr3t") && !format!("{admin:?}").contains("s3cr3t"));
}
