//! Test pictures carrying the metadata the stripper must remove.

use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::{Png, PngChunk};
use img_parts::riff::{RiffChunk, RiffContent};
use img_parts::webp::{CHUNK_VP8X, CHUNK_XMP, WebP};
use img_parts::{Bytes, ImageEXIF};

use super::fixtures;

/// Text that appears only inside the EXIF block (IFD0 Make), to prove it is gone.
pub const CAMERA_MAKE: &[u8] = b"ChemCam";
/// Identifier of an XMP APP1 segment.
pub const XMP_JPEG_PREFIX: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
/// An XMP packet that, like real ones, repeats the location.
pub const XMP_PACKET: &[u8] = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><rdf:Description \
    exif:GPSLatitude='52,31.0N' exif:GPSLongitude='13,24.0E'/></rdf:RDF></x:xmpmeta>";
pub const COMMENT: &[u8] = b"taken in my kitchen";

/// Little-endian EXIF TIFF structure:
/// IFD0 { Make "ChemCam", Orientation, GPSInfo -> GPS IFD { LatitudeRef "N", Latitude 52/31/0 } }.
pub fn exif_with_gps(orientation: u16) -> Vec<u8> {
    const ASCII: u16 = 2;
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    // Offsets: header 8, IFD0 (3 entries) 8..50, Make text 50..58, GPS IFD (2 entries)
    // 58..88, latitude rationals 88..112.
    let mut tiff = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&kind.to_le_bytes());
        tiff.extend_from_slice(&count.to_le_bytes());
        tiff.extend_from_slice(&value);
    };
    tiff.extend_from_slice(&3u16.to_le_bytes());
    entry(&mut tiff, 0x010F, ASCII, 8, 50u32.to_le_bytes());
    let [lo, hi] = orientation.to_le_bytes();
    entry(&mut tiff, 0x0112, SHORT, 1, [lo, hi, 0, 0]);
    entry(&mut tiff, 0x8825, LONG, 1, 58u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(CAMERA_MAKE);
    tiff.push(0);
    assert_eq!(tiff.len(), 58);
    tiff.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut tiff, 0x0001, ASCII, 2, *b"N\0\0\0");
    entry(&mut tiff, 0x0002, RATIONAL, 3, 88u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(tiff.len(), 88);
    for (numerator, denominator) in [(52u32, 1u32), (31, 1), (0, 1)] {
        tiff.extend_from_slice(&numerator.to_le_bytes());
        tiff.extend_from_slice(&denominator.to_le_bytes());
    }
    tiff
}

/// A JPEG with EXIF (orientation + GPS), XMP, IPTC (APP13) and a comment, like a phone's.
pub fn jpeg_with_metadata(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let mut jpeg = Jpeg::from_bytes(fixtures::jpeg(width, height).into()).unwrap();
    jpeg.set_exif(Some(exif_with_gps(orientation).into()));
    let after_exif = 1 + jpeg
        .segments()
        .iter()
        .position(|segment| segment.marker() == markers::APP1)
        .unwrap();
    let xmp = [XMP_JPEG_PREFIX, XMP_PACKET].concat();
    let extra = [
        (markers::APP1, xmp),
        (
            markers::APP13,
            b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\0".to_vec(),
        ),
        (markers::COM, COMMENT.to_vec()),
    ];
    for (offset, (marker, contents)) in extra.into_iter().enumerate() {
        let segment = JpegSegment::new_with_contents(marker, contents.into());
        jpeg.segments_mut().insert(after_exif + offset, segment);
    }
    jpeg.encoder().bytes().to_vec()
}

/// An RGBA PNG with eXIf (GPS), tEXt, iTXt (XMP) and tIME chunks.
pub fn png_with_metadata(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let mut png = Png::from_bytes(fixtures::png_rgba(width, height).into()).unwrap();
    let itxt = [b"XML:com.adobe.xmp\0\0\0\0\0".as_slice(), XMP_PACKET].concat();
    let chunks = [
        (*b"tEXt", [b"Comment\0".as_slice(), COMMENT].concat()),
        (*b"iTXt", itxt),
        (*b"tIME", vec![0x07, 0xE9, 1, 2, 3, 4, 5]),
    ];
    for (kind, contents) in chunks {
        png.chunks_mut()
            .insert(1, PngChunk::new(kind, contents.into()));
    }
    png.set_exif(Some(exif_with_gps(orientation).into()));
    png.encoder().bytes().to_vec()
}

/// A lossless WebP with EXIF (GPS) and XMP chunks, and the VP8X flags announcing both.
pub fn webp_with_metadata(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let mut webp = WebP::from_bytes(fixtures::webp_rgba(width, height).into()).unwrap();
    webp.set_exif(Some(exif_with_gps(orientation).into()));
    let xmp = RiffChunk::new(CHUNK_XMP, RiffContent::Data(Bytes::from_static(XMP_PACKET)));
    webp.chunks_mut().push(xmp);
    set_vp8x_flags(&mut webp, 0b0000_0100);
    webp.encoder().bytes().to_vec()
}

/// ORs `flags` into the VP8X header (img-parts does not maintain the XMP flag).
fn set_vp8x_flags(webp: &mut WebP, flags: u8) {
    let vp8x = webp
        .chunks_mut()
        .iter_mut()
        .find(|c| c.id() == CHUNK_VP8X)
        .unwrap();
    let RiffContent::Data(data) = vp8x.content_mut() else {
        panic!("VP8X is not a data chunk")
    };
    let mut patched = data.to_vec();
    patched[0] |= flags;
    *data = patched.into();
}
