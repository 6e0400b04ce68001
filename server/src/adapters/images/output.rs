//! What the pipeline hands back to the worker.

use std::fmt;

/// One derived picture.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendition {
    /// `"thumb"` or `"preview"`; part of the blob key.
    pub variant: &'static str,
    /// The encoded picture; carries no metadata because it was re-encoded from pixels.
    pub bytes: Vec<u8>,
    /// `"image/jpeg"` or `"image/png"`.
    pub content_type: &'static str,
    /// Width in pixels, upright.
    pub width: u32,
    /// Height in pixels, upright.
    pub height: u32,
}

/// The result of processing one upload.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessedImage {
    /// Width as displayed, i.e. after EXIF orientation.
    pub width: u32,
    /// Height as displayed, i.e. after EXIF orientation.
    pub height: u32,
    /// Blurhash (4x3 components) of a small downscale, for the client to paint while loading.
    pub placeholder: String,
    /// The original with EXIF/XMP/GPS/comments removed without re-encoding; `None` when it
    /// carried none, so the upload can be served as it is.
    pub original: Option<Vec<u8>>,
    /// `"thumb"` (fits 320x320) and, for pictures larger than 1280 on a side, `"preview"`
    /// (fits 1280x1280).
    pub renditions: Vec<Rendition>,
}

// Hand-written Debug impls: the derived ones would dump megabytes of bytes into logs.

impl fmt::Debug for Rendition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendition")
            .field("variant", &self.variant)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("content_type", &self.content_type)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

impl fmt::Debug for ProcessedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let original = self.original.as_ref().map(Vec::len);
        f.debug_struct("ProcessedImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("placeholder", &self.placeholder)
            .field("original_len", &original)
            .field("renditions", &self.renditions)
            .finish()
    }
}
