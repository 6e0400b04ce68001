//! The smallest EXIF block that still tells viewers how to rotate the picture.

use image::metadata::Orientation;
use img_parts::Bytes;

/// A little-endian TIFF structure whose IFD0 holds the Orientation tag (0x0112) and nothing
/// else: 26 bytes, no GPS, no maker notes, no thumbnail.
///
/// No `Exif\0\0` prefix: img-parts adds it for JPEG's APP1, while PNG `eXIf` and WebP `EXIF`
/// chunks hold the bare TIFF structure.
pub(crate) fn orientation_only_tiff(orientation: Orientation) -> Bytes {
    const ORIENTATION_TAG: u16 = 0x0112;
    const TYPE_SHORT: u16 = 3;
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"II*\0"); // byte order (Intel) and TIFF magic 42
    tiff.extend_from_slice(&8u32.to_le_bytes()); // IFD0 starts right after the header
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&ORIENTATION_TAG.to_le_bytes());
    tiff.extend_from_slice(&TYPE_SHORT.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes()); // value count
    // A SHORT fits in the 4-byte value field, left-justified, padded with zeros.
    tiff.extend_from_slice(&u16::from(orientation.to_exif()).to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no IFD1 (where EXIF thumbnails live)
    Bytes::from(tiff)
}
