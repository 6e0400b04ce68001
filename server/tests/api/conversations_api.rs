//! Conversations over the real HTTP API on both engines: DM dedupe, roles, leaving, the list
//! with last message and unread count, read receipts, sync across membership changes.

use crate::support::Engine;
use crate::support::api::{ApiUser, api_group, api_send, api_user, assert_error, call};
use crate::support::server::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn role_of(conversation: &Value, user: &ApiUser) -> Option<String> {
    conversation["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == user.id.as_str())
        .map(|m| m["role"].as_str().unwrap().to_owned())
}

async fn a_dm_between_two_users_exists_once(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let dm = |members: Vec<&str>| json!({ "type": "dm", "memberIds": members });
    let (s, first) = call(
        &server,
        &alice,
        Method::POST,
        "/api/v1/conversations",
        Some(dm(vec![&bob.id])),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["type"], "dm");
    let (s, again) = call(
        &server,
        &bob,
        Method::POST,
        "/api/v1/conversations",
        Some(dm(vec![&alice.id, &bob.id])),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "the existing DM is returned: {again}");
    assert_eq!(again["id"], first["id"]);
    // Its members are fixed.
    let carol = api_user(&server, None, "carol").await;
    let members = format!(
        "/api/v1/conversations/{}/members",
        first["id"].as_str().unwrap()
    );
    let (s, b) = call(
        &server,
        &alice,
        Method::POST,
        &members,
        Some(json!({ "userId": carol.id })),
    )
    .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
}
both_engines!(dm_dedupe, a_dm_between_two_users_exists_once);

async fn roles_decide_who_changes_membership(engine: Engine) {
    let server = TestServer::start(engine).await;
    let owner = api_user(&server, None, "owner").await;
    let admin = api_user(&server, None, "admin").await;
    let member = api_user(&server, None, "member").await;
    let newcomer = api_user(&server, None, "newcomer").await;
    let id = api_group(&server, &owner, &[&member]).await;
    let members = format!("/api/v1/conversations/{id}/members");
    let add = |user: &ApiUser, role: &str| Some(json!({ "userIds": [user.id], "role": role }));

    let (s, b) = call(
        &server,
        &member,
        Method::POST,
        &members,
        add(&newcomer, "member"),
    )
    .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let (s, b) = call(
        &server,
        &owner,
        Method::POST,
        &members,
        add(&admin, "admin"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(role_of(&b, &admin).as_deref(), Some("admin"));
    let (s, b) = call(
        &server,
        &admin,
        Method::POST,
        &members,
        add(&newcomer, "admin"),
    )
    .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let (s, b) = call(
        &server,
        &admin,
        Method::POST,
        &members,
        add(&newcomer, "member"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // Admins remove members, not admins; members remove nobody but themselves.
    let (s, b) = call(
        &server,
        &admin,
        Method::DELETE,
        &format!("{members}/{}", owner.id),
        None,
    )
    .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let (s, b) = call(
        &server,
        &member,
        Method::DELETE,
        &format!("{members}/{}", newcomer.id),
        None,
    )
    .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let (s, b) = call(
        &server,
        &admin,
        Method::DELETE,
        &format!("{members}/{}", newcomer.id),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(role_of(&b, &newcomer), None);
    let (s, b) = call(
        &server,
        &newcomer,
        Method::GET,
        &format!("/api/v1/conversations/{id}"),
        None,
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "conversation_not_found");
    let (s, _) = call(
        &server,
        &member,
        Method::DELETE,
        &format!("{members}/{}", member.id),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "a member can leave");

    // The last owner stays until ownership is handed over.
    let leave_owner = format!("{members}/{}", owner.id);
    let (s, b) = call(&server, &owner, Method::DELETE, &leave_owner, None).await;
    assert_error(s, &b, StatusCode::CONFLICT, "last_owner");
    let (s, b) = call(
        &server,
        &owner,
        Method::POST,
        &members,
        Some(json!({ "userId": owner.id, "role": "member" })),
    )
    .await;
    assert_error(s, &b, StatusCode::CONFLICT, "last_owner");
    let (s, b) = call(
        &server,
        &owner,
        Method::POST,
        &members,
        add(&admin, "owner"),
    )
    .await;
    assert_eq!(
        (s, role_of(&b, &admin).as_deref()),
        (StatusCode::OK, Some("owner")),
        "{b}"
    );
    let (s, b) = call(&server, &owner, Method::DELETE, &leave_owner, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(role_of(&b, &owner), None);
}
both_engines!(roles, roles_decide_who_changes_membership);

async fn the_list_shows_last_message_and_unread_count(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let quiet = api_group(&server, &alice, &[&bob]).await;
    let busy = api_group(&server, &alice, &[&bob]).await;
    for i in 0..3 {
        api_send(
            &server,
            &alice,
            &busy,
            &format!("hello {i}"),
            &format!("k{i}"),
        )
        .await;
    }
    api_send(&server, &bob, &busy, "mine", "b1").await;
    let (s, list) = call(&server, &bob, Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["conversations"].as_array().unwrap();
    assert_eq!(items[0]["id"], busy.as_str(), "most recent activity first");
    assert_eq!(items[0]["lastMessage"]["content"], "mine");
    assert_eq!(items[0]["unreadCount"], 3, "others' messages only");
    assert_eq!(items[1]["id"], quiet.as_str());
    assert_eq!(items[1]["lastMessage"], Value::Null);

    // Receipts move forward only; the count follows.
    let read = format!("/api/v1/conversations/{busy}/read");
    let (s, b) = call(
        &server,
        &bob,
        Method::POST,
        &read,
        Some(json!({ "seq": 2 })),
    )
    .await;
    assert_eq!((s, b["seq"].as_i64()), (StatusCode::OK, Some(2)));
    let (_, b) = call(
        &server,
        &bob,
        Method::POST,
        &read,
        Some(json!({ "seq": 1 })),
    )
    .await;
    assert_eq!(b["seq"], 2, "never backwards");
    let (_, b) = call(
        &server,
        &bob,
        Method::POST,
        &read,
        Some(json!({ "seq": 999 })),
    )
    .await;
    assert_eq!(b["seq"], 4, "capped at the latest message");
    let (_, list) = call(&server, &bob, Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(list["conversations"][0]["unreadCount"], 0);

    // Cursor pagination visits every conversation once.
    for i in 0..5 {
        api_group(&server, &alice, &[&bob]).await;
        let _ = i;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/conversations?limit=3".to_owned();
    loop {
        let (s, page) = call(&server, &bob, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        seen.extend(
            page["conversations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/conversations?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort_by_key(ToString::to_string);
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7));
}
both_engines!(
    list_and_receipts,
    the_list_shows_last_message_and_unread_count
);

/// A long absence from a busy room costs a bounded count: the list stops at the cap.
async fn unread_counts_stop_at_the_cap(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    let cap = i64::from(chemchat_server::domain::UNREAD_COUNT_CAP);
    for i in 0..cap + 5 {
        api_send(&server, &alice, &room, &format!("m{i}"), &format!("k{i}")).await;
    }
    let (s, list) = call(&server, &bob, Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["conversations"][0]["unreadCount"], cap, "{list}");

    // Below the cap the count is exact again.
    let read = format!("/api/v1/conversations/{room}/read");
    let seq = cap + 5 - 3;
    let (s, b) = call(
        &server,
        &bob,
        Method::POST,
        &read,
        Some(json!({ "seq": seq })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, list) = call(&server, &bob, Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(list["conversations"][0]["unreadCount"], 3, "{list}");
}
both_engines!(unread_cap, unread_counts_stop_at_the_cap);

async fn sync_follows_membership(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let (_, now) = call(&server, &bob, Method::GET, "/api/v1/sync", None).await;
    assert_eq!(
        now["events"],
        json!([]),
        "no cursor: a cursor for now and no events"
    );
    let cursor = now["cursor"].as_str().unwrap().to_owned();
    // Bob is added to a group while away, receives a message, then is removed.
    let id = api_group(&server, &alice, &[]).await;
    api_send(&server, &alice, &id, "before bob", "k0").await;
    let members = format!("/api/v1/conversations/{id}/members");
    call(
        &server,
        &alice,
        Method::POST,
        &members,
        Some(json!({ "userId": bob.id })),
    )
    .await;
    let (_, sent) = api_send(&server, &alice, &id, "for bob", "k1").await;
    call(
        &server,
        &alice,
        Method::POST,
        &format!(
            "/api/v1/messages/{}/reactions",
            sent["id"].as_str().unwrap()
        ),
        Some(json!({ "emoji": "🎉" })),
    )
    .await;
    call(
        &server,
        &alice,
        Method::POST,
        &format!("/api/v1/conversations/{id}/read"),
        Some(json!({ "seq": 2 })),
    )
    .await;
    call(
        &server,
        &alice,
        Method::DELETE,
        &format!("{members}/{}", bob.id),
        None,
    )
    .await;
    api_send(&server, &alice, &id, "after bob", "k2").await;

    let (s, page) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/sync?since={cursor}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let kinds: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "member.added",
            "message.created",
            "reaction.added",
            "receipt.read",
            "member.removed"
        ]
    );
    assert_eq!(page["events"][1]["data"]["content"], "for bob");
    assert_eq!(page["hasMore"], false);
    let next = page["cursor"].as_str().unwrap();
    let (_, empty) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/sync?since={next}"),
        None,
    )
    .await;
    assert_eq!(empty["events"], json!([]), "nothing twice");
}
both_engines!(sync_membership, sync_follows_membership);
