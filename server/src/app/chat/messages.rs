//! Sending, reading, editing, deleting and reacting to messages; read receipts.

use super::conversations::invalid_query;
use super::{MAX_HISTORY_LIMIT, conversation_not_found, message_not_found};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::media::MAX_ATTACHMENTS;
use crate::domain::{
    Action, ClientMessageId, ConversationId, Emoji, FloorRefusal, MediaId, MessageContent,
    MessageId, Subject, Tenant, UserId, ValidationError,
};
use crate::ports::chat::{
    DailyQuota, HistoryPage, Message, MessageChange, MessageEdit, MessageEditRequest, NewMessage,
    Pointer, ReactionChange, SendOutcome, rfc3339,
};
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;
/// Distinct emoji one person may put on one message: enough for any real reaction, too few to
/// turn a message's reaction list into a wall.
pub const MAX_REACTIONS_PER_USER: u32 = 20;

/// A send, with its content not yet checked against the configured maximum.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// The text as the client sent it (may be empty when there are attachments).
    pub content: String,
    /// The idempotency key; a server-made one when the client sent none.
    pub client_message_id: ClientMessageId,
    /// Media of the caller's to attach, at most [`MAX_ATTACHMENTS`].
    pub attachments: Vec<MediaId>,
}

/// A sent message, and whether this call stored it (`false`: a retry of an earlier send).
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message.
    pub message: Message,
    /// Whether it is new.
    pub created: bool,
}

/// Which page of history.
#[derive(Debug, Clone, Copy)]
pub struct HistoryRequest {
    /// Before, after, or the latest.
    pub page: HistoryPage,
    /// At most this many (1-100).
    pub limit: u32,
}

/// An edit.
#[derive(Debug, Clone)]
pub struct EditRequest {
    /// The new text.
    pub content: String,
    /// Refuse unless the message is at this version.
    pub expected_version: Option<i64>,
}

/// The attachments of a send: at most [`MAX_ATTACHMENTS`], each once, in the sender's order.
fn attachment_list(ids: Vec<MediaId>) -> Result<Vec<MediaId>, ValidationError> {
    let mut unique: Vec<MediaId> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    if unique.len() > MAX_ATTACHMENTS {
        return Err(ValidationError::new(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} attachments per message"),
        ));
    }
    Ok(unique)
}

/// The answer to a send or an edit the conversation's floor refused.
fn floor_refused(refusal: FloorRefusal) -> AppError {
    match refusal {
        FloorRefusal::Muted { until_ms } => AppError::new(
            ErrorCode::Muted,
            format!(
                "you are muted in this conversation until {}",
                rfc3339(until_ms)
            ),
        ),
        FloorRefusal::ReadOnly => AppError::new(
            ErrorCode::ReadOnlyConversation,
            "only the conversation's owners and admins post here",
        ),
        FloorRefusal::SlowMode { retry_after_ms } => {
            let wait = Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(1000));
            AppError::new(
                ErrorCode::SlowMode,
                format!(
                    "slow mode: you can post here again in {} s",
                    wait.as_secs_f64().ceil()
                ),
            )
            .retry_after(wait)
        }
    }
}

impl App {
    /// Sends a message; a retry with the same `clientMessageId` returns the original.
    #[tracing::instrument(name = "send_message", skip_all, fields(tenant = %tenant.id))]
    pub async fn send_message(
        &self,
        tenant: &Tenant,
        caller: UserId,
        conversation: ConversationId,
        request: SendRequest,
    ) -> AppResult<Sent> {
        let attachments = attachment_list(request.attachments)?;
        let content = if attachments.is_empty() || !request.content.trim().is_empty() {
            MessageContent::parse(request.content, self.messaging.max_message_chars)?.into_inner()
        } else {
            String::new()
        };
        let budgets = [
            Subject::User(&tenant.id, caller),
            Subject::Tenant(&tenant.id),
        ];
        self.charge(tenant.tier, Action::SendMessage, &budgets)
            .await?;
        let content = if content.is_empty() {
            content
        } else {
            self.screen(&tenant.id, "content", content).await?
        };
        let at_ms = self.clock.now_ms();
        let quota = tenant.quotas.max_messages_per_day.map(|max| DailyQuota {
            max,
            day: at_ms.div_euclid(DAY_MS),
        });
        let message = NewMessage {
            id: MessageId::generate(),
            conversation_id: conversation,
            sender_id: caller,
            client_message_id: request.client_message_id.as_str().to_owned(),
            kind: "text".to_owned(),
            content,
            attachments,
            at_ms,
        };
        match self.store.send_message(&tenant.id, &message, quota).await? {
            SendOutcome::Sent(message) => {
                self.messaging.outbox.notify_one();
                Ok(Sent {
                    message,
                    created: true,
                })
            }
            SendOutcome::Duplicate(message) => Ok(Sent {
                message,
                created: false,
            }),
            SendOutcome::NotFound => Err(conversation_not_found()),
            SendOutcome::InvalidAttachments(ids) => Err(AppError {
                field: Some("attachments"),
                ..AppError::new(
                    ErrorCode::InvalidAttachments,
                    format!(
                        "these attachments are unknown, not yours, or not uploaded: {}",
                        ids.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }),
            SendOutcome::Refused(refusal) => Err(floor_refused(refusal)),
            SendOutcome::QuotaExceeded => {
                let until_midnight = DAY_MS - at_ms.rem_euclid(DAY_MS);
                Err(AppError::new(
                    ErrorCode::QuotaExceeded,
                    format!(
                        "quota maxMessagesPerDay ({}) reached for tenant '{}'",
                        tenant.quotas.max_messages_per_day.unwrap_or_default(),
                        tenant.id
                    ),
                )
                .retry_after(Duration::from_millis(
                    u64::try_from(until_midnight).unwrap_or(1000),
                )))
            }
        }
    }

    /// A page of history, always in seq order.
    #[tracing::instrument(name = "history", skip_all, fields(tenant = %tenant.id))]
    pub async fn history(
        &self,
        tenant: &Tenant,
        caller: UserId,
        conversation: ConversationId,
        request: HistoryRequest,
    ) -> AppResult<Vec<Message>> {
        if request.limit == 0 || request.limit > MAX_HISTORY_LIMIT {
            return Err(invalid_query(
                "limit",
                format!("must be 1-{MAX_HISTORY_LIMIT}"),
            ));
        }
        if let HistoryPage::Before(seq) | HistoryPage::After(seq) = request.page
            && seq < 0
        {
            return Err(invalid_query("before/after", "must be a seq >= 0".into()));
        }
        self.store
            .messages(
                &tenant.id,
                conversation,
                caller,
                request.page,
                request.limit,
            )
            .await?
            .ok_or_else(conversation_not_found)
    }

    /// A message's earlier versions, oldest first.
    pub async fn message_edits(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: MessageId,
    ) -> AppResult<Vec<MessageEdit>> {
        self.store
            .message_edits(&tenant.id, id, caller)
            .await?
            .ok_or_else(message_not_found)
    }

    /// Edits the caller's own message.
    #[tracing::instrument(name = "edit_message", skip_all, fields(tenant = %tenant.id))]
    pub async fn edit_message(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: MessageId,
        request: EditRequest,
    ) -> AppResult<Message> {
        let content = MessageContent::parse(request.content, self.messaging.max_message_chars)?;
        if request.expected_version.is_some_and(|v| v < 1) {
            return Err(ValidationError::new("expectedVersion", "must be 1 or more").into());
        }
        self.charge(
            tenant.tier,
            Action::EditMessage,
            &[Subject::User(&tenant.id, caller)],
        )
        .await?;
        let content = self
            .screen(&tenant.id, "content", content.into_inner())
            .await?;
        let edit = MessageEditRequest {
            id,
            editor: caller,
            content,
            expected_version: request.expected_version,
            at_ms: self.clock.now_ms(),
        };
        let change = self.store.edit_message(&tenant.id, &edit).await?;
        self.change_result(change, "only the author can edit a message")
    }

    /// Deletes a message (the author, or a moderator of the conversation): a tombstone remains.
    #[tracing::instrument(name = "delete_message", skip_all, fields(tenant = %tenant.id))]
    pub async fn delete_message(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: MessageId,
    ) -> AppResult<Message> {
        self.charge(
            tenant.tier,
            Action::EditMessage,
            &[Subject::User(&tenant.id, caller)],
        )
        .await?;
        let at = self.clock.now_ms();
        let change = self
            .store
            .delete_message(&tenant.id, id, caller, at)
            .await?;
        self.change_result(
            change,
            "only the author or a conversation admin can delete a message",
        )
    }

    /// Adds (`present`) or removes the caller's reaction; repeating either is harmless.
    #[tracing::instrument(name = "react", skip_all, fields(tenant = %tenant.id))]
    pub async fn react(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: MessageId,
        emoji: &Emoji,
        present: bool,
    ) -> AppResult<Message> {
        self.charge(
            tenant.tier,
            Action::React,
            &[Subject::User(&tenant.id, caller)],
        )
        .await?;
        let at = self.clock.now_ms();
        let change = if present {
            ReactionChange::Add {
                max_distinct: MAX_REACTIONS_PER_USER,
            }
        } else {
            ReactionChange::Remove
        };
        let change = self
            .store
            .set_reaction(&tenant.id, id, caller, emoji.as_str(), change, at)
            .await?;
        self.change_result(change, "not allowed")
    }

    /// Moves the caller's read pointer (and the delivered one with it) or delivered pointer
    /// forward to `seq`; returns where it now is.
    #[tracing::instrument(name = "move_pointer", skip_all, fields(tenant = %tenant.id))]
    pub async fn move_pointer(
        &self,
        tenant: &Tenant,
        caller: UserId,
        conversation: ConversationId,
        pointer: Pointer,
        seq: i64,
    ) -> AppResult<i64> {
        if seq < 0 {
            return Err(ValidationError::new("seq", "must be 0 or more").into());
        }
        self.charge(
            tenant.tier,
            Action::Receipt,
            &[Subject::User(&tenant.id, caller)],
        )
        .await?;
        let at = self.clock.now_ms();
        let now = self
            .store
            .move_pointer(&tenant.id, conversation, caller, pointer, seq, at)
            .await?
            .ok_or_else(conversation_not_found)?;
        self.messaging.outbox.notify_one();
        Ok(now)
    }

    fn change_result(&self, change: MessageChange, forbidden: &str) -> AppResult<Message> {
        match change {
            MessageChange::Done(message) => {
                self.messaging.outbox.notify_one();
                Ok(message)
            }
            MessageChange::NotFound => Err(message_not_found()),
            MessageChange::Forbidden => Err(AppError::new(ErrorCode::Forbidden, forbidden)),
            MessageChange::Deleted => Err(AppError::new(
                ErrorCode::MessageDeleted,
                "the message is deleted",
            )),
            MessageChange::Stale { current } => Err(AppError::new(
                ErrorCode::StaleVersion,
                format!("the message changed: it is at version {current}; reload and retry"),
            )),
            MessageChange::Silenced(refusal) => Err(floor_refused(refusal)),
            MessageChange::LimitReached => Err(AppError {
                field: Some("emoji"),
                ..AppError::new(
                    ErrorCode::ReactionLimit,
                    format!(
                        "at most {MAX_REACTIONS_PER_USER} different reactions per person on one \
                         message; remove one first"
                    ),
                )
            }),
        }
    }
}
