//! What a message is made of: its content, the client's idempotency key, reaction emoji.

use super::ValidationError;

/// Message text: stored and returned byte for byte (emoji, RTL, combining marks untouched), never
/// trimmed or normalised. Empty (or only whitespace) and over-long content is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent(String);

impl MessageContent {
    /// Parses content of at most `max_chars` Unicode scalar values.
    pub fn parse(raw: String, max_chars: usize) -> Result<Self, ValidationError> {
        if raw.trim().is_empty() {
            return Err(ValidationError::new("content", "must not be empty"));
        }
        // PostgreSQL text cannot hold NUL; refusing it everywhere keeps both engines equal.
        if raw.contains('\0') {
            return Err(ValidationError::new(
                "content",
                "must not contain NUL characters",
            ));
        }
        let chars = raw.chars().count();
        if chars > max_chars {
            return Err(ValidationError::too_large(
                "content",
                format!("must be at most {max_chars} characters (got {chars})"),
            ));
        }
        Ok(Self(raw))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The client's idempotency key for a send: 1–128 characters without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessageId(String);

impl ClientMessageId {
    /// Parses a client message id.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.len() > 128 || raw.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "clientMessageId",
                "must be 1-128 characters without control characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A fresh key for a client that sent none (such a send is not retry-safe).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A reaction: an emoji (or short code such as `:+1:`), 1–64 bytes without whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    /// Parses a reaction: one emoji — a single grapheme (skin tones, ZWJ sequences, flags and
    /// keycaps included) of at most 64 bytes that is not plain text.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        use unicode_properties::UnicodeEmoji;
        use unicode_segmentation::UnicodeSegmentation;
        let one_grapheme = raw.graphemes(true).count() == 1;
        let pictographic = raw
            .chars()
            .any(|c| !c.is_ascii() && c.is_emoji_char_or_emoji_component());
        if raw.len() > 64 || !one_grapheme || !pictographic || raw.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "emoji",
                "must be one emoji (a single character as rendered, at most 64 bytes)",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The emoji as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_kept_byte_exact() {
        let raw = " שלום 👋🏽 e\u{301} \n".to_owned();
        assert_eq!(
            MessageContent::parse(raw.clone(), 100).map(MessageContent::into_inner),
            Ok(raw)
        );
    }

    #[test]
    fn content_bounds_name_the_field() {
        let empty = MessageContent::parse(" \n".into(), 10).unwrap_err();
        assert_eq!((empty.field, empty.too_large), ("content", false));
        let long = MessageContent::parse("é".repeat(11), 10).unwrap_err();
        assert_eq!((long.field, long.too_large), ("content", true));
        assert!(MessageContent::parse("é".repeat(10), 10).is_ok());
        assert!(MessageContent::parse("a\0b".into(), 10).is_err());
    }

    #[test]
    fn keys_and_emoji() {
        assert!(ClientMessageId::parse("").is_err());
        assert!(ClientMessageId::parse(&"x".repeat(129)).is_err());
        assert!(ClientMessageId::parse("c-1").is_ok());
        for one in [
            "👍",
            "👍🏽",
            "👩\u{200d}💻",
            "🇫🇷",
            "1\u{fe0f}\u{20e3}",
            "❤\u{fe0f}",
        ] {
            assert!(Emoji::parse(one).is_ok(), "{one:?}");
        }
        for not_one in [":+1:", "a b", "", "x", "1", "👍👍", "👍 ", "\u{200b}"] {
            assert!(Emoji::parse(not_one).is_err(), "{not_one:?}");
        }
    }
}
