//! Traces across every hop: two `chemchat-server` processes on one PostgreSQL and one Redis,
//! with Kafka and OpenSearch, export to a real OTLP receiver. One `message.send` on instance A
//! must come back as one trace: the WebSocket event, the use case, its SQL statements, the
//! fan-out on A, the outbox relay and its Kafka produce on whichever instance claimed the
//! conversation, the search indexer's consumption, and the bus delivery to the socket on B.

use crate::support::api::{api_group, api_user};
use crate::support::instance::Instance;
use crate::support::otlp::{OtlpReceiver, ReceivedSpan};
use crate::support::services;
use crate::support::ws::Ws;
use crate::support::{Engine, TestDb};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

/// Export quickly, so the test waits for the spans, not for the batch timer.
const EXPORT: [(&str, &str); 2] = [("OTEL_BSP_SCHEDULE_DELAY", "100"), ("RUST_LOG", "warn")];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_message_is_one_trace_across_instances_kafka_and_the_index() {
    let receiver = OtlpReceiver::start().await;
    let db = TestDb::new(Engine::Postgres).await;
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let tenant = format!(
        "traced-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let (brokers, search) = (services::kafka_brokers(), services::search_url());
    let mut env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("CHEMCHAT_KAFKA_BROKERS", brokers.as_str()),
        ("CHEMCHAT_SEARCH_URL", search.as_str()),
        ("CHEMCHAT_TENANT_ID", tenant.as_str()),
    ];
    env.extend(EXPORT);
    let a = Instance::start_with(&db, &services::redis_url(), &prefix, &env).await;
    let b = Instance::start_with(&db, &services::redis_url(), &prefix, &env).await;
    let alice = api_user(&a.api, None, "alice").await;
    let bob = api_user(&b.api, None, "bob").await;
    let room = api_group(&a.api, &alice, &[&bob]).await;

    let (mut on_b, _) = Ws::login(b.api.addr, &bob.token).await;
    on_b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    // The join reaches Redis a moment after its ack.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut on_a, _) = Ws::login(a.api.addr, &alice.token).await;
    let sent = on_a
        .ok(
            "message.send",
            json!({ "conversationId": room, "content": "traced hello", "clientMessageId": "t1" }),
        )
        .await;
    let created = on_b
        .expect_where("message.created", |d| d["id"] == sent["id"])
        .await;
    assert_eq!(created["content"], "traced hello");

    // The WebSocket event is the root of the message's trace.
    let root = receiver
        .until(Duration::from_secs(20), "ws message.send span", |spans| {
            spans
                .iter()
                .find(|s| s.name == "ws message.send" && s.parent_span_id.is_empty())
                .cloned()
        })
        .await;
    assert_eq!(root.service, "chemchat-server");
    let instance_a = root.instance.clone();
    let in_trace = |spans: &[ReceivedSpan], name: &str| -> Option<ReceivedSpan> {
        spans
            .iter()
            .find(|s| s.trace_id == root.trace_id && s.name == name)
            .cloned()
    };
    let within = Duration::from_secs(60);
    for name in ["send_message", "fanout"] {
        let span = receiver
            .until(within, name, |spans| in_trace(spans, name))
            .await;
        assert_eq!(
            span.instance, instance_a,
            "{name} runs on the sending instance"
        );
    }
    // Any replica's relay may claim the conversation (the sender's is woken by the commit, the
    // other's may be polling at that moment); the Kafka produce is part of the same round.
    let ship = receiver
        .until(within, "outbox.ship", |spans| {
            in_trace(spans, "outbox.ship")
        })
        .await;
    // The claim that preceded the round, timed.
    let claim_ms = ship.attributes.get("claim_ms").map(|v| v.parse::<f64>());
    assert!(matches!(claim_ms, Some(Ok(ms)) if ms >= 0.0), "{ship:?}");
    let produce = receiver
        .until(within, "chemchat.events publish", |spans| {
            in_trace(spans, "chemchat.events publish")
        })
        .await;
    assert_eq!(
        produce.instance, ship.instance,
        "the Kafka produce runs in the relay's round"
    );
    // The statements of the use case, named by kind and table.
    let statements = receiver
        .until(within, "the use case's SQL statements", |spans| {
            let names: HashSet<String> = spans
                .iter()
                .filter(|s| {
                    s.trace_id == root.trace_id && s.attributes.contains_key("db.operation.name")
                })
                .map(|s| s.name.clone())
                .collect();
            // The batch's read (named by the table its first `JOIN LATERAL` probes; the lock
            // travels with `BEGIN`), then its writes: one statement of `WITH` clauses on
            // PostgreSQL, which sqlx names by its first keyword and table.
            (names.contains("SELECT conversations") && names.contains("WITH messages"))
                .then_some(names)
        })
        .await;
    assert!(
        statements.iter().all(|n| !n.contains('$')),
        "span names carry no statement text: {statements:?}"
    );
    // The bus hop: delivered to bob's socket by the other instance, in the same trace.
    let hop = receiver
        .until(within, "bus.deliver on instance B", |spans| {
            in_trace(spans, "bus.deliver")
        })
        .await;
    assert_ne!(hop.instance, instance_a, "delivered by the other instance");
    assert_eq!(
        hop.attributes.get("connections").map(String::as_str),
        Some("1")
    );
    // The event log's consumers, on whichever instance holds the partition: in the message's
    // trace, or — when its batch began with an earlier event — linked to it.
    for name in ["search.index", "notify"] {
        receiver
            .until(
                within,
                &format!("{name} in or linked to the message's trace"),
                |spans| {
                    spans
                        .iter()
                        .find(|s| {
                            s.name == name
                                && (s.trace_id == root.trace_id || s.links.contains(&root.trace_id))
                        })
                        .cloned()
                },
            )
            .await;
    }
    // Every span of the trace hangs together: each parent is in the trace.
    let spans: Vec<ReceivedSpan> = receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == root.trace_id)
        .collect();
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    for span in &spans {
        assert!(
            span.parent_span_id.is_empty() || ids.contains(span.parent_span_id.as_str()),
            "{} has a parent outside the trace",
            span.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_traceparent_is_continued_and_unmatched_routes_stay_one_name() {
    let receiver = OtlpReceiver::start().await;
    let db = TestDb::new(Engine::Sqlite).await;
    let mut env = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str())];
    env.extend(EXPORT);
    let server = Instance::start_with(&db, &services::redis_url(), "unused:", &env).await;
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = server
        .api
        .http
        .get(
            server
                .api
                .url("/api/v1/conversations/0192f0f0-0000-7000-8000-000000000000"),
        )
        .header(
            "traceparent",
            format!("00-{caller_trace}-00f067aa0ba902b7-01"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let span = receiver
        .until(Duration::from_secs(20), "the request's span", |spans| {
            spans
                .iter()
                .find(|s| s.trace_id == caller_trace && s.name.starts_with("GET "))
                .cloned()
        })
        .await;
    assert_eq!(span.name, "GET /api/v1/conversations/{id}");
    assert_eq!(span.parent_span_id, "00f067aa0ba902b7");
    assert_eq!(
        span.attributes
            .get("http.response.status_code")
            .map(String::as_str),
        Some("401")
    );
    for n in 0..3 {
        server
            .api
            .http
            .get(server.api.url(&format!("/no/such/route/{n}")))
            .send()
            .await
            .unwrap();
    }
    receiver
        .until(
            Duration::from_secs(20),
            "unmatched routes under one name",
            |spans| {
                let unmatched = spans.iter().filter(|s| s.name == "GET unmatched").count();
                (unmatched >= 3).then_some(())
            },
        )
        .await;

    // Use cases beyond chat have spans of their own, inside their request's trace.
    api_user(&server.api, None, "carol").await;
    let spans = receiver
        .until(Duration::from_secs(20), "register and login", |spans| {
            let named = |name: &str| spans.iter().find(|s| s.name == name).cloned();
            Some((named("register")?, named("login")?, spans.to_vec()))
        })
        .await;
    let (register, _, all) = spans;
    let request = all
        .iter()
        .find(|s| s.span_id == register.parent_span_id)
        .expect("the register span's parent was exported");
    assert_eq!(request.name, "POST /api/v1/auth/register");
    assert_eq!(request.trace_id, register.trace_id);
}
