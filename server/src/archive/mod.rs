//! Tenant archives: `chemchat-server tenant export <id> --to FILE` and `tenant import FILE`, so a
//! tenant can move between clusters — and between engines, SQLite to PostgreSQL and back — or be
//! restored. The archive is versioned JSON Lines with a checksum (`format.rs`); rows leave from
//! one snapshot (`export.rs`), and come back into an empty tenant in one transaction after the
//! whole archive was checked (`import.rs`; `--dry-run` checks and writes nothing).
//!
//! What an archive holds: `adapters::sql::ARCHIVE_TABLES` (the tenant, its settings, users,
//! audit trail, conversations, members with their read and delivered pointers, messages with
//! their events, edits and reactions, media rows and objects, reports, invitations,
//! notification preferences). Password hashes and MFA secrets only with `--with-credentials`.

mod export;
mod format;
mod import;

pub use export::{NO_PASSWORD, export, export_to_file};
pub use format::{ArchiveError, ArchiveReader, ArchiveWriter, FORMAT, Line, VERSION};
pub use import::{import_file, validate, validate_file};

use crate::domain::media::Variant;
use std::collections::BTreeMap;

/// What an archive holds (and, after an export or import, what moved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// The tenant it was exported from.
    pub tenant: String,
    /// When, Unix milliseconds.
    pub exported_at_ms: i64,
    /// The engine it came from.
    pub engine: String,
    /// Whether it carries password hashes and MFA secrets.
    pub credentials: bool,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// Media objects.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// The archive's own size (after an export).
    pub archive_bytes: u64,
}

impl ArchiveSummary {
    fn from_header(header: &Line) -> Self {
        match header {
            Line::Header {
                tenant,
                exported_at_ms,
                engine,
                credentials,
                ..
            } => Self {
                tenant: tenant.clone(),
                exported_at_ms: *exported_at_ms,
                engine: engine.clone(),
                credentials: *credentials,
                ..Self::default()
            },
            _ => Self::default(),
        }
    }

    /// Rows in every table.
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// The renditions an item may have stored.
fn media_variants() -> [Variant; 3] {
    [Variant::Original, Variant::Thumb, Variant::Preview]
}
