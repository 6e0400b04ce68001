//! Search over the real HTTP API on all three adapters — SQLite FTS5, PostgreSQL `tsvector`, and
//! OpenSearch (the server on PostgreSQL with `CHEMCHAT_SEARCH_URL` set, fed by its indexer):
//! messages found as sent, stemmed, edited and deleted; only conversations the caller reads now; safe highlights; cursor pages; every bad
//! query a 400 naming its field; query syntax in user text never an error; conversations by name.

use crate::support::Engine;
use crate::support::api::{ApiUser, api_group, api_user, assert_error, call, request, send_text};
use crate::support::server::TestServer;
use crate::support::services;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Which search adapter serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    OpenSearch,
}

/// The server with the backend's search adapter.
async fn start(backend: Backend) -> TestServer {
    match backend {
        Backend::Sqlite => TestServer::start(Engine::Sqlite).await,
        Backend::Postgres => TestServer::start(Engine::Postgres).await,
        Backend::OpenSearch => {
            let url = services::search_url();
            TestServer::start_with(Engine::Postgres, |settings| {
                settings.search_url = Some(url.into());
            })
            .await
        }
    }
}

/// Runs a test body on every search adapter.
macro_rules! every_adapter {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$body(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$body(Backend::Postgres).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn opensearch() {
                super::$body(Backend::OpenSearch).await;
            }
        }
    };
}

/// `GET path?params` as `user`.
async fn get(
    server: &TestServer,
    user: &ApiUser,
    path: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut url = reqwest::Url::parse(&server.url(path)).unwrap();
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    server.call(request(server, user, Method::GET, url)).await
}

async fn search(server: &TestServer, user: &ApiUser, params: &[(&str, &str)]) -> Value {
    let (status, body) = get(server, user, "/api/v1/search/messages", params).await;
    assert_eq!(status, StatusCode::OK, "{params:?}: {body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|item| item["message"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Searches until `want` holds or 5 s pass (an external index may lag; SQL is immediate), and
/// returns the last page.
async fn search_until(
    server: &TestServer,
    user: &ApiUser,
    params: &[(&str, &str)],
    want: impl Fn(&[String]) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = search(server, user, params).await;
        if want(&ids(&page)) || Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn found_sent_edited_and_deleted(backend: Backend) {
    let server = start(backend).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let conversation = api_group(&server, &alice, &[&bob]).await;
    let id = send_text(&server, &alice, &conversation, "I run every morning").await;

    // Found as sent; "running" is stemmed to "run"; case does not matter.
    for q in ["morning", "running", "RUN every"] {
        let page = search_until(&server, &bob, &[("q", q)], |ids| ids.contains(&id)).await;
        assert_eq!(ids(&page), [id.as_str()], "{q}: {page}");
    }
    let page = search(&server, &bob, &[("q", "run")]).await;
    let item = &page["items"][0];
    assert!(
        item["highlights"][0]
            .as_str()
            .unwrap()
            .contains("<mark>run</mark>"),
        "{page}"
    );
    // The message is the view history gives.
    let (_, history) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}/messages"),
        None,
    )
    .await;
    assert_eq!(item["message"], history["messages"][0]);
    assert_eq!(page["nextCursor"], Value::Null);

    // Stemming the other way, and a non-English word matches as written.
    let running = send_text(&server, &bob, &conversation, "they were running late").await;
    let page = search_until(&server, &alice, &[("q", "run")], |ids| ids.len() == 2).await;
    assert_eq!(ids(&page), [running.clone(), id.clone()], "newest first");
    let german = send_text(&server, &bob, &conversation, "Die Häuser sind schön").await;
    let page = search_until(&server, &alice, &[("q", "häuser")], |ids| !ids.is_empty()).await;
    assert_eq!(ids(&page), [german]);

    // An edit: the new text is found, the old one is not.
    let path = format!("/api/v1/messages/{id}");
    let (status, body) = call(
        &server,
        &alice,
        Method::PUT,
        &path,
        Some(json!({ "content": "now I swim daily" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = search_until(&server, &bob, &[("q", "swim")], |ids| ids.contains(&id)).await;
    assert_eq!(ids(&page), [id.as_str()]);
    let page = search_until(&server, &bob, &[("q", "morning")], <[String]>::is_empty).await;
    assert_eq!(ids(&page), Vec::<String>::new(), "old text still found");
    let page = search(&server, &bob, &[("q", "run")]).await;
    assert_eq!(ids(&page), [running.as_str()]);

    // A delete: gone, in every conversation scope, and stays gone when the words come back.
    let (status, _) = call(&server, &alice, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let page = search_until(&server, &bob, &[("q", "swim")], <[String]>::is_empty).await;
    assert_eq!(ids(&page), Vec::<String>::new(), "deleted message found");
    let page = search(
        &server,
        &alice,
        &[("q", "swim"), ("conversation_id", &conversation)],
    )
    .await;
    assert_eq!(ids(&page), Vec::<String>::new());
    let again = send_text(&server, &bob, &conversation, "swim daily, again").await;
    let page = search_until(&server, &alice, &[("q", "swim daily")], |ids| {
        ids.contains(&again)
    })
    .await;
    assert_eq!(ids(&page), [again]);
}
every_adapter!(found_edited_deleted, found_sent_edited_and_deleted);

async fn only_conversations_the_caller_reads_now(backend: Backend) {
    let server = start(backend).await;
    server
        .add_tenant("globex", chemchat_server::domain::Tier::Enterprise)
        .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let outsider = api_user(&server, None, "outsider").await;
    let foreigner = api_user(&server, Some("globex"), "foreigner").await;
    let shared = api_group(&server, &alice, &[&bob]).await;
    let private = api_group(&server, &alice, &[]).await;
    let outside = api_group(&server, &outsider, &[]).await;
    let abroad = api_group(&server, &foreigner, &[]).await;
    let in_shared = send_text(&server, &alice, &shared, "secret plans").await;
    let in_private = send_text(&server, &alice, &private, "secret diary").await;
    let in_outside = send_text(&server, &outsider, &outside, "secret outside").await;
    let in_abroad = send_text(&server, &foreigner, &abroad, "secret abroad").await;

    let page = search_until(&server, &alice, &[("q", "secret")], |ids| ids.len() == 2).await;
    assert_eq!(
        ids(&page).into_iter().collect::<HashSet<_>>(),
        HashSet::from([in_shared.clone(), in_private.clone()])
    );
    let page = search(
        &server,
        &alice,
        &[("q", "secret"), ("conversation_id", &shared)],
    )
    .await;
    assert_eq!(
        ids(&page),
        [in_shared.as_str()],
        "scoped to one conversation"
    );
    // Each search waits for its own hits: the index takes the messages in whatever batches the
    // relay ships, so alice's two may be searchable before the outsider's and the foreigner's.
    let found = |ids: &[String]| !ids.is_empty();
    assert_eq!(
        ids(&search_until(&server, &bob, &[("q", "secret")], found).await),
        [in_shared.as_str()]
    );
    assert_eq!(
        ids(&search_until(&server, &outsider, &[("q", "secret")], found).await),
        [in_outside]
    );
    assert_eq!(
        ids(&search_until(&server, &foreigner, &[("q", "secret")], found).await),
        [in_abroad]
    );

    // Naming a conversation one is not in is the same 404 as every conversation route.
    for (user, conversation) in [
        (&outsider, &shared),
        (&bob, &private),
        (&foreigner, &shared),
        (&alice, &abroad),
        (&alice, &outside),
    ] {
        let (s, b) = get(
            &server,
            user,
            "/api/v1/search/messages",
            &[("q", "secret"), ("conversation_id", conversation)],
        )
        .await;
        assert_error(s, &b, StatusCode::NOT_FOUND, "conversation_not_found");
    }

    // A removed member no longer finds the conversation's messages.
    let (s, b) = call(
        &server,
        &alice,
        Method::DELETE,
        &format!("/api/v1/conversations/{shared}/members/{}", bob.id),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        ids(&search(&server, &bob, &[("q", "secret")]).await),
        Vec::<String>::new()
    );
    let (s, b) = get(
        &server,
        &bob,
        "/api/v1/search/messages",
        &[("q", "secret"), ("conversation_id", &shared)],
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "conversation_not_found");
}
every_adapter!(isolation, only_conversations_the_caller_reads_now);

async fn highlights_are_escaped_html(backend: Backend) {
    let server = start(backend).await;
    let alice = api_user(&server, None, "alice").await;
    let conversation = api_group(&server, &alice, &[]).await;
    let text = "<b>bold</b> & \"quoted\" payload <script>alert('x')</script> 'single'";
    send_text(&server, &alice, &conversation, text).await;
    let page = search_until(&server, &alice, &[("q", "payload")], |ids| ids.len() == 1).await;
    let item = &page["items"][0];
    assert_eq!(
        item["message"]["content"], text,
        "the message itself is raw text"
    );
    let highlights = item["highlights"].as_array().unwrap();
    assert!(!highlights.is_empty(), "{page}");
    let html: String = highlights.iter().map(|h| h.as_str().unwrap()).collect();
    assert!(html.contains("<mark>payload</mark>"), "{html}");
    assert!(html.contains("&amp;"), "{html}");
    let text_only = html.replace("<mark>", "").replace("</mark>", "");
    assert!(
        !text_only.contains('<') && !text_only.contains('>') && !text_only.contains('"'),
        "only <mark> is markup: {html}"
    );
    if backend != Backend::Postgres {
        // PostgreSQL's headline drops tags from fragments; FTS5's snippet and OpenSearch's
        // highlighter keep them, escaped.
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
every_adapter!(safe_highlights, highlights_are_escaped_html);

fn position(item: &Value) -> (i128, String) {
    let timestamp = item["message"]["timestamp"].as_str().unwrap();
    let at = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .unwrap();
    (
        at.unix_timestamp_nanos(),
        item["message"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn pages_visit_every_hit_once_newest_first(backend: Backend) {
    let server = start(backend).await;
    let alice = api_user(&server, None, "alice").await;
    let first = api_group(&server, &alice, &[]).await;
    let second = api_group(&server, &alice, &[]).await;
    let mut sent = HashSet::new();
    for i in 0..45 {
        let conversation = if i % 3 == 0 { &second } else { &first };
        sent.insert(send_text(&server, &alice, conversation, &format!("needle number {i}")).await);
        if i % 5 == 0 {
            send_text(&server, &alice, conversation, "hay only").await;
        }
    }
    search_until(
        &server,
        &alice,
        &[("q", "needle"), ("limit", "100")],
        |ids| ids.len() == 45,
    )
    .await;
    let default = search(&server, &alice, &[("q", "needle")]).await;
    assert_eq!(ids(&default).len(), 20, "the default page is 20");

    let mut visited = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = vec![("q", "needle"), ("limit", "20")];
        if let Some(c) = &cursor {
            params.push(("cursor", c.as_str()));
        }
        let page = search(&server, &alice, &params).await;
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        visited.extend(items.iter().map(position));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(sizes.len() < 10, "runaway paging");
    }
    assert_eq!(sizes, [20, 20, 5]);
    let unique: HashSet<String> = visited.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(unique, sent, "each hit exactly once");
    assert_eq!(visited.len(), 45);
    assert!(
        visited.windows(2).all(|w| w[0] > w[1]),
        "newest first: {visited:?}"
    );
}
every_adapter!(pagination, pages_visit_every_hit_once_newest_first);

async fn malformed_queries_are_400_naming_the_field(backend: Backend) {
    let server = start(backend).await;
    let alice = api_user(&server, None, "alice").await;
    let conversation = api_group(&server, &alice, &[]).await;
    send_text(&server, &alice, &conversation, "something to find").await;
    let long = "a".repeat(300);
    let seventeen: Vec<String> = (0..17).map(|i| format!("word{i}")).collect();
    let seventeen = seventeen.join(" ");
    let messages: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "q"),
        (vec![("q", "")], "q"),
        (vec![("q", "   \t ")], "q"),
        (vec![("q", "?!*()\"-:")], "q"),
        (vec![("q", "find\0me")], "q"),
        (vec![("q", &long)], "q"),
        (vec![("q", &seventeen)], "q"),
        (vec![("q", "find"), ("cursor", "not-a-cursor")], "cursor"),
        (vec![("q", "find"), ("cursor", "AQ")], "cursor"),
        (vec![("q", "find"), ("limit", "0")], "limit"),
        (vec![("q", "find"), ("limit", "101")], "limit"),
        (vec![("q", "find"), ("limit", "ten")], "limit"),
        (vec![("q", "find"), ("limit", "-1")], "limit"),
        (
            vec![("q", "find"), ("conversation_id", "nope")],
            "conversation_id",
        ),
    ];
    for (params, field) in &messages {
        let (s, b) = get(&server, &alice, "/api/v1/search/messages", params).await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_query");
        assert_eq!(b["error"]["field"], *field, "{params:?}: {b}");
    }
    let conversations: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "q"),
        (vec![("q", "  ")], "q"),
        (vec![("q", "a\0")], "q"),
        (vec![("q", &long)], "q"),
        (vec![("q", "team"), ("cursor", "!!")], "cursor"),
        (vec![("q", "team"), ("limit", "0")], "limit"),
        (vec![("q", "team"), ("limit", "many")], "limit"),
    ];
    for (params, field) in &conversations {
        let (s, b) = get(&server, &alice, "/api/v1/search/conversations", params).await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_query");
        assert_eq!(b["error"]["field"], *field, "{params:?}: {b}");
    }
    // At the limits: 16 words and 256 characters are fine.
    let sixteen: Vec<String> = (0..16).map(|i| format!("word{i}")).collect();
    search(&server, &alice, &[("q", &sixteen.join(" "))]).await;
    search(&server, &alice, &[("q", &"a".repeat(256))]).await;
}
every_adapter!(malformed, malformed_queries_are_400_naming_the_field);

async fn query_syntax_in_user_text_is_just_text(backend: Backend) {
    let server = start(backend).await;
    let alice = api_user(&server, None, "alice").await;
    let conversation = api_group(&server, &alice, &[]).await;
    let id = send_text(
        &server,
        &alice,
        &conversation,
        "say \"hello\" to everyone: foo-bar NEAR(x) *star* AND OR NOT content:here",
    )
    .await;
    search_until(&server, &alice, &[("q", "hello")], |ids| ids.len() == 1).await;
    // Every word of these is in the message: each must find it.
    for q in [
        "\"hello",
        "hello\"",
        "hel\"lo\" everyone",
        "hello*",
        "hello AND everyone",
        "NEAR(hello everyone)",
        "NEAR(hello",
        "-hello",
        "content:hello",
        "hello OR",
        "^hello",
        "{hello}",
        "'hello'",
        "hello\\",
        "foo-bar",
        "star:*",
        "x:y",
    ] {
        let (s, b) = get(&server, &alice, "/api/v1/search/messages", &[("q", q)]).await;
        assert_eq!(s, StatusCode::OK, "{q}: {b}");
        if !q.contains("hel\"lo") && q != "x:y" {
            assert_eq!(ids(&b), [id.as_str()], "{q}: {b}");
        }
    }
}
every_adapter!(query_syntax, query_syntax_in_user_text_is_just_text);

async fn create(server: &TestServer, owner: &ApiUser, body: Value) -> String {
    let (status, created) = call(
        server,
        owner,
        Method::POST,
        "/api/v1/conversations",
        Some(body),
    )
    .await;
    assert!(status.is_success(), "{created}");
    created["id"].as_str().unwrap().to_owned()
}

fn conversation_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn conversations_by_title_and_dm_peer(backend: Backend) {
    let server = start(backend).await;
    server
        .add_tenant("globex", chemchat_server::domain::Tier::Enterprise)
        .await;
    let alice = ApiUser::sign_up(&server, None, "alice", "Alice Liddell").await;
    let bob = ApiUser::sign_up(&server, None, "bob", "Bob").await;
    let ulrich = ApiUser::sign_up(&server, None, "uli", "Ülrich Weiß").await;
    let outsider = ApiUser::sign_up(&server, None, "outsider", "Outsider").await;
    let foreigner = api_user(&server, Some("globex"), "foreigner").await;
    let group = |name: &str, members: &[&ApiUser]| {
        json!({ "type": "group", "name": name,
            "memberIds": members.iter().map(|m| m.id.clone()).collect::<Vec<_>>() })
    };
    let zeta = create(&server, &alice, group("Project Zeta", &[&bob])).await;
    create(&server, &alice, group("Random", &[&bob])).await;
    let dm = create(
        &server,
        &alice,
        json!({ "type": "dm", "memberIds": [ulrich.id] }),
    )
    .await;
    create(&server, &outsider, group("Zeta secret", &[])).await;
    let (s, b) = call(
        &server,
        &foreigner,
        Method::POST,
        "/api/v1/conversations",
        Some(group("Zeta abroad", &[])),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    let find = |user: &ApiUser, q: &str| {
        let (server, user, q) = (&server, user.clone(), q.to_owned());
        async move {
            let (s, b) = get(server, &user, "/api/v1/search/conversations", &[("q", &q)]).await;
            assert_eq!(s, StatusCode::OK, "{q}: {b}");
            conversation_ids(&b)
        }
    };
    assert_eq!(find(&alice, "zeta").await, [zeta.as_str()]);
    assert_eq!(find(&alice, "PROJECT ZE").await, [zeta.as_str()]);
    assert_eq!(find(&bob, "zeta").await, [zeta.as_str()]);
    assert_eq!(
        find(&alice, "uli").await,
        [dm.as_str()],
        "the DM peer's username"
    );
    assert_eq!(
        find(&alice, "ülrich").await,
        [dm.as_str()],
        "display name, any case"
    );
    assert_eq!(find(&alice, "weiß").await, [dm.as_str()]);
    assert_eq!(
        find(&ulrich, "liddell").await,
        [dm.as_str()],
        "seen from the other side"
    );
    assert_eq!(
        find(&alice, "alice").await,
        Vec::<String>::new(),
        "not one's own name"
    );
    assert_eq!(find(&outsider, "project").await, Vec::<String>::new());
    assert_eq!(find(&foreigner, "zeta").await.len(), 1, "only globex's own");

    // Pages: most recent activity first, cursor until the end.
    for i in 0..3 {
        // Apart in time, so the activity order is the creation order.
        tokio::time::sleep(Duration::from_millis(5)).await;
        create(&server, &alice, group(&format!("Page {i}"), &[])).await;
    }
    let (_, first) = get(
        &server,
        &alice,
        "/api/v1/search/conversations",
        &[("q", "page"), ("limit", "2")],
    )
    .await;
    assert_eq!(conversation_ids(&first).len(), 2, "{first}");
    assert_eq!(first["items"][0]["name"], "Page 2", "{first}");
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, rest) = get(
        &server,
        &alice,
        "/api/v1/search/conversations",
        &[("q", "page"), ("limit", "2"), ("cursor", cursor)],
    )
    .await;
    assert_eq!(rest["items"][0]["name"], "Page 0", "{rest}");
    assert_eq!(rest["nextCursor"], Value::Null);
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
}
every_adapter!(conversation_search, conversations_by_title_and_dm_peer);

async fn search_is_documented(backend: Backend) {
    let server = start(backend).await;
    let (status, doc) = server
        .call(server.http.get(server.url("/api/docs-json")))
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in ["/api/v1/search/messages", "/api/v1/search/conversations"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
}
every_adapter!(openapi, search_is_documented);
