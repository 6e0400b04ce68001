//! Getting back into an account, and proving its address: single-use tokens sent by email.
//! Only with mail configured (`CHEMCHAT_SMTP_URL`); without it these answer 501
//! `mail_not_configured` and nothing else changes.

use super::App;
use crate::app::auth::Principal;
use crate::app::mail::Postbox;
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{
    AccountStatus, Action, ClientInfo, Email, MailToken, Password, Subject, Tenant, TokenPurpose,
};
use crate::ports::{Mail, NewAccountToken, Revocation, SessionScope, StoredUser};
use serde_json::json;

fn invalid_token() -> AppError {
    AppError {
        field: Some("token"),
        ..AppError::new(
            ErrorCode::InvalidToken,
            "this link is unknown, used or expired: ask for a new one",
        )
    }
}

impl App {
    fn postbox(&self) -> AppResult<&Postbox> {
        self.postbox.as_ref().ok_or_else(|| {
            AppError::new(
                ErrorCode::MailNotConfigured,
                "this server sends no mail: ask an administrator to reset the password",
            )
        })
    }

    /// Mails a password reset link to `email` when it is the address of an account that may
    /// sign in. The answer is the same whether it is or not, and as quick: the mail is posted,
    /// not sent, and nothing tells an unknown address from a known one.
    #[tracing::instrument(name = "forgot_password", skip_all, fields(tenant = %tenant.id))]
    pub async fn forgot_password(
        &self,
        tenant: &Tenant,
        email: &Email,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let postbox = self.postbox()?;
        let subjects = [
            Subject::Address(client.ip),
            Subject::Account(&tenant.id, email.as_str()),
            Subject::Tenant(&tenant.id),
        ];
        self.charge(tenant.tier, Action::Recovery, &subjects)
            .await?;
        let user = self
            .store
            .user_by_login(&tenant.id, email.as_str())
            .await?
            .filter(|u| {
                !u.deleted && u.email == email.as_str() && u.status != AccountStatus::Banned
            });
        let Some(user) = user else {
            return Ok(());
        };
        let token = self
            .issue(tenant, &user, TokenPurpose::PasswordReset)
            .await?;
        let link = postbox.link(&format!(
            "/reset-password?tenant={}&token={}",
            tenant.id,
            token.expose()
        ));
        postbox.post(Mail {
            to: user.email.clone(),
            subject: "Reset your ChemChat password".to_owned(),
            text: format!(
                "Someone asked to reset the password of the ChemChat account {} ({}).\n\n\
                 To choose a new password, open this link within 30 minutes:\n{link}\n\n\
                 If it was not you, ignore this message: your password stays as it is.\n",
                user.username, tenant.id
            ),
            ..Mail::default()
        });
        let audit = self.audit_entry(
            "password.reset_requested",
            Some(user.id),
            Some(client),
            json!({}),
        );
        self.store.append_audit(&tenant.id, &audit).await?;
        Ok(())
    }

    /// Sets a new password with a reset token. Every session of the account ends and its
    /// sockets close: whoever had the old password is out.
    #[tracing::instrument(name = "reset_password", skip_all, fields(tenant = %tenant.id))]
    pub async fn reset_password(
        &self,
        tenant: &Tenant,
        token: &MailToken,
        new: Password,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let subjects = [Subject::Address(client.ip)];
        self.charge(tenant.tier, Action::Recovery, &subjects)
            .await?;
        let hash = self.passwords.hash(new).await?;
        let audit = self.audit_entry("password.reset", None, Some(client), json!({}));
        let user = self
            .store
            .reset_password(&tenant.id, &token.hash(), &hash, &audit)
            .await?
            .ok_or_else(invalid_token)?;
        self.revocations.sessions_ended(&Revocation {
            tenant: tenant.id.clone(),
            user,
            scope: SessionScope::All,
            reason: "session ended: the password was reset".into(),
        });
        Ok(())
    }

    /// Mails the caller a link proving their address (again).
    #[tracing::instrument(name = "send_verification", skip_all, fields(tenant = %tenant.id))]
    pub async fn send_verification(&self, tenant: &Tenant, principal: &Principal) -> AppResult<()> {
        let postbox = self.postbox()?;
        let user = self.acting_user(principal).await?;
        let subjects = [Subject::User(&tenant.id, user.id)];
        self.charge(tenant.tier, Action::Recovery, &subjects)
            .await?;
        if user.email_verified {
            return Ok(());
        }
        self.mail_verification(tenant, postbox, &user).await
    }

    /// After registration: the first proof-of-address mail, when mail is configured.
    pub(crate) async fn welcome(&self, tenant: &Tenant, user: &StoredUser) -> AppResult<()> {
        match &self.postbox {
            Some(postbox) => self.mail_verification(tenant, postbox, user).await,
            None => Ok(()),
        }
    }

    async fn mail_verification(
        &self,
        tenant: &Tenant,
        postbox: &Postbox,
        user: &StoredUser,
    ) -> AppResult<()> {
        let token = self
            .issue(tenant, user, TokenPurpose::EmailVerification)
            .await?;
        let link = postbox.link(&format!(
            "/verify-email?tenant={}&token={}",
            tenant.id,
            token.expose()
        ));
        postbox.post(Mail {
            to: user.email.clone(),
            subject: "Confirm your email address for ChemChat".to_owned(),
            text: format!(
                "To confirm that {} is the address of the ChemChat account {} ({}), open this \
                 link within 24 hours:\n{link}\n",
                user.email, user.username, tenant.id
            ),
            ..Mail::default()
        });
        Ok(())
    }

    /// Marks the address a token was sent to as proven, if it is still the account's.
    #[tracing::instrument(name = "verify_email", skip_all, fields(tenant = %tenant.id))]
    pub async fn verify_email(
        &self,
        tenant: &Tenant,
        token: &MailToken,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let subjects = [Subject::Address(client.ip)];
        self.charge(tenant.tier, Action::Recovery, &subjects)
            .await?;
        let audit = self.audit_entry("email.verified", None, Some(client), json!({}));
        self.store
            .verify_email(&tenant.id, &token.hash(), &audit)
            .await?
            .ok_or_else(invalid_token)?;
        Ok(())
    }

    /// Stores a fresh token for `user` (earlier unused ones of the same purpose stop working).
    async fn issue(
        &self,
        tenant: &Tenant,
        user: &StoredUser,
        purpose: TokenPurpose,
    ) -> AppResult<MailToken> {
        let token = MailToken::generate();
        let now = self.clock.now_ms();
        let record = NewAccountToken {
            hash: token.hash(),
            user: user.id,
            purpose,
            email: user.email.clone(),
            at_ms: now,
            expires_at_ms: now + purpose.lifetime_ms(),
        };
        self.store.issue_account_token(&tenant.id, &record).await?;
        Ok(token)
    }
}
