//! Creating and deleting a tenant's messages index through the Elasticsearch/OpenSearch API.
//!
//! An existing index is left exactly as it is: shard counts are fixed at creation, and a mapping
//! change needs a reindex, which is a migration, not something a reconcile loop should do.

use std::time::Duration;

use elasticsearch::Elasticsearch;
use elasticsearch::auth::Credentials;
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{StatusCode, Url};
use elasticsearch::indices::{IndicesCreateParts, IndicesDeleteParts, IndicesExistsParts};
use serde_json::Value;

use super::messages_index_body;
use crate::Deleted;
use crate::credentials::BasicAuth;
use crate::error::{Backend, Error, Result};

/// How long one request may take before the server counts as unreachable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`IndexAdmin::ensure`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexOutcome {
    /// The index did not exist and was created with the messages mapping.
    Created,
    /// The index already existed (possibly created concurrently) and was left as is.
    Unchanged,
}

/// Admin operations on one search server.
#[derive(Clone)]
pub struct IndexAdmin {
    client: Elasticsearch,
    /// The URL without any user info, safe for messages.
    address: String,
}

impl std::fmt::Debug for IndexAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its transport's `Debug` prints the credentials.
        f.debug_struct("IndexAdmin")
            .field("address", &self.address)
            .finish()
    }
}

impl IndexAdmin {
    /// A client for the server at `url`, with optional basic auth, giving up on a request
    /// after `timeout`. Credentials embedded in the URL are used when none are given.
    pub fn new(url: &str, credentials: Option<BasicAuth>, timeout: Duration) -> Result<Self> {
        let mut url = Url::parse(url).map_err(|e| Error::Invalid {
            what: "search URL",
            detail: format!("`{}`: {e}", redact(url)),
        })?;
        let embedded = (!url.username().is_empty())
            .then(|| BasicAuth::new(url.username(), url.password().unwrap_or_default()));
        // Both setters only fail for URLs that cannot carry credentials, which then have none.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let address = url.as_str().trim_end_matches('/').to_owned();
        let mut builder =
            TransportBuilder::new(SingleNodeConnectionPool::new(url)).timeout(timeout);
        if let Some(auth) = credentials.or(embedded) {
            builder = builder.auth(Credentials::Basic(
                auth.username().to_owned(),
                auth.password().to_owned(),
            ));
        }
        let transport = builder.build().map_err(|e| Error::Invalid {
            what: "search client",
            detail: e.to_string(),
        })?;
        Ok(Self {
            client: Elasticsearch::new(transport),
            address,
        })
    }

    /// The configured client (credentials and timeout applied), for the server's searches and
    /// bulk writes, so the URL and its credentials are handled in one place.
    pub fn client(&self) -> &Elasticsearch {
        &self.client
    }

    /// The server's URL without credentials.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Creates the index with [`messages_index_body`] unless it exists. An index that already
    /// exists — found first, or created by someone else in between — is `Unchanged`.
    pub async fn ensure(&self, name: &str, shards: u32, replicas: u32) -> Result<IndexOutcome> {
        if shards == 0 {
            return Err(Error::Invalid {
                what: "shards",
                detail: "an index needs at least one shard".to_owned(),
            });
        }
        if self.exists(name).await? {
            return Ok(IndexOutcome::Unchanged);
        }
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(name))
            .body(messages_index_body(shards, replicas))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if response.status_code().is_success() {
            return Ok(IndexOutcome::Created);
        }
        let (kind, detail) = failure(response).await;
        if kind == "resource_already_exists_exception" {
            Ok(IndexOutcome::Unchanged)
        } else {
            Err(self.rejected("create index", name, detail))
        }
    }

    /// True when the index exists.
    pub async fn exists(&self, name: &str) -> Result<bool> {
        let response = self
            .client
            .indices()
            .exists(IndicesExistsParts::Index(&[name]))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        match response.status_code() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.rejected("look up index", name, failure(response).await.1)),
        }
    }

    /// Deletes the index and its documents; an index that does not exist is `AlreadyGone`.
    pub async fn delete(&self, name: &str) -> Result<Deleted> {
        let response = self
            .client
            .indices()
            .delete(IndicesDeleteParts::Index(&[name]))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        match response.status_code() {
            s if s.is_success() => Ok(Deleted::Deleted),
            StatusCode::NOT_FOUND => Ok(Deleted::AlreadyGone),
            _ => Err(self.rejected("delete index", name, failure(response).await.1)),
        }
    }

    fn unreachable(&self, err: &elasticsearch::Error) -> Error {
        Error::Unreachable {
            backend: Backend::Search,
            address: self.address.clone(),
            detail: error_chain(err),
        }
    }

    fn rejected(&self, operation: &'static str, index: &str, detail: String) -> Error {
        Error::Rejected {
            backend: Backend::Search,
            address: self.address.clone(),
            operation,
            resource: index.to_owned(),
            detail,
        }
    }
}

/// The error `type` and a one-line description of a failed response.
async fn failure(response: Response) -> (String, String) {
    let status = response.status_code();
    let body = response.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let kind = json["error"]["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let detail = match json["error"]["reason"].as_str() {
        Some(reason) => format!("{status}: {kind}: {reason}"),
        None => format!("{status}: {}", body.chars().take(300).collect::<String>()),
    };
    (kind, detail)
}

/// The error and its causes on one line: reqwest's own message omits the cause ("connection
/// refused"), which is the part an operator needs.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    redact(&parts.join(": "))
}

/// Removes `user:password@` from any URL in a message.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(['/', ' ', ')']).unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => rest = &tail[at + 1..],
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_carry_url_credentials() {
        assert_eq!(
            redact("error sending request for url (http://u:p@h:9200/x): refused"),
            "error sending request for url (http://h:9200/x): refused"
        );
        assert_eq!(redact("plain http://h:9200"), "plain http://h:9200");
    }

    #[test]
    fn the_address_drops_embedded_credentials_and_debug_hides_them() {
        let admin = IndexAdmin::new("https://u:secret@search:9200/", None, DEFAULT_TIMEOUT)
            .expect("valid URL");
        assert_eq!(admin.address(), "https://search:9200");
        assert!(!format!("{admin:?}").contains("secret"));
        let with = IndexAdmin::new(
            "http://search:9200",
            Some(BasicAuth::new("u", "secret")),
            DEFAULT_TIMEOUT,
        )
        .expect("valid URL");
        assert!(!format!("{with:?}").contains("secret"));
        assert!(IndexAdmin::new("not a url", None, DEFAULT_TIMEOUT).is_err());
    }
}
