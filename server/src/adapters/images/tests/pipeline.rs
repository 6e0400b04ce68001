//! End-to-end behaviour of `process` on well-formed uploads.

use image::metadata::Orientation;
use img_parts::ImageEXIF;
use img_parts::jpeg::Jpeg;

use super::fixtures;
use super::inspect::{
    assert_no_app1, assert_no_metadata_strings, assert_rendition_sizes, contains, ifd0_tags,
    process_ok, stored_dimensions,
};
use super::metadata_fixtures::{XMP_JPEG_PREFIX, jpeg_with_metadata};
use crate::adapters::images::ImageFormat;

#[test]
fn phone_jpeg_is_oriented_rendered_and_stripped() {
    let upload = jpeg_with_metadata(2000, 1500, 6);
    let processed = process_ok(&upload, ImageFormat::Jpeg);

    // Orientation 6 (rotate 90° clockwise) swaps the displayed axes.
    assert_rendition_sizes(&processed, 1500, 2000);
    for rendition in &processed.renditions {
        assert_eq!(rendition.content_type, "image/jpeg");
        assert_no_metadata_strings(&rendition.bytes, rendition.variant);
        assert_no_app1(&rendition.bytes, rendition.variant);
    }

    let original = processed.original.as_deref().expect("metadata was removed");
    let jpeg = Jpeg::from_bytes(original.to_vec().into()).unwrap();
    let exif = jpeg.exif().expect("orientation is kept");
    assert_eq!(
        ifd0_tags(&exif),
        [0x0112],
        "only Orientation survives in IFD0"
    );
    assert!(
        !contains(&exif, &0x8825u16.to_le_bytes()),
        "GPS IFD pointer survived"
    );
    assert_eq!(
        Orientation::from_exif_chunk(&exif),
        Some(Orientation::Rotate90)
    );
    assert!(!contains(original, XMP_JPEG_PREFIX), "XMP survived");
    assert_no_metadata_strings(&exif, "minimal EXIF");
    assert_eq!(stored_dimensions(original, ImageFormat::Jpeg), (2000, 1500));
    // Stripping twice finds only the minimal EXIF, which it rebuilds identically.
    let again = process_ok(original, ImageFormat::Jpeg);
    assert_eq!((again.width, again.height), (1500, 2000));
    assert_eq!(again.original.as_deref(), Some(original));
}

#[test]
fn small_image_gets_only_a_thumb_and_no_stripped_copy() {
    for (format, upload) in [
        (ImageFormat::Jpeg, fixtures::jpeg(100, 80)),
        (ImageFormat::Png, fixtures::png_rgb(100, 80)),
    ] {
        let processed = process_ok(&upload, format);
        assert_rendition_sizes(&processed, 100, 80);
        // Never scaled up.
        assert_eq!(
            (
                processed.renditions[0].width,
                processed.renditions[0].height
            ),
            (100, 80)
        );
        assert_eq!(processed.original, None, "{format:?} carried no metadata");
    }
}

#[test]
fn every_orientation_is_applied() {
    for orientation in 1..=8u16 {
        let upload = jpeg_with_metadata(400, 200, orientation);
        let processed = process_ok(&upload, ImageFormat::Jpeg);
        let swapped = orientation >= 5;
        let expected = if swapped { (200, 400) } else { (400, 200) };
        assert_eq!(
            (processed.width, processed.height),
            expected,
            "orientation {orientation}"
        );
        let thumb = &processed.renditions[0];
        let thumb_expected = if swapped { (160, 320) } else { (320, 160) };
        assert_eq!(
            (thumb.width, thumb.height),
            thumb_expected,
            "orientation {orientation}"
        );

        let original = processed.original.unwrap();
        let exif = Jpeg::from_bytes(original.into()).unwrap().exif();
        match orientation {
            1 => assert_eq!(exif, None, "upright pictures need no EXIF at all"),
            _ => assert_eq!(exif.map(|e| ifd0_tags(&e)), Some(vec![0x0112])),
        }
    }
}

#[test]
fn orientation_is_visible_in_thumb_pixels() {
    // The fixture is red on the right (x gradient) and green at the bottom (y gradient).
    // Rotated 90° clockwise, the old left edge (red 0) becomes the top.
    let processed = process_ok(&jpeg_with_metadata(400, 200, 6), ImageFormat::Jpeg);
    let thumb = &processed.renditions[0];
    let pixels = image::load_from_memory(&thumb.bytes).unwrap().to_rgb8();
    let top = pixels.get_pixel(thumb.width / 2, 2);
    let bottom = pixels.get_pixel(thumb.width / 2, thumb.height - 3);
    assert!(
        top[0] < 40 && bottom[0] > 215,
        "top {top:?}, bottom {bottom:?}"
    );
}

#[test]
fn placeholder_is_a_valid_4x3_blurhash() {
    let processed = process_ok(&fixtures::jpeg(640, 480), ImageFormat::Jpeg);
    // 1 (size) + 1 (max AC) + 4 (DC) + 2 per AC component.
    assert_eq!(processed.placeholder.len(), 6 + 2 * (4 * 3 - 1));
    blurhash::decode(&processed.placeholder, 32, 24, 1.0).unwrap();
}

#[test]
fn animated_gif_uses_first_frame_and_has_no_stripped_copy() {
    let processed = process_ok(&fixtures::gif_animated(64, 48), ImageFormat::Gif);
    assert_rendition_sizes(&processed, 64, 48);
    assert_eq!(processed.original, None);
    // Opaque frames: JPEG even though GIF decodes to RGBA.
    assert_eq!(processed.renditions[0].content_type, "image/jpeg");
    let thumb = image::load_from_memory(&processed.renditions[0].bytes)
        .unwrap()
        .to_rgb8();
    // First frame has blue 128 throughout; the inverted second frame would have 127 and
    // swapped red/green gradients. Check the red gradient's direction.
    assert!(thumb.get_pixel(2, 24)[0] < thumb.get_pixel(61, 24)[0]);
}

#[test]
fn large_png_gets_a_preview_too() {
    let processed = process_ok(&fixtures::png_rgb(3000, 600), ImageFormat::Png);
    assert_rendition_sizes(&processed, 3000, 600);
    assert_eq!(processed.renditions[1].height, 256);
}

#[test]
fn rgb_colour_profile_is_carried_into_renditions() {
    use img_parts::ImageICC;
    // A stand-in profile: renditions copy it verbatim, so only the header fields matter.
    let profile = |space: &[u8; 4]| {
        let mut icc = vec![0u8; 132];
        icc[16..20].copy_from_slice(space);
        icc[36..40].copy_from_slice(b"acsp");
        icc
    };
    for (space, expect_copied) in [(b"RGB ", true), (b"CMYK", false), (b"GRAY", false)] {
        let mut jpeg = Jpeg::from_bytes(fixtures::jpeg(1400, 200).into()).unwrap();
        jpeg.set_icc_profile(Some(profile(space).into()));
        let processed = process_ok(&jpeg.encoder().bytes(), ImageFormat::Jpeg);
        assert_eq!(
            processed.original, None,
            "a colour profile is not metadata to strip"
        );
        for rendition in &processed.renditions {
            let icc = Jpeg::from_bytes(rendition.bytes.clone().into())
                .unwrap()
                .icc_profile();
            let expected = expect_copied.then(|| profile(space).into());
            assert_eq!(
                icc, expected,
                "{} with a {space:?} profile",
                rendition.variant
            );
        }
    }
}
