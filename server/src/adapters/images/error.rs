//! The pipeline's error type and its mapping from codec errors.

use image::ImageError as CodecError;

/// Why an upload could not be processed. None of these is retryable: the bytes are the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The header declares more pixels (or a longer side, or a bigger decoded buffer) than
    /// [`ImageLimits`](super::ImageLimits) allow. Both fields are 0 in the rare case a decoder
    /// ran out of its allocation budget before it could report dimensions (e.g. a PNG whose
    /// metadata chunks alone exceed `max_alloc_bytes`).
    #[error("image too large: {width}x{height}")]
    TooLarge {
        /// Declared width of the stored picture, in pixels.
        width: u32,
        /// Declared height of the stored picture, in pixels.
        height: u32,
    },
    /// The bytes are not a well-formed image of the declared format (truncated, garbage,
    /// another format, or a container the metadata stripper cannot parse).
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// The bytes are well-formed but use a feature the decoders or encoders do not support.
    #[error("unsupported image: {0}")]
    Unsupported(String),
}

impl ImageError {
    /// Classifies a codec error; `dimensions` are what the header declared, for `TooLarge`.
    pub(super) fn from_codec(err: CodecError, (width, height): (u32, u32)) -> Self {
        match err {
            CodecError::Limits(_) => Self::TooLarge { width, height },
            CodecError::Unsupported(e) => Self::Unsupported(e.to_string()),
            // Encoding a picture we just decoded fails only for pixel layouts an encoder cannot
            // write, which is a capability gap rather than bad input.
            CodecError::Encoding(e) => Self::Unsupported(e.to_string()),
            // Reads come from an in-memory cursor, so an I/O error is always "ran out of bytes".
            CodecError::IoError(e) => Self::Corrupt(e.to_string()),
            CodecError::Decoding(e) => Self::Corrupt(e.to_string()),
            CodecError::Parameter(e) => Self::Corrupt(e.to_string()),
        }
    }

    /// A container the stripper cannot parse: refusing is the only way to never serve
    /// unstripped bytes.
    pub(super) fn unstrippable(err: img_parts::Error) -> Self {
        Self::Corrupt(format!("cannot parse container to strip metadata: {err}"))
    }
}
