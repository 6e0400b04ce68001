//! Decompression bombs and limit enforcement: refused from the header, quickly.

use std::time::Duration;

use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::PngChunk;

use super::inspect::process_timed;
use super::{fixtures, metadata_fixtures};
use crate::adapters::images::{ImageError, ImageFormat, ImageLimits};

/// Generous for a debug build; a decode of the claimed size would take minutes.
const BUDGET: Duration = Duration::from_secs(1);

/// A tiny PNG whose IHDR claims `width` x `height` RGBA, with a token IDAT.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, deflate, no interlace
    let zlib_of_one_zero = vec![0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01];
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, contents) in [
        (*b"IHDR", ihdr),
        (*b"IDAT", zlib_of_one_zero),
        (*b"IEND", vec![]),
    ] {
        // PngChunk::new computes the CRC.
        png.extend_from_slice(&PngChunk::new(kind, contents.into()).encoder().bytes());
    }
    png
}

fn refused_as_too_large(bytes: &[u8], format: ImageFormat, width: u32, height: u32) {
    let result = process_timed(bytes, format, &ImageLimits::default(), BUDGET);
    assert_eq!(
        result.unwrap_err(),
        ImageError::TooLarge { width, height },
        "{format:?}"
    );
}

#[test]
fn png_claiming_ten_gigapixels_is_too_large() {
    let bomb = png_claiming(100_000, 100_000);
    assert!(bomb.len() < 100);
    refused_as_too_large(&bomb, ImageFormat::Png, 100_000, 100_000);
    refused_as_too_large(
        &png_claiming(60_000, 60_000),
        ImageFormat::Png,
        60_000,
        60_000,
    );
}

#[test]
fn jpeg_claiming_65000_square_is_too_large() {
    let mut jpeg = Jpeg::from_bytes(fixtures::jpeg(16, 16).into()).unwrap();
    let sof = jpeg
        .segments_mut()
        .iter_mut()
        .find(|s| s.marker() == markers::SOF0)
        .unwrap();
    let mut contents = sof.contents().to_vec();
    contents[1..5].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]); // height, width = 65000
    *sof = JpegSegment::new_with_contents(markers::SOF0, contents.into());
    refused_as_too_large(&jpeg.encoder().bytes(), ImageFormat::Jpeg, 65_000, 65_000);
}

#[test]
fn gif_claiming_65535_square_is_too_large() {
    let mut gif = fixtures::gif_animated(16, 16);
    gif[6..10].copy_from_slice(&[0xFF; 4]); // logical screen width, height
    refused_as_too_large(&gif, ImageFormat::Gif, 65_535, 65_535);
}

#[test]
fn webp_claiming_huge_sizes_is_too_large() {
    // Simple lossless file: "RIFF" size "WEBP" "VP8L" size, then 0x2F and the 14+14-bit size
    // minus one. (image-webp 0.2.4 wraps the maximum, 16384, to 0: we then say Corrupt.)
    let mut lossless = fixtures::webp_rgba(16, 16);
    assert_eq!(&lossless[12..16], b"VP8L");
    let header = u32::from_le_bytes(lossless[21..25].try_into().unwrap());
    let claimed = (header & !0x0FFF_FFFF) | 16_382 | (16_382 << 14);
    lossless[21..25].copy_from_slice(&claimed.to_le_bytes());
    refused_as_too_large(&lossless, ImageFormat::Webp, 16_383, 16_383);

    // Extended file: the VP8X canvas size (24 bits each, minus one) is what counts.
    let mut extended = metadata_fixtures::webp_with_metadata(16, 16, 1);
    assert_eq!(&extended[12..16], b"VP8X");
    let canvas = 20_000u32 - 1;
    extended[24..27].copy_from_slice(&canvas.to_le_bytes()[..3]);
    extended[27..30].copy_from_slice(&canvas.to_le_bytes()[..3]);
    refused_as_too_large(&extended, ImageFormat::Webp, 20_000, 20_000);
}

#[test]
fn allocation_budget_is_enforced_before_decoding() {
    let limits = ImageLimits {
        max_alloc_bytes: 1 << 20,
        ..ImageLimits::default()
    };
    let result = process_timed(
        &fixtures::jpeg(2000, 1500),
        ImageFormat::Jpeg,
        &limits,
        BUDGET,
    );
    assert_eq!(
        result.unwrap_err(),
        ImageError::TooLarge {
            width: 2000,
            height: 1500
        }
    );
}

#[test]
fn pixel_and_side_limits_are_enforced() {
    let strip = fixtures::png_rgb(400, 10);
    let narrow = ImageLimits {
        max_dimension: 300,
        ..ImageLimits::default()
    };
    let few = ImageLimits {
        max_pixels: 3_999,
        ..ImageLimits::default()
    };
    for limits in [narrow, few] {
        let result = process_timed(&strip, ImageFormat::Png, &limits, BUDGET);
        assert_eq!(
            result.unwrap_err(),
            ImageError::TooLarge {
                width: 400,
                height: 10
            }
        );
    }
    let exact = ImageLimits {
        max_pixels: 4_000,
        max_dimension: 400,
        ..ImageLimits::default()
    };
    assert!(process_timed(&strip, ImageFormat::Png, &exact, BUDGET).is_ok());
}

#[test]
fn zero_sized_images_are_corrupt() {
    for (width, height) in [(0, 10), (10, 0), (0, 0)] {
        let result = process_timed(
            &png_claiming(width, height),
            ImageFormat::Png,
            &ImageLimits::default(),
            BUDGET,
        );
        assert!(
            matches!(result, Err(ImageError::Corrupt(_))),
            "{width}x{height}: {result:?}"
        );
    }
}
