//! Logging in with a password and, when enabled, a TOTP code.

use super::{Profile, TokenPair};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{Action, ClientInfo, DeviceId, LoginName, Password, Subject, Tenant};
use serde_json::json;

/// A parsed login request.
#[derive(Debug)]
pub struct LoginAttempt {
    /// Username or email.
    pub login: LoginName,
    /// Password.
    pub password: Password,
    /// TOTP code, required once MFA is enabled.
    pub mfa_token: Option<String>,
    /// The device to bind the session to; generated when absent.
    pub device: Option<DeviceId>,
    /// The client, for throttling (its address) and the audit log.
    pub client: ClientInfo,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct Login {
    /// Who logged in.
    pub user: Profile,
    /// Their tokens.
    pub tokens: TokenPair,
}

impl App {
    /// Logs a user in. An unknown user and a wrong password get the same answer after the same
    /// work (one Argon2 verification), so the endpoint does not reveal which accounts exist.
    #[tracing::instrument(name = "login", skip_all, fields(tenant = %tenant.id))]
    pub async fn login(&self, tenant: &Tenant, attempt: LoginAttempt) -> AppResult<Login> {
        let subjects = [
            Subject::Address(attempt.client.ip),
            Subject::Account(&tenant.id, attempt.login.as_str()),
        ];
        if let Err(refused) = self.charge(tenant.tier, Action::Login, &subjects).await {
            let audit = self.audit_entry(
                "login.throttled",
                None,
                Some(&attempt.client),
                json!({ "login": attempt.login.as_str() }),
            );
            self.store.append_audit(&tenant.id, &audit).await?;
            return Err(refused);
        }

        let user = self
            .store
            .user_by_login(&tenant.id, attempt.login.as_str())
            .await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let verified = self.passwords.verify(attempt.password, hash).await?;
        let user = match user {
            Some(user) if verified => user,
            known => {
                let audit = self.audit_entry(
                    "login.failed",
                    known.map(|u| u.id),
                    Some(&attempt.client),
                    json!({ "login": attempt.login.as_str(), "reason": "credentials" }),
                );
                self.store.append_audit(&tenant.id, &audit).await?;
                return Err(AppError::invalid_credentials());
            }
        };

        // Only someone who knows the password learns that the account is suspended.
        if let Err(refused) = crate::app::people::account_usable(&user, self.clock.now_ms()) {
            let audit = self.audit_entry(
                "login.refused",
                Some(user.id),
                Some(&attempt.client),
                json!({ "login": attempt.login.as_str(), "reason": user.status.as_str() }),
            );
            self.store.append_audit(&tenant.id, &audit).await?;
            return Err(refused);
        }

        let mut amr = vec!["pwd"];
        if let Some(secret) = &user.mfa_secret {
            let Some(code) = attempt.mfa_token.as_deref() else {
                return Err(AppError::new(
                    ErrorCode::MfaRequired,
                    "this account has MFA enabled; send mfaToken with the login",
                ));
            };
            if let Err(err) = self.check_totp(tenant, &user, secret, code).await {
                let audit = self.audit_entry(
                    "login.failed",
                    Some(user.id),
                    Some(&attempt.client),
                    json!({ "login": attempt.login.as_str(), "reason": "mfa" }),
                );
                self.store.append_audit(&tenant.id, &audit).await?;
                return Err(err);
            }
            amr.push("otp");
        }

        let device = attempt.device.unwrap_or_else(DeviceId::generate);
        let tokens = self
            .open_session(tenant, user.id, device, &amr, Some(&attempt.client))
            .await?;
        Ok(Login {
            user: Profile::from(&user),
            tokens,
        })
    }
}
