//! Metadata removal from originals, format by format.

use image::metadata::Orientation;
use img_parts::ImageEXIF;
use img_parts::png::Png;
use img_parts::webp::{CHUNK_EXIF, CHUNK_VP8X, CHUNK_XMP, WebP};

use super::fixtures;
use super::inspect::{
    assert_no_metadata_strings, assert_rendition_sizes, contains, ifd0_tags, process_ok,
    stored_dimensions,
};
use super::metadata_fixtures::{
    exif_with_gps, jpeg_with_metadata, png_with_metadata, webp_with_metadata,
};
use crate::adapters::images::ImageFormat;
use crate::adapters::images::strip::{clean_jpeg_tail, orientation_only_tiff};

#[test]
fn png_with_alpha_and_text_gets_png_renditions_and_loses_text() {
    let upload = png_with_metadata(1600, 900, 1);
    let processed = process_ok(&upload, ImageFormat::Png);
    assert_rendition_sizes(&processed, 1600, 900);
    for rendition in &processed.renditions {
        assert_eq!(
            rendition.content_type, "image/png",
            "{} keeps alpha",
            rendition.variant
        );
        assert_no_metadata_strings(&rendition.bytes, rendition.variant);
    }
    let original = processed.original.expect("text chunks were removed");
    let png = Png::from_bytes(original.clone().into()).unwrap();
    for kind in [b"tEXt", b"iTXt", b"zTXt", b"tIME", b"eXIf"] {
        assert!(
            png.chunk_by_type(*kind).is_none(),
            "{} survived",
            String::from_utf8_lossy(kind)
        );
    }
    assert_no_metadata_strings(&original, "stripped PNG");
    assert_eq!(stored_dimensions(&original, ImageFormat::Png), (1600, 900));
    // Pixels untouched: the image data chunks are byte-identical.
    let idat = |png: &Png| png.chunks_by_type(*b"IDAT").cloned().collect::<Vec<_>>();
    assert_eq!(idat(&png), idat(&Png::from_bytes(upload.into()).unwrap()));
}

#[test]
fn rotated_png_keeps_only_orientation() {
    let processed = process_ok(&png_with_metadata(300, 100, 8), ImageFormat::Png);
    assert_eq!((processed.width, processed.height), (100, 300));
    let png = Png::from_bytes(processed.original.unwrap().into()).unwrap();
    assert_eq!(png.exif().map(|exif| ifd0_tags(&exif)), Some(vec![0x0112]));
}

#[test]
fn webp_loses_exif_and_xmp_and_their_flags() {
    let upload = webp_with_metadata(200, 120, 6);
    let processed = process_ok(&upload, ImageFormat::Webp);
    assert_rendition_sizes(&processed, 120, 200);
    assert_eq!(
        processed.renditions[0].content_type, "image/png",
        "has transparency"
    );

    let original = processed.original.expect("EXIF and XMP were removed");
    assert_no_metadata_strings(&original, "stripped WebP");
    let webp = WebP::from_bytes(original.clone().into()).unwrap();
    assert!(!webp.has_chunk(CHUNK_XMP));
    let exif = webp
        .chunk_by_id(CHUNK_EXIF)
        .unwrap()
        .content()
        .data()
        .unwrap();
    assert_eq!(ifd0_tags(exif), [0x0112]);
    let vp8x = webp
        .chunk_by_id(CHUNK_VP8X)
        .unwrap()
        .content()
        .data()
        .unwrap();
    assert_eq!(
        vp8x[0] & 0b0000_1100,
        0b0000_1000,
        "EXIF flag set, XMP flag cleared"
    );
    assert_eq!(stored_dimensions(&original, ImageFormat::Webp), (200, 120));
    assert_eq!(process_ok(&original, ImageFormat::Webp).width, 120);
}

#[test]
fn upright_webp_drops_the_extended_header_flags() {
    let original = process_ok(&webp_with_metadata(64, 48, 1), ImageFormat::Webp)
        .original
        .unwrap();
    let webp = WebP::from_bytes(original.clone().into()).unwrap();
    assert!(!webp.has_chunk(CHUNK_EXIF) && !webp.has_chunk(CHUNK_XMP));
    if let Some(vp8x) = webp.chunk_by_id(CHUNK_VP8X) {
        assert_eq!(vp8x.content().data().unwrap()[0] & 0b0000_1100, 0);
    }
    assert_eq!(stored_dimensions(&original, ImageFormat::Webp), (64, 48));
}

#[test]
fn jpeg_loses_everything_after_the_primary_image() {
    // MPF files (phone portrait/HDR shots) append secondary JPEGs with their own EXIF.
    let mut upload = jpeg_with_metadata(320, 240, 1);
    upload.extend_from_slice(&jpeg_with_metadata(16, 16, 1));
    let original = process_ok(&upload, ImageFormat::Jpeg).original.unwrap();
    assert!(original.ends_with(&[0xFF, 0xD9]));
    assert_no_metadata_strings(&original, "stripped JPEG");
    assert_eq!(stored_dimensions(&original, ImageFormat::Jpeg), (320, 240));

    let plain = fixtures::jpeg(64, 64);
    let mut appended = plain.clone();
    appended.extend_from_slice(b"PK\x03\x04 a zip file");
    let stripped = process_ok(&appended, ImageFormat::Jpeg).original.unwrap();
    assert_eq!(stripped, plain);
}

#[test]
fn jpeg_tail_drops_metadata_between_scans_but_keeps_scan_data() {
    let tail: &[u8] = &[
        0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, // entropy with a stuffed FF and RST0
        0xFF, 0xFE, 0x00, 0x05, b'h', b'i', b'!', // COM between scans: dropped
        0xFF, 0xC4, 0x00, 0x04, 0xFF, 0xD9, // DHT whose payload looks like EOI: kept
        0xFF, 0xDA, 0x00, 0x03, 0x01, 0x78, // next SOS and its data
        0xFF, 0xFF, 0xD9, // fill byte, then EOI
        0xFF, 0xD8, b'E', b'x', b'i', b'f', // trailer: dropped
    ];
    let (kept, removed) = clean_jpeg_tail(tail);
    assert!(removed);
    let expected: &[u8] = &[
        0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xC4, 0x00, 0x04, 0xFF, 0xD9, 0xFF, 0xDA,
        0x00, 0x03, 0x01, 0x78, 0xFF, 0xFF, 0xD9,
    ];
    assert_eq!(kept, expected);
    // A clean tail comes back unchanged; a truncated one (no EOI) too.
    assert_eq!(clean_jpeg_tail(expected), (expected.to_vec(), false));
    assert_eq!(
        clean_jpeg_tail(&expected[..9]),
        (expected[..9].to_vec(), false)
    );
}

#[test]
fn jpeg_tail_ends_the_image_at_a_stray_frame_header() {
    // Found by fuzzing: zune-jpeg accepted the upload while a COM segment sat between the scan
    // and a second SOF, and rejected the stripped copy once the COM was gone.
    let tail: &[u8] = &[
        0x12, 0x34, // entropy
        0xFF, 0xFE, 0x00, 0x03, b'x', // COM: dropped
        0xFF, 0xC0, 0x00, 0x04, 0x08, 0x00, // a second frame header
        0x56, 0xFF, 0xD9,
    ];
    assert_eq!(clean_jpeg_tail(tail), (vec![0x12, 0x34, 0xFF, 0xD9], true));
}

#[test]
fn minimal_exif_round_trips_every_orientation() {
    for value in 1..=8u8 {
        let orientation = Orientation::from_exif(value).unwrap();
        let tiff = orientation_only_tiff(orientation);
        assert_eq!(tiff.len(), 26);
        assert_eq!(Orientation::from_exif_chunk(&tiff), Some(orientation));
        assert_eq!(ifd0_tags(&tiff), [0x0112]);
    }
}

#[test]
fn gps_fixture_really_has_gps() {
    // Guards the other tests: the fixture must carry what they check is gone.
    let exif = exif_with_gps(6);
    assert_eq!(ifd0_tags(&exif), [0x010F, 0x0112, 0x8825]);
    assert_eq!(
        Orientation::from_exif_chunk(&exif),
        Some(Orientation::Rotate90)
    );
    let upload = jpeg_with_metadata(64, 64, 6);
    assert!(contains(&upload, b"ns.adobe.com/xap") && contains(&upload, b"Exif\0\0"));
}
