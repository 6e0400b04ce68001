//! Reports: a member reports a message; moderators work the queue and close each report with
//! what they did — nothing, deleting the message, warning its author, muting them in the
//! conversation, suspending or banning them.

use super::{AccountAction, App, Page};
use crate::app::auth::Principal;
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{Action, ClientInfo, MessageId, Reason, ReportId, Subject, Tenant, TenantRole};
use crate::ports::chat::MessageChange;
use crate::ports::{NewReport, Report, ReportFiling, ReportStatus};
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

    /// Closes an open report with what was done about it. The action and the closing are two
    /// steps: should the second fail, the report stays open and acting again is harmless
    /// (a deleted message stays deleted, a suspension is set again).
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
        match outcome {
            ReportOutcome::Dismiss => {}
            ReportOutcome::DeleteMessage => {
                let at = self.clock.now_ms();
                let change = self
                    .store
                    .delete_message_as_moderator(&tenant.id, report.message_id, at)
                    .await?;
                if let MessageChange::Done(_) = change {
                    let audit = self.audit_action(
                        "message.deleted_by_moderator",
                        Some(moderator.id),
                        format!("message:{}", report.message_id),
                        Some(client),
                        json!({ "report": id, "reason": reason.as_str(),
                            "author": report.sender_id }),
                    );
                    self.store.append_audit(&tenant.id, &audit).await?;
                }
            }
            ReportOutcome::SuspendAuthor { until_ms } => {
                let action = AccountAction::Suspend { until_ms };
                self.act_on_account(tenant, principal, report.sender_id, action, reason, client)
                    .await?;
            }
            ReportOutcome::BanAuthor => {
                let action = AccountAction::Ban;
                self.act_on_account(tenant, principal, report.sender_id, action, reason, client)
                    .await?;
            }
            ReportOutcome::WarnAuthor => {
                let action = AccountAction::Warn;
                self.act_on_account(tenant, principal, report.sender_id, action, reason, client)
                    .await?;
            }
            ReportOutcome::MuteAuthor { until_ms } => {
                let (conversation, author) = (report.conversation_id, report.sender_id);
                self.mute_member(
                    tenant,
                    principal,
                    conversation,
                    author,
                    Some(until_ms),
                    reason,
                    client,
                )
                .await?;
            }
        }
        let (status, action) = match outcome {
            ReportOutcome::Dismiss => (ReportStatus::Dismissed, "report.dismissed"),
            _ => (ReportStatus::Resolved, "report.resolved"),
        };
        let audit = self.audit_action(
            action,
            Some(moderator.id),
            format!("report:{id}"),
            Some(client),
            json!({ "outcome": outcome_name(outcome), "reason": reason.as_str(),
                "message": report.message_id }),
        );
        self.store
            .close_report(&tenant.id, id, status, reason.as_str(), &audit)
            .await?
            .ok_or_else(report_not_found)
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
