//! Registering a user.

use super::Profile;
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{
    Action, DisplayName, Email, MailToken, Password, Subject, Tenant, TenantRole, UserId, Username,
};
use crate::ports::{NewUser, UserCreation};
use std::net::IpAddr;

/// A parsed registration request.
#[derive(Debug)]
pub struct Registration {
    /// Username.
    pub username: Username,
    /// Display name.
    pub display_name: DisplayName,
    /// Email.
    pub email: Email,
    /// Password.
    pub password: Password,
    /// The invitation code it registers with: required when the tenant is invite-only.
    pub invite: Option<MailToken>,
}

impl App {
    /// Registers a user in `tenant`, within its user quota and the registration budgets of the
    /// client's address and of the tenant.
    #[tracing::instrument(name = "register", skip_all, fields(tenant = %tenant.id))]
    pub async fn register(
        &self,
        tenant: &Tenant,
        registration: Registration,
        ip: IpAddr,
    ) -> AppResult<Profile> {
        let subjects = [Subject::Address(ip), Subject::Tenant(&tenant.id)];
        self.charge(tenant.tier, Action::Register, &subjects)
            .await?;
        // Refused before the costly password hash: an invite-only tenant needs a code.
        if registration.invite.is_none()
            && self.store.account_rules(&tenant.id).await?.registration
                == crate::domain::RegistrationMode::InviteOnly
        {
            return Err(AppError {
                field: Some("inviteCode"),
                ..AppError::new(
                    ErrorCode::InviteRequired,
                    "this tenant admits new accounts by invitation only: ask an administrator \
                     for an invitation code",
                )
            });
        }
        let display_name = self
            .screen(
                &tenant.id,
                "displayName",
                registration.display_name.as_str().to_owned(),
            )
            .await?;
        let password_hash = self.passwords.hash(registration.password).await?;
        let user = NewUser {
            id: UserId::generate(),
            username: registration.username.as_str().to_owned(),
            email: registration.email.as_str().to_owned(),
            display_name,
            password_hash,
            created_at_ms: self.clock.now_ms(),
            role: TenantRole::Member,
            owner_if_first: self.tenancy.first_user_owns && tenant.id == self.tenancy.default,
            invite: registration.invite.as_ref().map(MailToken::hash),
        };
        match self
            .store
            .create_user(&tenant.id, &user, tenant.quotas.max_users)
            .await?
        {
            UserCreation::Created => {
                let stored = self.store.user(&tenant.id, user.id).await?.ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("a user just created is missing"))
                })?;
                // The account exists either way; a confirmation link can be asked for again.
                if let Err(e) = self.welcome(tenant, &stored).await {
                    tracing::warn!(error = %e, "registration: the confirmation mail was not posted");
                }
                Ok(Profile::from(&stored))
            }
            UserCreation::UsernameTaken => Err(AppError {
                field: Some("username"),
                ..AppError::new(ErrorCode::UsernameTaken, "this username is taken")
            }),
            UserCreation::EmailTaken => Err(AppError {
                field: Some("email"),
                ..AppError::new(
                    ErrorCode::EmailTaken,
                    "this email address is already registered",
                )
            }),
            UserCreation::InvalidInvite => Err(AppError {
                field: Some("inviteCode"),
                ..AppError::new(
                    ErrorCode::InvalidInvite,
                    "this invitation code is unknown, expired, revoked or used up",
                )
            }),
            UserCreation::QuotaExceeded => Err(AppError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "quota maxUsers ({}) reached for tenant '{}'",
                    tenant.quotas.max_users.unwrap_or_default(),
                    tenant.id
                ),
            )),
        }
    }

    /// The caller's own profile.
    pub async fn me(&self, principal: &super::Principal) -> AppResult<Profile> {
        let user = self
            .store
            .user(&principal.tenant, principal.user)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "user does not exist"))?;
        Ok(Profile::from(&user))
    }
}
