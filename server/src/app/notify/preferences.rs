//! A user's notification preferences, and their level and snooze per conversation.

use crate::app::auth::Principal;
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{
    Action, ClientInfo, ConversationId, NotifyPreferences, Subject, Tenant, ValidationError,
};
use crate::ports::ConversationNotifications;

/// Longest snooze: a year ahead.
const MAX_SNOOZE_MS: i64 = 366 * 86_400_000;

impl App {
    /// The caller's preferences (the defaults until they set some).
    #[tracing::instrument(name = "notification_preferences", skip_all, fields(tenant = %tenant.id))]
    pub async fn notification_preferences(
        &self,
        tenant: &Tenant,
        principal: &Principal,
    ) -> AppResult<NotifyPreferences> {
        Ok(self
            .store
            .notification_preferences(&tenant.id, principal.user)
            .await?)
    }

    /// Replaces the caller's preferences.
    #[tracing::instrument(name = "set_notification_preferences", skip_all, fields(tenant = %tenant.id))]
    pub async fn set_notification_preferences(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        preferences: NotifyPreferences,
    ) -> AppResult<NotifyPreferences> {
        self.changing_settings(tenant, principal).await?;
        self.store
            .set_notification_preferences(
                &tenant.id,
                principal.user,
                &preferences,
                self.clock.now_ms(),
            )
            .await?;
        Ok(preferences)
    }

    /// Sets the caller's level and snooze for a conversation they are a member of.
    #[tracing::instrument(name = "set_conversation_notifications", skip_all, fields(tenant = %tenant.id))]
    pub async fn set_conversation_notifications(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        conversation: ConversationId,
        setting: ConversationNotifications,
    ) -> AppResult<ConversationNotifications> {
        if let Some(until) = setting.snoozed_until_ms
            && until > self.clock.now_ms().saturating_add(MAX_SNOOZE_MS)
        {
            return Err(ValidationError::new("mutedUntil", "at most a year ahead").into());
        }
        self.changing_settings(tenant, principal).await?;
        if !self
            .store
            .set_conversation_notifications(&tenant.id, conversation, principal.user, setting)
            .await?
        {
            return Err(AppError::new(
                ErrorCode::ConversationNotFound,
                "no such conversation",
            ));
        }
        Ok(setting)
    }
}

impl App {
    /// Turns off the email digests of the user a digest's unsubscribe link names (RFC 8058
    /// one-click: no login, the signed token is the proof). Answers the same whether they were
    /// on or off.
    pub async fn unsubscribe_mail(&self, token: &str, client: &ClientInfo) -> AppResult<()> {
        let invalid = || {
            AppError::new(
                ErrorCode::InvalidToken,
                "this unsubscribe link is not valid",
            )
        };
        let (tenant_id, user) = self
            .tokens
            .verify_unsubscribe(token)
            .map_err(|_| invalid())?;
        let tenant = self.resolve_tenant(Some(tenant_id.as_str()), None).await?;
        self.charge(
            tenant.tier,
            Action::Recovery,
            &[Subject::Address(client.ip)],
        )
        .await?;
        let mut preferences = self
            .store
            .notification_preferences(&tenant.id, user)
            .await?;
        if preferences.email_fallback {
            preferences.email_fallback = false;
            self.store
                .set_notification_preferences(&tenant.id, user, &preferences, self.clock.now_ms())
                .await?;
        }
        Ok(())
    }
}
