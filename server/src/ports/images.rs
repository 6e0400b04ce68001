//! The `ImagePipeline` port: decoding an uploaded picture (within limits), and what comes out —
//! dimensions, a placeholder, renditions, and the original without its metadata.

use crate::domain::media::Variant;
use std::fmt::Debug;

/// One rendition made from an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionBytes {
    /// Which one.
    pub variant: Variant,
    /// The encoded picture (no metadata).
    pub bytes: Vec<u8>,
    /// Its MIME type.
    pub content_type: &'static str,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

/// What the pipeline made of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOutput {
    /// Pixels across, as displayed (orientation applied).
    pub width: u32,
    /// Pixels down, as displayed.
    pub height: u32,
    /// A blurhash.
    pub placeholder: String,
    /// The original with EXIF, GPS, XMP and comments removed; `None` when it carried none.
    pub stripped_original: Option<Vec<u8>>,
    /// The renditions.
    pub renditions: Vec<RenditionBytes>,
}

/// Decodes and renders images. CPU-bound and synchronous: callers run it off the async threads.
pub trait ImagePipeline: Send + Sync + Debug + 'static {
    /// Processes the bytes of an image of MIME type `content_type`; the error is a reason fit
    /// to show the uploader ("image too large: 60000×60000 pixels").
    fn process(&self, bytes: &[u8], content_type: &str) -> Result<ImageOutput, String>;
}
