//! Fuzzes the media-upload image pipeline: `process` must return `Ok` or `Err` on any bytes,
//! and whatever it accepts must survive its own metadata stripping.
//!
//! Run from `server/`: `cargo fuzz run image_pipeline -- -max_total_time=600 -rss_limit_mb=2048`
//! (on stable, with `RUSTC_BOOTSTRAP=1`). Seed the corpus with real photos of each format,
//! prefixed by their format byte (0 JPEG, 1 PNG, 2 GIF, 3 WebP).

#![no_main]

use chemchat_server::adapters::images::{ImageFormat, ImageLimits, process};
use libfuzzer_sys::fuzz_target;

/// Smaller than production so each run stays fast: the bounds themselves are unit-tested, and
/// the fuzzer's job is to find panics in parsing, not to decode 50 MP pictures.
const LIMITS: ImageLimits = ImageLimits {
    max_pixels: 4_000_000,
    max_alloc_bytes: 64 << 20,
    max_dimension: 8192,
};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the declared format, so the fuzzer also explores mislabelled input.
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let format = ImageFormat::ALL[usize::from(selector) % ImageFormat::ALL.len()];
    let Ok(processed) = process(bytes, format, &LIMITS) else {
        return;
    };
    assert!(!processed.renditions.is_empty(), "no thumb");
    for rendition in &processed.renditions {
        assert!(rendition.width <= 1280 && rendition.height <= 1280);
    }
    // A stripped original must still decode, as a picture of the same size.
    if let Some(original) = &processed.original {
        let again = process(original, format, &LIMITS).expect("stripped original decodes");
        assert_eq!(
            (again.width, again.height),
            (processed.width, processed.height)
        );
    }
});
