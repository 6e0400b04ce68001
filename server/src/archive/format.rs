//! The archive's bytes: JSON Lines, one record a line, written in one pass and read in one pass,
//! so an export streams from the database to the file and an import (or a dry run) streams back
//! without holding a tenant in memory.
//!
//! ```text
//! {"type":"header","format":"chemchat-tenant-archive","version":1,"tenant":"acme",…}
//! {"type":"row","table":"users","row":{…}}                 … every row, parents first
//! {"type":"blob","key":"<media id>/<variant>","size":123}
//! {"type":"chunk","data":"<base64, at most 48 KiB decoded>"} … the object's bytes
//! {"type":"blobEnd","sha256":"<hex of the object>"}
//! {"type":"end","rows":{"users":2,…},"blobs":1,"blobBytes":123,"sha256":"<hex>"}
//! ```
//!
//! `end.sha256` is the SHA-256 of every byte before the `end` line: a truncated, reordered or
//! edited archive fails the check, and so does an object whose bytes do not match its own hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The `format` of every archive.
pub const FORMAT: &str = "chemchat-tenant-archive";
/// The version written; a reader refuses any other.
pub const VERSION: u32 = 1;
/// Decoded bytes per `chunk` line.
pub const CHUNK: usize = 48 * 1024;
/// The longest line a reader accepts: a chunk, or a row with its longest text, fits many times.
const MAX_LINE: u64 = 8 * 1024 * 1024;

/// One line of an archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Line {
    /// The first line.
    #[serde(rename_all = "camelCase")]
    Header {
        /// [`FORMAT`].
        format: String,
        /// [`VERSION`].
        version: u32,
        /// The tenant exported.
        tenant: String,
        /// When, Unix milliseconds.
        exported_at_ms: i64,
        /// The engine it came from (`sqlite`, `postgres`).
        engine: String,
        /// Whether password hashes and MFA secrets are included.
        credentials: bool,
    },
    /// One row of one table.
    Row {
        /// The table.
        table: String,
        /// Column → value.
        row: crate::adapters::sql::Row,
    },
    /// A media object starts: its key below the tenant's prefix, and its size.
    Blob {
        /// `<media id>/<variant>`.
        key: String,
        /// Bytes.
        size: u64,
    },
    /// Bytes of the current object, base64.
    Chunk {
        /// Base64 (standard, padded).
        data: String,
    },
    /// The current object ends.
    BlobEnd {
        /// SHA-256 of its bytes, hex.
        sha256: String,
    },
    /// The last line.
    #[serde(rename_all = "camelCase")]
    End {
        /// Rows per table.
        rows: BTreeMap<String, u64>,
        /// Objects.
        blobs: u64,
        /// Their bytes.
        blob_bytes: u64,
        /// SHA-256 of every byte before this line, hex.
        sha256: String,
    },
}

/// Hex of a digest.
pub fn hex(digest: impl AsRef<[u8]>) -> String {
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes lines, hashing every byte.
pub struct ArchiveWriter<W> {
    out: W,
    hash: Sha256,
    bytes: u64,
}

impl<W> std::fmt::Debug for ArchiveWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin> ArchiveWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    /// Writes one line.
    pub async fn line(&mut self, line: &Line) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line)?;
        bytes.push(b'\n');
        self.hash.update(&bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(&bytes).await
    }

    /// Writes one object's bytes as chunks.
    pub async fn chunks(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        for piece in bytes.chunks(CHUNK) {
            let data = STANDARD.encode(piece);
            self.line(&Line::Chunk { data }).await?;
        }
        Ok(())
    }

    /// Writes the `end` line with the hash of everything before it; returns the bytes written.
    pub async fn finish(
        mut self,
        rows: BTreeMap<String, u64>,
        blobs: u64,
        blob_bytes: u64,
    ) -> std::io::Result<u64> {
        let sha256 = hex(self.hash.clone().finalize());
        let end = Line::End {
            rows,
            blobs,
            blob_bytes,
            sha256,
        };
        let mut bytes = serde_json::to_vec(&end)?;
        bytes.push(b'\n');
        self.out.write_all(&bytes).await?;
        self.out.flush().await?;
        Ok(self.bytes + bytes.len() as u64)
    }
}

/// Why an archive cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file could not be read.
    #[error("cannot read the archive: {0}")]
    Io(#[from] std::io::Error),
    /// A line that is not one of the archive's records.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The archive ends before its `end` line.
    #[error("the archive is truncated: it ends at line {0} without its end record")]
    Truncated(u64),
    /// The bytes do not match the hash in the `end` line.
    #[error(
        "checksum mismatch: the archive's bytes hash to {actual}, its end record says {expected}"
    )]
    Checksum {
        /// From the `end` line.
        expected: String,
        /// Computed.
        actual: String,
    },
}

/// Reads lines, hashing every byte before the `end` line and checking it there.
pub struct ArchiveReader<R> {
    input: R,
    hash: Sha256,
    line: u64,
    ended: bool,
    buffer: Vec<u8>,
}

impl<R> std::fmt::Debug for ArchiveReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveReader")
            .field("line", &self.line)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncBufRead + Unpin> ArchiveReader<R> {
    /// A reader of `input`.
    pub fn new(input: R) -> Self {
        Self {
            input,
            hash: Sha256::new(),
            line: 0,
            ended: false,
            buffer: Vec::new(),
        }
    }

    /// The number of the line read last.
    pub fn line_number(&self) -> u64 {
        self.line
    }

    /// A malformed-line error at the current line.
    pub fn malformed(&self, reason: impl Into<String>) -> ArchiveError {
        ArchiveError::Malformed {
            line: self.line,
            reason: reason.into(),
        }
    }

    /// The next line; `None` after the `end` line, whose checksum has then been verified.
    pub async fn next(&mut self) -> Result<Option<Line>, ArchiveError> {
        if self.ended {
            return Ok(None);
        }
        self.buffer.clear();
        let read = (&mut self.input)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut self.buffer)
            .await?;
        if read == 0 {
            return Err(ArchiveError::Truncated(self.line));
        }
        self.line += 1;
        if read as u64 > MAX_LINE {
            return Err(self.malformed("line longer than 8 MiB"));
        }
        let line: Line = serde_json::from_slice(&self.buffer)
            .map_err(|e| self.malformed(format!("not an archive record: {e}")))?;
        if let Line::End { sha256, .. } = &line {
            let actual = hex(self.hash.clone().finalize());
            if &actual != sha256 {
                return Err(ArchiveError::Checksum {
                    expected: sha256.clone(),
                    actual,
                });
            }
            self.ended = true;
            let mut rest = [0u8; 1];
            if self.input.read(&mut rest).await? != 0 {
                return Err(self.malformed("bytes after the end record"));
            }
        } else {
            self.hash.update(&self.buffer);
        }
        Ok(Some(line))
    }
}

/// Decodes a chunk's data.
pub fn decode_chunk(data: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(data)
        .ok()
        .filter(|bytes| bytes.len() <= CHUNK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Line {
        Line::Header {
            format: FORMAT.into(),
            version: VERSION,
            tenant: "acme".into(),
            exported_at_ms: 1,
            engine: "sqlite".into(),
            credentials: false,
        }
    }

    async fn archive() -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut writer = ArchiveWriter::new(&mut bytes);
        writer.line(&header()).await.unwrap();
        writer
            .line(&Line::Blob {
                key: "m/original".into(),
                size: 3,
            })
            .await
            .unwrap();
        writer.chunks(b"abc").await.unwrap();
        writer.finish(BTreeMap::new(), 1, 3).await.unwrap();
        bytes
    }

    async fn read_all(bytes: &[u8]) -> Result<Vec<Line>, ArchiveError> {
        let mut reader = ArchiveReader::new(bytes);
        let mut lines = Vec::new();
        while let Some(line) = reader.next().await? {
            lines.push(line);
        }
        Ok(lines)
    }

    #[tokio::test]
    async fn what_is_written_reads_back_and_checks() {
        let lines = read_all(&archive().await).await.unwrap();
        assert_eq!(lines[0], header());
        assert!(matches!(&lines[2], Line::Chunk { data } if decode_chunk(data).unwrap() == b"abc"));
        assert!(matches!(lines.last(), Some(Line::End { blobs: 1, .. })));
    }

    #[tokio::test]
    async fn truncated_edited_or_extended_archives_are_refused() {
        let bytes = archive().await;
        let cut = &bytes[..bytes.len() - 5];
        assert!(matches!(
            read_all(cut).await,
            Err(ArchiveError::Malformed { .. })
        ));
        let end_starts = bytes[..bytes.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .unwrap()
            + 1;
        let without_end = &bytes[..end_starts];
        assert!(matches!(
            read_all(without_end).await,
            Err(ArchiveError::Truncated(3))
        ));
        let edited = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("acme", "acmf");
        assert!(matches!(
            read_all(edited.as_bytes()).await,
            Err(ArchiveError::Checksum { .. })
        ));
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"{}\n");
        assert!(read_all(&longer).await.is_err());
    }
}
