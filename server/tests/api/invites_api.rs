//! Registration by invitation over the real API on both engines: an invite-only tenant,
//! invitations made, spent, used up, revoked and listed, and codes that stay in their tenant.

use crate::people_api::owner;
use crate::support::Engine;
use crate::support::api::{PASSWORD, api_user, assert_error, call, in_tenant};
use crate::support::server::TestServer;
use chemchat_server::domain::Tier;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn register(
    server: &TestServer,
    tenant: Option<&str>,
    username: &str,
    code: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({ "username": username, "displayName": username,
        "email": format!("{username}@example.com"), "password": PASSWORD });
    if let Some(code) = code {
        body["inviteCode"] = json!(code);
    }
    let req = server.http.post(server.url("/api/v1/auth/register"));
    server.call(in_tenant(req, tenant).json(&body)).await
}

fn rfc3339_in(seconds: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn registration_by_invitation(engine: Engine) {
    let server = TestServer::start(engine).await;
    server.add_tenant("globex", Tier::Free).await;
    let boss = owner(&server, engine, "boss").await;
    let member = api_user(&server, None, "member").await;

    // Invite-only: one rule changes, the other stays.
    let change = json!({ "accounts": { "registration": "invite" } });
    let (status, settings) = call(
        &server,
        &boss,
        Method::PATCH,
        "/api/v1/admin/settings",
        Some(change),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["accounts"]["registration"], "invite");
    assert_eq!(settings["accounts"]["deletedUserMessages"], "keep");
    for bad in [
        json!({ "accounts": {} }),
        json!({ "accounts": { "registration": "closed" } }),
    ] {
        let (status, body) = call(
            &server,
            &boss,
            Method::PATCH,
            "/api/v1/admin/settings",
            Some(bad),
        )
        .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    }

    let (status, body) = register(&server, None, "walkin", None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "invite_required");
    assert_eq!(body["error"]["field"], "inviteCode");
    let (status, body) = register(&server, None, "walkin", Some("guess")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let forged = "A".repeat(43);
    let (status, body) = register(&server, None, "walkin", Some(&forged)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_invite");

    // Only administrators make invitations; bad input is named.
    let path = "/api/v1/admin/invites";
    let (status, body) = call(&server, &member, Method::POST, path, Some(json!({}))).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    for bad in [
        json!({ "maxUses": 0 }),
        json!({ "maxUses": 10_001 }),
        json!({ "expiresAt": rfc3339_in(-60) }),
        json!({ "expiresAt": rfc3339_in(91 * 86_400) }),
        json!({ "expiresAt": "soon" }),
        json!({ "note": "x".repeat(201) }),
    ] {
        let (status, body) = call(&server, &boss, Method::POST, path, Some(bad.clone())).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    }
    let ask = json!({ "maxUses": 2, "note": "the new team" });
    let (status, team) = call(&server, &boss, Method::POST, path, Some(ask)).await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let team_code = team["code"].as_str().unwrap().to_owned();
    assert_eq!(
        (team["maxUses"].clone(), team["uses"].clone()),
        (json!(2), json!(0))
    );

    // Spent by registrations that succeed, not by ones refused for another reason.
    let (status, body) = register(&server, None, "member", Some(&team_code)).await;
    assert_error(status, &body, StatusCode::CONFLICT, "username_taken");
    for name in ["newbie", "second"] {
        let (status, body) = register(&server, None, name, Some(&team_code)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = register(&server, None, "third", Some(&team_code)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_invite");

    // A code belongs to its tenant.
    let (status, body) = register(&server, Some("globex"), "roamer", Some(&team_code)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_invite");

    // Revoked: refused at once; revoking again answers the same.
    let (status, spare) = call(&server, &boss, Method::POST, path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{spare}");
    assert!(spare["maxUses"].is_null(), "{spare}");
    let spare_path = format!("{path}/{}", spare["id"].as_str().unwrap());
    let (status, revoked) = call(&server, &boss, Method::DELETE, &spare_path, None).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revokedAt"].is_string(), "{revoked}");
    let (status, again) = call(&server, &boss, Method::DELETE, &spare_path, None).await;
    assert_eq!(
        (status, again["revokedAt"].clone()),
        (StatusCode::OK, revoked["revokedAt"].clone())
    );
    let code = spare["code"].as_str().unwrap();
    let (status, body) = register(&server, None, "late", Some(code)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_invite");
    let unknown = format!("{path}/{}", uuid::Uuid::now_v7());
    let (status, body) = call(&server, &boss, Method::DELETE, &unknown, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = call(&server, &member, Method::DELETE, &spare_path, None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // The list: newest first, with uses, never a code; paged.
    let (status, list) = call(&server, &boss, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items[0]["id"], spare["id"]);
    assert_eq!(
        (items[1]["uses"].clone(), items[1]["note"].clone()),
        (json!(2), json!("the new team"))
    );
    assert!(!list.to_string().contains(&team_code), "{list}");
    assert!(items.iter().all(|i| i.get("code").is_none()), "{list}");
    let (_, first) = call(
        &server,
        &boss,
        Method::GET,
        &format!("{path}?limit=1"),
        None,
    )
    .await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = call(
        &server,
        &boss,
        Method::GET,
        &format!("{path}?limit=1&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(second["items"][0]["id"], team["id"], "{second}");
    assert!(second["nextCursor"].is_null(), "{second}");

    // Recorded; and open again, anyone registers.
    let (_, audit) = call(
        &server,
        &boss,
        Method::GET,
        "/api/v1/admin/audit?action=invite.",
        None,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["invite.revoked", "invite.created", "invite.created"],
        "{audit}"
    );
    let change = json!({ "accounts": { "registration": "open" } });
    let (status, _) = call(
        &server,
        &boss,
        Method::PATCH,
        "/api/v1/admin/settings",
        Some(change),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = register(&server, None, "walkin", None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The new routes are in the API's document.
    let spec: Value = server
        .http
        .get(server.url("/api/docs-json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/v1/admin/invites", "post"),
        ("/api/v1/admin/invites", "get"),
        ("/api/v1/admin/invites/{id}", "delete"),
        ("/api/v1/conversations/{id}", "patch"),
        ("/api/v1/conversations/{id}/members/{userId}/mute", "put"),
        ("/api/v1/conversations/{id}/members/{userId}/mute", "delete"),
        ("/api/v1/auth/me/warnings", "get"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} documented"
        );
    }
    server.stop().await;
}
both_engines!(registration_by_invitation_, registration_by_invitation);
