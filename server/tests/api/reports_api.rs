//! Resolving a report is one step: the moderator's action and the report's closing land
//! together or not at all, on both engines.

use crate::people_api::{in_an_hour, owner};
use crate::support::Engine;
use crate::support::api::{
    Api, ApiUser, PASSWORD, api_group, api_user, assert_error, call, send_text,
};
use crate::support::server::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A group of alice and bob, bob's message reported by alice, and the tenant's owner.
struct Reported {
    server: TestServer,
    boss: ApiUser,
    alice: ApiUser,
    bob: ApiUser,
    group: String,
    message: String,
    /// `POST` here resolves the report.
    resolve: String,
    report: Value,
}

async fn reported(engine: Engine, text: &str) -> Reported {
    let server = TestServer::start(engine).await;
    let boss = owner(&server, engine, "boss").await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let group = api_group(&server, &alice, &[&bob]).await;
    let message = send_text(&server, &bob, &group, text).await;
    let path = format!("/api/v1/messages/{message}/reports");
    let reason = Some(json!({ "reason": "spam" }));
    let (status, report) = call(&server, &alice, Method::POST, &path, reason).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let resolve = format!(
        "/api/v1/admin/reports/{}/resolve",
        report["id"].as_str().unwrap()
    );
    Reported {
        server,
        boss,
        alice,
        bob,
        group,
        message,
        resolve,
        report,
    }
}

async fn audit_actions(server: &TestServer, boss: &ApiUser) -> Vec<String> {
    let (status, audit) = call(server, boss, Method::GET, "/api/v1/admin/audit", None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

async fn login(api: &Api, username: &str) -> StatusCode {
    let body = json!({ "username": username, "password": PASSWORD, "deviceId": "laptop" });
    api.post("/api/v1/auth/login", body).await.0
}

async fn a_report_is_acted_on_once(engine: Engine) {
    let Reported {
        server,
        boss,
        alice,
        group,
        message: spam,
        resolve,
        ..
    } = reported(engine, "buy cheap pills").await;

    // Two moderators' decisions at once: one lands whole, the other leaves no trace.
    let suspend = json!({ "action": "suspend_author", "until": in_an_hour(), "reason": "spam" });
    let delete = json!({ "action": "delete_message", "reason": "spam, removed" });
    let (suspended, deleted) = tokio::join!(
        call(&server, &boss, Method::POST, &resolve, Some(suspend)),
        call(&server, &boss, Method::POST, &resolve, Some(delete)),
    );
    let winners = [&suspended, &deleted]
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!(winners, 1, "{suspended:?} {deleted:?}");
    let (loser_status, loser) = if suspended.0 == StatusCode::OK {
        &deleted
    } else {
        &suspended
    };
    assert_error(
        *loser_status,
        loser,
        StatusCode::NOT_FOUND,
        "report_not_found",
    );
    let history = format!("/api/v1/conversations/{group}/messages");
    let (_, messages) = call(&server, &alice, Method::GET, &history, None).await;
    let message: &Value = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == spam.as_str())
        .unwrap();
    let actions = audit_actions(&server, &boss).await;
    assert_eq!(count(&actions, "report.resolved"), 1, "{actions:?}");
    if suspended.0 == StatusCode::OK {
        assert_eq!(login(&server, "bob").await, StatusCode::FORBIDDEN);
        assert_eq!(message["content"], "buy cheap pills", "not deleted as well");
        assert_eq!(count(&actions, "user.suspended"), 1, "{actions:?}");
        assert_eq!(count(&actions, "message.deleted_by_moderator"), 0);
    } else {
        assert_eq!(login(&server, "bob").await, StatusCode::OK, "not suspended");
        assert!(message["content"].is_null(), "{message}");
        assert_eq!(count(&actions, "message.deleted_by_moderator"), 1);
        assert_eq!(count(&actions, "user.suspended"), 0, "{actions:?}");
    }
    server.stop().await;
}
both_engines!(a_report_is_acted_on_once_, a_report_is_acted_on_once);

async fn a_refused_action_leaves_the_report_open(engine: Engine) {
    let Reported {
        server,
        boss,
        bob,
        group,
        resolve,
        report,
        ..
    } = reported(engine, "something rude").await;

    // The author left: there is no one to mute in that conversation.
    let leave = format!("/api/v1/conversations/{group}/members/{}", bob.id);
    let (status, body) = call(&server, &bob, Method::DELETE, &leave, None).await;
    assert!(status.is_success(), "{status} {body}");
    let mute = json!({ "action": "mute_author", "until": in_an_hour(), "reason": "rude" });
    let (status, body) = call(&server, &boss, Method::POST, &resolve, Some(mute)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "user_not_found");
    let (_, open) = call(&server, &boss, Method::GET, "/api/v1/admin/reports", None).await;
    assert_eq!(open["items"][0]["id"], report["id"], "{open}");
    assert_eq!(open["items"][0]["status"], "open");
    let actions = audit_actions(&server, &boss).await;
    assert_eq!(count(&actions, "member.muted"), 0, "{actions:?}");
    assert_eq!(count(&actions, "report.resolved"), 0, "{actions:?}");

    // Still open, so another decision closes it.
    let dismiss = json!({ "action": "dismiss", "reason": "gone already" });
    let (status, closed) = call(&server, &boss, Method::POST, &resolve, Some(dismiss)).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "dismissed");
    server.stop().await;
}
both_engines!(
    a_refused_action_leaves_the_report_open_,
    a_refused_action_leaves_the_report_open
);
