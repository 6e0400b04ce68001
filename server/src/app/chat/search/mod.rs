//! Searching messages and conversations.
//!
//! **Invariant**: the index is never the authority on who may read what. The use case decides
//! which conversations the caller can read before asking the index, and reloads every hit from
//! the store afterwards, so a hit the index still holds for a deleted message, or for a
//! conversation the caller has since left, is dropped.

mod highlight;
mod query;

pub use query::{DEFAULT_SEARCH_LIMIT, MAX_QUERY_CHARS, MAX_SEARCH_LIMIT, MAX_TERMS};

use super::conversations::invalid_query;
use super::cursor::{decode_activity, decode_search, encode_activity, encode_search};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{Action, ConversationId, Subject, Tenant, UserId};
use crate::ports::chat::{ActivityCursor, Conversation, Message};
use crate::ports::{MessageSearch, SearchError};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// A parsed message search.
#[derive(Debug, Clone, Copy)]
pub struct MessageSearchRequest<'a> {
    /// The words to find, as the client typed them.
    pub q: &'a str,
    /// Only this conversation (the caller must be a member).
    pub conversation: Option<ConversationId>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<&'a str>,
    /// Page size, 1-100.
    pub limit: u32,
}

/// A message that matched, with its highlighted fragments.
#[derive(Debug, Clone)]
pub struct FoundMessage {
    /// The message as history shows it.
    pub message: Message,
    /// Fragments as safe HTML: escaped text, matches in `<mark>`.
    pub highlights: Vec<String>,
}

/// A page of message search results.
#[derive(Debug, Clone)]
pub struct MessageSearchPage {
    /// Newest first.
    pub hits: Vec<FoundMessage>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A page of conversation search results.
#[derive(Debug, Clone)]
pub struct ConversationSearchPage {
    /// Most recent activity first.
    pub conversations: Vec<Conversation>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// How long the search index took to answer a message query, seconds (histogram; the search
/// SLO, p95 ≤ 500 ms, is read from it).
pub const METRIC_QUERY_SECONDS: &str = "chemchat_search_query_duration_seconds";

impl App {
    /// Messages of the caller's conversations (or of one of them) containing every word of `q`.
    #[tracing::instrument(name = "search_messages", skip_all, fields(tenant = %tenant.id))]
    pub async fn search_messages(
        &self,
        tenant: &Tenant,
        caller: UserId,
        request: MessageSearchRequest<'_>,
    ) -> AppResult<MessageSearchPage> {
        let terms = query::terms(request.q)?;
        let limit = query::limit(request.limit)?;
        let budgets = [
            Subject::User(&tenant.id, caller),
            Subject::Tenant(&tenant.id),
        ];
        self.charge(tenant.tier, Action::Search, &budgets).await?;
        let after = request
            .cursor
            .map(|c| decode_search(c).ok_or_else(bad_cursor))
            .transpose()?;
        let conversations = match request.conversation {
            Some(id) => {
                self.conversation(tenant, caller, id).await?;
                vec![id]
            }
            None => self.store.conversation_ids_of(&tenant.id, caller).await?,
        };
        if conversations.is_empty() {
            return Ok(MessageSearchPage {
                hits: Vec::new(),
                next_cursor: None,
            });
        }
        // One more than the page, to know whether another page exists.
        let search = MessageSearch {
            tenant: tenant.id.clone(),
            terms,
            conversations,
            after,
            limit: limit + 1,
        };
        let started = std::time::Instant::now();
        let mut hits = self
            .search
            .search_messages(&search)
            .await
            .map_err(unavailable)?;
        metrics::histogram!(METRIC_QUERY_SECONDS).record(started.elapsed().as_secs_f64());
        let page_size = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = hits.len() > page_size;
        hits.truncate(page_size);
        // The cursor follows the index's order, even if the last hit is dropped below.
        let next_cursor = hits
            .last()
            .filter(|_| more)
            .map(|h| encode_search(h.position));
        let ids: Vec<_> = hits.iter().map(|h| h.message_id).collect();
        let mut messages: HashMap<_, _> = self
            .store
            .messages_by_id(&tenant.id, caller, &ids)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let allowed: HashSet<_> = search.conversations.iter().collect();
        let found = hits
            .into_iter()
            .filter_map(|hit| {
                let message = messages.remove(&hit.message_id)?;
                let readable = message.deleted_at_ms.is_none()
                    && message.content.is_some()
                    && allowed.contains(&message.conversation_id);
                readable.then(|| FoundMessage {
                    message,
                    highlights: hit
                        .fragments
                        .iter()
                        .map(|f| highlight::to_html(f))
                        .collect(),
                })
            })
            .collect();
        Ok(MessageSearchPage {
            hits: found,
            next_cursor,
        })
    }

    /// The caller's conversations whose name (for a DM, the other member's username or display
    /// name) contains `q`, ignoring case; most recent activity first.
    #[tracing::instrument(name = "search_conversations", skip_all, fields(tenant = %tenant.id))]
    pub async fn search_conversations(
        &self,
        tenant: &Tenant,
        caller: UserId,
        q: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<ConversationSearchPage> {
        let text = query::text(q)?;
        let limit = query::limit(limit)?;
        let after = cursor
            .map(|c| decode_activity(c).ok_or_else(bad_cursor))
            .transpose()?;
        let mut conversations = self
            .store
            .find_conversations(&tenant.id, caller, text, after, limit + 1)
            .await?;
        let page_size = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = conversations.len() > page_size;
        conversations.truncate(page_size);
        let next_cursor = conversations.last().filter(|_| more).map(|c| {
            encode_activity(ActivityCursor {
                activity_ms: c.last_activity_ms,
                id: c.id,
            })
        });
        Ok(ConversationSearchPage {
            conversations,
            next_cursor,
        })
    }
}

fn bad_cursor() -> AppError {
    invalid_query("cursor", "is not a cursor this server issued".into())
}

/// The index failed: retryable, and the cause goes to the log only.
fn unavailable(err: SearchError) -> AppError {
    AppError {
        source: Some(err.into()),
        ..AppError::new(
            ErrorCode::ServiceUnavailable,
            "search is unavailable; retry",
        )
        .retry_after(Duration::from_secs(1))
    }
}
