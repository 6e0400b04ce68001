//! The `BlobStore` port: where media bytes live (a local folder or an S3 bucket).
//!
//! Keys are `<tenant>/<media id>/<variant>` (`domain::media::blob_key`). Objects are written once
//! and never changed in place except by the media pipeline before an item is ready, so a key and
//! its size make a strong validator.

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use std::fmt::Debug;
use std::pin::Pin;
use std::time::Duration;

/// A body streamed in or out of the store.
pub type BlobBody = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No object under that key.
    #[error("no such object")]
    NotFound,
    /// The body ran past the limit given to [`BlobStore::put`]; nothing was kept.
    #[error("the body exceeds {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The body's own stream failed (the client went away); nothing was kept.
    #[error("the upload was interrupted: {0}")]
    Interrupted(#[source] std::io::Error),
    /// The store cannot be reached or refused the request.
    #[error("media storage unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
}

/// Bytes `start..=end` of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte, inclusive.
    pub end: u64,
}

impl ByteRange {
    /// How many bytes the range holds.
    pub fn len(self) -> u64 {
        self.end - self.start + 1
    }

    /// Never: a range holds at least its first byte.
    pub fn is_empty(self) -> bool {
        false
    }
}

/// An object being read.
#[allow(missing_debug_implementations)]
pub struct BlobRead {
    /// The whole object's size.
    pub size: u64,
    /// The bytes asked for (the whole object, or the range).
    pub body: BlobBody,
}

/// A request a client makes straight to the store, signed by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// The URL.
    pub url: String,
    /// Headers the client must send with it (signed along with the URL).
    pub headers: Vec<(String, String)>,
}

/// How a presigned download presents itself.
#[derive(Debug, Clone, Copy)]
pub struct DownloadAs<'a> {
    /// `Content-Type` of the response.
    pub content_type: &'a str,
    /// `Content-Disposition` of the response.
    pub disposition: &'a str,
}

/// Object storage for media.
#[async_trait]
pub trait BlobStore: Send + Sync + Debug + 'static {
    /// `local` or `s3`, for logs and metrics.
    fn kind(&self) -> &'static str;

    /// Stores `body` under `key`, streaming: never more than a part in memory. Past `limit`
    /// bytes it stops with [`BlobError::TooLarge`] and keeps nothing; returns the bytes stored.
    async fn put(&self, key: &str, body: BlobBody, limit: u64) -> Result<u64, BlobError>;

    /// Stores a small object held in memory (a rendition).
    async fn put_bytes(&self, key: &str, bytes: Bytes, content_type: &str)
    -> Result<(), BlobError>;

    /// Reads an object, or one range of it.
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError>;

    /// The size of an object, `None` when there is none.
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError>;

    /// Deletes every object whose key starts with `prefix`; returns how many. Deleting what is
    /// not there is not an error.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError>;

    /// A URL the client may GET for `ttl` without the server in the path; `None` when the store
    /// cannot sign one (a local folder: the server streams the bytes itself).
    async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        download: DownloadAs<'_>,
    ) -> Result<Option<Presigned>, BlobError>;

    /// A URL the client may PUT exactly `size` bytes of `content_type` to for `ttl`; `None` when
    /// the store cannot sign one (the server then hands out its own signed upload URL).
    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        size: u64,
        content_type: &str,
    ) -> Result<Option<Presigned>, BlobError>;
}

/// Reads up to `n` bytes from the start of an object (for sniffing a direct upload).
pub async fn read_head(store: &dyn BlobStore, key: &str, n: u64) -> Result<Bytes, BlobError> {
    use futures::StreamExt;
    let size = store.size(key).await?.ok_or(BlobError::NotFound)?;
    if size == 0 {
        return Ok(Bytes::new());
    }
    let range = ByteRange {
        start: 0,
        end: n.min(size) - 1,
    };
    let mut read = store.get(key, Some(range)).await?;
    let mut head = Vec::with_capacity(usize::try_from(range.len()).unwrap_or(0));
    while let Some(chunk) = read.body.next().await {
        head.extend_from_slice(&chunk.map_err(|e| BlobError::Unavailable(e.into()))?);
    }
    Ok(head.into())
}
