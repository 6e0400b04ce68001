//! The container formats the pipeline accepts.

/// Formats the pipeline decodes. (Sniffing happens elsewhere; the caller passes what it sniffed.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// JPEG/JFIF/EXIF (baseline and progressive).
    Jpeg,
    /// PNG, including APNG (renditions use the default image).
    Png,
    /// GIF, static or animated (renditions use the first frame).
    Gif,
    /// WebP, lossy or lossless, static or animated (renditions use the first frame).
    Webp,
}

impl ImageFormat {
    /// Every supported format, for callers (and tests) that iterate over them.
    pub const ALL: [ImageFormat; 4] = [Self::Jpeg, Self::Png, Self::Gif, Self::Webp];

    /// The `image` crate's name for this format; the reader is always told the format
    /// explicitly so it never second-guesses the caller's sniffing.
    pub(super) fn codec_format(self) -> image::ImageFormat {
        match self {
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Png => image::ImageFormat::Png,
            Self::Gif => image::ImageFormat::Gif,
            Self::Webp => image::ImageFormat::WebP,
        }
    }
}
