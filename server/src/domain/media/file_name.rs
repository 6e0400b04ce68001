//! The name an uploaded file is shown and downloaded under.

use crate::domain::ValidationError;
use crate::domain::text::check_visible;

const MAX_BYTES: usize = 255;

/// A file name: the last path component of what the client sent, 1–255 bytes, visible
/// characters only (a bidi override could make `invoice\u{202e}fdp.exe` read as `invoice.exe.pdf`).
/// It is a label, never a path: keys use the media id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    /// Parses a client's file name; browsers may send a whole path (`C:\Users\…\a.png`).
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
        if last.is_empty() || last == "." || last == ".." {
            return Err(ValidationError::new("filename", "must name a file"));
        }
        if last.len() > MAX_BYTES {
            return Err(ValidationError::too_large(
                "filename",
                format!("must be at most {MAX_BYTES} bytes"),
            ));
        }
        check_visible("filename", last)?;
        Ok(Self(last.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stored name, trusted as it was parsed when stored.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_component_only() {
        let name = FileName::parse(r"C:\Users\me\Pictures\cat.png").expect("valid");
        assert_eq!(name.as_str(), "cat.png");
        assert_eq!(
            FileName::parse("../../etc/passwd").map(|n| n.0),
            Ok("passwd".into())
        );
        assert_eq!(
            FileName::parse("résumé 2026.pdf").map(|n| n.0),
            Ok("résumé 2026.pdf".into())
        );
    }

    #[test]
    fn refuses_empty_hidden_and_long_names() {
        for bad in [
            "",
            "  ",
            "dir/",
            "..",
            "a\u{202e}fdp.exe",
            "a\nb",
            &"x".repeat(256),
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
