//! The moderation part of the store: reports of messages and their queue.

use super::chat::{MembershipOutcome, MuteChange};
use super::{AccountChange, AuditEntry, StoreResult};
use crate::domain::{AccountStatus, ConversationId, MessageId, ReportId, TenantId, UserId};
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

/// A report closed by the action taken on it. It is written in the action's transaction, so
/// the action and the closing land together or not at all.
#[derive(Debug, Clone)]
pub struct ReportClosing {
    /// The report.
    pub id: ReportId,
    /// Resolved or dismissed.
    pub status: ReportStatus,
    /// What was done, in the moderator's words.
    pub resolution: String,
    /// The closing's audit entry (its actor closes the report).
    pub audit: AuditEntry,
}

/// What the store does about a report as it closes it.
#[derive(Debug, Clone, Copy)]
pub enum ReportAction<'a> {
    /// Nothing but the closing.
    Nothing,
    /// A record of the action (a warning) written with the closing.
    Record(&'a AuditEntry),
    /// The reported message tombstoned, member of its conversation or not (the use case checked
    /// the tenant role); the entry is written when the message was not already gone.
    DeleteMessage {
        /// The reported message.
        message: MessageId,
        /// Now, Unix milliseconds.
        at_ms: i64,
        /// The deletion's audit entry.
        audit: &'a AuditEntry,
    },
    /// The author's account status set, as `PeopleStore::set_account_status`.
    SetAccountStatus {
        /// The author.
        user: UserId,
        /// Suspended or banned.
        status: AccountStatus,
        /// The change's audit entry.
        audit: &'a AuditEntry,
    },
    /// A member muted in a conversation, as `ChatStore::mute_member`.
    Mute {
        /// The conversation.
        conversation: ConversationId,
        /// The mute.
        change: &'a MuteChange,
    },
}

/// Outcome of resolving a report.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportResolution {
    /// Acted on and closed; the report as it is now.
    Closed(Report),
    /// The report was not open (any more): nothing was written.
    NotOpen,
    /// The account change was refused: nothing was written, the report stays open.
    AccountRefused(AccountChange),
    /// The mute was refused: nothing was written, the report stays open.
    MuteRefused(MembershipOutcome),
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

    /// Takes `action` and closes the open report (erasing its copy of the text) in one
    /// transaction.
    async fn resolve_report(
        &self,
        tenant: &TenantId,
        action: ReportAction<'_>,
        closing: &ReportClosing,
    ) -> StoreResult<ReportResolution>;
}
