//! Argon2id password hashing, off the async runtime.

use crate::app::AppError;
use crate::domain::Password;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::{Arc, OnceLock};

/// Hashes and verifies passwords with Argon2id (the crate's defaults: the OWASP-recommended
/// 19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Default)]
pub struct Passwords {
    /// A hash of a random password, verified against when the user does not exist so that an
    /// unknown user and a wrong password take the same time.
    decoy: Arc<OnceLock<String>>,
}

impl Passwords {
    /// Hashes a new password.
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        tokio::task::spawn_blocking(move || hash_blocking(password.expose()))
            .await
            .map_err(AppError::internal)?
    }

    /// Verifies `password` against `hash`, or against the decoy when there is no user, so both
    /// paths cost one Argon2 verification.
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<bool, AppError> {
        let decoy = Arc::clone(&self.decoy);
        tokio::task::spawn_blocking(move || {
            let (hash, real) = match hash {
                Some(hash) => (hash, true),
                None => (decoy_hash(&decoy)?, false),
            };
            let matches = Argon2::default()
                .verify_password(password.expose().as_bytes(), hash.as_str())
                .is_ok();
            Ok(real && matches)
        })
        .await
        .map_err(AppError::internal)?
    }
}

fn hash_blocking(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))
}

fn decoy_hash(cell: &OnceLock<String>) -> Result<String, AppError> {
    if let Some(hash) = cell.get() {
        return Ok(hash.clone());
    }
    let hash = hash_blocking(&uuid::Uuid::new_v4().to_string())?;
    Ok(cell.get_or_init(|| hash).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::parse_existing(s.into()).expect("valid")
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let passwords = Passwords::default();
        let hash = passwords
            .hash(password("correct horse battery"))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            passwords
                .verify(password("correct horse battery"), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify(password("wrong horse battery"), Some(hash))
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify(password("anything at all"), None)
                .await
                .expect("decoy")
        );
    }
}
