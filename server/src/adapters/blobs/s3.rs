//! Media in an S3 bucket (AWS S3, MinIO, any SigV4 store), selected by `CHEMCHAT_S3_ENDPOINT` /
//! `CHEMCHAT_S3_BUCKET`.
//!
//! Uploads stream: a body that fits one part is one `PutObject`; a larger one is a multipart
//! upload of [`PART_BYTES`] parts, aborted on any failure, so memory stays at one part per upload
//! whatever the file's size.

use crate::ports::{BlobBody, BlobError, BlobRead, BlobStore, ByteRange, DownloadAs, Presigned};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Builder, Credentials, Region, RequestChecksumCalculation,
    ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// Size of a multipart upload's parts (S3's minimum is 5 MiB, except for the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// Where the bucket is and how to sign for it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Endpoint URL of an S3-compatible store; `None` for AWS S3.
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: String,
    /// Its region.
    pub region: String,
    /// Access key id.
    pub access_key_id: SecretString,
    /// Secret access key.
    pub secret_access_key: SecretString,
    /// Bucket in the path (`endpoint/bucket/key`) rather than the host name; what MinIO and
    /// most self-hosted stores need.
    pub path_style: bool,
}

/// Objects in one bucket.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
    /// Where `/health` looks: `Some("<tenant>/")` for a server pinned to a tenant, whose key
    /// (the operator's per-tenant S3 user) may list only there; `None` asks for the bucket.
    probe_prefix: Option<String>,
}

impl S3Blobs {
    /// A client for the bucket. Nothing is contacted until the first request.
    pub fn new(settings: &S3Settings) -> Self {
        let credentials = Credentials::new(
            settings.access_key_id.expose_secret(),
            settings.secret_access_key.expose_secret(),
            None,
            None,
            "chemchat",
        );
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(30))
            .build();
        let mut config = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(settings.path_style)
            .timeout_config(timeouts)
            // Checksums only where S3 requires them: S3-compatible stores differ in which of
            // the newer checksum headers they accept, and presigned URLs must not carry them.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
            probe_prefix: None,
        }
    }

    /// The same client, whose `/health` probe lists within `prefix` (`<tenant>/`) instead of
    /// asking for the bucket: `HeadBucket` needs `s3:ListBucket` on the whole bucket, which a
    /// tenant's own key does not have.
    pub fn probing_within(mut self, prefix: impl Into<String>) -> Self {
        self.probe_prefix = Some(prefix.into());
        self
    }

    /// Creates the bucket unless it exists (test set-ups; production buckets are provisioned).
    pub async fn ensure_bucket(&self) -> Result<(), BlobError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(failed(e)),
        }
    }

    async fn put_multipart(
        &self,
        key: &str,
        first: Bytes,
        body: &mut BlobBody,
        limit: u64,
    ) -> Result<u64, BlobError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(failed)?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| BlobError::Unavailable(anyhow::anyhow!("no upload id in the answer")))?
            .to_owned();
        let result = self.upload_parts(key, &upload_id, first, body, limit).await;
        if result.is_err() {
            // Best effort: a bucket lifecycle rule for incomplete uploads catches what this misses.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        first: Bytes,
        body: &mut BlobBody,
        limit: u64,
    ) -> Result<u64, BlobError> {
        let mut parts = Vec::new();
        let mut written = first.len() as u64;
        let mut next = Some(first);
        while let Some(part) = next.take() {
            let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
            let uploaded = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(part))
                .send()
                .await
                .map_err(failed)?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(uploaded.e_tag().map(str::to_owned))
                    .build(),
            );
            let chunk = fill_part(body).await?;
            if !chunk.is_empty() {
                written += chunk.len() as u64;
                if written > limit {
                    return Err(BlobError::TooLarge { limit });
                }
                next = Some(chunk);
            }
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(failed)?;
        Ok(written)
    }
}

impl S3Blobs {
    /// Whether `key` exists, by listing it. S3 answers a missing object with 403 instead of 404
    /// unless the caller may `s3:ListBucket` on the whole bucket, which a tenant's own key may
    /// not (it may list within its prefix only): after a 403, this tells "missing" from
    /// "refused".
    async fn listed(&self, key: &str) -> Result<bool, BlobError> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(key)
            .max_keys(1)
            .send()
            .await
            .map_err(failed)?;
        Ok(page.contents().iter().any(|o| o.key() == Some(key)))
    }
}

/// The answer was 403 Forbidden.
fn forbidden<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() == 403)
}

/// Reads the body until one part is full or the body ends.
async fn fill_part(body: &mut BlobBody) -> Result<Bytes, BlobError> {
    let mut part = BytesMut::new();
    while part.len() < PART_BYTES {
        match body.next().await {
            Some(chunk) => part.extend_from_slice(&chunk.map_err(BlobError::Interrupted)?),
            None => break,
        }
    }
    Ok(part.freeze())
}

fn failed<E, R>(e: SdkError<E, R>) -> BlobError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    BlobError::Unavailable(anyhow::anyhow!(
        "s3: {}",
        aws_sdk_s3::error::DisplayErrorContext(e)
    ))
}

/// The whole object's size from a `Content-Range: bytes a-b/size` answer.
fn total_size(content_range: Option<&str>, content_length: Option<i64>) -> u64 {
    content_range
        .and_then(|r| r.rsplit('/').next())
        .and_then(|size| size.parse().ok())
        .or_else(|| content_length.and_then(|l| u64::try_from(l).ok()))
        .unwrap_or(0)
}

#[async_trait]
impl BlobStore for S3Blobs {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn put(&self, key: &str, mut body: BlobBody, limit: u64) -> Result<u64, BlobError> {
        let first = fill_part(&mut body).await?;
        if first.len() as u64 > limit {
            return Err(BlobError::TooLarge { limit });
        }
        if first.len() < PART_BYTES {
            let size = first.len() as u64;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(first))
                .send()
                .await
                .map_err(failed)?;
            return Ok(size);
        }
        self.put_multipart(key, first, &mut body, limit).await
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError> {
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range.map(|r| format!("bytes={}-{}", r.start, r.end)))
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(BlobError::NotFound);
            }
            Err(e) if forbidden(&e) && !self.listed(key).await? => return Err(BlobError::NotFound),
            Err(e) => return Err(failed(e)),
        };
        let size = total_size(answer.content_range(), answer.content_length());
        let body: BlobBody = Box::pin(futures::stream::unfold(
            answer.body,
            |mut body| async move {
                body.next()
                    .await
                    .map(|chunk| (chunk.map_err(std::io::Error::other), body))
            },
        ));
        Ok(BlobRead { size, body })
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(head.content_length().and_then(|l| u64::try_from(l).ok())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) if forbidden(&e) && !self.listed(key).await? => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        let mut deleted = 0u64;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failed)?;
            let ids: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let count = ids.len() as u64;
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| BlobError::Unavailable(e.into()))?;
            let answer = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(failed)?;
            // DeleteObjects answers 200 and lists the keys it refused (a key that may not
            // delete them, for one): those objects are still there.
            if let Some(refused) = answer.errors().first() {
                return Err(BlobError::Unavailable(anyhow::anyhow!(
                    "s3: DeleteObjects kept {} of {count} objects, {} first: {} ({})",
                    answer.errors().len(),
                    refused.key().unwrap_or("?"),
                    refused.code().unwrap_or("?"),
                    refused.message().unwrap_or("no message")
                )));
            }
            deleted += count;
        }
        Ok(deleted)
    }

    async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        download: DownloadAs<'_>,
    ) -> Result<Option<Presigned>, BlobError> {
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| BlobError::Unavailable(e.into()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type(download.content_type)
            .response_content_disposition(download.disposition)
            .presigned(config)
            .await
            .map_err(failed)?;
        Ok(Some(presigned(&request)))
    }

    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        size: u64,
        content_type: &str,
    ) -> Result<Option<Presigned>, BlobError> {
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| BlobError::Unavailable(e.into()))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .presigned(config)
            .await
            .map_err(failed)?;
        Ok(Some(presigned(&request)))
    }
}

fn presigned(request: &aws_sdk_s3::presigning::PresignedRequest) -> Presigned {
    Presigned {
        url: request.uri().to_owned(),
        headers: request
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
    }
}

#[async_trait::async_trait]
impl crate::ports::Probe for S3Blobs {
    fn name(&self) -> &'static str {
        "s3"
    }

    /// `HeadBucket`, or for a tenant's server a listing of one key within its prefix: the
    /// bucket exists and these credentials may use it (where this server works).
    async fn check(&self) -> anyhow::Result<()> {
        match &self.probe_prefix {
            None => {
                self.client
                    .head_bucket()
                    .bucket(&self.bucket)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("HeadBucket {}: {}", self.bucket, e.into_service_error())
                    })?;
            }
            Some(prefix) => {
                self.client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .max_keys(1)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "ListObjectsV2 {}/{prefix}: {}",
                            self.bucket,
                            e.into_service_error()
                        )
                    })?;
            }
        }
        Ok(())
    }
}
