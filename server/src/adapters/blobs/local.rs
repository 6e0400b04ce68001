//! Media on a local folder: the embedded default (`CHEMCHAT_MEDIA_DIR`).
//!
//! An object is written to a temporary file beside its final path and renamed into place once
//! complete, so a reader never sees half an object and a failed upload leaves nothing behind.

use crate::ports::{BlobBody, BlobError, BlobRead, BlobStore, ByteRange, DownloadAs, Presigned};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// Chunk size when streaming a file out.
const READ_CHUNK: usize = 64 * 1024;

/// Objects as files under one folder, keys as relative paths.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Keeps objects under `root` (created when missing).
    pub async fn open(root: PathBuf) -> Result<Self, BlobError> {
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(unavailable)?;
        Ok(Self { root })
    }

    /// The path of a key. Keys are built from ids, but a key that could leave the folder is
    /// refused rather than trusted.
    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        let relative = Path::new(key.trim_end_matches('/'));
        let inside = !key.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(BlobError::Unavailable(anyhow::anyhow!(
                "invalid object key {key:?}"
            )));
        }
        Ok(self.root.join(relative))
    }
}

fn unavailable(e: std::io::Error) -> BlobError {
    BlobError::Unavailable(e.into())
}

fn not_found_or(e: std::io::Error) -> BlobError {
    if e.kind() == std::io::ErrorKind::NotFound {
        BlobError::NotFound
    } else {
        unavailable(e)
    }
}

/// A temporary name beside `path`, unique per write.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".part-{}", uuid::Uuid::new_v4()));
    path.with_file_name(name)
}

async fn write_all(
    file: &mut tokio::fs::File,
    mut body: BlobBody,
    limit: u64,
) -> Result<u64, BlobError> {
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(BlobError::Interrupted)?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(BlobError::TooLarge { limit });
        }
        file.write_all(&chunk).await.map_err(unavailable)?;
    }
    file.flush().await.map_err(unavailable)?;
    file.sync_all().await.map_err(unavailable)?;
    Ok(written)
}

#[async_trait]
impl BlobStore for LocalBlobs {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn put(&self, key: &str, body: BlobBody, limit: u64) -> Result<u64, BlobError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(unavailable)?;
        }
        let part = temporary(&path);
        let mut file = tokio::fs::File::create(&part).await.map_err(unavailable)?;
        let result = write_all(&mut file, body, limit).await;
        drop(file);
        match result {
            Ok(written) => {
                tokio::fs::rename(&part, &path).await.map_err(unavailable)?;
                Ok(written)
            }
            Err(e) => {
                // Best effort: the part file has a unique name, so one left by a crash harms
                // nothing but disk, and the item's prefix is deleted with it.
                let _ = tokio::fs::remove_file(&part).await;
                Err(e)
            }
        }
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Bytes,
        _content_type: &str,
    ) -> Result<(), BlobError> {
        let limit = bytes.len() as u64;
        let body: BlobBody = Box::pin(futures::stream::once(async move { Ok(bytes) }));
        self.put(key, body, limit).await.map(drop)
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError> {
        let mut file = tokio::fs::File::open(self.path(key)?)
            .await
            .map_err(not_found_or)?;
        let size = file.metadata().await.map_err(unavailable)?.len();
        let body: BlobBody = match range {
            None => Box::pin(ReaderStream::with_capacity(file, READ_CHUNK)),
            Some(range) => {
                file.seek(SeekFrom::Start(range.start))
                    .await
                    .map_err(unavailable)?;
                Box::pin(ReaderStream::with_capacity(
                    file.take(range.len()),
                    READ_CHUNK,
                ))
            }
        };
        Ok(BlobRead { size, body })
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        // Prefixes are whole key segments (`<tenant>/` or `<tenant>/<id>/`): a folder here.
        let dir = self.path(prefix)?;
        let mut count = 0u64;
        let mut stack = vec![dir.clone()];
        while let Some(next) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&next).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(unavailable(e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(unavailable)? {
                if entry.file_type().await.map_err(unavailable)?.is_dir() {
                    stack.push(entry.path());
                } else {
                    count += 1;
                }
            }
        }
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(count),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(count),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn presign_get(
        &self,
        _key: &str,
        _ttl: Duration,
        _download: DownloadAs<'_>,
    ) -> Result<Option<Presigned>, BlobError> {
        Ok(None)
    }

    async fn presign_put(
        &self,
        _key: &str,
        _ttl: Duration,
        _size: u64,
        _content_type: &str,
    ) -> Result<Option<Presigned>, BlobError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_cannot_leave_the_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = LocalBlobs::open(dir.path().to_path_buf())
            .await
            .expect("open");
        for key in ["../x", "/etc/passwd", "a/../../b", ""] {
            assert!(blobs.path(key).is_err(), "{key}");
        }
        assert!(blobs.path("acme/0190/original").is_ok());
    }
}
