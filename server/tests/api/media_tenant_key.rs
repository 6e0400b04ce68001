//! A server pinned to a tenant with the tenant's own S3 key — an IAM user made the operator's
//! way (`chemchat_backends::object_storage_users`), on moto, whose S3 checks IAM policies —
//! keeps media working within `<tenant>/`: upload, the image pipeline, downloads presigned with
//! that key; and that key reaches no other tenant's objects.
//!
//! moto 5.2.1 cannot check the rest with a key restricted to a prefix: it miscomputes the
//! signature of a query value holding `/` (every listing of `<tenant>/…`: the `/health` probe and
//! the listing before a deletion), refuses DeleteObjects unless the key may delete on the whole
//! bucket (AWS checks each key), and rejects presigned URLs once it checks signatures. The probe's
//! listing is shown against s3s-fs below; deletion through DeleteObjects by `media_api.rs`.

use std::time::Duration;

use crate::support::Engine;
use crate::support::api::api_user;
use crate::support::media::{download, jpeg_with_gps, processed, s3_blobs, upload};
use crate::support::server::TestServer;
use crate::support::services::unique_tenant;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use chemchat_backends::object_storage_users::{AccessKey, IamAdmin, tenant_user};
use reqwest::StatusCode;

const REGION: &str = "us-east-1";

/// moto's endpoint and its admin's key.
fn moto() -> (String, AccessKey) {
    let env = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: this test needs moto (IAM and S3). Run `make test`, or start \
                 the services with `make services` and export what it prints."
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

/// `tenant`'s IAM user, policy and key, as the operator makes them.
async fn tenant_key(bucket: &str, tenant: &str) -> AccessKey {
    let (endpoint, admin) = moto();
    let iam = IamAdmin::new(Some(&endpoint), REGION, &admin, Duration::from_secs(5));
    let user = tenant_user(bucket, tenant);
    iam.ensure_user(&user).await.unwrap();
    iam.put_media_policy(&user, REGION, bucket, tenant)
        .await
        .unwrap();
    iam.create_key(&user).await.unwrap()
}

/// Every object key in `bucket`, listed with the admin's key.
async fn objects(bucket: &str) -> Vec<String> {
    let listed = s3(&moto().1)
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_with_its_tenants_own_s3_key_serves_media_within_its_prefix() {
    let (endpoint, admin) = moto();
    let bucket = format!(
        "chemchat-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    s3(&admin)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let (acme, globex) = (unique_tenant("acme"), unique_tenant("globex"));
    let (acme, globex) = (acme.as_str().to_owned(), globex.as_str().to_owned());
    let acme_key = tenant_key(&bucket, &acme).await;
    let globex_key = tenant_key(&bucket, &globex).await;
    let theirs = format!("{globex}/m1/original");
    s3(&globex_key)
        .put_object()
        .bucket(&bucket)
        .key(&theirs)
        .body(ByteStream::from_static(b"globex's"))
        .send()
        .await
        .unwrap();
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.tenant_id = Some(acme.clone());
        s.s3_endpoint = Some(endpoint.clone());
        s.s3_bucket = Some(bucket.clone());
        s.s3_access_key_id = Some(acme_key.id().to_owned().into());
        s.s3_secret_access_key = Some(acme_key.secret().to_owned().into());
    })
    .await;

    // Upload and the pipeline: the original and its renditions, all under acme/.
    let alice = api_user(&server, None, "alice").await;
    let photo = jpeg_with_gps(1600, 1200);
    let (status, created) = upload(&server, &alice, "photo.jpg", "image/jpeg", &photo).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let ready = processed(&server, &alice, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let mine: Vec<String> = objects(&bucket)
        .await
        .into_iter()
        .filter(|k| k.contains(&id))
        .collect();
    assert!(mine.len() >= 2, "the original and a rendition: {mine:?}");
    assert!(
        mine.iter().all(|k| k.starts_with(&format!("{acme}/"))),
        "{mine:?}"
    );

    // A download is a URL presigned with acme's key, for an object under acme/.
    let path = format!("/api/v1/media/{id}/download?variant=original");
    let (status, headers, _) = download(&server, &alice, &path, &[]).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = headers["location"].to_str().unwrap();
    assert!(
        location.contains(&format!("/{bucket}/{acme}/{id}/")),
        "{location}"
    );
    assert!(
        location.contains(&format!("X-Amz-Credential={}%2F", acme_key.id())),
        "{location}"
    );
    // moto refuses every presigned URL once it checks signatures; the same object read with
    // acme's key through the SDK shows the key reaches what the URL names.
    let served = s3(&acme_key)
        .get_object()
        .bucket(&bucket)
        .key(format!("{acme}/{id}/original"))
        .send()
        .await
        .unwrap();
    let bytes = served.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..2], [0xFF, 0xD8], "a JPEG");

    // Acme's key reaches no other tenant's object, in either direction.
    let acme_s3 = s3(&acme_key);
    let read = acme_s3
        .get_object()
        .bucket(&bucket)
        .key(&theirs)
        .send()
        .await;
    assert_eq!(read.unwrap_err().code(), Some("AccessDenied"));
    let write = acme_s3
        .put_object()
        .bucket(&bucket)
        .key(&theirs)
        .body(ByteStream::from_static(b"overwritten"))
        .send()
        .await;
    assert_eq!(write.unwrap_err().code(), Some("AccessDenied"));
    server.stop().await;
}

/// A pinned server's `/health` lists one key within `<tenant>/` (all a tenant's own key may
/// list) instead of asking for the bucket: up on a bucket that exists, down on one that does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_servers_s3_probe_lists_within_its_tenant() {
    let bucket = format!(
        "chemchat-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    s3_blobs(&bucket).ensure_bucket().await.unwrap();
    for (bucket, expected) in [(bucket.as_str(), "up"), ("chemchat-no-such-bucket", "down")] {
        let server = TestServer::start_with(Engine::Sqlite, |s| {
            let (key, secret) = crate::support::services::s3_credentials();
            s.tenant_id = Some(unique_tenant("acme").as_str().to_owned());
            s.s3_endpoint = Some(crate::support::services::s3_endpoint());
            s.s3_bucket = Some(bucket.to_owned());
            s.s3_access_key_id = Some(key.into());
            s.s3_secret_access_key = Some(secret.into());
        })
        .await;
        let (_, health) = crate::health_metrics::health(&server).await;
        assert_eq!(
            health["dependencies"]["s3"]["status"], expected,
            "{bucket}: {health}"
        );
        server.stop().await;
    }
}
