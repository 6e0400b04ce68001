//! Web Push over the real API on both engines, against a push service no one here wrote
//! (web-push-testing: it checks the VAPID signature and decrypts the aes128gcm payload with its
//! own implementation). Who is pushed and who is not — the sender, a member looking at the
//! conversation, a snoozed or mentions-only member, quiet hours — coalescing of bursts, privacy
//! mode, and a subscription the push service calls gone.

use crate::people_api::owner;
use crate::support::Engine;
use crate::support::api::{Api, ApiUser, api_user, assert_error, call};
use crate::support::mailbox::{Mailbox, token_in};
use crate::support::server::TestServer;
use crate::support::services::{push_url, redis_url};
use crate::support::ws::Ws;
use chemchat_server::adapters::redis::RedisAttention;
use chemchat_server::domain::{ConversationId, UserId};
use chemchat_server::ports::Attention;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// Further messages within this window after a push are coalesced (the server's setting here).
const WINDOW: Duration = Duration::from_millis(1000);
/// Long enough for a window to end and the notifier's next look at it.
const AFTER_WINDOW: Duration = Duration::from_millis(1700);

/// The push service and one browser subscribed at it.
struct Browser {
    service: String,
    client_hash: String,
    subscription: Value,
}

impl Browser {
    /// A browser subscribing with the tenant's VAPID key.
    async fn subscribe(vapid_key: &str) -> Self {
        let service = push_url();
        let body: Value = reqwest::Client::new()
            .post(format!("{service}/subscribe"))
            .json(&json!({ "applicationServerKey": vapid_key }))
            .send()
            .await
            .expect("the push service answers")
            .json()
            .await
            .unwrap();
        let data = &body["data"];
        Self {
            service,
            client_hash: data["clientHash"]
                .as_str()
                .expect("a subscription")
                .to_owned(),
            subscription: json!({ "endpoint": data["endpoint"], "keys": data["keys"] }),
        }
    }

    /// Every notice the push service decrypted for this browser, oldest first.
    async fn notices(&self) -> Vec<Value> {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/get-notifications", self.service))
            .json(&json!({ "clientHash": self.client_hash }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["data"]["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("no messages in {body}"))
            .iter()
            .map(|m| serde_json::from_str(m.as_str().unwrap()).expect("a JSON notice"))
            .collect()
    }

    /// Waits until the browser holds `count` notices; returns them all.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notices = self.notices().await;
            if notices.len() >= count {
                return notices;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited for {count} notices, have {notices:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Makes the push service answer 410 Gone from now on.
    async fn expire(&self) {
        let status = reqwest::Client::new()
            .post(format!(
                "{}/expire-subscription/{}",
                self.service, self.client_hash
            ))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK);
    }
}

async fn subscribe(api: &Api, user: &ApiUser, vapid_key: &str) -> (Browser, String) {
    let browser = Browser::subscribe(vapid_key).await;
    let (status, body) = call(
        api,
        user,
        Method::POST,
        "/api/v1/push/subscriptions",
        Some(browser.subscription.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    (browser, id)
}

async fn send(api: &Api, user: &ApiUser, conversation: &str, text: &str) {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let (status, body) = call(
        api,
        user,
        Method::POST,
        &path,
        Some(json!({ "content": text })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn conversation(api: &Api, user: &ApiUser, body: Value) -> String {
    let (status, created) =
        call(api, user, Method::POST, "/api/v1/conversations", Some(body)).await;
    assert!(status.is_success(), "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Waits until the notifier has silenced someone for `verdict`.
async fn decided(api: &Api, verdict: &str) {
    let line = format!("chemchat_push_decisions_total{{verdict=\"{verdict}\"}}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !api.metrics().await.contains(&line) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no decision {verdict}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bodies(notices: &[Value]) -> Vec<&str> {
    notices
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect()
}

/// `HH:MM` in UTC, `minutes` from now.
fn utc_clock(minutes: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
    format!("{:02}:{:02}", at.hour(), at.minute())
}

async fn pushes_reach_who_is_not_looking(engine: Engine) {
    let server = TestServer::start_with(engine, |s| {
        s.push_allow_private_endpoints = true;
        s.push_coalesce_ms = WINDOW.as_millis() as u64;
    })
    .await;
    let alice = owner(&server, engine, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let carol = api_user(&server, None, "carol").await;
    let dave = api_user(&server, None, "dave").await;

    let (status, key) = server
        .call(server.http.get(server.url("/api/v1/push/vapid-public-key")))
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let vapid = key["publicKey"].as_str().unwrap().to_owned();
    assert_eq!(
        vapid.len(),
        87,
        "an uncompressed P-256 point in base64url: {vapid}"
    );

    // Bad subscriptions are named, and nothing is kept.
    let path = "/api/v1/push/subscriptions";
    let good = Browser::subscribe(&vapid).await.subscription;
    let mut bad_endpoint = good.clone();
    bad_endpoint["endpoint"] = json!("ftp://push.example.com/x");
    let mut bad_key = good.clone();
    bad_key["keys"]["p256dh"] = json!("bm90IGEga2V5");
    let mut bad_auth = good.clone();
    bad_auth["keys"]["auth"] = json!("c2hvcnQ");
    for (body, field) in [
        (bad_endpoint, "endpoint"),
        (bad_key, "keys.p256dh"),
        (bad_auth, "keys.auth"),
    ] {
        let (status, answer) = call(&server, &bob, Method::POST, path, Some(body)).await;
        assert_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        );
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }

    let (alice_browser, _) = subscribe(&server, &alice, &vapid).await;
    let (bob_browser, _) = subscribe(&server, &bob, &vapid).await;
    let (carol_browser, carol_subscription) = subscribe(&server, &carol, &vapid).await;
    let (status, list) = call(&server, &bob, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["pushService"], "http://localhost:19090");
    assert!(
        !list.to_string().contains("p256dh"),
        "keys are never shown: {list}"
    );

    let lab = conversation(
        &server,
        &alice,
        json!({ "type": "group", "name": "Lab", "memberIds": [bob.id, carol.id, dave.id] }),
    )
    .await;
    // Carol looks at the group.
    let (mut carol_ws, _) = Ws::login(server.addr, &carol.token).await;
    carol_ws
        .ok("conversation.join", json!({ "conversationId": lab }))
        .await;

    // Bob is pushed; the sender and the member looking are not.
    send(&server, &alice, &lab, "hello @bob").await;
    let notices = bob_browser.wait_for(1).await;
    assert_eq!(notices[0]["title"], "alice in Lab");
    assert_eq!(notices[0]["body"], "hello @bob");
    assert_eq!(notices[0]["conversationId"], lab.as_str());
    assert_eq!(
        (notices[0]["seq"].as_i64(), notices[0]["count"].as_i64()),
        (Some(1), Some(1))
    );

    // A burst: the first message at once, the rest as one notice with their count.
    tokio::time::sleep(AFTER_WINDOW).await;
    for text in ["m2", "m3", "m4"] {
        send(&server, &alice, &lab, text).await;
    }
    let notices = bob_browser.wait_for(3).await;
    assert_eq!(bodies(&notices), ["hello @bob", "m2", "m4"]);
    assert_eq!(notices[2]["count"], 2, "{notices:?}");
    assert_eq!(notices[2]["seq"], 4);

    // Snoozed, then mentions only: silence until a mention.
    tokio::time::sleep(AFTER_WINDOW).await;
    let settings = format!("/api/v1/conversations/{lab}/notifications");
    let in_an_hour = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, body) = call(
        &server,
        &bob,
        Method::PUT,
        &settings,
        Some(json!({ "level": null, "mutedUntil": in_an_hour })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    send(&server, &alice, &lab, "while snoozed").await;
    decided(&server, "snoozed").await;
    let (status, body) = call(
        &server,
        &bob,
        Method::PUT,
        &settings,
        Some(json!({ "level": "mentions", "mutedUntil": null })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["level"], "mentions");
    send(&server, &alice, &lab, "no mention here").await;
    send(&server, &alice, &lab, "ping @bob").await;
    let notices = bob_browser.wait_for(4).await;
    assert_eq!(bodies(&notices)[3..], ["ping @bob"]);
    let (status, body) = call(
        &server,
        &dave,
        Method::PUT,
        &format!(
            "/api/v1/conversations/{}/notifications",
            ConversationId::generate()
        ),
        Some(json!({ "level": "all", "mutedUntil": null })),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "conversation_not_found",
    );

    // Preferences: bad input named; quiet hours silence a DM, lifting them lets the next through.
    let prefs = "/api/v1/notifications/preferences";
    let (status, body) = call(&server, &carol, Method::GET, prefs, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "level": "all", "emailFallback": true, "quietHours": null })
    );
    for (bad, field) in [
        (
            json!({ "level": "loud", "emailFallback": true, "quietHours": null }),
            "level",
        ),
        (
            json!({ "level": "all", "emailFallback": true,
                "quietHours": { "start": "22:00", "end": "07:00", "timeZone": "Mars/Base" } }),
            "quietHours.timeZone",
        ),
        (
            json!({ "level": "all", "emailFallback": true,
                "quietHours": { "start": "25:00", "end": "07:00", "timeZone": "UTC" } }),
            "quietHours.start",
        ),
    ] {
        let (status, body) = call(&server, &carol, Method::PUT, prefs, Some(bad)).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let quiet = json!({ "level": "all", "emailFallback": false,
        "quietHours": { "start": utc_clock(-60), "end": utc_clock(60), "timeZone": "UTC" } });
    let (status, body) = call(&server, &carol, Method::PUT, prefs, Some(quiet.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, quiet);
    let (_, stored) = call(&server, &carol, Method::GET, prefs, None).await;
    assert_eq!(stored, quiet, "kept as sent");
    drop(carol_ws);
    let dm = conversation(
        &server,
        &alice,
        json!({ "type": "dm", "memberIds": [carol.id] }),
    )
    .await;
    send(&server, &alice, &dm, "in quiet hours").await;
    // The notifier decides when it reads the message: let it, before the hours are lifted.
    decided(&server, "quiet").await;
    let loud = json!({ "level": "all", "emailFallback": false, "quietHours": null });
    let (status, _) = call(&server, &carol, Method::PUT, prefs, Some(loud)).await;
    assert_eq!(status, StatusCode::OK);
    send(&server, &alice, &dm, "after quiet hours").await;
    let notices = carol_browser.wait_for(1).await;
    // Carol looked at the group throughout, then was quiet: only the DM after.
    assert_eq!(bodies(&notices), ["after quiet hours"]);
    assert_eq!(notices[0]["title"], "alice");
    assert!(
        alice_browser.notices().await.is_empty(),
        "the sender is never pushed"
    );

    // Privacy mode: the conversation and "New message", never the text.
    let (status, body) = call(
        &server,
        &alice,
        Method::PATCH,
        "/api/v1/admin/settings",
        Some(json!({ "notifications": { "previews": false } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["notifications"]["previews"], false);
    let bob_dm = conversation(
        &server,
        &alice,
        json!({ "type": "dm", "memberIds": [bob.id] }),
    )
    .await;
    send(&server, &alice, &bob_dm, "the secret plan").await;
    let notices = bob_browser.wait_for(5).await;
    assert_eq!(notices[4]["title"], "Direct message");
    assert_eq!(notices[4]["body"], "New message");
    assert!(!format!("{notices:?}").contains("secret"));

    // The push service calls Bob's subscription gone: it is forgotten.
    bob_browser.expire().await;
    tokio::time::sleep(AFTER_WINDOW).await;
    send(&server, &alice, &bob_dm, "into the void").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = call(&server, &bob, Method::GET, path, None).await;
        if list["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still subscribed: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Unsubscribing: one's own, once.
    let one = format!("{path}/{carol_subscription}");
    let (status, body) = call(&server, &bob, Method::DELETE, &one, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, _) = call(&server, &carol, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&server, &carol, Method::DELETE, &one, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let metrics = server.metrics().await;
    assert!(
        metrics.contains("chemchat_push_sent_total{result=\"accepted\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("chemchat_push_sent_total{result=\"gone\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("chemchat_push_decisions_total{verdict=\"looking\"}"));
    assert!(metrics.contains("chemchat_push_delay_seconds"));
    server.stop().await;
}

both_engines!(pushes, pushes_reach_who_is_not_looking);

/// Attention across instances: what one records, another reads; leaving and expiry end it.
#[tokio::test]
async fn attention_is_shared_through_redis() {
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let a = RedisAttention::connect(&redis_url(), &prefix)
        .await
        .unwrap();
    let b = RedisAttention::connect(&redis_url(), &prefix)
        .await
        .unwrap();
    let tenant = chemchat_server::domain::TenantId::parse("acme").unwrap();
    let (room, other) = (ConversationId::generate(), ConversationId::generate());
    let (ann, bob) = (UserId::generate(), UserId::generate());
    let ttl = Duration::from_secs(60);
    a.look(&tenant, ann, "i1:1", &[room, other], ttl, 1_000)
        .await
        .unwrap();
    b.look(&tenant, bob, "i2:7", &[room], ttl, 1_000)
        .await
        .unwrap();
    let looking = b.looking(&tenant, room, 2_000).await.unwrap();
    assert_eq!(looking, [ann, bob].into_iter().collect());
    a.look_away(&tenant, ann, "i1:1", &[room]).await.unwrap();
    assert_eq!(
        a.looking(&tenant, room, 2_000).await.unwrap(),
        [bob].into_iter().collect()
    );
    assert_eq!(
        a.looking(&tenant, other, 2_000).await.unwrap(),
        [ann].into_iter().collect()
    );
    // A crashed instance's records count no more once their time is up.
    assert!(a.looking(&tenant, other, 61_001).await.unwrap().is_empty());
    let elsewhere = chemchat_server::domain::TenantId::parse("globex").unwrap();
    assert!(a.looking(&elsewhere, room, 2_000).await.unwrap().is_empty());
}

/// Proves `user`'s address with the confirmation link registration mailed.
async fn verify_address(api: &Api, mailbox: &Mailbox, user: &str) {
    let welcome = mailbox.next_to(&format!("{user}@example.com"), 0).await;
    let (status, body) = api
        .post(
            "/api/v1/auth/email/verify",
            json!({ "token": token_in(&welcome) }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// A header of a raw mail, unfolded.
fn header(mail: &str, name: &str) -> String {
    let unfolded = mail
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .replace("\n ", " ");
    unfolded
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {mail}"))
        .trim()
        .to_owned()
}

async fn unread_dms_and_mentions_are_mailed_once(engine: Engine) {
    let mailbox = Mailbox::start().await;
    let url = mailbox.url();
    let server = TestServer::start_with(engine, move |s| {
        s.smtp_url = Some(url.into());
        s.public_url = "https://chat.example.com".to_owned();
        s.push_allow_private_endpoints = true;
        // Long enough for the test to send everything before the first digest is due, even
        // when the suite loads the machine (3 s was not); `next_to` waits up to 10 s after
        // the last send, which covers this delay plus one look (every delay / 4).
        s.mail_digest_delay_seconds = 8;
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let carol = api_user(&server, None, "carol").await;
    let dave = api_user(&server, None, "dave").await;
    let erin = api_user(&server, None, "erin").await;
    for name in ["bob", "carol", "erin"] {
        verify_address(&server, &mailbox, name).await;
    }
    let (_, key) = server
        .call(server.http.get(server.url("/api/v1/push/vapid-public-key")))
        .await;
    let (carol_browser, _) = subscribe(&server, &carol, key["publicKey"].as_str().unwrap()).await;
    let dm = |with: &ApiUser| json!({ "type": "dm", "memberIds": [with.id] });
    let lab = conversation(
        &server,
        &alice,
        json!({ "type": "group", "name": "Lab", "memberIds": [bob.id, carol.id, dave.id, erin.id] }),
    )
    .await;

    // Bob: two DMs, one deleted, a mention in the group, and group chatter that is not his.
    let bob_dm = conversation(&server, &alice, dm(&bob)).await;
    send(&server, &alice, &bob_dm, "zebra one").await;
    send(&server, &alice, &bob_dm, "zebra two").await;
    let oops = format!("/api/v1/conversations/{bob_dm}/messages");
    let (_, sent) = call(
        &server,
        &alice,
        Method::POST,
        &oops,
        Some(json!({ "content": "zebra oops" })),
    )
    .await;
    let deleted = format!("/api/v1/messages/{}", sent["id"].as_str().unwrap());
    let (status, body) = call(&server, &alice, Method::DELETE, &deleted, None).await;
    assert!(status.is_success(), "{body}");
    send(&server, &alice, &lab, "@bob zebra look").await;
    send(&server, &alice, &lab, "zebra chatter").await;
    // Carol's push reaches her; Dave's address is not proven; Erin reads hers.
    let carol_dm = conversation(&server, &alice, dm(&carol)).await;
    send(&server, &alice, &carol_dm, "zebra for carol").await;
    carol_browser.wait_for(1).await;
    let dave_dm = conversation(&server, &alice, dm(&dave)).await;
    send(&server, &alice, &dave_dm, "zebra for dave").await;
    let erin_dm = conversation(&server, &alice, dm(&erin)).await;
    send(&server, &alice, &erin_dm, "zebra for erin").await;
    let read = format!("/api/v1/conversations/{erin_dm}/read");
    let (status, body) = call(
        &server,
        &erin,
        Method::POST,
        &read,
        Some(json!({ "seq": 1 })),
    )
    .await;
    assert!(status.is_success(), "{body}");

    let digest = mailbox.next_to("bob@example.com", 1).await;
    let decoded = digest
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(
        decoded.contains("Subject: 3 unread messages on ChemChat"),
        "{decoded}"
    );
    assert!(decoded.contains("alice sent you 2 messages"), "{decoded}");
    assert!(decoded.contains("Lab: alice mentioned you"), "{decoded}");
    assert!(
        decoded.contains("text/html"),
        "an HTML alternative: {decoded}"
    );
    assert!(
        !decoded.contains("zebra"),
        "never a message's text: {decoded}"
    );
    assert_eq!(
        header(&digest, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let unsubscribe = header(&digest, "List-Unsubscribe");
    let unsubscribe = unsubscribe.trim_start_matches('<').trim_end_matches('>');
    assert!(
        unsubscribe.starts_with("https://chat.example.com/api/v1/notifications/unsubscribe?token="),
        "{unsubscribe}"
    );

    // One digest per window: more DMs wait for the next one. Nobody else got one.
    send(&server, &alice, &bob_dm, "zebra three").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        mailbox.count_to("bob@example.com"),
        2,
        "a confirmation and one digest"
    );
    for name in ["carol", "dave", "erin"] {
        assert_eq!(
            mailbox.count_to(&format!("{name}@example.com")),
            1,
            "{name}: confirmation only"
        );
    }

    // One click turns digests off; the page's own link only shows a button.
    let path = unsubscribe.trim_start_matches("https://chat.example.com");
    let page = server.http.get(server.url(path)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let (_, prefs) = call(
        &server,
        &bob,
        Method::GET,
        "/api/v1/notifications/preferences",
        None,
    )
    .await;
    assert_eq!(prefs["emailFallback"], true, "a GET changes nothing");
    let posted = server
        .http
        .post(server.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    let (_, prefs) = call(
        &server,
        &bob,
        Method::GET,
        "/api/v1/notifications/preferences",
        None,
    )
    .await;
    assert_eq!(prefs["emailFallback"], false);
    let forged = format!("{path}x");
    let (status, body) = server.call(server.http.post(server.url(&forged))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_token");
    server.stop().await;
}

both_engines!(digests, unread_dms_and_mentions_are_mailed_once);

/// `/health` lists push, judged by the pushes made: up while push services answer, down once
/// pushes in a row found theirs unreachable — the server stays ready (degraded).
#[tokio::test]
async fn health_reports_push_down_when_pushes_keep_failing() {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.push_allow_private_endpoints = true;
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let health = || crate::health_metrics::health(&server);
    let (status, body) = health().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dependencies"]["push"]["status"], "up", "{body}");

    // Bob's three browsers all point at a push service that is not there.
    let (_, key) = server
        .call(server.http.get(server.url("/api/v1/push/vapid-public-key")))
        .await;
    let vapid = key["publicKey"].as_str().unwrap().to_owned();
    let dead = crate::support::process::free_port();
    for device in 0..3 {
        let mut subscription = Browser::subscribe(&vapid).await.subscription;
        subscription["endpoint"] = json!(format!("http://127.0.0.1:{dead}/push/{device}"));
        let (status, body) = call(
            &server,
            &bob,
            Method::POST,
            "/api/v1/push/subscriptions",
            Some(subscription),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let dm = conversation(
        &server,
        &alice,
        json!({ "type": "dm", "memberIds": [bob.id] }),
    )
    .await;
    send(&server, &alice, &dm, "anyone there?").await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = health().await;
        if body["dependencies"]["push"]["status"] == "down" {
            assert_eq!(status, 200, "push is not needed to serve: {body}");
            assert_eq!(body["status"], "degraded", "{body}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "push never reported down: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
