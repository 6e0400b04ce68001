//! The built-in [`SearchIndex`]: the SQL store's own full-text index (SQLite FTS5, PostgreSQL
//! `tsvector` + GIN; see the `*_search.sql` migrations). The store's transactions keep it
//! current, so it needs no events and a search sees every committed change at once.
//!
//! User text never reaches either engine's query language: FTS5 gets each term as a quoted
//! string (a phrase of one word, so `AND`, `NEAR(`, `*`, `-` or `:` mean nothing), PostgreSQL
//! gets each term as a bound parameter of `plainto_tsquery`, and the conversation ids travel as
//! one bound JSON array.

use super::engine::json_list;
use super::{Engine, SqlStore, db};
use crate::domain::{ConversationId, MessageId};
use crate::ports::chat::StoredEvent;
use crate::ports::{
    MARK_END, MARK_START, MessageHit, MessageSearch, SearchError, SearchIndex, SearchPosition,
    StoreError, StoreResult,
};
use async_trait::async_trait;
use std::sync::Arc;

/// Most tokens (SQLite) of a hit's fragment.
const SNIPPET_TOKENS: u32 = 32;
/// `ts_headline` options: the fragment's size, and the marks the use case turns into `<mark>`.
fn headline_options() -> String {
    format!("StartSel={MARK_START}, StopSel={MARK_END}, MinWords=12, MaxWords=32")
}

#[async_trait]
impl SearchIndex for SqlStore {
    async fn search_messages(&self, query: &MessageSearch) -> Result<Vec<MessageHit>, SearchError> {
        search(self, query)
            .await
            .map_err(|e| SearchError(anyhow::Error::new(e)))
    }

    fn wants_events(&self) -> bool {
        false
    }

    /// Nothing to do: the triggers (SQLite) and the generated column (PostgreSQL) already
    /// changed the index in the transaction that changed the message.
    async fn apply(&self, _events: &[Arc<StoredEvent>]) -> Result<(), SearchError> {
        Ok(())
    }
}

type HitRow = (String, String, i64, Option<String>);

async fn search(store: &SqlStore, query: &MessageSearch) -> StoreResult<Vec<MessageHit>> {
    if query.terms.is_empty() || query.conversations.is_empty() || query.limit == 0 {
        return Ok(Vec::new());
    }
    let conversations = json_list(query.conversations.iter().map(ToString::to_string));
    // No cursor: start after a position later than any message.
    let (after_ms, after_id) = query.after.map_or((i64::MAX, String::new()), |p| {
        (p.created_at_ms, p.message_id.to_string())
    });
    let mut tx = store.read(&query.tenant).await?;
    let rows: Vec<HitRow> = match store.engine {
        Engine::Sqlite => {
            // CROSS JOIN pins the join order (SQLite never reorders it): the FTS posting list
            // drives and each match is one rowid lookup. Left to itself the planner may walk the
            // conversations' messages and evaluate MATCH row by row, which for a common word over
            // a million messages takes seconds instead of milliseconds.
            let sql = format!(
                "SELECT m.id, m.conversation_id, m.created_at, \
                   snippet(messages_fts, 0, $5, $6, '…', {SNIPPET_TOKENS}) \
                 FROM messages_fts CROSS JOIN messages m ON m.rowid = messages_fts.rowid \
                 WHERE messages_fts MATCH $1 AND m.tenant_id = $2 \
                   AND m.conversation_id IN ({}) AND m.content IS NOT NULL \
                   AND (m.created_at < $7 OR (m.created_at = $7 AND m.id < $8)) \
                 ORDER BY m.created_at DESC, m.id DESC LIMIT $4",
                store.engine.json_strings("$3")
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(fts5_query(&query.terms))
                .bind(query.tenant.as_str())
                .bind(conversations)
                .bind(i64::from(query.limit))
                .bind(MARK_START.to_string())
                .bind(MARK_END.to_string())
                .bind(after_ms)
                .bind(after_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?
        }
        Engine::Postgres => {
            // A stop word makes `plainto_tsquery('english', …)` empty, which PostgreSQL reports
            // with a NOTICE that sqlx would log at info level for every such search.
            sqlx::query("SELECT set_config('client_min_messages', 'warning', true)")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            // The page is chosen first and only its rows are headlined: `ts_headline` re-parses
            // the whole text and is the expensive part.
            let sql = format!(
                "SELECT h.id, h.conversation_id, h.created_at, \
                   ts_headline('english', h.content, h.query, $4) \
                 FROM (SELECT m.id, m.conversation_id, m.created_at, m.content, q.query \
                   FROM messages m, (SELECT {} AS query) q \
                   WHERE m.tenant_id = $1 AND m.conversation_id IN ({}) \
                     AND m.content IS NOT NULL AND m.search_vector @@ q.query \
                     AND (m.created_at < $5 OR (m.created_at = $5 AND m.id < $6)) \
                   ORDER BY m.created_at DESC, m.id DESC LIMIT $3) h \
                 ORDER BY h.created_at DESC, h.id DESC",
                tsquery(query.terms.len(), 7),
                store.engine.json_strings("$2")
            );
            let mut statement = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(query.tenant.as_str())
                .bind(conversations)
                .bind(i64::from(query.limit))
                .bind(headline_options())
                .bind(after_ms)
                .bind(after_id);
            for term in &query.terms {
                statement = statement.bind(term.as_str());
            }
            statement.fetch_all(&mut *tx).await.map_err(db)?
        }
    };
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(hit).collect()
}

/// Every term as an FTS5 string, space-separated (FTS5's implicit AND). Inside a string only `"`
/// is special, and it is doubled.
fn fts5_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// All terms must match; each matches stemmed ('english') or as written ('simple'), mirroring the
/// two halves of `search_vector`. Terms are bound from parameter `$first` on. A term that yields
/// no lexeme (a stop word in both) drops out of the `&&` rather than failing the query, as an
/// empty string does in FTS5.
fn tsquery(terms: usize, first: usize) -> String {
    (first..first + terms)
        .map(|p| format!("(plainto_tsquery('english', ${p}) || plainto_tsquery('simple', ${p}))"))
        .collect::<Vec<_>>()
        .join(" && ")
}

fn hit((id, conversation, created_at_ms, fragment): HitRow) -> StoreResult<MessageHit> {
    let message_id = MessageId::parse(&id)
        .ok_or_else(|| StoreError::Corrupt(format!("bad message id '{id}'")))?;
    let conversation_id = ConversationId::parse(&conversation)
        .ok_or_else(|| StoreError::Corrupt(format!("bad conversation id '{conversation}'")))?;
    Ok(MessageHit {
        message_id,
        conversation_id,
        position: SearchPosition {
            created_at_ms,
            message_id,
        },
        fragments: fragment.into_iter().filter(|f| !f.is_empty()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts5_terms_are_quoted_strings() {
        let terms = vec!["near".to_owned(), "a\"b".to_owned()];
        assert_eq!(fts5_query(&terms), "\"near\" \"a\"\"b\"");
    }

    #[test]
    fn every_term_is_a_parameter() {
        assert_eq!(
            tsquery(2, 7),
            "(plainto_tsquery('english', $7) || plainto_tsquery('simple', $7)) && \
             (plainto_tsquery('english', $8) || plainto_tsquery('simple', $8))"
        );
    }
}
