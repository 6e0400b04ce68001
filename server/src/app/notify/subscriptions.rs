//! Browsers' push subscriptions: the key they subscribe with, and keeping, listing and
//! dropping what they hand over.

use crate::app::auth::Principal;
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{PushSubscriptionId, PushTarget, Tenant};
use crate::ports::PushSubscription;

/// Browsers one account may subscribe at once (each device, each browser profile).
pub const MAX_SUBSCRIPTIONS_PER_USER: u32 = 10;

/// Subscriptions created and removed (counter, label `change`: `created`, `removed`, `gone`).
pub const METRIC_SUBSCRIPTIONS: &str = "chemchat_push_subscriptions_total";

/// What a client sends to subscribe.
#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    /// The push service's URL.
    pub endpoint: String,
    /// The browser's public key, base64url.
    pub p256dh: String,
    /// The browser's secret, base64url.
    pub auth: String,
    /// The client's name for the device; the session's device when absent.
    pub device_id: Option<String>,
}

impl App {
    /// The key browsers subscribe with in this tenant (`applicationServerKey`).
    pub fn vapid_public_key(&self, tenant: &Tenant) -> AppResult<String> {
        self.tokens
            .vapid(&tenant.id)
            .map(|key| key.public_key().to_owned())
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::TenantNotFound,
                    "this server does not serve the tenant",
                )
            })
    }

    /// Keeps a browser's subscription for the caller; the same endpoint again replaces it.
    #[tracing::instrument(name = "subscribe_push", skip_all, fields(tenant = %tenant.id))]
    pub async fn subscribe_push(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        request: SubscriptionRequest,
    ) -> AppResult<PushSubscription> {
        let target = PushTarget::parse(
            &request.endpoint,
            &request.p256dh,
            &request.auth,
            self.notify.allow_private_endpoints,
        )?;
        let device_id = match request.device_id {
            Some(raw) => Some(crate::domain::DeviceId::parse(&raw)?.as_str().to_owned()),
            None => Some(principal.device.as_str().to_owned()),
        };
        self.changing_settings(tenant, principal).await?;
        let subscription = PushSubscription {
            id: PushSubscriptionId::generate(),
            user: principal.user,
            device_id,
            endpoint: target.endpoint,
            p256dh: target.p256dh,
            auth: target.auth,
            created_at_ms: self.clock.now_ms(),
        };
        let saved = self
            .store
            .save_push_subscription(&tenant.id, &subscription, MAX_SUBSCRIPTIONS_PER_USER)
            .await?
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::QuotaExceeded,
                    format!(
                        "at most {MAX_SUBSCRIPTIONS_PER_USER} push subscriptions per account; \
                         delete one first"
                    ),
                )
            })?;
        metrics::counter!(METRIC_SUBSCRIPTIONS, "change" => "created").increment(1);
        Ok(saved)
    }

    /// The caller's subscriptions.
    #[tracing::instrument(name = "push_subscriptions", skip_all, fields(tenant = %tenant.id))]
    pub async fn push_subscriptions(
        &self,
        tenant: &Tenant,
        principal: &Principal,
    ) -> AppResult<Vec<PushSubscription>> {
        Ok(self
            .store
            .push_subscriptions(&tenant.id, principal.user)
            .await?)
    }

    /// Drops one of the caller's subscriptions.
    #[tracing::instrument(name = "unsubscribe_push", skip_all, fields(tenant = %tenant.id))]
    pub async fn unsubscribe_push(
        &self,
        tenant: &Tenant,
        principal: &Principal,
        id: PushSubscriptionId,
    ) -> AppResult<()> {
        self.changing_settings(tenant, principal).await?;
        if !self
            .store
            .delete_push_subscription(&tenant.id, Some(principal.user), id)
            .await?
        {
            return Err(AppError::new(
                ErrorCode::NotFound,
                "no such push subscription",
            ));
        }
        metrics::counter!(METRIC_SUBSCRIPTIONS, "change" => "removed").increment(1);
        Ok(())
    }
}
