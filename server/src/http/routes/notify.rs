//! `/api/v1/push` and `/api/v1/notifications`: Web Push subscriptions, the VAPID key browsers
//! subscribe with, and each user's notification preferences.

use super::chat::conversation_id;
use crate::app::notify::SubscriptionRequest;
use crate::app::{AppError, ErrorCode};
use crate::domain::{NotifyLevel, NotifyPreferences, PushSubscriptionId, QuietHours};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Caller, Client, CurrentTenant};
use crate::http::routes::chat::ApiQuery;
use crate::ports::chat::rfc3339;
use crate::ports::{ConversationNotifications, PushSubscription};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The notification routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/push/vapid-public-key", get(vapid_public_key))
        .route("/push/subscriptions", get(subscriptions).post(subscribe))
        .route("/push/subscriptions/{id}", delete(unsubscribe))
        .route(
            "/notifications/preferences",
            get(preferences).put(set_preferences),
        )
        .route(
            "/conversations/{id}/notifications",
            put(set_conversation_notifications),
        )
        .route(
            "/notifications/unsubscribe",
            get(unsubscribe_page).post(unsubscribe_mail),
        )
}

/// `?token=` of a digest's unsubscribe link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// The signed token from the mail.
    pub token: String,
}

/// Turns off the caller's email digests: the one-click target of a digest's
/// `List-Unsubscribe` (RFC 8058: mail clients POST `List-Unsubscribe=One-Click` here), and of
/// the page's button. No login: the token is the proof.
#[utoipa::path(post, path = "/api/v1/notifications/unsubscribe", tag = "notifications",
    params(UnsubscribeQuery),
    responses((status = 200, description = "Digests are off"), (status = 400, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn unsubscribe_mail(
    State(state): State<HttpState>,
    Client(client): Client,
    ApiQuery(query): ApiQuery<UnsubscribeQuery>,
) -> ApiResult<Html<&'static str>> {
    state.app.unsubscribe_mail(&query.token, &client).await?;
    Ok(Html(UNSUBSCRIBED))
}

/// The page a digest's "turn them off" link opens: one button that POSTs, so a link scanner
/// that follows links never unsubscribes anyone.
#[utoipa::path(get, path = "/api/v1/notifications/unsubscribe", tag = "notifications",
    params(UnsubscribeQuery),
    responses((status = 200, description = "An HTML page with one button", content_type = "text/html"),
        (status = 400, body = ErrorBody)))]
pub async fn unsubscribe_page(ApiQuery(query): ApiQuery<UnsubscribeQuery>) -> impl IntoResponse {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Email notifications</title></head><body><main>\
         <h1>Email notifications</h1><p>Stop the emails about messages you missed?</p>\
         <form method=\"post\" action=\"?token={}\"><button type=\"submit\">Turn them off\
         </button></form></main></body></html>",
        crate::app::html::escape(&query.token)
    );
    (
        [(
            axum::http::header::CONTENT_SECURITY_POLICY,
            crate::http::headers::CSP,
        )],
        Html(page),
    )
}

const UNSUBSCRIBED: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>Email notifications</title></head><body><main><h1>Email notifications</h1>\
    <p>You will get no more emails about messages you missed. Turn them on again in the \
    notification settings.</p></main></body></html>";

/// The key browsers subscribe with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VapidKeyView {
    /// The tenant's VAPID public key: an uncompressed P-256 point, base64url. Pass it to
    /// `pushManager.subscribe({userVisibleOnly: true, applicationServerKey})`.
    pub public_key: String,
}

/// The tenant's VAPID public key (RFC 8292). Needs the tenant, not a login.
#[utoipa::path(get, path = "/api/v1/push/vapid-public-key", tag = "notifications",
    responses((status = 200, body = VapidKeyView), (status = 404, body = ErrorBody)))]
pub async fn vapid_public_key(
    State(state): State<HttpState>,
    CurrentTenant(tenant): CurrentTenant,
) -> ApiResult<Json<VapidKeyView>> {
    Ok(Json(VapidKeyView {
        public_key: state.app.vapid_public_key(&tenant)?,
    }))
}

/// A browser's keys, as `PushSubscription.toJSON()` gives them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The browser's 16-byte secret, base64url.
    pub auth: String,
}

/// `POST /push/subscriptions` body: `PushSubscription.toJSON()` plus the device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscribeBody {
    /// The push service's URL for this browser.
    pub endpoint: String,
    /// The browser's keys.
    pub keys: SubscriptionKeys,
    /// The device it belongs to; the session's device when absent.
    pub device_id: Option<String>,
    /// When the push service ends the subscription (Unix milliseconds), as browsers'
    /// `toJSON()` sends it; one already past is refused.
    pub expiration_time: Option<i64>,
}

/// A subscription as its owner sees it (never its keys; the endpoint's origin only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    /// Subscription id.
    pub id: String,
    /// The device it belongs to.
    pub device_id: Option<String>,
    /// The push service (the endpoint's origin).
    pub push_service: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

impl From<PushSubscription> for SubscriptionView {
    fn from(s: PushSubscription) -> Self {
        let push_service = url::Url::parse(&s.endpoint)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        Self {
            id: s.id.to_string(),
            device_id: s.device_id,
            push_service,
            created_at: rfc3339(s.created_at_ms),
        }
    }
}

/// Keeps a browser's push subscription. The same endpoint again replaces the earlier one; at
/// most 10 per account.
#[utoipa::path(post, path = "/api/v1/push/subscriptions", tag = "notifications",
    request_body = SubscribeBody,
    responses((status = 201, body = SubscriptionView), (status = 400, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn subscribe(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<SubscribeBody>,
) -> ApiResult<(StatusCode, Json<SubscriptionView>)> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    if body.expiration_time.is_some_and(|at| at <= now_ms) {
        return Err(AppError::from(crate::domain::ValidationError::new(
            "expirationTime",
            "the subscription has expired; subscribe again",
        ))
        .into());
    }
    let request = SubscriptionRequest {
        endpoint: body.endpoint,
        p256dh: body.keys.p256dh,
        auth: body.keys.auth,
        device_id: body.device_id,
    };
    let saved = state
        .app
        .subscribe_push(&caller.tenant, &caller.principal, request)
        .await?;
    Ok((StatusCode::CREATED, Json(saved.into())))
}

/// The caller's subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    /// Oldest first.
    pub items: Vec<SubscriptionView>,
}

/// The caller's push subscriptions.
#[utoipa::path(get, path = "/api/v1/push/subscriptions", tag = "notifications",
    responses((status = 200, body = SubscriptionList)),
    security(("bearer" = [])))]
pub async fn subscriptions(
    State(state): State<HttpState>,
    caller: Caller,
) -> ApiResult<Json<SubscriptionList>> {
    let items = state
        .app
        .push_subscriptions(&caller.tenant, &caller.principal)
        .await?;
    Ok(Json(SubscriptionList {
        items: items.into_iter().map(SubscriptionView::from).collect(),
    }))
}

/// Drops one of the caller's push subscriptions.
#[utoipa::path(delete, path = "/api/v1/push/subscriptions/{id}", tag = "notifications",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unsubscribe(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = PushSubscriptionId::parse(&id).ok_or_else(|| {
        ApiError(AppError {
            field: Some("subscriptionId"),
            ..AppError::new(ErrorCode::InvalidPath, "subscriptionId must be a UUID")
        })
    })?;
    state
        .app
        .unsubscribe_push(&caller.tenant, &caller.principal, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Quiet hours: nothing is pushed between `start` and `end` in `timeZone`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuietHoursBody {
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`; before `start` when the window spans midnight.
    pub end: String,
    /// An IANA time zone (`Europe/Berlin`).
    pub time_zone: String,
}

/// A user's notification preferences.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferencesBody {
    /// For conversations without their own level: `all` (the default), `mentions` (DMs and
    /// @mentions) or `none`.
    pub level: String,
    /// Whether a digest email follows DMs and mentions that no push reached (default `true`).
    pub email_fallback: bool,
    /// When nothing is pushed; `null`: never quiet.
    pub quiet_hours: Option<QuietHoursBody>,
}

impl From<NotifyPreferences> for PreferencesBody {
    fn from(p: NotifyPreferences) -> Self {
        Self {
            level: p.level.as_str().to_owned(),
            email_fallback: p.email_fallback,
            quiet_hours: p.quiet_hours.map(|q| QuietHoursBody {
                start: q.start(),
                end: q.end(),
                time_zone: q.zone_name().to_owned(),
            }),
        }
    }
}

/// The caller's notification preferences.
#[utoipa::path(get, path = "/api/v1/notifications/preferences", tag = "notifications",
    responses((status = 200, body = PreferencesBody)),
    security(("bearer" = [])))]
pub async fn preferences(
    State(state): State<HttpState>,
    caller: Caller,
) -> ApiResult<Json<PreferencesBody>> {
    let preferences = state
        .app
        .notification_preferences(&caller.tenant, &caller.principal)
        .await?;
    Ok(Json(preferences.into()))
}

/// Replaces the caller's notification preferences.
#[utoipa::path(put, path = "/api/v1/notifications/preferences", tag = "notifications",
    request_body = PreferencesBody,
    responses((status = 200, body = PreferencesBody), (status = 400, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_preferences(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<PreferencesBody>,
) -> ApiResult<Json<PreferencesBody>> {
    let quiet_hours = body
        .quiet_hours
        .map(|q| QuietHours::parse(&q.start, &q.end, &q.time_zone))
        .transpose()
        .map_err(AppError::from)?;
    let preferences = NotifyPreferences {
        level: NotifyLevel::from_input("level", &body.level).map_err(AppError::from)?,
        email_fallback: body.email_fallback,
        quiet_hours,
    };
    let saved = state
        .app
        .set_notification_preferences(&caller.tenant, &caller.principal, preferences)
        .await?;
    Ok(Json(saved.into()))
}

/// A member's notification setting for one conversation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConversationNotificationsBody {
    /// `all`, `mentions` or `none`; `null`: the member's default.
    pub level: Option<String>,
    /// Nothing is pushed before this time (RFC 3339); `null`: not snoozed.
    pub muted_until: Option<String>,
}

/// Sets the caller's notification level and snooze for a conversation they are a member of.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/notifications", tag = "notifications",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = ConversationNotificationsBody,
    responses((status = 200, body = ConversationNotificationsBody), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_conversation_notifications(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConversationNotificationsBody>,
) -> ApiResult<Json<ConversationNotificationsBody>> {
    let conversation = conversation_id(&id)?;
    let level = body
        .level
        .as_deref()
        .map(|raw| NotifyLevel::from_input("level", raw))
        .transpose()
        .map_err(AppError::from)?;
    let snoozed_until_ms = body
        .muted_until
        .as_deref()
        .map(|raw| super::admin::time_ms("mutedUntil", raw, ErrorCode::ValidationFailed))
        .transpose()?;
    let setting = state
        .app
        .set_conversation_notifications(
            &caller.tenant,
            &caller.principal,
            conversation,
            ConversationNotifications {
                level,
                snoozed_until_ms,
            },
        )
        .await?;
    Ok(Json(ConversationNotificationsBody {
        level: setting.level.map(|l| l.as_str().to_owned()),
        muted_until: setting.snoozed_until_ms.map(rfc3339),
    }))
}
