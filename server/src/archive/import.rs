//! `tenant import`: a dry run reads the whole archive and checks everything (format, order,
//! tenant, every object's size and hash, the counts, the archive's checksum) without writing;
//! an import does the same first, then writes every row in one transaction, puts the objects,
//! and commits only after the second reading verified the checksum again. A failure leaves the
//! tenant as it was: empty.

use super::ArchiveSummary;
use super::format::{ArchiveError, ArchiveReader, FORMAT, Line, VERSION, decode_chunk, hex};
use crate::adapters::sql::{ARCHIVE_TABLES, Row, SqlStore, tenant_column};
use crate::domain::media::{Variant, blob_key};
use crate::domain::{MediaId, TenantId};
use crate::ports::{BlobBody, BlobStore};
use anyhow::Context;
use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::Path;
use tokio::io::{AsyncBufRead, BufReader};

/// Rows written per statement.
const ROW_BATCH: usize = 500;

/// Reads and checks a whole archive; writes nothing.
pub async fn validate<R: AsyncBufRead + Unpin>(input: R) -> Result<ArchiveSummary, ArchiveError> {
    let mut reader = ArchiveReader::new(input);
    let mut summary = match reader.next().await? {
        Some(header @ Line::Header { .. }) => check_header(&reader, &header)?,
        _ => return Err(reader.malformed("the first line must be the header")),
    };
    // Every table is named, empty ones too, as the export names them.
    for (table, _) in ARCHIVE_TABLES {
        summary.rows.insert((*table).to_owned(), 0);
    }
    let mut table_at = 0;
    let mut media: HashSet<MediaId> = HashSet::new();
    let mut blobs_started = false;
    loop {
        let Some(line) = reader.next().await? else {
            return Err(reader.malformed("nothing after the end record"));
        };
        match line {
            Line::Row { table, row } => {
                if blobs_started {
                    return Err(reader.malformed("a row after the media objects"));
                }
                let at = ARCHIVE_TABLES
                    .iter()
                    .position(|(name, _)| *name == table)
                    .ok_or_else(|| reader.malformed(format!("unknown table {table}")))?;
                if at < table_at {
                    return Err(reader.malformed(format!("table {table} out of order")));
                }
                table_at = at;
                let (_, column) = ARCHIVE_TABLES[at];
                if row.get(column).and_then(Value::as_str) != Some(summary.tenant.as_str()) {
                    return Err(reader.malformed(format!("a {table} row of another tenant")));
                }
                if table == "media" {
                    let id = row
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(MediaId::parse);
                    media.insert(id.ok_or_else(|| reader.malformed("a media row without id"))?);
                }
                *summary.rows.entry(table).or_default() += 1;
            }
            Line::Blob { key, size } => {
                blobs_started = true;
                parse_key(&key)
                    .filter(|(id, _)| media.contains(id))
                    .ok_or_else(|| reader.malformed(format!("object {key} of no media row")))?;
                let mut object = Object::new(size);
                while object.next(&mut reader).await?.is_some() {}
                summary.blobs += 1;
                summary.blob_bytes += size;
            }
            Line::End {
                rows,
                blobs,
                blob_bytes,
                ..
            } => {
                let counted: Vec<(&String, &u64)> =
                    summary.rows.iter().filter(|(_, n)| **n > 0).collect();
                let claimed: Vec<(&String, &u64)> = rows.iter().filter(|(_, n)| **n > 0).collect();
                if counted != claimed || blobs != summary.blobs || blob_bytes != summary.blob_bytes
                {
                    return Err(reader.malformed("the end record's counts differ from the archive"));
                }
                return Ok(summary);
            }
            Line::Header { .. } | Line::Chunk { .. } | Line::BlobEnd { .. } => {
                return Err(reader.malformed("a record out of place"));
            }
        }
    }
}

fn check_header<R>(reader: &ArchiveReader<R>, header: &Line) -> Result<ArchiveSummary, ArchiveError>
where
    R: AsyncBufRead + Unpin,
{
    let Line::Header {
        format,
        version,
        tenant,
        ..
    } = header
    else {
        return Err(reader.malformed("the first line must be the header"));
    };
    if format != FORMAT {
        return Err(reader.malformed(format!("not a ChemChat tenant archive ({format})")));
    }
    if *version != VERSION {
        return Err(reader.malformed(format!(
            "archive version {version}; this server reads version {VERSION}"
        )));
    }
    if TenantId::parse(tenant).is_err() {
        return Err(reader.malformed(format!("`{tenant}` is not a tenant id")));
    }
    Ok(ArchiveSummary::from_header(header))
}

/// `<media id>/<variant>`.
fn parse_key(key: &str) -> Option<(MediaId, Variant)> {
    let (id, variant) = key.split_once('/')?;
    Some((MediaId::parse(id)?, Variant::parse(variant)?))
}

/// One object being read: its chunks up to its `blobEnd`, with its size and hash checked.
struct Object {
    size: u64,
    read: u64,
    hash: Sha256,
}

impl Object {
    fn new(size: u64) -> Self {
        Self {
            size,
            read: 0,
            hash: Sha256::new(),
        }
    }

    /// The next piece of the object; `None` once its end was read and checked.
    async fn next<R: AsyncBufRead + Unpin>(
        &mut self,
        reader: &mut ArchiveReader<R>,
    ) -> Result<Option<Vec<u8>>, ArchiveError> {
        match reader.next().await? {
            Some(Line::Chunk { data }) => {
                let piece = decode_chunk(&data).ok_or_else(|| {
                    reader.malformed("a chunk that is not base64 of at most 48 KiB")
                })?;
                self.read += piece.len() as u64;
                if self.read > self.size {
                    return Err(reader.malformed("an object longer than its declared size"));
                }
                self.hash.update(&piece);
                Ok(Some(piece))
            }
            Some(Line::BlobEnd { sha256 }) => {
                if self.read != self.size {
                    return Err(reader.malformed(format!(
                        "an object of {} bytes, declared {}",
                        self.read, self.size
                    )));
                }
                if hex(self.hash.clone().finalize()) != sha256 {
                    return Err(reader.malformed("an object whose bytes do not match its hash"));
                }
                Ok(None)
            }
            _ => Err(reader.malformed("an object's bytes cut short")),
        }
    }
}

async fn open(path: &Path) -> anyhow::Result<BufReader<tokio::fs::File>> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(256 * 1024, file))
}

/// Checks the archive at `path` (a dry run).
pub async fn validate_file(path: &Path) -> anyhow::Result<ArchiveSummary> {
    validate(open(path).await?)
        .await
        .with_context(|| format!("{} is not a valid archive", path.display()))
}

/// Imports the archive at `path` into `target` (the archive's tenant when `None`), which must
/// have no row yet.
pub async fn import_file(
    store: &SqlStore,
    blobs: &dyn BlobStore,
    path: &Path,
    target: Option<&TenantId>,
) -> anyhow::Result<ArchiveSummary> {
    let summary = validate_file(path).await?;
    let tenant = match target {
        Some(tenant) => tenant.clone(),
        None => TenantId::parse(&summary.tenant)?,
    };
    let mut loader = store.tenant_loader(&tenant).await?.with_context(|| {
        format!(
            "tenant `{tenant}` already has data: an archive is imported into an empty tenant only"
        )
    })?;
    let mut reader = ArchiveReader::new(open(path).await?);
    let written = load(&mut reader, &mut loader, blobs, &tenant).await;
    let outcome = match written {
        Ok(()) => loader.commit().await.map_err(anyhow::Error::from),
        Err(error) => Err(error),
    };
    if let Err(error) = outcome {
        // The rows rolled back; objects put before the failure must not outlive them.
        if let Err(cleanup) = blobs.delete_prefix(&format!("{tenant}/")).await {
            tracing::warn!(%tenant, error = %cleanup, "objects of a failed import left behind");
        }
        return Err(error);
    }
    Ok(summary)
}

/// The second reading: rows into the loader's transaction, objects into the blob store.
async fn load<R: AsyncBufRead + Unpin>(
    reader: &mut ArchiveReader<R>,
    loader: &mut crate::adapters::sql::TenantLoader,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
) -> anyhow::Result<()> {
    let mut batch: Vec<Row> = Vec::with_capacity(ROW_BATCH);
    let mut batch_table = String::new();
    while let Some(line) = reader.next().await? {
        match line {
            Line::Row { table, mut row } => {
                if table != batch_table || batch.len() == ROW_BATCH {
                    loader.insert(&batch_table, &batch).await?;
                    batch.clear();
                    batch_table = table;
                }
                if let Some(column) = tenant_column(&batch_table) {
                    row.insert(column.into(), tenant.as_str().into());
                }
                batch.push(row);
            }
            Line::Blob { key, size } => {
                loader.insert(&batch_table, &batch).await?;
                batch.clear();
                let (id, variant) =
                    parse_key(&key).context("an object key changed between readings")?;
                let target = blob_key(tenant, id, variant);
                // The object streams from the archive to the store through a short queue.
                let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
                let body: BlobBody = Box::pin(futures::stream::unfold(receiver, |mut r| async {
                    r.recv().await.map(|piece| (piece, r))
                }));
                let feed = async {
                    let mut object = Object::new(size);
                    while let Some(piece) = object.next(reader).await? {
                        if sender.send(Ok(Bytes::from(piece))).await.is_err() {
                            break; // the store gave up; its error says why
                        }
                    }
                    drop(sender);
                    Ok::<(), ArchiveError>(())
                };
                let (stored, fed) = tokio::join!(blobs.put(&target, body, size), feed);
                fed?;
                stored.with_context(|| format!("cannot store {target}"))?;
            }
            _ => {}
        }
    }
    loader.insert(&batch_table, &batch).await?;
    Ok(())
}
