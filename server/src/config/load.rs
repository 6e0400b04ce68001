//! Loading and checking [`Settings`].

use super::Settings;
use crate::adapters::sql::Engine;
use crate::domain::{TenantId, Tier};
use chemchat_crds::contract::ENV_PREFIX;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::ExposeSecret;
use std::path::Path;

/// A configuration value is missing or wrong. The message names the variable and what is
/// expected, because it is the first thing an operator sees when a pod crash-loops.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable (or file key) at fault.
    pub variable: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            variable: variable_name(key),
            message: message.into(),
        }
    }
}

/// `database_url` → `CHEMCHAT_DATABASE_URL`.
fn variable_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_uppercase())
}

/// Loads settings: defaults, then `file` when it exists, then the environment.
pub fn load(file: &Path) -> Result<Settings, ConfigError> {
    let settings: Settings = Figment::new()
        .merge(Toml::file(file))
        .merge(Env::prefixed(ENV_PREFIX))
        .extract()
        .map_err(|errors| {
            // Report the first error precisely; figment's own text names the provider, not the
            // variable.
            let first = errors.into_iter().next();
            match first {
                Some(e) => {
                    let key = e.path.join(".");
                    let source = e
                        .metadata
                        .as_ref()
                        .map(|m| m.name.to_string())
                        .unwrap_or_else(|| "configuration".to_owned());
                    ConfigError {
                        variable: variable_name(&key),
                        message: format!("{} (from {source})", e.kind),
                    }
                }
                None => ConfigError::new("config", "unreadable configuration"),
            }
        })?;
    check(&settings)?;
    Ok(settings)
}

/// Checks what types alone cannot.
fn check(settings: &Settings) -> Result<(), ConfigError> {
    let url = settings.database_url.expose_secret();
    if Engine::from_url(url).is_none() {
        return Err(ConfigError::new(
            "database_url",
            "expected a sqlite://path or postgres://user@host/db URL",
        ));
    }
    if let Some(secret) = &settings.jwt_secret
        && secret.expose_secret().len() < 32
    {
        return Err(ConfigError::new(
            "jwt_secret",
            "must be at least 32 bytes of random data",
        ));
    }
    if let Some(tenant) = &settings.tenant_id {
        TenantId::parse(tenant).map_err(|e| ConfigError::new("tenant_id", e.message))?;
    }
    if let Some(key) = &settings.jwt_tenant_key {
        check_tenant_key(settings, key)?;
    }
    TenantId::parse(&settings.default_tenant)
        .map_err(|e| ConfigError::new("default_tenant", e.message))?;
    if let Some(tier) = &settings.tenant_tier
        && Tier::parse(tier).is_none()
    {
        return Err(ConfigError::new(
            "tenant_tier",
            "expected free, pro or enterprise",
        ));
    }
    if settings.login_attempts_per_ip == 0 || settings.login_attempts_per_account == 0 {
        return Err(ConfigError::new(
            "login_attempts_per_ip",
            "login attempt limits must be at least 1 per minute",
        ));
    }
    if settings.s3_bucket.is_some()
        && (settings.s3_access_key_id.is_none() || settings.s3_secret_access_key.is_none())
    {
        return Err(ConfigError::new(
            "s3_access_key_id",
            "CHEMCHAT_S3_BUCKET needs CHEMCHAT_S3_ACCESS_KEY_ID and CHEMCHAT_S3_SECRET_ACCESS_KEY",
        ));
    }
    if settings.s3_endpoint.is_some() && settings.s3_bucket.is_none() {
        return Err(ConfigError::new(
            "s3_bucket",
            "CHEMCHAT_S3_ENDPOINT is set but CHEMCHAT_S3_BUCKET is not",
        ));
    }
    if let Some(contact) = &settings.push_contact
        && !(contact.starts_with("mailto:") || contact.starts_with("https://"))
    {
        return Err(ConfigError::new(
            "push_contact",
            "expected a mailto: or https:// URL",
        ));
    }
    if settings.database_max_connections == 0 {
        return Err(ConfigError::new(
            "database_max_connections",
            "must be at least 1",
        ));
    }
    Ok(())
}

/// A tenant's key is that tenant's alone: it needs the tenant it belongs to, and it replaces
/// the master rather than joining it (a server holding both would be given the master by
/// mistake).
fn check_tenant_key(settings: &Settings, key: &secrecy::SecretString) -> Result<(), ConfigError> {
    if settings.tenant_id.is_none() {
        return Err(ConfigError::new(
            "jwt_tenant_key",
            "a tenant's signing key needs CHEMCHAT_TENANT_ID, the tenant it was derived for",
        ));
    }
    if settings.jwt_secret.is_some() {
        return Err(ConfigError::new(
            "jwt_tenant_key",
            "set either CHEMCHAT_JWT_SECRET (the master) or CHEMCHAT_JWT_TENANT_KEY, not both",
        ));
    }
    if chemchat_backends::TenantKey::from_text(key.expose_secret()).is_none() {
        return Err(ConfigError::new(
            "jwt_tenant_key",
            "expected the tenant's derived key: 32 bytes in standard base64",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment's (large) error type
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in_jail() -> Result<Settings, ConfigError> {
        load(Path::new("chemchat.toml"))
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        Jail::expect_with(|_jail| {
            let s = load_in_jail().expect("defaults load");
            assert_eq!(s.listen.port(), 3000);
            assert_eq!(s.database_url.expose_secret(), "sqlite://data/chemchat.db");
            assert_eq!(s.default_tenant, "default");
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "chemchat.toml",
                "listen = \"127.0.0.1:4000\"\ndefault_tenant = \"acme\"",
            )?;
            jail.set_env("CHEMCHAT_LISTEN", "127.0.0.1:5000");
            let s = load_in_jail().expect("loads");
            assert_eq!(s.listen.port(), 5000);
            assert_eq!(s.default_tenant, "acme");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_variable() {
        Jail::expect_with(|jail| {
            jail.set_env("CHEMCHAT_LISTEN", "not-an-address");
            let err = load_in_jail().expect_err("refused");
            assert_eq!(err.variable, "CHEMCHAT_LISTEN");

            jail.set_env("CHEMCHAT_LISTEN", "127.0.0.1:1");
            jail.set_env("CHEMCHAT_DATABASE_URL", "mysql://x");
            assert_eq!(
                load_in_jail().expect_err("refused").variable,
                "CHEMCHAT_DATABASE_URL"
            );

            jail.set_env("CHEMCHAT_DATABASE_URL", "sqlite://x.db");
            jail.set_env("CHEMCHAT_JWT_SECRET", "short");
            assert_eq!(
                load_in_jail().expect_err("refused").variable,
                "CHEMCHAT_JWT_SECRET"
            );

            jail.set_env("CHEMCHAT_JWT_SECRET", "x".repeat(40));
            jail.set_env("CHEMCHAT_TENANT_ID", "Not_A_Label");
            assert_eq!(
                load_in_jail().expect_err("refused").variable,
                "CHEMCHAT_TENANT_ID"
            );
            Ok(())
        });
    }

    #[test]
    fn a_tenant_key_needs_its_tenant_and_no_master() {
        Jail::expect_with(|jail| {
            let key = chemchat_backends::TenantKey::derive(b"m".repeat(32).as_slice(), "acme");
            jail.set_env("CHEMCHAT_JWT_TENANT_KEY", key.to_text());
            assert_eq!(
                load_in_jail().expect_err("no tenant").variable,
                "CHEMCHAT_JWT_TENANT_KEY"
            );
            jail.set_env("CHEMCHAT_TENANT_ID", "acme");
            assert!(load_in_jail().expect("loads").jwt_tenant_key.is_some());
            jail.set_env("CHEMCHAT_JWT_SECRET", "x".repeat(40));
            assert_eq!(
                load_in_jail().expect_err("both").variable,
                "CHEMCHAT_JWT_TENANT_KEY"
            );
            jail.clear_env();
            jail.set_env("CHEMCHAT_TENANT_ID", "acme");
            jail.set_env("CHEMCHAT_JWT_TENANT_KEY", "c2hvcnQ=");
            assert_eq!(
                load_in_jail().expect_err("not a key").variable,
                "CHEMCHAT_JWT_TENANT_KEY"
            );
            Ok(())
        });
    }

    #[test]
    fn numeric_tenant_ids_are_strings() {
        Jail::expect_with(|jail| {
            jail.set_env("CHEMCHAT_TENANT_ID", "42");
            assert_eq!(
                load_in_jail().expect("loads").tenant_id.as_deref(),
                Some("42")
            );
            Ok(())
        });
    }

    #[test]
    fn debug_redacts_secrets() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "CHEMCHAT_JWT_SECRET",
                "a-very-secret-signing-key-of-40-bytes!!",
            );
            jail.set_env("CHEMCHAT_DATABASE_URL", "postgres://app:hunter2@db/chat");
            let printed = format!("{:?}", load_in_jail().expect("loads"));
            assert!(!printed.contains("a-very-secret"), "{printed}");
            assert!(!printed.contains("hunter2"), "{printed}");
            Ok(())
        });
    }
}
