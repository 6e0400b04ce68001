//! Bounded decoding: header checks first, pixels only once the header is within limits.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader};

use super::{ImageError, ImageFormat, ImageLimits};

/// A decoded picture as stored (not yet oriented), with what the renditions need from its
/// metadata.
pub(super) struct Decoded {
    /// Pixels as stored in the file; the first frame for animations.
    pub image: DynamicImage,
    /// EXIF orientation; `NoTransforms` when absent, unreadable, or for GIF.
    pub orientation: Orientation,
    /// Embedded ICC profile, copied into renditions so wide-gamut photos keep their colours.
    pub icc_profile: Option<Vec<u8>>,
}

/// Decodes `bytes` as `format`, refusing anything outside `limits` before allocating pixels.
pub(super) fn decode_bounded(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
) -> Result<Decoded, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Corrupt("empty input".to_owned()));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.codec_format());
    reader.limits(limits.allocation_only());
    // Constructing the decoder reads only the header (and, for PNG, chunks up to the first
    // IDAT); no pixel buffer exists yet.
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| ImageError::from_codec(e, (0, 0)))?;

    let dimensions = decoder.dimensions();
    limits.check_dimensions(dimensions.0, dimensions.1)?;
    let too_large = |e| ImageError::from_codec(e, dimensions);
    decoder
        .set_limits(limits.codec_limits())
        .map_err(too_large)?;
    // `DynamicImage::from_decoder` allocates `total_bytes()` without consulting the limits
    // (only `ImageReader::decode` does), so reserve it against the budget ourselves.
    limits
        .codec_limits()
        .reserve(decoder.total_bytes())
        .map_err(too_large)?;

    // A malformed EXIF block should not reject a picture that decodes: treat it as upright.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc_profile = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(too_large)?;
    Ok(Decoded {
        image,
        orientation,
        icc_profile,
    })
}

/// Whether `orientation` swaps width and height (the 90°/270° family).
pub(super) fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Dimensions as displayed once `orientation` is applied.
pub(super) fn displayed_dimensions(decoded: &Decoded) -> (u32, u32) {
    let (width, height) = (decoded.image.width(), decoded.image.height());
    if swaps_axes(decoded.orientation) {
        (height, width)
    } else {
        (width, height)
    }
}
