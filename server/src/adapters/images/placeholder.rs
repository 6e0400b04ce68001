//! The blurhash placeholder clients paint while the thumb loads.

use image::DynamicImage;

use super::ImageError;
use super::renditions::fit_within;

/// 4 across, 3 down: enough to hint at the composition in ~28 characters.
const COMPONENTS_X: u32 = 4;
const COMPONENTS_Y: u32 = 3;
/// Blurhash cost grows with pixels × components, and it only keeps low frequencies, so a
/// 32 px sample is as good as the full picture.
const SAMPLE_BOX: u32 = 32;

/// Blurhash of `image` (already upright; normally the thumb).
pub(super) fn blurhash(image: &DynamicImage) -> Result<String, ImageError> {
    let (width, height) = fit_within(image.width(), image.height(), SAMPLE_BOX);
    // Area averaging (each source pixel counts once): fast, and alias-free at these ratios.
    let sample = image.thumbnail_exact(width, height).to_rgba8();
    blurhash::encode(COMPONENTS_X, COMPONENTS_Y, width, height, sample.as_raw())
        .map_err(|e| ImageError::Unsupported(format!("placeholder: {e}")))
}
