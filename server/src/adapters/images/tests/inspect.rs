//! Helpers that look inside pipeline outputs.

use std::time::{Duration, Instant};

use img_parts::jpeg::{Jpeg, markers};

use super::metadata_fixtures::{CAMERA_MAKE, COMMENT};
use crate::adapters::images::{ImageError, ImageFormat, ImageLimits, ProcessedImage, process};

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Fails if any tell-tale of EXIF, GPS, XMP, IPTC or the comment appears in `bytes`.
pub fn assert_no_metadata_strings(bytes: &[u8], what: &str) {
    let tells: [&[u8]; 7] = [
        b"Exif",
        b"GPS",
        b"ns.adobe.com/xap",
        b"xmpmeta",
        b"Photoshop 3.0",
        CAMERA_MAKE,
        COMMENT,
    ];
    for tell in tells {
        let tell_text = String::from_utf8_lossy(tell);
        assert!(
            !contains(bytes, tell),
            "{what} still contains {tell_text:?}"
        );
    }
}

/// Tags of IFD0 in a TIFF structure (either byte order).
pub fn ifd0_tags(tiff: &[u8]) -> Vec<u16> {
    let little = tiff.starts_with(b"II");
    let u16_at = |at: usize| {
        let b = [tiff[at], tiff[at + 1]];
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_at = |at: usize| {
        let b = [tiff[at], tiff[at + 1], tiff[at + 2], tiff[at + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let ifd = u32_at(4) as usize;
    (0..usize::from(u16_at(ifd)))
        .map(|i| u16_at(ifd + 2 + 12 * i))
        .collect()
}

pub fn jpeg_markers(bytes: &[u8]) -> Vec<u8> {
    let jpeg = Jpeg::from_bytes(bytes.to_vec().into()).unwrap();
    jpeg.segments().iter().map(|s| s.marker()).collect()
}

pub fn assert_no_app1(bytes: &[u8], what: &str) {
    assert!(
        !jpeg_markers(bytes).contains(&markers::APP1),
        "{what} has an APP1 segment"
    );
}

/// Decodes with the `image` crate directly (stored orientation, no limits of ours).
pub fn stored_dimensions(bytes: &[u8], format: ImageFormat) -> (u32, u32) {
    let image = image::load_from_memory_with_format(bytes, format.codec_format()).unwrap();
    (image.width(), image.height())
}

pub fn process_ok(bytes: &[u8], format: ImageFormat) -> ProcessedImage {
    process(bytes, format, &ImageLimits::default()).unwrap()
}

/// Runs `process` and checks it took less than `budget`.
pub fn process_timed(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
    budget: Duration,
) -> Result<ProcessedImage, ImageError> {
    let started = Instant::now();
    let result = process(bytes, format, limits);
    let elapsed = started.elapsed();
    assert!(elapsed < budget, "{format:?} took {elapsed:?}");
    result
}

/// Checks the thumb/preview rules for a picture displayed at `width` x `height`.
pub fn assert_rendition_sizes(processed: &ProcessedImage, width: u32, height: u32) {
    assert_eq!((processed.width, processed.height), (width, height));
    let variants: Vec<_> = processed.renditions.iter().map(|r| r.variant).collect();
    let expect_preview = width > 1280 || height > 1280;
    let expected: &[&str] = if expect_preview {
        &["thumb", "preview"]
    } else {
        &["thumb"]
    };
    assert_eq!(variants, expected);
    for rendition in &processed.renditions {
        let bound = if rendition.variant == "thumb" {
            320
        } else {
            1280
        };
        let (w, h) = (rendition.width, rendition.height);
        assert!(w <= bound && h <= bound, "{} is {w}x{h}", rendition.variant);
        assert!(
            w == bound.min(width) || h == bound.min(height),
            "{} not fitted",
            rendition.variant
        );
        // Aspect ratio kept to within rounding.
        let skew = (u64::from(w) * u64::from(height)).abs_diff(u64::from(h) * u64::from(width));
        assert!(
            skew <= u64::from(width.max(height)),
            "{} skewed: {w}x{h}",
            rendition.variant
        );
        let format = match rendition.content_type {
            "image/jpeg" => ImageFormat::Jpeg,
            "image/png" => ImageFormat::Png,
            other => panic!("unexpected content type {other}"),
        };
        assert_eq!(stored_dimensions(&rendition.bytes, format), (w, h));
    }
}
