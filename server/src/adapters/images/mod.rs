//! CPU-side image pipeline for media uploads: bounded decode, renditions, placeholder, and
//! metadata stripping of the original.
//!
//! [`process`] is synchronous and CPU-bound (tens to hundreds of milliseconds for phone
//! photos); call it from a blocking worker, never on the async runtime. It never panics on
//! input by design and is fuzzed, but run it where a panic in a codec only fails the job
//! (e.g. `spawn_blocking`, whose `JoinError` carries the panic). There is no time bound
//! inside: a hostile file can cost seconds of CPU while staying within the memory limits, so
//! put a deadline on the job.
//!
//! Steps, in order:
//! 1. `decode`: read the header, refuse it against [`ImageLimits`], then decode the pixels
//!    (first frame of animations) and read the EXIF orientation.
//! 2. `strip`: remove metadata from the original container without touching its pixels.
//! 3. `renditions`: `thumb` (fits 320) and, for large pictures, `preview` (fits 1280),
//!    upright, re-encoded (so they carry no metadata).
//! 4. `placeholder`: blurhash of the thumb.

mod decode;
mod error;
mod format;
mod limits;
mod output;
mod placeholder;
mod raster;
mod renditions;
mod strip;
#[cfg(test)]
mod tests;

pub use self::error::ImageError;
pub use self::format::ImageFormat;
pub use self::limits::ImageLimits;
pub use self::output::{ProcessedImage, Rendition};
pub use self::raster::RasterPipeline;

/// Decodes an upload, makes its renditions and placeholder, and strips its metadata.
///
/// `format` is what the caller sniffed; bytes of another format are `Corrupt`.
///
/// # Errors
///
/// - [`ImageError::TooLarge`] when the header exceeds `limits` (checked before decoding).
/// - [`ImageError::Corrupt`] for truncated, garbage or mislabelled bytes, and for containers
///   the metadata stripper cannot parse (serving them unstripped is not an option).
/// - [`ImageError::Unsupported`] for valid files using features the codecs lack.
pub fn process(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
) -> Result<ProcessedImage, ImageError> {
    let decoded = decode::decode_bounded(bytes, format, limits)?;
    // Before the renditions: it is cheap, and a failure here makes the resize work moot.
    let original = strip::strip_metadata(bytes, format, decoded.orientation)?;
    let renditions = renditions::make_renditions(&decoded)?;
    let placeholder = placeholder::blurhash(&renditions.thumb_pixels)?;
    let (width, height) = decode::displayed_dimensions(&decoded);
    Ok(ProcessedImage {
        width,
        height,
        placeholder,
        original,
        renditions: renditions.encoded,
    })
}
