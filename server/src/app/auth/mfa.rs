//! TOTP multi-factor authentication (RFC 6238): setup, enable, step-up verify, disable.

use super::tokens::{Principal, TokenKind};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::ClientInfo;
use crate::domain::{Action, Password, Subject, Tenant, TenantId};
use crate::ports::{MfaChange, Revocation, SessionScope, StoredUser};
use serde_json::json;
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

/// A request to change MFA: the account's password (a re-authentication at the moment of the
/// change), the secret being enabled (none when disabling) and a current code.
#[derive(Debug)]
pub struct MfaRequest<'a> {
    /// The account's password.
    pub password: Password,
    /// The base32 secret from `mfa/setup` (enabling only).
    pub secret: Option<&'a str>,
    /// A current TOTP code.
    pub code: &'a str,
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
    /// refused if presented again within its window. Wrong codes are counted per user (5 per
    /// 15 minutes by default, then 429): six digits fall to a few thousand guesses a second
    /// otherwise. Each attempt is charged first and refunded when right, so concurrent guesses
    /// cannot slip past the count.
    pub(super) async fn check_totp(
        &self,
        tenant: &Tenant,
        user: &StoredUser,
        secret: &str,
        code: &str,
    ) -> AppResult<()> {
        let subjects = [Subject::User(&tenant.id, user.id)];
        if let Err(refused) = self.charge(tenant.tier, Action::MfaCode, &subjects).await {
            let audit = self.audit_entry("mfa.throttled", Some(user.id), None, json!({}));
            self.store.append_audit(&tenant.id, &audit).await?;
            return Err(refused);
        }
        let checked = self.verify_totp(&tenant.id, user, secret, code).await;
        if checked.is_ok() {
            self.refund(tenant.tier, Action::MfaCode, &subjects).await;
        }
        checked
    }

    async fn verify_totp(
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

    /// Re-authentication for a sensitive change: the account's password, now. A stolen access
    /// token alone cannot change how the account is protected, nor guess the password faster
    /// than the login form allows (the attempt is charged to the account's login budget).
    async fn confirm_password(
        &self,
        tenant: &Tenant,
        user: &StoredUser,
        password: Password,
    ) -> AppResult<()> {
        let account = [Subject::Account(&tenant.id, &user.username)];
        self.charge(tenant.tier, Action::Login, &account).await?;
        let hash = Some(user.password_hash.clone());
        if self.passwords.verify(password, hash).await? {
            Ok(())
        } else {
            Err(AppError {
                field: Some("password"),
                ..AppError::new(ErrorCode::InvalidCredentials, "the password is not right")
            })
        }
    }

    /// Re-authentication for an irreversible step: the password, and a current code when the
    /// account has MFA (wrong codes count against the same budget as everywhere else).
    pub(crate) async fn reauthenticate(
        &self,
        tenant: &Tenant,
        user: &StoredUser,
        password: Password,
        code: Option<&str>,
    ) -> AppResult<()> {
        self.confirm_password(tenant, user, password).await?;
        let Some(secret) = user.mfa_secret.as_deref() else {
            return Ok(());
        };
        let code = code.ok_or_else(|| AppError {
            field: Some("code"),
            ..AppError::new(
                ErrorCode::MfaRequired,
                "this account has MFA: send a current code",
            )
        })?;
        self.check_totp(tenant, user, secret, code).await
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

    /// Step 2: enables MFA with `secret` once `code` proves the authenticator has it and
    /// `password` that the caller is the account's owner; every other session ends.
    #[tracing::instrument(name = "mfa_enable", skip_all, fields(tenant = %tenant.id))]
    pub async fn mfa_enable(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        change: MfaRequest<'_>,
        client: Option<&ClientInfo>,
    ) -> AppResult<()> {
        let MfaRequest {
            password,
            secret,
            code,
        } = change;
        let secret = secret.unwrap_or_default();
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
        self.confirm_password(tenant, &user, password).await?;
        let subjects = [Subject::User(&tenant.id, user.id)];
        self.charge(tenant.tier, Action::MfaCode, &subjects).await?;
        let step = totp
            .check(code.trim(), self.now_secs())
            .ok_or_else(invalid_code)?;
        self.refund(tenant.tier, Action::MfaCode, &subjects).await;
        let step = i64::try_from(step).map_err(|_| invalid_code())?;
        self.change_mfa(principal, Some(secret), step, "mfa.enabled", client)
            .await
    }

    /// Stores an MFA change and signs out every other session of the user: whoever held one
    /// proved less than the account now asks for (or, when disabling, the change may be theirs).
    async fn change_mfa(
        &self,
        principal: &Principal,
        secret: Option<&str>,
        step: i64,
        action: &str,
        client: Option<&ClientInfo>,
    ) -> AppResult<()> {
        let audit = self.audit_entry(action, Some(principal.user), client, json!({}));
        let change = MfaChange {
            secret,
            step,
            keep: principal.session,
            now_ms: self.clock.now_ms(),
        };
        self.store
            .set_mfa_secret(&principal.tenant, principal.user, change, &audit)
            .await?;
        self.revocations.sessions_ended(&Revocation {
            tenant: principal.tenant.clone(),
            user: principal.user,
            scope: SessionScope::AllExcept(principal.session),
            reason: "session ended: MFA was changed on another device".into(),
        });
        Ok(())
    }

    /// Step-up: proves possession of the second factor now, and returns an access token that
    /// records it (`amr` includes `otp`).
    #[tracing::instrument(name = "mfa_verify", skip_all, fields(tenant = %tenant.id))]
    pub async fn mfa_verify(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        code: &str,
    ) -> AppResult<String> {
        let user = self.caller(principal).await?;
        let secret = user
            .mfa_secret
            .clone()
            .ok_or_else(|| AppError::new(ErrorCode::MfaNotEnabled, "MFA is not enabled"))?;
        self.check_totp(tenant, &user, &secret, code).await?;
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

    /// Turns MFA off after the account's password and a valid code; every other session ends.
    #[tracing::instrument(name = "mfa_disable", skip_all, fields(tenant = %tenant.id))]
    pub async fn mfa_disable(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        change: MfaRequest<'_>,
        client: Option<&ClientInfo>,
    ) -> AppResult<()> {
        let user = self.caller(principal).await?;
        let secret = user
            .mfa_secret
            .clone()
            .ok_or_else(|| AppError::new(ErrorCode::MfaNotEnabled, "MFA is not enabled"))?;
        self.confirm_password(tenant, &user, change.password)
            .await?;
        self.check_totp(tenant, &user, &secret, change.code).await?;
        self.change_mfa(principal, None, 0, "mfa.disabled", client)
            .await
    }
}
