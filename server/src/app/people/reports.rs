//! Reports: a member reports a message; moderators work the queue and close each report with
//! what they did — nothing, deleting the message, warning its author, muting them in the
//! conversation, suspending or banning them.

use super::admin::{AccountPlan, LAST_OWNER, changed};
use super::{AccountAction, App, Page};
use crate::app::auth::Principal;
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{
    Action, ClientInfo, ConversationId, MessageId, Reason, ReportId, Subject, Tenant, TenantRole,
};
use crate::ports::chat::MuteChange;
use crate::ports::{
    AuditEntry, NewReport, Report, ReportAction, ReportClosing, ReportFiling, ReportResolution,
    ReportStatus, StoredUser,
};
use serde_json::json;

/// What a moderator does about a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Nothing to act on.
    Dismiss,
    /// Delete the message (a tombstone, as its author's deletion).
    DeleteMessage,
    /// Suspend the author until a time (Unix milliseconds).
    SuspendAuthor {
        /// When it ends.
        until_ms: i64,
    },
    /// Ban the author (admins).
    BanAuthor,
    /// Warn the author.
    WarnAuthor,
    /// Mute the author in the message's conversation until a time (Unix milliseconds).
    MuteAuthor {
        /// When it ends.
        until_ms: i64,
    },
}

fn report_not_found() -> AppError {
    AppError::new(ErrorCode::ReportNotFound, "no such open report")
}

impl App {
    /// Reports a message the caller can read to the tenant's moderators. Reporting the same
    /// message again answers the earlier report.
    #[tracing::instrument(name = "report_message", skip_all, fields(tenant = %tenant.id))]
    pub async fn report_message(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        message: MessageId,
        reason: &Reason,
        client: &ClientInfo,
    ) -> AppResult<Report> {
        self.acting_user(principal).await?;
        let subjects = [Subject::User(&tenant.id, principal.user)];
        self.charge(tenant.tier, Action::Report, &subjects).await?;
        let report = NewReport {
            id: ReportId::generate(),
            message_id: message,
            reporter_id: principal.user,
            reason: reason.as_str().to_owned(),
            at_ms: self.clock.now_ms(),
        };
        let audit = self.audit_action(
            "report.filed",
            Some(principal.user),
            format!("message:{message}"),
            Some(client),
            json!({ "report": report.id, "reason": reason.as_str() }),
        );
        match self.store.file_report(&tenant.id, &report, &audit).await? {
            ReportFiling::Filed(report) | ReportFiling::AlreadyFiled(report) => Ok(report),
            ReportFiling::NotFound => Err(AppError::new(
                ErrorCode::MessageNotFound,
                "message not found",
            )),
        }
    }

    /// The moderation queue: reports with `status` (every status when `None`), oldest first.
    /// Moderators.
    #[tracing::instrument(name = "reports", skip_all, fields(tenant = %tenant.id))]
    pub async fn reports(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        status: Option<ReportStatus>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Report>> {
        self.administrator(tenant, principal, TenantRole::Moderator)
            .await?;
        let after = cursor.map(super::admin::parse_cursor).transpose()?;
        let limit = limit.clamp(1, super::DIRECTORY_PAGE_MAX);
        let reports = self
            .store
            .reports_page(&tenant.id, status, after, limit + 1)
            .await?;
        Ok(Page::from_probe(reports, limit, |r| {
            format!("{}_{}", r.created_at_ms, r.id)
        }))
    }

    /// Closes an open report with what was done about it. The action and the closing are one
    /// transaction: a refused action leaves the report open, and of two moderators acting on
    /// one report at once, one acts and the other learns it is closed.
    #[tracing::instrument(name = "resolve_report", skip_all, fields(tenant = %tenant.id))]
    pub async fn resolve_report(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        id: ReportId,
        outcome: ReportOutcome,
        reason: &Reason,
        client: &ClientInfo,
    ) -> AppResult<Report> {
        let moderator = self
            .administrator(tenant, principal, TenantRole::Moderator)
            .await?;
        let report = self
            .store
            .report(&tenant.id, id)
            .await?
            .filter(|r| r.status == ReportStatus::Open)
            .ok_or_else(report_not_found)?;
        let (status, closed) = match outcome {
            ReportOutcome::Dismiss => (ReportStatus::Dismissed, "report.dismissed"),
            _ => (ReportStatus::Resolved, "report.resolved"),
        };
        let closing = ReportClosing {
            id,
            status,
            resolution: reason.as_str().to_owned(),
            audit: self.audit_action(
                closed,
                Some(moderator.id),
                format!("report:{id}"),
                Some(client),
                json!({ "outcome": outcome_name(outcome), "reason": reason.as_str(),
                    "message": report.message_id }),
            ),
        };
        let prepared = self
            .prepare(
                tenant,
                principal,
                &moderator,
                &report,
                outcome,
                (reason, client),
            )
            .await?;
        let action = prepared.action(&report);
        match self
            .store
            .resolve_report(&tenant.id, action, &closing)
            .await?
        {
            ReportResolution::Closed(closed) => {
                match &prepared {
                    Prepared::Account(plan) => self.announce_account_action(tenant, plan, reason),
                    Prepared::Delete(_) | Prepared::Mute(..) => self.messaging.outbox.notify_one(),
                    Prepared::Nothing => {}
                }
                Ok(closed)
            }
            ReportResolution::NotOpen => Err(report_not_found()),
            ReportResolution::AccountRefused(change) => {
                changed(change, LAST_OWNER).and_then(|()| Err(report_not_found()))
            }
            ReportResolution::MuteRefused(outcome) => self
                .membership_result(outcome)
                .and_then(|_| Err(report_not_found())),
        }
    }

    /// Checks the action a report's outcome calls for and writes its record, as the use case
    /// taking that action on its own would.
    async fn prepare(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        moderator: &StoredUser,
        report: &Report,
        outcome: ReportOutcome,
        (reason, client): (&Reason, &ClientInfo),
    ) -> AppResult<Prepared> {
        let author = report.sender_id;
        let account =
            |action| self.plan_account_action(tenant, moderator, author, action, reason, client);
        Ok(match outcome {
            ReportOutcome::Dismiss => Prepared::Nothing,
            ReportOutcome::DeleteMessage => Prepared::Delete(self.audit_action(
                "message.deleted_by_moderator",
                Some(moderator.id),
                format!("message:{}", report.message_id),
                Some(client),
                json!({ "report": report.id, "reason": reason.as_str(), "author": author }),
            )),
            ReportOutcome::SuspendAuthor { until_ms } => {
                Prepared::Account(account(AccountAction::Suspend { until_ms }).await?)
            }
            ReportOutcome::BanAuthor => Prepared::Account(account(AccountAction::Ban).await?),
            ReportOutcome::WarnAuthor => Prepared::Account(account(AccountAction::Warn).await?),
            ReportOutcome::MuteAuthor { until_ms } => {
                let conversation = report.conversation_id;
                let until = Some(until_ms);
                let change = self
                    .plan_mute(
                        tenant,
                        principal,
                        conversation,
                        author,
                        until,
                        reason,
                        client,
                    )
                    .await?;
                Prepared::Mute(conversation, change)
            }
        })
    }
}

/// A report's action, checked and recorded, before the store takes it.
enum Prepared {
    Nothing,
    Delete(AuditEntry),
    Account(AccountPlan),
    Mute(ConversationId, MuteChange),
}

impl Prepared {
    fn action<'a>(&'a self, report: &Report) -> ReportAction<'a> {
        match self {
            Prepared::Nothing => ReportAction::Nothing,
            Prepared::Delete(audit) => ReportAction::DeleteMessage {
                message: report.message_id,
                at_ms: audit.at_ms,
                audit,
            },
            Prepared::Account(plan) => match plan.action.status() {
                Some(status) => ReportAction::SetAccountStatus {
                    user: plan.subject.id,
                    status,
                    audit: &plan.audit,
                },
                // A warning changes nothing but the record.
                None => ReportAction::Record(&plan.audit),
            },
            Prepared::Mute(conversation, change) => ReportAction::Mute {
                conversation: *conversation,
                change,
            },
        }
    }
}

fn outcome_name(outcome: ReportOutcome) -> &'static str {
    match outcome {
        ReportOutcome::Dismiss => "dismiss",
        ReportOutcome::DeleteMessage => "delete_message",
        ReportOutcome::SuspendAuthor { .. } => "suspend_author",
        ReportOutcome::BanAuthor => "ban_author",
        ReportOutcome::WarnAuthor => "warn_author",
        ReportOutcome::MuteAuthor { .. } => "mute_author",
    }
}
