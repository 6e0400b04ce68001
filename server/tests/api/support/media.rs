//! Media for tests: files of known types (a JPEG carrying EXIF with a GPS position, a PNG, an
//! HTML page, an executable), uploads through the API, and a look inside JPEG metadata.

use super::api::{Api, ApiUser, request};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// A `width`×`height` JPEG of a gradient.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

/// A small PNG.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, _| image::Rgba([x as u8, 0, 200, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// An EXIF block (TIFF, little-endian) with an orientation of 1 and a GPS position: IFD0 holds
/// Orientation and the GPSInfo pointer (tag 0x8825), the GPS IFD a latitude reference.
fn exif_with_gps() -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: two entries.
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0]); // Orientation, SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&[1, 0, 0, 0]);
    tiff.extend_from_slice(&[0x25, 0x88, 4, 0]); // GPSInfo, LONG
    tiff.extend_from_slice(&1u32.to_le_bytes());
    let gps_at = 8 + 2 + 2 * 12 + 4;
    tiff.extend_from_slice(&(gps_at as u32).to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    // GPS IFD: GPSLatitudeRef "N".
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&[0x01, 0x00, 2, 0]);
    tiff.extend_from_slice(&2u32.to_le_bytes());
    tiff.extend_from_slice(b"N\0\0\0");
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&tiff);
    exif
}

/// A JPEG whose EXIF says where it was taken.
pub fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let plain = jpeg(width, height);
    let exif = exif_with_gps();
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&plain[2..]);
    out
}

/// The payloads of a JPEG's APP1 segments (EXIF, XMP), read up to the start of the scan.
pub fn jpeg_app1_segments(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&bytes[..2], [0xFF, 0xD8], "not a JPEG");
    let mut found = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() && bytes[at] == 0xFF {
        let marker = bytes[at + 1];
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        if marker == 0xE1 {
            found.push(bytes[at + 4..at + 2 + len].to_vec());
        }
        at += 2 + len;
    }
    found
}

/// Whether a JPEG carries a GPS position (an EXIF GPSInfo pointer).
pub fn has_gps(bytes: &[u8]) -> bool {
    jpeg_app1_segments(bytes)
        .iter()
        .any(|s| s.starts_with(b"Exif\0\0") && s.windows(2).any(|w| w == [0x25, 0x88]))
}

pub const HTML: &[u8] = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script>";
/// The start of an x86-64 executable (`infer` reads 52 bytes of the ELF header).
pub const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0\x01\0\0\0\
    \0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// Uploads `bytes` as `filename` (claiming `content_type`) with `multipart/form-data`.
pub async fn upload(
    api: &Api,
    user: &ApiUser,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let boundary = format!("chemchat-test-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = request(api, user, Method::POST, api.url("/api/v1/media/upload"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    api.call(req).await
}

/// Uploads and expects 201; returns the media id.
pub async fn uploaded(api: &Api, user: &ApiUser, filename: &str, bytes: &[u8]) -> String {
    let (status, body) = upload(api, user, filename, "application/octet-stream", bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// `GET /media/{id}` until the pipeline is done with it; returns the details.
pub async fn processed(api: &Api, user: &ApiUser, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) =
            super::api::call(api, user, Method::GET, &format!("/api/v1/media/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["status"] != "pending" {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still pending: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client that does not follow redirects, to see where a download points.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET /media/{id}/download` with extra headers: status, headers and body.
pub async fn download(
    api: &Api,
    user: &ApiUser,
    path: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let client = no_redirects();
    let mut req = client.get(api.url(path)).bearer_auth(&user.token);
    if let Some(tenant) = &user.tenant {
        req = req.header("x-tenant-id", tenant);
    }
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let response = req.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    (status, headers, body)
}

/// Where a test server keeps its media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// `CHEMCHAT_MEDIA_DIR`.
    Local,
    /// A bucket of its own on the S3 server.
    S3,
}

/// A server on `engine` with media on `storage`; `tweak` adjusts the rest.
pub async fn media_server(
    engine: super::Engine,
    storage: Storage,
    tweak: impl FnOnce(&mut chemchat_server::config::Settings),
) -> super::server::TestServer {
    let bucket = format!(
        "chemchat-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    if storage == Storage::S3 {
        s3_blobs(&bucket)
            .ensure_bucket()
            .await
            .expect("S3 bucket created");
    }
    super::server::TestServer::start_with(engine, |settings| {
        if storage == Storage::S3 {
            let (key, secret) = super::services::s3_credentials();
            settings.s3_endpoint = Some(super::services::s3_endpoint());
            settings.s3_bucket = Some(bucket);
            settings.s3_access_key_id = Some(key.into());
            settings.s3_secret_access_key = Some(secret.into());
        }
        tweak(settings);
    })
    .await
}

/// A client of one bucket on the S3 server.
pub fn s3_blobs(bucket: &str) -> chemchat_server::adapters::blobs::S3Blobs {
    let (key, secret) = super::services::s3_credentials();
    chemchat_server::adapters::blobs::S3Blobs::new(&chemchat_server::adapters::blobs::S3Settings {
        endpoint: Some(super::services::s3_endpoint()),
        bucket: bucket.to_owned(),
        region: "us-east-1".into(),
        access_key_id: key.into(),
        secret_access_key: secret.into(),
        path_style: true,
    })
}

/// Runs a media test with SQLite and local files, and with PostgreSQL and S3.
macro_rules! both_stores {
    ($name:ident, $body:ident) => {
        mod $name {
            use $crate::support::Engine;
            use $crate::support::media::Storage;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_local() {
                super::$body(Engine::Sqlite, Storage::Local).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_s3() {
                super::$body(Engine::Postgres, Storage::S3).await;
            }
        }
    };
}
