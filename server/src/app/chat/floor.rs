//! A conversation's settings (name, read-only, slow mode) and its members' mutes. The store
//! applies the role rules under the conversation's lock (`domain::floor`); here are the inputs'
//! checks, the content policy, the budgets and the audit trail.

use crate::app::auth::Principal;
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{
    Action, ClientInfo, ConversationId, ConversationName, Reason, Subject, Tenant, UserId,
    ValidationError, retention_seconds,
};
use crate::ports::chat::{Conversation, ConversationChange, MuteChange, rfc3339};
use serde_json::json;

/// What an owner or admin asks to change; `None` leaves that part as it is.
#[derive(Debug, Clone, Default)]
pub struct ConversationSettings {
    /// A new name.
    pub name: Option<ConversationName>,
    /// Only owners and admins post.
    pub read_only: Option<bool>,
    /// Members post once per this many seconds (0: off); checked by `Floor::slow_mode`.
    pub slow_mode_seconds: Option<u32>,
    /// Messages older than this many seconds go (`Some(None)`: only the tenant's rule); at
    /// most the tenant's maximum.
    pub retention_seconds: Option<Option<i64>>,
    /// Whether the retention counts from sending or from being read by everyone.
    pub retention_from: Option<crate::domain::RetentionClock>,
}

impl App {
    /// Renames a group or changes who may post and how often (its owners and admins).
    #[tracing::instrument(name = "update_conversation", skip_all, fields(tenant = %tenant.id))]
    pub async fn update_conversation(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: ConversationId,
        settings: ConversationSettings,
    ) -> AppResult<Conversation> {
        if settings.name.is_none()
            && settings.read_only.is_none()
            && settings.slow_mode_seconds.is_none()
            && settings.retention_seconds.is_none()
            && settings.retention_from.is_none()
        {
            return Err(ValidationError::new(
                "body",
                "name, readOnly, slowModeSeconds, retentionSeconds or retentionFrom: give at \
                 least one",
            )
            .into());
        }
        let retention_seconds = match settings.retention_seconds {
            Some(Some(raw)) => {
                let max = self.store.retention_rules(&tenant.id).await?.max_seconds;
                Some(Some(retention_seconds("retentionSeconds", raw, max)?))
            }
            Some(None) => Some(None),
            None => None,
        };
        self.charge(
            tenant.tier,
            Action::ChangeMembers,
            &[Subject::User(&tenant.id, caller)],
        )
        .await?;
        let name = match settings.name {
            Some(name) => Some(
                self.screen(&tenant.id, "name", name.as_str().to_owned())
                    .await?,
            ),
            None => None,
        };
        let change = ConversationChange {
            name,
            read_only: settings.read_only,
            slow_mode_seconds: settings.slow_mode_seconds,
            retention_seconds,
            retention_from: settings.retention_from,
        };
        let at = self.clock.now_ms();
        let outcome = self
            .store
            .update_conversation(&tenant.id, id, caller, &change, at)
            .await?;
        self.membership_result(outcome)
    }

    /// Mutes a member of a conversation until `until_ms`, or lifts the mute (`None`). The
    /// conversation's owners (over admins and members) and admins (over members) may, and the
    /// tenant's moderators in any conversation, DMs included, over accounts below their role.
    #[allow(clippy::too_many_arguments)] // one use case's inputs, each checked once at the edge
    #[tracing::instrument(name = "mute_member", skip_all, fields(tenant = %tenant.id))]
    pub async fn mute_member(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        id: ConversationId,
        target: UserId,
        until_ms: Option<i64>,
        reason: &Reason,
        client: &ClientInfo,
    ) -> AppResult<Conversation> {
        let change = self
            .plan_mute(tenant, principal, id, target, until_ms, reason, client)
            .await?;
        let outcome = self.store.mute_member(&tenant.id, id, &change).await?;
        self.membership_result(outcome)
    }

    /// Checks a mute (set or lifted) and writes its record; the store applies the conversation's
    /// role rules under its lock.
    #[allow(clippy::too_many_arguments)] // mute_member's inputs, passed on
    pub(crate) async fn plan_mute(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        id: ConversationId,
        target: UserId,
        until_ms: Option<i64>,
        reason: &Reason,
        client: &ClientInfo,
    ) -> AppResult<MuteChange> {
        let actor = self.acting_user(principal).await?;
        if target == actor.id {
            return Err(AppError::new(
                ErrorCode::Forbidden,
                "you cannot mute or unmute yourself",
            ));
        }
        let now = self.clock.now_ms();
        if until_ms.is_some_and(|until| until <= now) {
            return Err(AppError {
                field: Some("until"),
                ..AppError::new(ErrorCode::ValidationFailed, "until: must be in the future")
            });
        }
        self.charge(
            tenant.tier,
            Action::ChangeMembers,
            &[Subject::User(&tenant.id, actor.id)],
        )
        .await?;
        // A moderator's authority reaches only accounts below their tenant role.
        let moderator = actor.role.moderates()
            && self
                .store
                .user(&tenant.id, target)
                .await?
                .is_some_and(|subject| actor.role.may_act_on(subject.role));
        let (action, until) = match until_ms {
            Some(until) => ("member.muted", json!(rfc3339(until))),
            None => ("member.unmuted", serde_json::Value::Null),
        };
        let audit = self.audit_action(
            action,
            Some(actor.id),
            format!("user:{target}"),
            Some(client),
            json!({ "conversation": id, "until": until, "reason": reason.as_str(),
                "asModerator": moderator }),
        );
        Ok(MuteChange {
            actor: actor.id,
            moderator,
            target,
            until_ms,
            at_ms: now,
            audit,
        })
    }
}
