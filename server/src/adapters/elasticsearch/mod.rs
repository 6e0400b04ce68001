//! The Elasticsearch/OpenSearch adapter of `SearchIndex`, selected by `CHEMCHAT_SEARCH_URL`: one
//! index per tenant (`chemchat-<tenant>-messages`) with the explicit mapping of
//! `chemchat_backends`, fed by the search indexer in bulk (see [`documents`] for why each
//! write is versioned), queried with the caller's readable conversations as a filter.

mod documents;

use crate::domain::{ConversationId, MessageId};
use crate::ports::chat::StoredEvent;
use crate::ports::{
    MARK_END, MARK_START, MessageHit, MessageSearch, SearchError, SearchIndex, SearchPosition,
};
use anyhow::{Context, anyhow};
use async_trait::async_trait;
use chemchat_backends::search_index::IndexAdmin;
use elasticsearch::http::request::JsonBody;
use elasticsearch::{BulkParts, Elasticsearch, SearchParts};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Longest wait for one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Shards and replicas of an index the server has to create itself (normally the operator did).
#[derive(Debug, Clone, Copy)]
pub struct IndexSettings {
    /// Primary shards.
    pub shards: u32,
    /// Replicas of each shard.
    pub replicas: u32,
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            shards: 1,
            replicas: 1,
        }
    }
}

/// Search through Elasticsearch or OpenSearch.
#[derive(Clone)]
pub struct ElasticSearchIndex {
    client: Elasticsearch,
    admin: IndexAdmin,
    settings: IndexSettings,
    /// Indices known to exist, so each is created at most once per process.
    indices: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for ElasticSearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticSearchIndex").finish_non_exhaustive()
    }
}

/// Duplicate or stale events refused by the index's versioning (counter).
pub const METRIC_STALE: &str = "chemchat_search_stale_events_total";

impl ElasticSearchIndex {
    /// A client for `url`; credentials may ride in it (`https://user:pass@host:9200`) and are
    /// moved into an Authorization header. Fails when the server does not answer.
    pub async fn connect(url: &str, settings: IndexSettings) -> anyhow::Result<Self> {
        // Credentials embedded in the URL become an Authorization header, never logged.
        let admin = IndexAdmin::new(url, None, REQUEST_TIMEOUT)?;
        let client = admin.client().clone();
        client
            .info()
            .send()
            .await
            .and_then(|r| r.error_for_status_code())
            .with_context(|| format!("the search server at {} does not answer", admin.address()))?;
        Ok(Self {
            client,
            admin,
            settings,
            indices: Arc::default(),
        })
    }

    /// Creates the tenant's index with its mapping unless it exists.
    async fn ensure_index(&self, index: &str) -> anyhow::Result<()> {
        let mut known = self.indices.lock().await;
        if !known.contains(index) {
            self.admin
                .ensure(index, self.settings.shards, self.settings.replicas)
                .await?;
            known.insert(index.to_owned());
        }
        Ok(())
    }

    async fn bulk(&self, index: &str, operations: &[documents::Operation]) -> anyhow::Result<()> {
        self.ensure_index(index).await?;
        let mut body: Vec<JsonBody<Value>> = Vec::with_capacity(operations.len() * 2);
        for op in operations {
            body.push(op.action.clone().into());
            body.push(op.document.clone().into());
        }
        let response = self
            .client
            .bulk(BulkParts::Index(index))
            .refresh(elasticsearch::params::Refresh::False)
            .body(body)
            .send()
            .await?
            .error_for_status_code()?;
        let result: Value = response.json().await?;
        if result["errors"].as_bool() != Some(true) {
            return Ok(());
        }
        for item in result["items"].as_array().into_iter().flatten() {
            let outcome = &item["index"];
            match outcome["status"].as_u64() {
                Some(200..=299) => {}
                // A version the index already has or has passed: a duplicate or a late event.
                Some(409) => metrics::counter!(METRIC_STALE).increment(1),
                _ => {
                    return Err(anyhow!(
                        "bulk indexing into {index} failed: {}",
                        outcome["error"]
                    ));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SearchIndex for ElasticSearchIndex {
    async fn search_messages(&self, query: &MessageSearch) -> Result<Vec<MessageHit>, SearchError> {
        let index = chemchat_crds::contract::messages_index(query.tenant.as_str());
        let text = query.terms.join(" ");
        let conversations: Vec<String> = query
            .conversations
            .iter()
            .map(ToString::to_string)
            .collect();
        let fragments = json!({ "number_of_fragments": 3, "fragment_size": 150 });
        let mut body = json!({
            "size": query.limit,
            "_source": ["messageId", "conversationId", "createdAtMs"],
            "query": { "bool": {
                "should": [
                    { "match": { "content": { "query": text, "operator": "and" } } },
                    { "match": { "content.english": { "query": text, "operator": "and" } } },
                ],
                "minimum_should_match": 1,
                "filter": [ { "terms": { "conversationId": conversations } } ],
            }},
            "sort": [ { "createdAtMs": "desc" }, { "messageId": "desc" } ],
            "highlight": {
                "pre_tags": [MARK_START.to_string()],
                "post_tags": [MARK_END.to_string()],
                "fields": { "content": fragments, "content.english": fragments },
            },
        });
        if let Some(after) = &query.after {
            body["search_after"] = json!([after.created_at_ms, after.message_id.to_string()]);
        }
        let response = self
            .client
            .search(SearchParts::Index(&[&index]))
            .ignore_unavailable(true)
            .body(body)
            .send()
            .await
            .map_err(|e| SearchError(e.into()))?;
        let status = response.status_code();
        let result: Value = response.json().await.map_err(|e| SearchError(e.into()))?;
        if !status.is_success() {
            return Err(SearchError(anyhow!(
                "search in {index} failed: {status} {}",
                result["error"]
            )));
        }
        let hits = result["hits"]["hits"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        hits.iter()
            .map(hit)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                SearchError(anyhow!(
                    "search in {index} returned a hit without its fields"
                ))
            })
    }

    fn wants_events(&self) -> bool {
        true
    }

    async fn apply(&self, events: &[Arc<StoredEvent>]) -> Result<(), SearchError> {
        let mut by_index: BTreeMap<String, Vec<documents::Operation>> = BTreeMap::new();
        for op in events.iter().filter_map(|e| documents::operation(e)) {
            by_index.entry(op.index.clone()).or_default().push(op);
        }
        for (index, operations) in by_index {
            self.bulk(&index, &operations).await.map_err(SearchError)?;
        }
        Ok(())
    }
}

fn hit(hit: &Value) -> Option<MessageHit> {
    let source = &hit["_source"];
    let message_id = MessageId::parse(source["messageId"].as_str()?)?;
    let conversation_id = ConversationId::parse(source["conversationId"].as_str()?)?;
    let created_at_ms = source["createdAtMs"].as_i64()?;
    let highlight = &hit["highlight"];
    let fragments = highlight["content"]
        .as_array()
        .or_else(|| highlight["content.english"].as_array())
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(MessageHit {
        message_id,
        conversation_id,
        position: SearchPosition {
            created_at_ms,
            message_id,
        },
        fragments,
    })
}
