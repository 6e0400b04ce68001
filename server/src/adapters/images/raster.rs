//! The `ImagePipeline` port on this module's [`process`](super::process).

use super::{ImageError, ImageFormat, ImageLimits, process};
use crate::domain::media::Variant;
use crate::ports::{ImageOutput, ImagePipeline, RenditionBytes};

/// Images decoded by the `image` crate within [`ImageLimits`].
#[derive(Debug, Clone, Default)]
pub struct RasterPipeline {
    limits: ImageLimits,
}

impl RasterPipeline {
    /// A pipeline with other limits (tests of the limits).
    pub fn with_limits(limits: ImageLimits) -> Self {
        Self { limits }
    }
}

fn format_of(content_type: &str) -> Option<ImageFormat> {
    Some(match content_type {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::Webp,
        _ => return None,
    })
}

impl ImagePipeline for RasterPipeline {
    fn process(&self, bytes: &[u8], content_type: &str) -> Result<ImageOutput, String> {
        let format = format_of(content_type)
            .ok_or_else(|| format!("{content_type} is not an image the server decodes"))?;
        let processed = process(bytes, format, &self.limits).map_err(|e| match e {
            ImageError::TooLarge { width, height } => {
                format!("the image is too large to process ({width}×{height} pixels)")
            }
            other => other.to_string(),
        })?;
        let renditions = processed
            .renditions
            .into_iter()
            .filter_map(|r| {
                Some(RenditionBytes {
                    variant: Variant::parse(r.variant)?,
                    bytes: r.bytes,
                    content_type: r.content_type,
                    width: r.width,
                    height: r.height,
                })
            })
            .collect();
        Ok(ImageOutput {
            width: processed.width,
            height: processed.height,
            placeholder: processed.placeholder,
            stripped_original: processed.original,
            renditions,
        })
    }
}
