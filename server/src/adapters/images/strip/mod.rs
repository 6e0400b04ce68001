//! Metadata removal from the original upload, without re-encoding its pixels.
//!
//! Every format uses an allowlist: only segments/chunks needed to decode and colour-manage the
//! picture survive, so metadata blocks we never heard of (C2PA manifests, vendor maker notes,
//! MPF secondary images) go too, not just the EXIF/XMP/IPTC/comment blocks we know by name.
//! Bytes after the end of the image (appended files, MPF secondary images) are dropped as well.

mod jpeg;
mod jpeg_tail;
mod orientation_exif;
mod png;
mod webp;

use image::metadata::Orientation;
use img_parts::Bytes;

use super::{ImageError, ImageFormat};

#[cfg(test)]
pub(super) use self::jpeg_tail::clean_tail as clean_jpeg_tail;
#[cfg(test)]
pub(super) use self::orientation_exif::orientation_only_tiff;

/// Returns the stripped container, or `None` when nothing had to be removed (serve the upload
/// as it is). A container the stripper cannot parse is an error, never a silent `None`.
///
/// `orientation` is what the decoder read; when it is not upright a minimal EXIF block with
/// only that tag is written back, so viewers still show the original the right way up.
pub(super) fn strip_metadata(
    bytes: &[u8],
    format: ImageFormat,
    orientation: Orientation,
) -> Result<Option<Vec<u8>>, ImageError> {
    let orientation_exif = (orientation != Orientation::NoTransforms)
        .then(|| orientation_exif::orientation_only_tiff(orientation));
    let input = Bytes::copy_from_slice(bytes);
    match format {
        ImageFormat::Jpeg => jpeg::strip(input, orientation_exif),
        ImageFormat::Png => png::strip(input, orientation_exif),
        ImageFormat::Webp => webp::strip(input, orientation_exif),
        // GIF has no EXIF, so no GPS or orientation. Comment extensions and XMP application
        // extensions may remain: removing them means walking the block stream and writing a new
        // file, and cameras and phones do not produce GIFs, so they rarely carry anything.
        ImageFormat::Gif => Ok(None),
    }
}
