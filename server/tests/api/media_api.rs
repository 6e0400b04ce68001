//! Media over the real API, with SQLite and local files and with PostgreSQL and the S3 server:
//! sniffing, the image pipeline (renditions, metadata stripped), who may read, attachments,
//! quotas and caps, direct uploads, downloads, and the sweeper.

use crate::support::api::{ApiUser, api_group, api_user, assert_error, call, request};
use crate::support::media::{
    ELF, HTML, Storage, download, has_gps, jpeg_app1_segments, jpeg_with_gps, media_server, png,
    processed, upload, uploaded,
};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use crate::support::{Engine, tenant};
use chemchat_server::domain::{Quotas, Tier};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// The bytes of one variant, following a redirect to storage when there is one.
async fn fetch(
    server: &TestServer,
    user: &ApiUser,
    id: &str,
    variant: &str,
) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let path = format!("/api/v1/media/{id}/download?variant={variant}");
    let (status, headers, body) = download(server, user, &path, &[]).await;
    if status == StatusCode::FOUND {
        let location = headers["location"].to_str().unwrap().to_owned();
        let response = reqwest::get(&location).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "presigned GET of {location}"
        );
        let headers = response.headers().clone();
        return (headers, response.bytes().await.unwrap().to_vec());
    }
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    (headers, body)
}

async fn send_with(
    server: &TestServer,
    user: &ApiUser,
    conversation: &str,
    content: &str,
    attachments: &[&str],
) -> (StatusCode, Value) {
    call(
        server,
        user,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(json!({ "content": content, "attachments": attachments,
                     "clientMessageId": uuid::Uuid::new_v4().to_string() })),
    )
    .await
}

async fn files_are_sniffed_processed_and_stripped(engine: Engine, storage: Storage) {
    let server = media_server(engine, storage, |_| {}).await;
    let alice = api_user(&server, None, "alice").await;

    // A JPEG named like a PDF, carrying a GPS position.
    let photo = jpeg_with_gps(1600, 1200);
    assert!(has_gps(&photo), "the fixture carries GPS");
    let (status, created) = upload(&server, &alice, "holiday.pdf", "application/pdf", &photo).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["contentType"], "image/jpeg", "the bytes decide");
    assert_eq!(created["filename"], "holiday.pdf");
    assert_eq!(created["size"], photo.len());
    assert_eq!(created["uploaderId"], alice.id.as_str());
    let id = created["id"].as_str().unwrap();
    let ready = processed(&server, &alice, id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(
        (ready["width"].as_u64(), ready["height"].as_u64()),
        (Some(1600), Some(1200))
    );
    assert!(
        ready["placeholder"].as_str().is_some_and(|p| !p.is_empty()),
        "{ready}"
    );
    let names: Vec<&str> = ready["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["thumb", "preview"], "{ready}");
    assert!(ready["downloadUrls"]["thumb"].is_string(), "{ready}");

    let (_, original) = fetch(&server, &alice, id, "original").await;
    assert!(!has_gps(&original), "the served original carries no GPS");
    image::load_from_memory(&original).expect("the stripped original still decodes");
    for variant in ["thumb", "preview"] {
        let (_, bytes) = fetch(&server, &alice, id, variant).await;
        assert!(
            jpeg_app1_segments(&bytes).is_empty(),
            "{variant} carries no EXIF or XMP"
        );
        let img = image::load_from_memory(&bytes).unwrap();
        let bound = if variant == "thumb" { 320 } else { 1280 };
        assert!(
            img.width() <= bound && img.height() <= bound,
            "{variant}: {}x{}",
            img.width(),
            img.height()
        );
    }

    // An HTML page named like a picture: accepted, only ever a download.
    let (status, page) = upload(&server, &alice, "cat.jpg", "image/jpeg", HTML).await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    assert_eq!(page["contentType"], "text/html");
    assert_eq!(page["status"], "ready");
    if storage == Storage::Local {
        let path = format!("/api/v1/media/{}/download", page["id"].as_str().unwrap());
        let (status, headers, _) = download(&server, &alice, &path, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("sandbox")
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }

    // Executables and empty files are refused; nothing of theirs is kept.
    let (status, body) = upload(&server, &alice, "setup.png", "image/png", ELF).await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let (status, body) = upload(&server, &alice, "empty.txt", "text/plain", b"").await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    // No file at all.
    let req = request(
        &server,
        &alice,
        Method::POST,
        server.url("/api/v1/media/upload"),
    )
    .header("content-type", "application/json")
    .body("{}");
    let (status, body) = server.call(req).await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}
both_stores!(
    sniffing_and_pipeline,
    files_are_sniffed_processed_and_stripped
);

async fn only_the_uploader_and_members_may_read(engine: Engine, storage: Storage) {
    let server = media_server(engine, storage, |_| {}).await;
    server.add_tenant("other", Tier::Pro).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let carol = api_user(&server, None, "carol").await;
    let mallory = api_user(&server, Some("other"), "mallory").await;
    let id = uploaded(&server, &alice, "notes.txt", b"meeting notes").await;
    let path = format!("/api/v1/media/{id}");
    for stranger in [&bob, &carol, &mallory] {
        let (status, body) = call(&server, stranger, Method::GET, &path, None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "media_not_found");
        let (status, _, _) = download(&server, stranger, &format!("{path}/download"), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let conversation = api_group(&server, &alice, &[&bob]).await;
    let (status, sent) = send_with(&server, &alice, &conversation, "", &[&id]).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "attachment-only messages are allowed: {sent}"
    );
    assert_eq!(sent["attachments"][0]["filename"], "notes.txt");
    let (status, _) = call(&server, &bob, Method::GET, &path, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a member of a conversation carrying it may read it"
    );
    let (_, bytes) = fetch(&server, &bob, &id, "original").await;
    assert_eq!(bytes, b"meeting notes");
    for stranger in [&carol, &mallory] {
        let (status, _) = call(&server, stranger, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // Leaving the conversation ends the right.
    let (status, _) = call(
        &server,
        &bob,
        Method::DELETE,
        &format!("/api/v1/conversations/{conversation}/members/{}", bob.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&server, &bob, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
both_stores!(read_rights, only_the_uploader_and_members_may_read);

async fn attachments_are_the_senders_own(engine: Engine, storage: Storage) {
    let server = media_server(engine, storage, |_| {}).await;
    server.add_tenant("other", Tier::Pro).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let mallory = api_user(&server, Some("other"), "mallory").await;
    let conversation = api_group(&server, &alice, &[&bob]).await;
    let mine = uploaded(&server, &alice, "q3-report.txt", b"mine").await;
    let bobs = uploaded(&server, &bob, "b.txt", b"bob's").await;
    let foreign = uploaded(&server, &mallory, "m.txt", b"other tenant").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for bad in [&bobs, &foreign, &unknown] {
        let (status, body) = send_with(&server, &alice, &conversation, "look", &[&mine, bad]).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_attachments",
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(bad.as_str()),
            "{body}"
        );
    }
    let many: Vec<String> = (0..11).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (status, body) = send_with(&server, &alice, &conversation, "x", &many).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, body) = send_with(&server, &alice, &conversation, "", &[]).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, sent) = send_with(&server, &alice, &conversation, "with a file", &[&mine]).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (_, page) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}/messages"),
        None,
    )
    .await;
    let last = page["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["attachments"][0]["id"], mine.as_str(), "{last}");
    assert_eq!(last["attachments"][0]["contentType"], "text/plain");
    // The file name is searchable.
    let (status, found) = call(
        &server,
        &bob,
        Method::GET,
        "/api/v1/search/messages?q=report",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert!(
        found.to_string().contains(sent["id"].as_str().unwrap()),
        "{found}"
    );

    // The same rules on the socket, and the event carries the metadata.
    let (mut ws, _) = Ws::login(server.addr, &alice.token).await;
    ws.ok(
        "conversation.join",
        json!({ "conversationId": conversation }),
    )
    .await;
    let code = ws
        .fails(
            "message.send",
            json!({ "conversationId": conversation, "content": "x",
                                        "attachments": [bobs] }),
        )
        .await;
    assert_eq!(code, "invalid_attachments");
    ws.ok(
        "message.send",
        json!({ "conversationId": conversation, "content": "",
                                  "attachments": [mine], "clientMessageId": "ws-1" }),
    )
    .await;
    let created = ws
        .expect_where("message.created", |d| d["clientMessageId"] == "ws-1")
        .await;
    assert_eq!(
        created["attachments"][0]["filename"], "q3-report.txt",
        "{created}"
    );
}
both_stores!(attachments, attachments_are_the_senders_own);

async fn storage_is_bounded(engine: Engine, storage: Storage) {
    let server = media_server(engine, storage, |s| {
        s.media_max_upload_bytes = Some(100_000)
    })
    .await;
    server.add_tenant("small", Tier::Free).await;
    server
        .set_quotas(
            "small",
            Quotas {
                max_storage_bytes: Some(50_000),
                ..tenant("small", Tier::Free).quotas
            },
        )
        .await;
    let alice = api_user(&server, Some("small"), "alice").await;
    let chunk = vec![b'a'; 30_000];
    uploaded(&server, &alice, "one.txt", &chunk).await;
    let (status, body) = upload(&server, &alice, "two.txt", "text/plain", &chunk).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maxStorageBytes"),
        "{body}"
    );
    let root = api_user(&server, None, "root").await;
    let big = vec![b'b'; 150_000];
    let (status, body) = upload(&server, &root, "big.txt", "text/plain", &big).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("chemchat_media_stored_bytes"),
        "no storage gauge"
    );
}
both_stores!(quota_and_cap, storage_is_bounded);

async fn direct_uploads_are_checked_at_completion(engine: Engine, storage: Storage) {
    let server = media_server(engine, storage, |_| {}).await;
    let alice = api_user(&server, None, "alice").await;
    let photo = png(64, 48);
    let announce = |size: usize, content_type: &'static str| {
        call(
            &server,
            &alice,
            Method::POST,
            "/api/v1/media/uploads",
            Some(json!({ "filename": "pic.png", "size": size, "contentType": content_type })),
        )
    };
    let put = |upload: Value, bytes: Vec<u8>| {
        let server = &server;
        async move {
            let url = upload["uploadUrl"].as_str().unwrap();
            let url = if url.starts_with('/') {
                server.url(url)
            } else {
                url.to_owned()
            };
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut req = client.put(url).body(bytes);
            // The body's own length, whatever was announced: a client that sends fewer bytes
            // than it announced is what the completion check is for.
            for (name, value) in upload["headers"].as_object().unwrap() {
                if !name.eq_ignore_ascii_case("content-length") {
                    req = req.header(name.as_str(), value.as_str().unwrap());
                }
            }
            req.send().await.unwrap().status()
        }
    };
    let (status, first) = announce(photo.len(), "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["media"]["status"], "awaiting_upload");
    let id = first["mediaId"].as_str().unwrap().to_owned();
    let complete = format!("/api/v1/media/{id}/complete");
    let (status, body) = call(&server, &alice, Method::POST, &complete, None).await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
    assert!(put(first.clone(), photo.clone()).await.is_success());
    let (status, done) = call(&server, &alice, Method::POST, &complete, None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["contentType"], "image/png");
    assert_eq!(processed(&server, &alice, &id).await["status"], "ready");
    let (status, body) = call(&server, &alice, Method::POST, &complete, None).await;
    assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");

    // Fewer bytes than announced.
    let (_, short) = announce(photo.len() + 10, "image/png").await;
    let (status, _) = announce(0, "image/png").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let stored = put(short.clone(), photo.clone()).await;
    if stored.is_success() {
        let path = format!(
            "/api/v1/media/{}/complete",
            short["mediaId"].as_str().unwrap()
        );
        let (status, body) = call(&server, &alice, Method::POST, &path, None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "upload_mismatch");
    }
    // An executable announced as a picture.
    let (_, lying) = announce(ELF.len(), "image/png").await;
    assert!(put(lying.clone(), ELF.to_vec()).await.is_success());
    let path = format!(
        "/api/v1/media/{}/complete",
        lying["mediaId"].as_str().unwrap()
    );
    let (status, body) = call(&server, &alice, Method::POST, &path, None).await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    // A type that is never accepted is refused up front.
    let (status, body) = announce(10, "application/x-msdownload").await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}
both_stores!(direct_uploads, direct_uploads_are_checked_at_completion);

async fn urls_expire(engine: Engine, storage: Storage) {
    let server = media_server(engine, storage, |s| s.media_download_url_seconds = 1).await;
    let alice = api_user(&server, None, "alice").await;
    let id = uploaded(&server, &alice, "n.txt", b"soon gone").await;
    let (_, details) = call(
        &server,
        &alice,
        Method::GET,
        &format!("/api/v1/media/{id}"),
        None,
    )
    .await;
    let url = details["downloadUrls"]["original"].as_str().unwrap();
    let url = if url.starts_with('/') {
        server.url(url)
    } else {
        url.to_owned()
    };
    let fresh = reqwest::get(&url).await.unwrap();
    assert_eq!(
        fresh.status(),
        StatusCode::OK,
        "a fresh URL works without a header"
    );
    assert_eq!(fresh.bytes().await.unwrap().as_ref(), b"soon gone");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let stale = reqwest::get(&url).await.unwrap();
    assert!(
        matches!(
            stale.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ),
        "an expired URL is refused: {}",
        stale.status()
    );
}
both_stores!(url_expiry, urls_expire);

async fn local_downloads_honour_range_and_etag(engine: Engine) {
    let server = media_server(engine, Storage::Local, |_| {}).await;
    let alice = api_user(&server, None, "alice").await;
    let text: Vec<u8> = (0..1000).map(|i| b'a' + (i % 26) as u8).collect();
    let id = uploaded(&server, &alice, "abc.txt", &text).await;
    let path = format!("/api/v1/media/{id}/download");
    let (status, headers, body) =
        download(&server, &alice, &path, &[("range", "bytes=10-19")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, text[10..20]);
    assert_eq!(headers["content-range"], "bytes 10-19/1000");
    let (_, _, tail) = download(&server, &alice, &path, &[("range", "bytes=-5")]).await;
    assert_eq!(tail, text[995..]);
    let (status, headers, body) = download(&server, &alice, &path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, text);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, body) = download(&server, &alice, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (status, _, _) = download(&server, &alice, &path, &[("range", "bytes=5000-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
}
both_engines!(range_and_etag, local_downloads_honour_range_and_etag);

async fn unreferenced_media_are_swept(engine: Engine, storage: Storage) {
    let server = media_server(engine, storage, |s| {
        s.media_grace_seconds = 0;
        s.media_sweep_seconds = 1;
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let conversation = api_group(&server, &alice, &[&bob]).await;
    let kept = uploaded(&server, &alice, "kept.txt", b"kept").await;
    let (_, sent) = send_with(&server, &alice, &conversation, "file", &[&kept]).await;
    let loose = uploaded(&server, &alice, "loose.txt", b"never attached").await;
    let gone = |id: String| {
        let server = &server;
        let alice = &alice;
        async move {
            for _ in 0..100 {
                let (status, _) = call(
                    server,
                    alice,
                    Method::GET,
                    &format!("/api/v1/media/{id}"),
                    None,
                )
                .await;
                if status == StatusCode::NOT_FOUND {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    assert!(
        gone(loose.clone()).await,
        "an item never attached is swept after its grace period"
    );
    let (status, _) = call(
        &server,
        &alice,
        Method::GET,
        &format!("/api/v1/media/{kept}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "an attached item stays");
    let message = sent["id"].as_str().unwrap();
    let (status, tombstone) = call(
        &server,
        &alice,
        Method::DELETE,
        &format!("/api/v1/messages/{message}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tombstone}");
    assert_eq!(
        tombstone["attachments"],
        json!([]),
        "a tombstone carries no attachments"
    );
    assert!(
        gone(kept.clone()).await,
        "deleting the message lets the item go"
    );
    if storage == Storage::Local {
        let dir = server
            .db
            .dir
            .path()
            .join("media")
            .join("default")
            .join(&kept);
        assert!(!dir.exists(), "its files are deleted: {}", dir.display());
    }
}
both_stores!(sweeper, unreferenced_media_are_swept);
