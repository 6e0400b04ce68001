//! Thumb and preview: downscale, turn upright, re-encode.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageEncoder};

use super::decode::{Decoded, displayed_dimensions, swaps_axes};
use super::{ImageError, Rendition};

/// Box the thumb fits in.
pub(super) const THUMB_BOX: u32 = 320;
/// Box the preview fits in; pictures no larger than this get no preview.
pub(super) const PREVIEW_BOX: u32 = 1280;
/// Artefacts are hard to see at thumb/preview sizes, and files are far smaller than at 90+.
const JPEG_QUALITY: u8 = 80;
/// Catmull-Rom: sharp with little ringing. Its support of 2 (Lanczos3: 3) means a third less
/// work on the full-size pass, which dominates: `image`'s resize is scalar, ~0.3 s for
/// 12 MP -> 1280 in release.
const RESIZE_FILTER: FilterType = FilterType::CatmullRom;
/// Larger ICC profiles (some camera profiles run to hundreds of KB) would outweigh the thumb.
const MAX_EMBEDDED_ICC_BYTES: usize = 64 * 1024;

/// The encoded renditions, plus the thumb's pixels (reused for the placeholder).
pub(super) struct Renditions {
    /// `thumb` first, then `preview` when the picture is larger than [`PREVIEW_BOX`].
    pub encoded: Vec<Rendition>,
    /// The thumb, upright.
    pub thumb_pixels: DynamicImage,
}

/// Makes the renditions of a decoded picture.
pub(super) fn make_renditions(decoded: &Decoded) -> Result<Renditions, ImageError> {
    let (width, height) = displayed_dimensions(decoded);
    let preview = (width > PREVIEW_BOX || height > PREVIEW_BOX)
        .then(|| downscale_upright(&decoded.image, decoded.orientation, PREVIEW_BOX));
    // The thumb is cut from the preview when there is one: only one pass over the full-size
    // pixels, and at 4:1 the result is indistinguishable from resizing the original.
    let thumb = match &preview {
        Some(preview) => downscale_upright(preview, Orientation::NoTransforms, THUMB_BOX),
        None => downscale_upright(&decoded.image, decoded.orientation, THUMB_BOX),
    };
    // One encoding for both, chosen on the larger rendition, so a picture's variants match.
    let use_png = has_transparency(preview.as_ref().unwrap_or(&thumb));
    let icc = decoded
        .icc_profile
        .as_deref()
        .filter(|icc| is_embeddable_rgb_profile(icc));

    let mut encoded = vec![encode("thumb", &thumb, use_png, icc)?];
    if let Some(preview) = &preview {
        encoded.push(encode("preview", preview, use_png, icc)?);
    }
    Ok(Renditions {
        encoded,
        thumb_pixels: thumb,
    })
}

/// Scales `(width, height)` down to fit in a `bound` square, keeping the aspect ratio (each
/// side at least 1 px); never scales up.
pub(super) fn fit_within(width: u32, height: u32, bound: u32) -> (u32, u32) {
    if width <= bound && height <= bound {
        return (width, height);
    }
    // Rounded integer arithmetic in u64: no float edge cases, no overflow.
    let scale = |short: u32, long: u32| {
        let scaled = (u64::from(short) * u64::from(bound) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(bound).clamp(1, bound)
    };
    if width >= height {
        (bound, scale(height, width))
    } else {
        (scale(width, height), bound)
    }
}

/// Resizes `source` (stored orientation) to fit `bound` once upright, then turns it upright.
///
/// Resizing before orienting means only the small result is rotated: rotating first would
/// copy the full picture (200 MB for 50 MP RGBA) for nothing.
fn downscale_upright(source: &DynamicImage, orientation: Orientation, bound: u32) -> DynamicImage {
    let (mut width, mut height) = (source.width(), source.height());
    if swaps_axes(orientation) {
        (width, height) = (height, width);
    }
    let (mut target_width, mut target_height) = fit_within(width, height, bound);
    if swaps_axes(orientation) {
        (target_width, target_height) = (target_height, target_width);
    }
    let mut resized = if (target_width, target_height) == (source.width(), source.height()) {
        source.clone()
    } else {
        source.resize_exact(target_width, target_height, RESIZE_FILTER)
    };
    resized.apply_orientation(orientation);
    resized
}

/// Whether any pixel is not fully opaque.
///
/// Checked on pixels rather than trusting the colour type: every GIF and many PNGs and WebPs
/// decode as RGBA while being opaque, and JPEG renditions of them are several times smaller.
fn has_transparency(image: &DynamicImage) -> bool {
    image.has_alpha() && image.to_rgba8().pixels().any(|pixel| pixel.0[3] < u8::MAX)
}

/// Whether an ICC profile can go into an RGB rendition: small, and describing an RGB space
/// (the colour-space signature at offset 16). A CMYK or grey profile on RGB pixels would
/// make viewers show wrong colours, which is worse than none.
fn is_embeddable_rgb_profile(icc: &[u8]) -> bool {
    icc.len() <= MAX_EMBEDDED_ICC_BYTES && icc.get(16..20) == Some(b"RGB ".as_slice())
}

/// Encodes one rendition: PNG when it has transparency, JPEG otherwise.
fn encode(
    variant: &'static str,
    image: &DynamicImage,
    use_png: bool,
    icc: Option<&[u8]>,
) -> Result<Rendition, ImageError> {
    let (width, height) = (image.width(), image.height());
    let codec_error = |e| ImageError::from_codec(e, (width, height));
    let mut bytes = Vec::new();
    let content_type = if use_png {
        let mut encoder =
            PngEncoder::new_with_quality(&mut bytes, CompressionType::Default, PngFilter::Adaptive);
        if let Some(icc) = icc {
            // Unsupported only means the rendition is shown as sRGB: not worth failing for.
            let _ = encoder.set_icc_profile(icc.to_vec());
        }
        image
            .to_rgba8()
            .write_with_encoder(encoder)
            .map_err(codec_error)?;
        "image/png"
    } else {
        let mut encoder = JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
        if let Some(icc) = icc {
            let _ = encoder.set_icc_profile(icc.to_vec());
        }
        image
            .to_rgb8()
            .write_with_encoder(encoder)
            .map_err(codec_error)?;
        "image/jpeg"
    };
    Ok(Rendition {
        variant,
        bytes,
        content_type,
        width,
        height,
    })
}
