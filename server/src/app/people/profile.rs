//! One's own account: the profile others see, and the password.

use super::App;
use crate::app::auth::{Principal, Profile};
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{
    Action, ClientInfo, DisplayName, MediaId, Password, StatusText, Subject, Tenant,
};
use crate::ports::{ProfileChange, ProfileUpdate, Revocation, SessionScope};
use serde_json::json;

/// A change of one's own profile; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileEdit {
    /// A new display name.
    pub display_name: Option<DisplayName>,
    /// A new avatar (`Some(None)` removes it): a ready image the caller uploaded.
    pub avatar: Option<Option<MediaId>>,
    /// A new status text (empty clears it).
    pub status_text: Option<StatusText>,
}

impl App {
    /// Changes the caller's profile. Conversations show the new name and avatar from their
    /// next read: members are loaded with them.
    #[tracing::instrument(name = "update_profile", skip_all, fields(tenant = %tenant.id))]
    pub async fn update_profile(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        edit: ProfileEdit,
    ) -> AppResult<Profile> {
        self.acting_user(principal).await?;
        let subjects = [Subject::User(&tenant.id, principal.user)];
        self.charge(tenant.tier, Action::ProfileChange, &subjects)
            .await?;
        let display_name = match edit.display_name {
            Some(name) => Some(
                self.screen(&tenant.id, "displayName", name.as_str().to_owned())
                    .await?,
            ),
            None => None,
        };
        let status_text = match edit.status_text {
            Some(text) => Some(
                self.screen(&tenant.id, "statusText", text.as_str().to_owned())
                    .await?,
            ),
            None => None,
        };
        let change = ProfileChange {
            display_name,
            avatar: edit.avatar,
            status_text,
            now_ms: self.clock.now_ms(),
        };
        match self
            .store
            .update_profile(&tenant.id, principal.user, &change)
            .await?
        {
            ProfileUpdate::Updated(_) => self.me(principal).await,
            ProfileUpdate::AvatarRefused => Err(AppError {
                field: Some("avatarMediaId"),
                ..AppError::new(
                    ErrorCode::InvalidAvatar,
                    "avatarMediaId must be an image you uploaded that has finished processing",
                )
            }),
            ProfileUpdate::NotFound => {
                Err(AppError::unauthenticated("this account no longer exists"))
            }
        }
    }

    /// Changes the caller's password after checking the current one. Every other session of
    /// the account ends and its sockets close, wherever they are connected; the caller's own
    /// session stays.
    #[tracing::instrument(name = "change_password", skip_all, fields(tenant = %tenant.id))]
    pub async fn change_password(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        current: Password,
        new: Password,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let user = self.acting_user(principal).await?;
        let subjects = [
            Subject::User(&tenant.id, principal.user),
            Subject::Address(client.ip),
        ];
        self.charge(tenant.tier, Action::PasswordChange, &subjects)
            .await?;
        if !self
            .passwords
            .verify(current, Some(user.password_hash.clone()))
            .await?
        {
            let audit = self.audit_entry(
                "password.change_failed",
                Some(user.id),
                Some(client),
                json!({}),
            );
            self.store.append_audit(&tenant.id, &audit).await?;
            return Err(AppError {
                field: Some("currentPassword"),
                ..AppError::new(
                    ErrorCode::InvalidCredentials,
                    "the current password is wrong",
                )
            });
        }
        let hash = self.passwords.hash(new).await?;
        let audit = self.audit_action(
            "password.changed",
            Some(user.id),
            format!("user:{}", user.id),
            Some(client),
            json!({ "keptSession": principal.session }),
        );
        if !self
            .store
            .change_password(&tenant.id, user.id, &hash, Some(principal.session), &audit)
            .await?
        {
            return Err(AppError::unauthenticated("this account no longer exists"));
        }
        self.revocations.sessions_ended(&Revocation {
            tenant: tenant.id.clone(),
            user: user.id,
            scope: SessionScope::AllExcept(principal.session),
            reason: "session ended: the password was changed".into(),
        });
        Ok(())
    }
}
