//! Creating, listing and reading conversations; adding and removing members.

use super::cursor::{decode_activity, encode_activity};
use super::{MAX_CONVERSATION_LIMIT, conversation_not_found, denied};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{
    Action, ConversationId, ConversationKind, ConversationName, Role, Subject, Tenant, UserId,
    ValidationError,
};
use crate::ports::chat::{
    ActivityCursor, Conversation, ConversationCreation, ConversationSummary, MembershipOutcome,
    NewConversation, UnreadPosition,
};

/// Most members a conversation can be created with in one request.
const MAX_INITIAL_MEMBERS: usize = 1000;

/// A parsed request to create a conversation.
#[derive(Debug, Clone)]
pub struct NewConversationRequest {
    /// DM or group.
    pub kind: ConversationKind,
    /// A group's name.
    pub name: Option<ConversationName>,
    /// The other members (the caller may be listed; it is added as owner either way).
    pub member_ids: Vec<UserId>,
}

/// A page of the caller's conversations.
#[derive(Debug, Clone)]
pub struct ConversationPage {
    /// Most recent activity first.
    pub conversations: Vec<ConversationSummary>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl App {
    /// Creates a conversation, or returns the existing DM of the pair (`false` = not new).
    #[tracing::instrument(name = "create_conversation", skip_all, fields(tenant = %tenant.id))]
    pub async fn create_conversation(
        &self,
        tenant: &Tenant,
        caller: UserId,
        request: NewConversationRequest,
    ) -> AppResult<(Conversation, bool)> {
        let budgets = [
            Subject::User(&tenant.id, caller),
            Subject::Tenant(&tenant.id),
        ];
        self.charge(tenant.tier, Action::CreateConversation, &budgets)
            .await?;
        let mut others: Vec<UserId> = request
            .member_ids
            .into_iter()
            .filter(|id| *id != caller)
            .collect();
        others.sort();
        others.dedup();
        if others.len() > MAX_INITIAL_MEMBERS {
            return Err(ValidationError::too_large(
                "memberIds",
                format!("at most {MAX_INITIAL_MEMBERS} members at creation"),
            )
            .into());
        }
        let (members, dm_key, name) = match request.kind {
            ConversationKind::Dm => {
                let [other] = others.as_slice() else {
                    return Err(ValidationError::new(
                        "memberIds",
                        "a dm needs exactly one other user",
                    )
                    .into());
                };
                let mut pair = [caller, *other];
                pair.sort();
                let key = format!("{}:{}", pair[0], pair[1]);
                (
                    vec![(caller, Role::Member), (*other, Role::Member)],
                    Some(key),
                    None,
                )
            }
            ConversationKind::Group => {
                let mut members = vec![(caller, Role::Owner)];
                members.extend(others.iter().map(|id| (*id, Role::Member)));
                let name = request.name.map(|n| n.as_str().to_owned());
                (members, None, name)
            }
        };
        let name = match name {
            Some(name) => Some(self.screen(&tenant.id, "name", name).await?),
            None => None,
        };
        let new = NewConversation {
            id: ConversationId::generate(),
            kind: request.kind,
            name,
            created_by: caller,
            members,
            dm_key,
            at_ms: self.clock.now_ms(),
        };
        let outcome = self
            .store
            .create_conversation(&tenant.id, &new, tenant.quotas.max_conversations)
            .await?;
        match outcome {
            ConversationCreation::Created(c) => {
                self.messaging.outbox.notify_one();
                Ok((c, true))
            }
            ConversationCreation::Existing(c) => Ok((c, false)),
            ConversationCreation::UnknownUsers(ids) => Err(unknown_users(&ids)),
            ConversationCreation::QuotaExceeded => Err(AppError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "quota maxConversations ({}) reached for tenant '{}'",
                    tenant.quotas.max_conversations.unwrap_or_default(),
                    tenant.id
                ),
            )),
        }
    }

    /// A conversation the caller belongs to.
    pub async fn conversation(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: ConversationId,
    ) -> AppResult<Conversation> {
        self.store
            .conversation(&tenant.id, id, caller)
            .await?
            .ok_or_else(conversation_not_found)
    }

    /// The caller's conversations, most recent activity first, `limit` at a time after `cursor`.
    #[tracing::instrument(name = "list_conversations", skip_all, fields(tenant = %tenant.id))]
    pub async fn list_conversations(
        &self,
        tenant: &Tenant,
        caller: UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<ConversationPage> {
        if limit == 0 || limit > MAX_CONVERSATION_LIMIT {
            return Err(invalid_query(
                "limit",
                format!("must be 1-{MAX_CONVERSATION_LIMIT}"),
            ));
        }
        let after = cursor
            .map(|c| {
                decode_activity(c).ok_or_else(|| {
                    invalid_query("cursor", "is not a cursor this server issued".into())
                })
            })
            .transpose()?;
        let conversations = self
            .store
            .conversations_of(&tenant.id, caller, after, limit)
            .await?;
        let full = conversations.len() == usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = conversations.last().filter(|_| full).map(|s| {
            encode_activity(ActivityCursor {
                activity_ms: s.conversation.last_activity_ms,
                id: s.conversation.id,
            })
        });
        Ok(ConversationPage {
            conversations,
            next_cursor,
        })
    }

    /// Adds members with a role (or changes the role of existing members: handing over
    /// ownership is granting `owner`).
    #[tracing::instrument(name = "add_members", skip_all, fields(tenant = %tenant.id))]
    pub async fn add_members(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: ConversationId,
        users: &[UserId],
        role: Role,
    ) -> AppResult<Conversation> {
        if users.is_empty() || users.len() > MAX_INITIAL_MEMBERS {
            return Err(ValidationError::new(
                "userIds",
                format!("must list 1-{MAX_INITIAL_MEMBERS} users"),
            )
            .into());
        }
        self.charge(
            tenant.tier,
            Action::ChangeMembers,
            &[Subject::User(&tenant.id, caller)],
        )
        .await?;
        let members: Vec<(UserId, Role)> = users.iter().map(|u| (*u, role)).collect();
        let at = self.clock.now_ms();
        let outcome = self
            .store
            .add_members(&tenant.id, id, caller, &members, at)
            .await?;
        self.membership_result(outcome)
    }

    /// Removes a member; removing oneself is leaving.
    #[tracing::instrument(name = "remove_member", skip_all, fields(tenant = %tenant.id))]
    pub async fn remove_member(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: ConversationId,
        target: UserId,
    ) -> AppResult<Conversation> {
        self.charge(
            tenant.tier,
            Action::ChangeMembers,
            &[Subject::User(&tenant.id, caller)],
        )
        .await?;
        let at = self.clock.now_ms();
        let outcome = self
            .store
            .remove_member(&tenant.id, id, caller, target, at)
            .await?;
        self.membership_result(outcome)
    }

    pub(crate) fn membership_result(&self, outcome: MembershipOutcome) -> AppResult<Conversation> {
        match outcome {
            MembershipOutcome::Done(c) => {
                self.messaging.outbox.notify_one();
                Ok(c)
            }
            MembershipOutcome::NotFound => Err(conversation_not_found()),
            MembershipOutcome::Denied(reason) => Err(denied(reason)),
            MembershipOutcome::UnknownUsers(ids) => Err(unknown_users(&ids)),
            MembershipOutcome::NotAMember => Err(AppError::new(
                ErrorCode::UserNotFound,
                "that user is not a member of this conversation",
            )),
        }
    }
}

fn unknown_users(ids: &[UserId]) -> AppError {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    AppError {
        field: Some("memberIds"),
        ..AppError::new(
            ErrorCode::InvalidMembers,
            format!("no such users in this tenant: {}", list.join(", ")),
        )
    }
}

/// A malformed query parameter, named.
pub(super) fn invalid_query(field: &'static str, message: String) -> AppError {
    AppError {
        field: Some(field),
        ..AppError::new(ErrorCode::InvalidQuery, format!("{field}: {message}"))
    }
}

impl App {
    /// The conversations `caller` is a current member of (whom a presence change concerns).
    pub async fn conversation_ids(
        &self,
        tenant: &Tenant,
        caller: UserId,
    ) -> AppResult<Vec<ConversationId>> {
        Ok(self.store.conversation_ids_of(&tenant.id, caller).await?)
    }

    /// Where the user stands in their most recently active conversations (at most `limit`):
    /// what the account channel counts unread messages from.
    pub async fn unread_positions(
        &self,
        tenant: &Tenant,
        user: UserId,
        limit: u32,
    ) -> AppResult<Vec<UnreadPosition>> {
        Ok(self.store.unread_positions(&tenant.id, user, limit).await?)
    }
}
