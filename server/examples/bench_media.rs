//! `make bench`: media — upload throughput and peak memory for a 1 GiB file, thumbnail time for a
//! 12-megapixel JPEG, thumbnail downloads per second; on local disk and, when the S3 server of
//! `make services` is there, on S3.
//!
//! Runs the real server in this process on 127.0.0.1:0 (SQLite) and drives it over HTTP. Memory
//! is this process's resident peak (`VmHWM`, reset through `/proc/self/clear_refs` before each
//! upload), so it includes the client, which streams its body from one reused 1 MiB chunk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use chemchat_server::Server;
use chemchat_server::config::Settings;
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// Bytes of the large upload (`BENCH_MEDIA_UPLOAD_MIB`, default 1 GiB).
fn upload_mib() -> u64 {
    std::env::var("BENCH_MEDIA_UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}
/// 12-megapixel photos processed for the thumbnail figure.
const PHOTOS: usize = 8;
/// Seconds of thumbnail downloads.
const DOWNLOAD_SECONDS: u64 = 5;
/// Downloads in flight at once.
const DOWNLOAD_CONCURRENCY: usize = 16;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

fn kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the resident peak to the current resident size.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn start(storage: &str, dir: &std::path::Path) -> (Client, tokio::sync::oneshot::Sender<()>) {
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: SecretString::from(format!("sqlite://{}/chemchat.db", dir.display())),
        jwt_secret: Some(SecretString::from("media-benchmark-secret-media-benchmark")),
        data_dir: dir.join("data"),
        media_dir: dir.join("media"),
        tenant_tier: Some("enterprise".into()),
        media_max_upload_bytes: Some(4 * 1024 * MIB),
        rate_limits: Some(
            "upload.user=100000/s,upload.tenant=100000/s,upload.address=100000/s,\
             download.user=1000000/s,download.tenant=1000000/s"
                .into(),
        ),
        ..Settings::default()
    };
    if storage == "s3" {
        let bucket = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let endpoint = std::env::var("CHEMCHAT_TEST_S3_ENDPOINT").unwrap();
        let blobs = chemchat_server::adapters::blobs::S3Settings {
            endpoint: Some(endpoint.clone()),
            bucket: bucket.clone(),
            region: "us-east-1".into(),
            access_key_id: std::env::var("CHEMCHAT_TEST_S3_ACCESS_KEY").unwrap().into(),
            secret_access_key: std::env::var("CHEMCHAT_TEST_S3_SECRET_KEY").unwrap().into(),
            path_style: true,
        };
        chemchat_server::adapters::blobs::S3Blobs::new(&blobs)
            .ensure_bucket()
            .await
            .unwrap();
        settings.s3_endpoint = Some(endpoint);
        settings.s3_bucket = Some(bucket);
        settings.s3_access_key_id = Some(blobs.access_key_id);
        settings.s3_secret_access_key = Some(blobs.secret_access_key);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::build(settings).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();
    let password = "media benchmark password";
    http.post(format!("{base}/api/v1/auth/register"))
        .json(
            &json!({"username": "bench", "displayName": "Bench", "email": "bench@example.com",
                      "password": password}),
        )
        .send()
        .await
        .unwrap();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "bench", "password": password, "deviceId": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["accessToken"].as_str().unwrap().to_owned();
    (Client { http, base, token }, tx)
}

impl Client {
    /// Uploads `size` bytes streamed from one reused chunk; returns the item.
    async fn upload_stream(&self, size: u64) -> Value {
        let boundary = "bench-boundary-7d2f";
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\
             Content-Type: text/plain\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let chunk = Bytes::from(vec![b'x'; MIB as usize]);
        let chunks = size / MIB;
        let body = futures::stream::iter(
            std::iter::once(Bytes::from(head.clone()))
                .chain((0..chunks).map(move |_| chunk.clone()))
                .chain(std::iter::once(Bytes::from(tail.clone())))
                .map(Ok::<_, std::io::Error>),
        );
        let length = head.len() as u64 + chunks * MIB + tail.len() as u64;
        self.multipart(reqwest::Body::wrap_stream(body), boundary, length)
            .await
    }

    async fn upload_bytes(&self, name: &str, bytes: &[u8]) -> Value {
        let boundary = "bench-boundary-7d2f";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let length = body.len() as u64;
        self.multipart(reqwest::Body::from(body), boundary, length)
            .await
    }

    async fn multipart(&self, body: reqwest::Body, boundary: &str, length: u64) -> Value {
        let response = self
            .http
            .post(format!("{}/api/v1/media/upload", self.base))
            .bearer_auth(&self.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("content-length", length)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    async fn status(&self, id: &str) -> String {
        let body: Value = self
            .http
            .get(format!("{}/api/v1/media/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["status"].as_str().unwrap_or_default().to_owned()
    }

    /// Fetches a thumbnail (following a redirect to storage); returns its size.
    async fn thumbnail(&self, id: &str) -> usize {
        let response = self
            .http
            .get(format!(
                "{}/api/v1/media/{id}/download?variant=thumb",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.bytes().await.unwrap().len()
    }
}

fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
        image::Rgb([(x / 16) as u8, (y / 12) as u8, ((x ^ y) & 0xff) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

async fn run(storage: &'static str, jpeg: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let (client, stop) = start(storage, dir.path()).await;
    let mib = upload_mib();

    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = kib("VmRSS:");
    reset_peak();
    let started = Instant::now();
    client.upload_stream(mib * MIB).await;
    let seconds = started.elapsed().as_secs_f64();
    let peak = kib("VmHWM:");
    println!(
        "{storage}: {mib} MiB upload in {seconds:.1} s = {:.0} MB/s; resident {} MiB idle, peak {} MiB during the upload (+{} MiB)",
        (mib * MIB) as f64 / 1e6 / seconds,
        idle / 1024,
        peak / 1024,
        peak.saturating_sub(idle) / 1024
    );

    let mut times = Vec::new();
    let mut last = String::new();
    for _ in 0..PHOTOS {
        let item = client.upload_bytes("photo.jpg", jpeg).await;
        let id = item["id"].as_str().unwrap().to_owned();
        let started = Instant::now();
        while client.status(&id).await == "pending" {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        last = id;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{storage}: 12-megapixel JPEG ({} KiB) processed (thumb + preview + stripped original) p50 {:.0} ms, p95 {:.0} ms over {PHOTOS}",
        jpeg.len() / 1024,
        percentile(&times, 0.5),
        percentile(&times, 0.95)
    );

    let deadline = Instant::now() + Duration::from_secs(DOWNLOAD_SECONDS);
    let client = std::sync::Arc::new(client);
    let downloads = futures::stream::iter(0..DOWNLOAD_CONCURRENCY)
        .map(|_| {
            let client = client.clone();
            let id = last.clone();
            async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    client.thumbnail(&id).await;
                    n += 1;
                }
                n
            }
        })
        .buffer_unordered(DOWNLOAD_CONCURRENCY)
        .fold(0u64, |a, b| async move { a + b })
        .await;
    println!(
        "{storage}: thumbnail downloads {:.0}/s ({DOWNLOAD_CONCURRENCY} in flight{})",
        downloads as f64 / DOWNLOAD_SECONDS as f64,
        if storage == "s3" {
            ", each a redirect then a presigned GET"
        } else {
            ""
        }
    );
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::main]
async fn main() {
    let jpeg = photo();
    println!(
        "media benchmark: {} cores, SQLite, release build",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    run("local", &jpeg).await;
    if std::env::var("CHEMCHAT_TEST_S3_ENDPOINT").is_ok() {
        run("s3", &jpeg).await;
    } else {
        println!("s3: CHEMCHAT_TEST_S3_ENDPOINT unset (make services); skipped");
    }
}
