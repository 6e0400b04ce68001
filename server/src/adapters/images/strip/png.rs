//! PNG: keep critical chunks and the ancillary chunks that affect how pixels look.

use img_parts::png::Png;
use img_parts::{Bytes, ImageEXIF};

use crate::adapters::images::ImageError;

/// Ancillary chunks that survive: transparency, colour management, physical size, and the
/// APNG animation chunks. Everything else ancillary goes: `eXIf`, `tEXt`, `zTXt`, `iTXt`
/// (which carries XMP), `tIME`, `caBX` (C2PA) and private chunks. Decoders skip unknown
/// ancillary chunks, so dropping one can never break decoding.
const KEPT_ANCILLARY: [&[u8; 4]; 14] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCV", b"cLLI", b"sBIT", b"bKGD",
    b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

/// Strips a PNG; see [`super::strip_metadata`].
pub(super) fn strip(
    input: Bytes,
    orientation_exif: Option<Bytes>,
) -> Result<Option<Vec<u8>>, ImageError> {
    let input_len = input.len();
    let mut png = Png::from_bytes(input).map_err(ImageError::unstrippable)?;
    // img-parts stops at IEND, so anything appended after it is dropped on re-serialising.
    let mut removed = png.len() < input_len;
    let before = png.chunks().len();
    png.chunks_mut().retain(|chunk| keeps_chunk(chunk.kind()));
    removed |= png.chunks().len() != before;
    if !removed {
        return Ok(None);
    }
    if let Some(exif) = orientation_exif {
        // Inserted right after IHDR: eXIf must precede the image data.
        png.set_exif(Some(exif));
    }
    Ok(Some(png.encoder().bytes().to_vec()))
}

/// Critical chunks (upper-case first letter, e.g. IHDR, PLTE, IDAT, IEND) always survive:
/// a decoder must understand them, so they carry pixels, not metadata.
fn keeps_chunk(kind: [u8; 4]) -> bool {
    kind[0].is_ascii_uppercase() || KEPT_ANCILLARY.contains(&&kind)
}
