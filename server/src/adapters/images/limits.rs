//! Resource bounds applied before and during decoding.

use super::ImageError;

/// Bounds that make decompression bombs fail cleanly.
///
/// The pixel and dimension bounds are checked against the header before any pixel buffer is
/// allocated. `max_alloc_bytes` bounds the decoded pixel buffer (and is handed to the decoders
/// for their own scratch allocations). Rendition work afterwards needs roughly one more
/// `source_width × 1280 × 16` bytes of scratch for the resize; size the worker pool with that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest accepted `width × height` of the stored picture.
    pub max_pixels: u64,
    /// Largest accepted decoded-buffer size, in bytes.
    pub max_alloc_bytes: u64,
    /// Largest accepted width or height on its own; stops 1 × 50-million strips that pass
    /// `max_pixels` but are nobody's photo.
    pub max_dimension: u32,
}

impl Default for ImageLimits {
    /// 50 megapixels (covers current phone and most camera sensors), 512 MiB, 32768 px a side
    /// (room for panoramas).
    fn default() -> Self {
        Self {
            max_pixels: 50_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            max_dimension: 32_768,
        }
    }
}

impl ImageLimits {
    /// Rejects header dimensions that exceed the bounds (or are empty) before decoding.
    pub(super) fn check_dimensions(&self, width: u32, height: u32) -> Result<(), ImageError> {
        if width == 0 || height == 0 {
            return Err(ImageError::Corrupt(format!(
                "header declares an empty {width}x{height} image"
            )));
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels || width > self.max_dimension || height > self.max_dimension {
            return Err(ImageError::TooLarge { width, height });
        }
        Ok(())
    }

    /// Limits for the decoder's constructor: the allocation bound only.
    ///
    /// Width/height limits are left out here on purpose: the PNG decoder enforces them while
    /// reading IHDR, which would fail before we learn the dimensions `TooLarge` reports.
    pub(super) fn allocation_only(&self) -> image::Limits {
        let mut limits = image::Limits::no_limits();
        limits.max_alloc = Some(self.max_alloc_bytes);
        limits
    }

    /// The full set of codec limits, applied once the header has passed `check_dimensions`.
    pub(super) fn codec_limits(&self) -> image::Limits {
        let mut limits = self.allocation_only();
        limits.max_image_width = Some(self.max_dimension);
        limits.max_image_height = Some(self.max_dimension);
        limits
    }
}
