//! WebP: keep the bitstream, alpha, animation and colour-profile chunks; drop the rest.

use img_parts::riff::RiffContent;
use img_parts::webp::{
    CHUNK_ALPH, CHUNK_ANIM, CHUNK_ANMF, CHUNK_ICCP, CHUNK_VP8, CHUNK_VP8L, CHUNK_VP8X, WebP,
};
use img_parts::{Bytes, ImageEXIF};

use crate::adapters::images::ImageError;

/// Chunks that survive. `EXIF`, `XMP ` and anything unknown (e.g. C2PA) go.
const KEPT_CHUNKS: [[u8; 4]; 7] = [
    CHUNK_VP8, CHUNK_VP8L, CHUNK_VP8X, CHUNK_ALPH, CHUNK_ANIM, CHUNK_ANMF, CHUNK_ICCP,
];

/// The XMP bit of the VP8X feature flags (first byte of the VP8X payload).
const VP8X_XMP_FLAG: u8 = 0b0000_0100;

/// Strips a WebP; see [`super::strip_metadata`].
pub(super) fn strip(
    input: Bytes,
    orientation_exif: Option<Bytes>,
) -> Result<Option<Vec<u8>>, ImageError> {
    let input_len = input.len();
    let mut webp = WebP::from_bytes(input).map_err(ImageError::unstrippable)?;
    // Bytes after the RIFF chunk are dropped on re-serialising.
    let riff_len = usize::try_from(webp.len()).unwrap_or(usize::MAX);
    let mut removed = riff_len < input_len;
    let before = webp.chunks().len();
    webp.chunks_mut()
        .retain(|chunk| KEPT_CHUNKS.contains(&chunk.id()));
    removed |= webp.chunks().len() != before;
    if !removed {
        return Ok(None);
    }
    // `set_exif` (even with `None`) makes img-parts recompute the VP8X flags, or drop VP8X when
    // no extended feature is left.
    webp.set_exif(orientation_exif);
    // img-parts 0.4.2 only recomputes the ICC and EXIF flags and leaves the XMP flag as it
    // was, so a file that had XMP would go on claiming it.
    clear_vp8x_flag(&mut webp, VP8X_XMP_FLAG);
    Ok(Some(webp.encoder().bytes().to_vec()))
}

/// Clears `flag` in the VP8X header, if there is one.
fn clear_vp8x_flag(webp: &mut WebP, flag: u8) {
    let vp8x = webp
        .chunks_mut()
        .iter_mut()
        .find(|chunk| chunk.id() == CHUNK_VP8X);
    if let Some(RiffContent::Data(data)) = vp8x.map(|chunk| chunk.content_mut())
        && let Some(&flags) = data.first()
        && flags & flag != 0
    {
        let mut patched = data.to_vec();
        if let Some(first) = patched.first_mut() {
            *first = flags & !flag;
        }
        *data = Bytes::from(patched);
    }
}
