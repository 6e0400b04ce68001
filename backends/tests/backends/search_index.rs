//! `IndexAdmin` against the real OpenSearch-API server (osmem from `make services`).

use std::time::{Duration, Instant};

use crate::support::{closed_port, search_url, unique};
use chemchat_backends::search_index::{IndexAdmin, IndexOutcome};
use chemchat_backends::{BasicAuth, Deleted};
use elasticsearch::Elasticsearch;
use elasticsearch::http::transport::Transport;
use elasticsearch::indices::IndicesGetMappingParts;
use serde_json::Value;

fn admin() -> IndexAdmin {
    IndexAdmin::new(&search_url(), None, Duration::from_secs(5)).unwrap()
}

async fn mapping(index: &str) -> Value {
    let transport = Transport::single_node(&search_url()).unwrap();
    let response = Elasticsearch::new(transport)
        .indices()
        .get_mapping(IndicesGetMappingParts::Index(&[index]))
        .send()
        .await
        .unwrap();
    assert!(response.status_code().is_success(), "GET {index}/_mapping");
    response.json().await.unwrap()
}

#[tokio::test]
async fn create_twice_applies_the_mapping_and_delete_twice() {
    let (admin, index) = (admin(), unique("chemchat-test-messages"));
    assert!(!admin.exists(&index).await.unwrap());
    assert_eq!(
        admin.ensure(&index, 1, 0).await.unwrap(),
        IndexOutcome::Created
    );
    assert_eq!(
        admin.ensure(&index, 1, 0).await.unwrap(),
        IndexOutcome::Unchanged
    );
    assert!(admin.exists(&index).await.unwrap());
    let mapping = mapping(&index).await;
    let properties = &mapping[&index]["mappings"]["properties"];
    assert_eq!(properties["conversationId"]["type"], "keyword", "{mapping}");
    assert_eq!(properties["content"]["type"], "text", "{mapping}");
    assert_eq!(properties["content"]["analyzer"], "chat", "{mapping}");
    assert_eq!(
        properties["content"]["fields"]["english"]["analyzer"],
        "chat_english"
    );
    assert_eq!(mapping[&index]["mappings"]["dynamic"], "strict");
    assert_eq!(admin.delete(&index).await.unwrap(), Deleted::Deleted);
    assert!(!admin.exists(&index).await.unwrap());
    assert_eq!(admin.delete(&index).await.unwrap(), Deleted::AlreadyGone);
}

#[tokio::test]
async fn credentials_are_sent_and_never_printed() {
    // osmem does not check credentials; this shows they do not break a request or leak.
    let auth = BasicAuth::new("chemchat", "s3cr3t-password");
    let admin = IndexAdmin::new(&search_url(), Some(auth), Duration::from_secs(5)).unwrap();
    let index = unique("chemchat-test-messages");
    assert_eq!(
        admin.ensure(&index, 1, 0).await.unwrap(),
        IndexOutcome::Created
    );
    assert!(!format!("{admin:?}").contains("s3cr3t"));
    admin.delete(&index).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_named_within_seconds() {
    let url = format!("http://user:s3cr3t@{}", closed_port());
    let admin = IndexAdmin::new(&url, None, Duration::from_secs(2)).unwrap();
    let started = Instant::now();
    let err = admin
        .ensure("chemchat-test-messages", 1, 0)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.is_unreachable(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(admin.address()) && message.contains("unreachable"),
        "{message}"
    );
    assert!(!message.contains("s3cr3t"), "{message}");
    assert!(admin.delete("x").await.unwrap_err().is_unreachable());
}
