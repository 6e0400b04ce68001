//! TOTP multi-factor authentication (RFC 6238): setup, enable, step-up verify, disable.

use super::tokens::{Principal, TokenKind};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::TenantId;
use crate::ports::StoredUser;
use serde_json::json;
use std::net::IpAddr;
use totp_rs::{Algorithm, Builder, Secret, Totp};

const ISSUER: &str = "ChemChat";

/// What `mfa/setup` hands the user to put into an authenticator app.
#[derive(Debug, Clone)]
pub struct MfaSetup {
    /// Base32 secret.
    pub secret: String,
    /// `otpauth://` URI (QR-code content).
    pub otpauth_uri: String,
}

/// The TOTP generator for a base32 secret: SHA-1, 6 digits, 30-second steps, one step of skew,
/// which is what every common authenticator app implements.
pub fn totp_for(secret_base32: &str, account: &str) -> Result<Totp, String> {
    let secret = Secret::try_from_base32(secret_base32).map_err(|e| e.to_string())?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| e.to_string())
}

fn invalid_code() -> AppError {
    AppError::new(
        ErrorCode::InvalidMfaToken,
        "invalid or already used MFA code",
    )
}

impl App {
    fn now_secs(&self) -> u64 {
        u64::try_from(self.clock.now().unix_timestamp()).unwrap_or(0)
    }

    /// Checks a code against the user's secret and consumes its time step, so the same code is
    /// refused if presented again within its window.
    pub(super) async fn check_totp(
        &self,
        tenant: &TenantId,
        user: &StoredUser,
        secret: &str,
        code: &str,
    ) -> AppResult<()> {
        let totp =
            totp_for(secret, &user.username).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
        let step = totp
            .check(code.trim(), self.now_secs())
            .ok_or_else(invalid_code)?;
        let step = i64::try_from(step).map_err(|_| invalid_code())?;
        if step <= user.mfa_last_step
            || !self.store.consume_totp_step(tenant, user.id, step).await?
        {
            return Err(invalid_code());
        }
        Ok(())
    }

    async fn caller(&self, principal: &Principal) -> AppResult<StoredUser> {
        self.store
            .user(&principal.tenant, principal.user)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "user does not exist"))
    }

    /// Step 1: a new secret for the caller. Nothing is stored until `mfa_enable` confirms it.
    pub async fn mfa_setup(&self, principal: &Principal) -> AppResult<MfaSetup> {
        let user = self.caller(principal).await?;
        if user.mfa_secret.is_some() {
            return Err(AppError::new(
                ErrorCode::MfaAlreadyEnabled,
                "MFA is already enabled",
            ));
        }
        let secret = Secret::generate().to_base32();
        let totp = totp_for(&secret, &user.username)
            .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
        let otpauth_uri = totp
            .to_url()
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
        Ok(MfaSetup {
            secret,
            otpauth_uri,
        })
    }

    /// Step 2: enables MFA with `secret` once `code` proves the authenticator has it.
    pub async fn mfa_enable(
        &self,
        principal: &Principal,
        secret: &str,
        code: &str,
        ip: Option<IpAddr>,
    ) -> AppResult<()> {
        let user = self.caller(principal).await?;
        if user.mfa_secret.is_some() {
            return Err(AppError::new(
                ErrorCode::MfaAlreadyEnabled,
                "MFA is already enabled",
            ));
        }
        let totp = totp_for(secret, &user.username).map_err(|_| AppError {
            field: Some("secret"),
            ..AppError::new(
                ErrorCode::ValidationFailed,
                "secret: must be the base32 secret from mfa/setup",
            )
        })?;
        let step = totp
            .check(code.trim(), self.now_secs())
            .ok_or_else(invalid_code)?;
        let audit = self.audit_entry("mfa.enabled", Some(user.id), ip, json!({}));
        let step = i64::try_from(step).map_err(|_| invalid_code())?;
        self.store
            .set_mfa_secret(&principal.tenant, user.id, Some(secret), step, &audit)
            .await?;
        Ok(())
    }

    /// Step-up: proves possession of the second factor now, and returns an access token that
    /// records it (`amr` includes `otp`).
    pub async fn mfa_verify(&self, principal: &Principal, code: &str) -> AppResult<String> {
        let user = self.caller(principal).await?;
        let secret = user
            .mfa_secret
            .clone()
            .ok_or_else(|| AppError::new(ErrorCode::MfaNotEnabled, "MFA is not enabled"))?;
        self.check_totp(&principal.tenant, &user, &secret, code)
            .await?;
        self.tokens
            .issue(
                TokenKind::Access,
                principal,
                &["pwd", "otp"],
                self.clock.now(),
            )
            .map(|issued| issued.token)
            .map_err(|e| AppError::internal(anyhow::anyhow!("token signing failed: {e}")))
    }

    /// Turns MFA off after a valid code.
    pub async fn mfa_disable(
        &self,
        principal: &Principal,
        code: &str,
        ip: Option<IpAddr>,
    ) -> AppResult<()> {
        let user = self.caller(principal).await?;
        let secret = user
            .mfa_secret
            .clone()
            .ok_or_else(|| AppError::new(ErrorCode::MfaNotEnabled, "MFA is not enabled"))?;
        self.check_totp(&principal.tenant, &user, &secret, code)
            .await?;
        let audit = self.audit_entry("mfa.disabled", Some(user.id), ip, json!({}));
        self.store
            .set_mfa_secret(&principal.tenant, user.id, None, 0, &audit)
            .await
            .map_err(AppError::from)
    }
}
