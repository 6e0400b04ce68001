//! JPEG: keep frame, table and scan segments plus colour information; drop the rest.

use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::{Bytes, ImageEXIF};

use super::jpeg_tail::clean_tail;
use crate::adapters::images::ImageError;

/// Strips a JPEG; see [`super::strip_metadata`].
pub(super) fn strip(
    input: Bytes,
    orientation_exif: Option<Bytes>,
) -> Result<Option<Vec<u8>>, ImageError> {
    let mut jpeg = Jpeg::from_bytes(input.clone()).map_err(ImageError::unstrippable)?;
    let segments = jpeg.segments_mut();
    let before = segments.len();
    segments.retain(|segment| keeps_segment(segment.marker(), segment.contents()));
    let mut removed = segments.len() != before;

    // img-parts stops at the first SOS: that segment carries every later byte as "entropy"
    // (the rest of a progressive image's scans, EOI, and whatever follows EOI), so clean that
    // tail ourselves.
    if let Some(sos) = segments.last_mut().filter(|segment| segment.has_entropy()) {
        // The entropy is the input's suffix, so slice it out rather than copying.
        let entropy_len = sos.len_with_entropy() - sos.len();
        let tail = input.slice(input.len().saturating_sub(entropy_len)..);
        let (kept, tail_removed) = clean_tail(&tail);
        if tail_removed {
            *sos = JpegSegment::new_with_entropy(markers::SOS, sos.contents().clone(), kept.into());
            removed = true;
        }
    }
    if !removed {
        return Ok(None);
    }
    if let Some(exif) = orientation_exif {
        // Placed after APP0 and before the frame header, where viewers look for it.
        jpeg.set_exif(Some(exif));
    }
    Ok(Some(jpeg.encoder().bytes().to_vec()))
}

/// Whether a marker segment survives stripping; also applied between progressive scans.
pub(super) fn keeps_segment(marker: u8, contents: &[u8]) -> bool {
    match marker {
        // JFIF carries pixel density and tells decoders the data is YCbCr. JFXX (an extension
        // thumbnail) and other APP0 uses go.
        markers::APP0 => contents.starts_with(b"JFIF\0"),
        // Colour profile; the MPF index and FlashPix blocks that share APP2 go.
        markers::APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        // Adobe's colour-transform flag: without it CMYK/YCCK pictures decode with wrong colours.
        markers::APP14 => true,
        // APP1 (EXIF, XMP), APP13 (IPTC/Photoshop), APP11 (C2PA), vendor blocks, comments.
        markers::APP1..=markers::APP15 | markers::COM => false,
        // Frame, table, restart-interval and scan segments: needed to decode.
        _ => true,
    }
}
