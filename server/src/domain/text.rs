//! The error every parser in [`crate::domain`] returns.

use std::fmt;

/// Why an input value was refused, naming the field so clients can show it next to the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The field as the client spelt it (camelCase).
    pub field: &'static str,
    /// What is expected, in words a client developer can act on.
    pub message: String,
    /// The input was too large rather than malformed (413 rather than 400).
    pub too_large: bool,
}

impl ValidationError {
    /// A malformed value.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            too_large: false,
        }
    }

    /// A value over its size limit.
    pub fn too_large(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            too_large: true,
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Checks a name people read (a display name, a conversation name): no control characters and
/// no invisible format characters — bidi overrides that reverse what follows (`Admin\u{202e}`),
/// zero-width spaces that make two names look alike. A zero-width joiner is kept between two
/// emoji, where it builds one (👩‍💻).
pub fn check_visible(field: &'static str, name: &str) -> Result<(), ValidationError> {
    use unicode_properties::{GeneralCategory, UnicodeEmoji, UnicodeGeneralCategory};
    let chars: Vec<char> = name.chars().collect();
    for (at, c) in chars.iter().enumerate() {
        if c.is_control() {
            return Err(ValidationError::new(
                field,
                "must not contain control characters",
            ));
        }
        if c.general_category() == GeneralCategory::Format {
            let joins_emoji = *c == '\u{200d}'
                && at > 0
                && chars.get(at + 1).is_some_and(|next| next.is_emoji_char())
                && chars[at - 1].is_emoji_char_or_emoji_component();
            if !joins_emoji {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "must not contain invisible formatting characters (U+{:04X})",
                        u32::from(*c)
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_visible;

    #[test]
    fn invisible_and_direction_characters_are_refused() {
        for bad in [
            "Admin\u{202e}",
            "Ad\u{200b}min",
            "\u{2066}x",
            "a\u{feff}",
            "a\u{7}",
        ] {
            assert!(check_visible("name", bad).is_err(), "{bad:?}");
        }
        for good in [
            "Ada Lovelace",
            "שלום",
            "e\u{301}",
            "👩\u{200d}💻 dev",
            "東京",
        ] {
            assert!(check_visible("name", good).is_ok(), "{good:?}");
        }
        assert!(check_visible("name", "a\u{200d}b").is_err());
    }
}
