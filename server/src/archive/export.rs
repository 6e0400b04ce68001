//! `tenant export`: one tenant's rows from one snapshot, then its media objects, streamed into an
//! archive (`format.rs`).

use super::format::{ArchiveWriter, CHUNK, FORMAT, Line, VERSION, hex};
use super::{ArchiveSummary, media_variants};
use crate::adapters::sql::{ARCHIVE_TABLES, Row, SqlStore};
use crate::domain::media::blob_key;
use crate::domain::{MediaId, TenantId};
use crate::ports::{BlobError, BlobStore};
use anyhow::Context;
use futures::TryStreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// What a password hash becomes without `--with-credentials`: no PHC string, so no password
/// verifies against it and the person sets a new one by a reset.
pub const NO_PASSWORD: &str = "!imported-without-password";

/// Writes `tenant`'s archive to `out`; `credentials` keeps password hashes and MFA secrets.
pub async fn export<W: AsyncWrite + Unpin>(
    store: &SqlStore,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    credentials: bool,
    now_ms: i64,
    out: W,
) -> anyhow::Result<ArchiveSummary> {
    let mut snapshot = store
        .tenant_snapshot(tenant)
        .await?
        .with_context(|| format!("unknown tenant `{tenant}`: nothing to export"))?;
    let mut writer = ArchiveWriter::new(out);
    let header = Line::Header {
        format: FORMAT.into(),
        version: VERSION,
        tenant: tenant.to_string(),
        exported_at_ms: now_ms,
        engine: store_engine(store).into(),
        credentials,
    };
    writer.line(&header).await?;
    let mut summary = ArchiveSummary::from_header(&header);
    let mut media = Vec::new();
    for &(table, column) in ARCHIVE_TABLES {
        let mut rows = std::pin::pin!(snapshot.rows(table, column).await?);
        let mut count = 0;
        while let Some(row) = rows.try_next().await? {
            let row = redact(table, row, credentials);
            if table == "media" {
                media.extend(
                    row.get("id")
                        .and_then(Value::as_str)
                        .and_then(MediaId::parse),
                );
            }
            writer
                .line(&Line::Row {
                    table: table.into(),
                    row,
                })
                .await?;
            count += 1;
        }
        summary.rows.insert(table.to_owned(), count);
    }
    drop(snapshot);
    for id in media {
        for variant in media_variants() {
            let key = blob_key(tenant, id, variant);
            let read = match blobs.get(&key, None).await {
                Ok(read) => read,
                Err(BlobError::NotFound) => continue,
                Err(error) => return Err(error).with_context(|| format!("reading {key}")),
            };
            let archived = format!("{id}/{}", variant.as_str());
            writer
                .line(&Line::Blob {
                    key: archived.clone(),
                    size: read.size,
                })
                .await?;
            let mut hash = Sha256::new();
            let mut pending = Vec::with_capacity(CHUNK);
            let mut total = 0u64;
            let mut body = read.body;
            while let Some(piece) = body.try_next().await? {
                hash.update(&piece);
                total += piece.len() as u64;
                pending.extend_from_slice(&piece);
                if pending.len() >= CHUNK {
                    let whole = pending.len() - pending.len() % CHUNK;
                    writer.chunks(&pending[..whole]).await?;
                    pending.drain(..whole);
                }
            }
            writer.chunks(&pending).await?;
            anyhow::ensure!(
                total == read.size,
                "{key} changed while it was exported ({total} of {} bytes)",
                read.size
            );
            let sha256 = hex(hash.finalize());
            writer.line(&Line::BlobEnd { sha256 }).await?;
            summary.blobs += 1;
            summary.blob_bytes += total;
        }
    }
    let written = writer
        .finish(summary.rows.clone(), summary.blobs, summary.blob_bytes)
        .await?;
    summary.archive_bytes = written;
    Ok(summary)
}

/// Writes the archive to `path` through a temporary file renamed into place, so a failed export
/// never leaves a file that looks whole.
pub async fn export_to_file(
    store: &SqlStore,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    credentials: bool,
    now_ms: i64,
    path: &std::path::Path,
) -> anyhow::Result<ArchiveSummary> {
    let partial = path.with_extension("partial");
    let file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut out = tokio::io::BufWriter::new(file);
    let result = export(store, blobs, tenant, credentials, now_ms, &mut out).await;
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
    };
    out.flush().await?;
    out.into_inner().sync_all().await?;
    tokio::fs::rename(&partial, path)
        .await
        .with_context(|| format!("cannot move the archive to {}", path.display()))?;
    Ok(summary)
}

fn store_engine(store: &SqlStore) -> &'static str {
    use crate::ports::Store;
    store.engine()
}

/// Credentials leave only when asked for.
fn redact(table: &str, mut row: Row, credentials: bool) -> Row {
    if table == "users" && !credentials {
        row.insert("password_hash".into(), NO_PASSWORD.into());
        row.insert("mfa_secret".into(), Value::Null);
        row.insert("mfa_last_step".into(), 0.into());
    }
    row
}
