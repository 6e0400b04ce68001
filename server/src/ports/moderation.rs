//! The moderation part of the store: reports of messages and their queue.

use super::{AuditEntry, StoreResult};
use crate::domain::{ConversationId, MessageId, ReportId, TenantId, UserId};
use async_trait::async_trait;

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// Waiting for a moderator.
    Open,
    /// A moderator acted on it.
    Resolved,
    /// A moderator found nothing to act on.
    Dismissed,
}

impl ReportStatus {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Open => "open",
            ReportStatus::Resolved => "resolved",
            ReportStatus::Dismissed => "dismissed",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Open, Self::Resolved, Self::Dismissed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A report of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Id.
    pub id: ReportId,
    /// The message.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its author.
    pub sender_id: UserId,
    /// Who reported it.
    pub reporter_id: UserId,
    /// Why, in the reporter's words.
    pub reason: String,
    /// The text as it was when reported; erased once the report is closed.
    pub content: Option<String>,
    /// Where it stands.
    pub status: ReportStatus,
    /// When it was filed, Unix milliseconds.
    pub created_at_ms: i64,
    /// When it was closed.
    pub closed_at_ms: Option<i64>,
    /// Who closed it.
    pub closed_by: Option<UserId>,
    /// What was done, in the moderator's words.
    pub resolution: Option<String>,
}

/// A report to file.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// Id.
    pub id: ReportId,
    /// The message.
    pub message_id: MessageId,
    /// Who reports it.
    pub reporter_id: UserId,
    /// Why.
    pub reason: String,
    /// Now, Unix milliseconds.
    pub at_ms: i64,
}

/// Outcome of filing a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportFiling {
    /// Filed.
    Filed(Report),
    /// The reporter had already reported this message; the earlier report.
    AlreadyFiled(Report),
    /// No such message, it is deleted, or the reporter cannot read it.
    NotFound,
}

/// Persistence of moderation. Part of [`super::Store`].
#[async_trait]
pub trait ModerationStore: Send + Sync {
    /// Files a report of a message the reporter can read (a current member of its
    /// conversation), keeping the message's text with it, and writes the audit entry.
    async fn file_report(
        &self,
        tenant: &TenantId,
        report: &NewReport,
        audit: &AuditEntry,
    ) -> StoreResult<ReportFiling>;

    /// A report by id.
    async fn report(&self, tenant: &TenantId, id: ReportId) -> StoreResult<Option<Report>>;

    /// Reports with `status` (every status when `None`), oldest first after `after`
    /// (time, id).
    async fn reports_page(
        &self,
        tenant: &TenantId,
        status: Option<ReportStatus>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<Report>>;

    /// Closes an open report (erasing its copy of the text) and writes the audit entry;
    /// `None` when there is no such open report.
    async fn close_report(
        &self,
        tenant: &TenantId,
        id: ReportId,
        status: ReportStatus,
        resolution: &str,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Report>>;
}
