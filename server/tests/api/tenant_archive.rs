//! Tenant archives: a tenant exported from one engine and imported under a new id on the other
//! shows the same conversations, members with their read and delivered pointers, messages with
//! their seqs, edits and reactions, and the same media bytes; people sign in with their old
//! passwords when credentials were exported. A dry run checks an archive and refuses a tampered
//! one; an import never merges into a tenant that has data.

use crate::support::api::{ApiUser, api_group, api_user, call, send_text};
use crate::support::media::{download, jpeg, uploaded};
use crate::support::server::TestServer;
use crate::support::{Engine, TestDb, t};
use chemchat_server::adapters::blobs::LocalBlobs;
use chemchat_server::archive::{export_to_file, import_file};
use chemchat_server::ports::ChatStore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What a member sees of the tenant: the conversation (members and pointers), its history
/// (ids, seqs, text, versions, reactions, attachments) and the attachment's bytes.
async fn view(server: &TestServer, user: &ApiUser, group: &str) -> (Value, Vec<Value>, Vec<u8>) {
    let (status, mut conversation) = call(
        server,
        user,
        Method::GET,
        &format!("/api/v1/conversations/{group}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{conversation}");
    // Presence is live state, not data.
    for member in conversation["members"].as_array_mut().unwrap() {
        member.as_object_mut().unwrap().remove("presence");
    }
    let path = format!("/api/v1/conversations/{group}/messages?limit=50");
    let (status, page) = call(server, user, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let messages = page["messages"].as_array().unwrap().clone();
    let media = messages
        .iter()
        .find_map(|m| m["attachments"][0]["id"].as_str())
        .expect("a message with an attachment");
    let (status, _, bytes) = download(
        server,
        user,
        &format!("/api/v1/media/{media}/download?variant=thumb"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    (conversation, messages, bytes)
}

async fn round_trip(from: Engine, to: Engine) {
    let source = TestServer::start(from).await;
    let alice = api_user(&source, None, "alice").await;
    let bob = api_user(&source, None, "bob").await;
    let group = api_group(&source, &alice, &[&bob]).await;
    let first = send_text(&source, &alice, &group, "first words").await;
    let second = send_text(&source, &bob, &group, "second thoughts").await;
    let path = format!("/api/v1/messages/{second}");
    let body = json!({ "content": "second thoughts, edited" });
    let (status, _) = call(&source, &bob, Method::PUT, &path, Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let reactions = format!("/api/v1/messages/{first}/reactions");
    let body = json!({ "emoji": "🎉" });
    let (status, _) = call(&source, &bob, Method::POST, &reactions, Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let picture = uploaded(&source, &alice, "harbour.jpg", &jpeg(640, 480)).await;
    crate::support::media::processed(&source, &alice, &picture).await;
    let body =
        json!({ "content": "a picture", "clientMessageId": "pic", "attachments": [picture] });
    let messages = format!("/api/v1/conversations/{group}/messages");
    let (status, sent) = call(&source, &alice, Method::POST, &messages, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let read = format!("/api/v1/conversations/{group}/read");
    let (status, _) = call(
        &source,
        &bob,
        Method::POST,
        &read,
        Some(json!({ "seq": 2 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let before = view(&source, &bob, &group).await;
    let source_db = source.stop_keeping_db().await;

    // Export with credentials, from the stopped server's database and media folder.
    let store = source_db.store().await;
    let blobs = LocalBlobs::open(source_db.dir.path().join("media"))
        .await
        .unwrap();
    let archive = source_db.dir.path().join("default.chemchat");
    let exported = export_to_file(&store, &blobs, &t("default"), true, 1, &archive)
        .await
        .unwrap();
    assert_eq!(exported.rows["messages"], 3, "{exported:?}");
    assert!(
        exported.blobs >= 2,
        "the original and its thumbnail: {exported:?}"
    );
    assert!(!archive.with_extension("partial").exists());

    // The command's dry run accepts it, and refuses a copy with one byte changed.
    let checked = cli(
        &source_db,
        &["tenant", "import", archive.to_str().unwrap(), "--dry-run"],
    );
    assert!(checked.status.success(), "{}", stderr(&checked));
    let text = std::fs::read_to_string(&archive).unwrap();
    let tampered = source_db.dir.path().join("tampered.chemchat");
    std::fs::write(&tampered, text.replacen("first words", "first wordz", 1)).unwrap();
    let refused = cli(
        &source_db,
        &["tenant", "import", tampered.to_str().unwrap(), "--dry-run"],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("checksum mismatch"),
        "{}",
        stderr(&refused)
    );

    // Import under a new id on the other engine; a second import into it is refused.
    let target_db = TestDb::new(to).await;
    let target = target_db.store().await;
    let target_blobs = LocalBlobs::open(target_db.dir.path().join("media"))
        .await
        .unwrap();
    let imported = import_file(&target, &target_blobs, &archive, Some(&t("moved")))
        .await
        .unwrap();
    assert_eq!(imported.rows, exported.rows);
    assert_eq!(
        target.outbox_backlog().await.unwrap(),
        0,
        "imported events arrive as shipped: no consumer replays the history"
    );
    let again = import_file(&target, &target_blobs, &archive, Some(&t("moved"))).await;
    let error = format!("{:#}", again.unwrap_err());
    assert!(error.contains("already has data"), "{error}");
    drop(target);

    // The moved tenant, served from the other engine: the same view, the same bytes.
    let moved = TestServer::start_on(target_db, |_| {}).await;
    let tokens = moved.login_in(Some("moved"), "bob").await;
    let bob_there = ApiUser {
        id: bob.id.clone(),
        token: tokens["accessToken"].as_str().unwrap().to_owned(),
        tenant: Some("moved".into()),
    };
    let after = view(&moved, &bob_there, &group).await;
    assert_eq!(after.0, before.0, "the conversation and its members");
    assert_eq!(after.1, before.1, "the history");
    assert_eq!(after.2, before.2, "the thumbnail's bytes");
    // It lives on: the next message takes the next seq.
    let next = send_text(&moved, &bob_there, &group, "after the move").await;
    let (_, page) = call(
        &moved,
        &bob_there,
        Method::GET,
        &format!("/api/v1/conversations/{group}/messages?limit=1"),
        None,
    )
    .await;
    assert_eq!(page["messages"][0]["id"], next.as_str());
    assert_eq!(page["messages"][0]["seq"], 4);
    moved.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_to_postgres_and_nothing_changes() {
    round_trip(Engine::Sqlite, Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_to_sqlite_and_nothing_changes() {
    round_trip(Engine::Postgres, Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_no_password_or_secret_leaves() {
    let source = TestServer::start(Engine::Sqlite).await;
    api_user(&source, None, "carol").await;
    let db = source.stop_keeping_db().await;
    let archive = db.dir.path().join("plain.chemchat");
    let exported = cli(
        &db,
        &[
            "tenant",
            "export",
            "default",
            "--to",
            archive.to_str().unwrap(),
        ],
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    let text = std::fs::read_to_string(&archive).unwrap();
    assert!(text.contains("\"carol\""), "the user is there");
    assert!(
        !text.contains("$argon2"),
        "no password hash leaves without --with-credentials"
    );
    let unknown = cli(&db, &["tenant", "export", "nobody", "--to", "/dev/null"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("unknown tenant `nobody`"),
        "{}",
        stderr(&unknown)
    );
}

fn cli(db: &TestDb, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chemchat-server"))
        .args(args)
        .current_dir(db.dir.path())
        .env("CHEMCHAT_DATABASE_URL", &db.url)
        .env("CHEMCHAT_MEDIA_DIR", db.dir.path().join("media"))
        .output()
        .expect("the binary runs")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
