//! Basic-auth credentials that never reach a log.

use secrecy::{ExposeSecret, SecretString};

/// A username and password for the search backend. `Debug` prints neither: the username of a
/// service account is half of the secret, and this type travels through `tracing` fields.
#[derive(Clone)]
pub struct BasicAuth {
    username: SecretString,
    password: SecretString,
}

impl BasicAuth {
    /// Wraps a username and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: SecretString::from(username.into()),
            password: SecretString::from(password.into()),
        }
    }

    /// The username, for the one place that sends it.
    pub fn username(&self) -> &str {
        self.username.expose_secret()
    }

    /// The password, for the one place that sends it.
    pub fn password(&self) -> &str {
        self.password.expose_secret()
    }
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicAuth(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_neither_part() {
        let auth = BasicAuth::new("indexer", "hunter2");
        let printed = format!("{auth:?} {:?}", Some(auth.clone()));
        assert!(
            !printed.contains("indexer") && !printed.contains("hunter2"),
            "{printed}"
        );
        assert_eq!((auth.username(), auth.password()), ("indexer", "hunter2"));
    }
}
