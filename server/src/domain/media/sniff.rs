//! What an upload is, decided from its first bytes against an allowlist. The client's
//! `Content-Type` and file name are never trusted: a PNG named `.pdf` is a PNG, and an HTML page
//! named `.jpg` is HTML (and is only ever served as a download).

/// Bytes of the start of a file that sniffing reads (Office documents name themselves inside the
/// first zip entries, so a few KiB are needed).
pub const SNIFF_BYTES: usize = 8 * 1024;

/// The broad kind of a file, which decides how it is processed and served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaClass {
    /// A raster image the pipeline decodes: thumbnails, dimensions, metadata stripped.
    Image,
    /// Video.
    Video,
    /// Audio.
    Audio,
    /// Plain text.
    Text,
    /// PDF and office documents.
    Document,
    /// Compressed archives.
    Archive,
    /// HTML, SVG, scripts: accepted, but only ever served as a download.
    Scriptable,
}

/// A sniffed, allowed type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType {
    /// The MIME type served.
    pub mime: &'static str,
    /// Its kind.
    pub class: MediaClass,
}

impl MediaType {
    /// Whether a browser may show it in place. Everything else is served with
    /// `Content-Disposition: attachment`, so a file can never run as a page of ours.
    pub fn inline(self) -> bool {
        matches!(
            self.class,
            MediaClass::Image | MediaClass::Video | MediaClass::Audio | MediaClass::Text
        )
    }

    /// Whether the image pipeline processes it.
    pub fn is_image(self) -> bool {
        self.class == MediaClass::Image
    }

    /// The allowed type with this MIME name (a stored row's type read back).
    pub fn from_mime(mime: &str) -> Option<Self> {
        ALLOWED
            .iter()
            .chain(EXTRA)
            .find(|t| t.mime == mime)
            .copied()
    }
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SniffRefusal {
    /// Zero bytes.
    Empty,
    /// A recognised type outside the allowlist (executables, disk images, raw camera files…).
    NotAllowed(&'static str),
    /// Binary data of no recognised type.
    Unknown,
}

const fn t(mime: &'static str, class: MediaClass) -> MediaType {
    MediaType { mime, class }
}

use MediaClass::{Archive, Audio, Document, Image, Scriptable, Text, Video};

/// Types `infer` recognises that ChemChat accepts. Raster images are limited to what the
/// pipeline can decode and strip (JPEG, PNG, GIF, WebP): HEIF, TIFF and the like carry EXIF the
/// server could not remove, so they are refused rather than served with the uploader's location.
const ALLOWED: &[MediaType] = &[
    t("image/jpeg", Image),
    t("image/png", Image),
    t("image/gif", Image),
    t("image/webp", Image),
    t("video/mp4", Video),
    t("video/x-m4v", Video),
    t("video/webm", Video),
    t("video/quicktime", Video),
    t("video/x-matroska", Video),
    t("audio/mpeg", Audio),
    t("audio/m4a", Audio),
    t("audio/aac", Audio),
    t("audio/ogg", Audio),
    t("audio/opus", Audio),
    t("audio/x-flac", Audio),
    t("audio/x-wav", Audio),
    t("application/pdf", Document),
    t("application/rtf", Document),
    t("application/msword", Document),
    t("application/vnd.ms-excel", Document),
    t("application/vnd.ms-powerpoint", Document),
    t(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Document,
    ),
    t(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Document,
    ),
    t(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        Document,
    ),
    t("application/vnd.oasis.opendocument.text", Document),
    t("application/vnd.oasis.opendocument.spreadsheet", Document),
    t("application/vnd.oasis.opendocument.presentation", Document),
    t("application/epub+zip", Document),
    t("application/zip", Archive),
    t("application/gzip", Archive),
    t("application/x-tar", Archive),
    t("application/x-bzip2", Archive),
    t("application/x-xz", Archive),
    t("application/x-7z-compressed", Archive),
    t("application/vnd.rar", Archive),
    t("application/zstd", Archive),
    HTML,
    t("text/x-shellscript", Scriptable),
];

const HTML: MediaType = t("text/html", Scriptable);

/// Types decided here rather than by `infer`.
const EXTRA: &[MediaType] = &[
    t("text/plain", Text),
    t("image/svg+xml", Scriptable),
    t("application/xml", Scriptable),
];

const PLAIN_TEXT: MediaType = EXTRA[0];
const SVG: MediaType = EXTRA[1];
const XML: MediaType = EXTRA[2];

/// Decides the type of a file from its first bytes (at most [`SNIFF_BYTES`]; `head` is the whole
/// file when it is shorter).
pub fn sniff(head: &[u8]) -> Result<MediaType, SniffRefusal> {
    if head.is_empty() {
        return Err(SniffRefusal::Empty);
    }
    if let Some(kind) = infer::get(head) {
        let mime = kind.mime_type();
        if mime == "text/xml" {
            return Ok(if contains_ignore_case(head, b"<svg") {
                SVG
            } else {
                XML
            });
        }
        return ALLOWED
            .iter()
            .find(|t| t.mime == mime)
            .copied()
            .ok_or(SniffRefusal::NotAllowed(mime));
    }
    if !looks_like_text(head) {
        return Err(SniffRefusal::Unknown);
    }
    // `infer` only recognises markup at the very start; a browser sniffs further.
    if [b"<svg".as_slice(), b"<html", b"<script", b"<!doctype html"]
        .iter()
        .any(|tag| contains_ignore_case(head, tag))
    {
        return Ok(if contains_ignore_case(head, b"<svg") {
            SVG
        } else {
            HTML
        });
    }
    Ok(PLAIN_TEXT)
}

/// UTF-8 (a character cut at the end of the sample allowed) without NUL or other control bytes
/// than tab, line feed, carriage return and form feed.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => head.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return false,
    };
    head[..valid]
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

    #[test]
    fn the_bytes_decide_not_the_name() {
        assert_eq!(sniff(PNG).map(|t| t.mime), Ok("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n").map(|t| t.mime), Ok("application/pdf"));
    }

    #[test]
    fn markup_is_scriptable_and_never_inline() {
        for page in [
            b"<!DOCTYPE html><html><body>hi".as_slice(),
            b"hello <script>alert(1)</script>",
            b"  \n<HTML><p>x",
        ] {
            let kind = sniff(page).expect("allowed");
            assert_eq!(kind.class, MediaClass::Scriptable, "{page:?}");
            assert!(!kind.inline());
        }
        let svg = sniff(b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>");
        assert_eq!(svg.map(|t| t.mime), Ok("image/svg+xml"));
    }

    #[test]
    fn text_is_text_and_binary_is_refused() {
        assert_eq!(
            sniff("héllo\nwörld".as_bytes()).map(|t| t.mime),
            Ok("text/plain")
        );
        // A multi-byte character cut by the sample boundary is still text.
        assert_eq!(
            sniff(&"é".as_bytes()[..1]).map(|t| t.mime),
            Ok("text/plain")
        );
        assert_eq!(sniff(b"\x00\x01\x02garbage"), Err(SniffRefusal::Unknown));
        assert_eq!(sniff(b""), Err(SniffRefusal::Empty));
    }

    #[test]
    fn executables_are_refused_by_name() {
        let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0".to_vec();
        elf.resize(64, 0);
        assert_eq!(
            sniff(&elf),
            Err(SniffRefusal::NotAllowed("application/x-executable"))
        );
    }

    #[test]
    fn every_allowed_type_reads_back_from_its_name() {
        for kind in ALLOWED.iter().chain(EXTRA) {
            assert_eq!(MediaType::from_mime(kind.mime), Some(*kind));
        }
    }
}
