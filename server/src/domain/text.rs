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
