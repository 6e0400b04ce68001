//! `/api/v1/admin/settings`: the tenant's content policy, rules about accounts, what
//! notifications show, and retention; and legal holds on conversations. Administrators.

use super::admin::invalid;
use super::chat::conversation_id;
use crate::app::people::{SettingsRequest, TenantSettings};
use crate::app::{AppError, ErrorCode};
use crate::domain::content_policy::{PolicyMode, PolicyRules};
use crate::domain::{DeletedMessages, RegistrationMode, retention_seconds};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Caller, Client};
use crate::ports::{AccountRulesChange, RetentionChange};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The settings routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/admin/settings", get(settings).patch(update_settings))
        .route("/admin/conversations/{id}/legal-hold", put(set_legal_hold))
}

/// The content policy: what the tenant's people may not post.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentPolicyBody {
    /// `reject` (422 `content_blocked`) or `mask` (each match replaced by `*`s).
    pub mode: String,
    /// Whole words, ignoring case (at most 500, 1–100 characters each).
    #[serde(default)]
    pub blocked_words: Vec<String>,
    /// Regular expressions, ignoring case (at most 50, 1–100 characters each; the syntax of
    /// Rust's regex crate: no look-around, no back-references, linear-time matching).
    #[serde(default)]
    pub blocked_patterns: Vec<String>,
}

/// The tenant's rules about accounts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountsBody {
    /// What becomes of a deleted user's messages: `keep` (shown as sent by "Deleted user";
    /// the default) or `erase` (they become tombstones, in the background).
    pub deleted_user_messages: String,
    /// Who may register: `open` (anyone; the default) or `invite` (holders of an invitation
    /// code from `POST /admin/invites`).
    pub registration: String,
}

/// A change of the rules about accounts: the rules sent are replaced, the others stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountsChange {
    /// `keep` or `erase`.
    pub deleted_user_messages: Option<String>,
    /// `open` or `invite`.
    pub registration: Option<String>,
}

/// What notifications may show.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationsBody {
    /// Whether push notifications show the sender and the start of the text (`true`, the
    /// default), or only the conversation and "New message" (privacy mode).
    pub previews: bool,
}

/// How long the tenant keeps messages.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionBody {
    /// Messages older than this many seconds are deleted in every conversation (a
    /// conversation may set a shorter time, never a longer one); `null`: kept for ever.
    pub max_seconds: Option<u32>,
    /// A legal hold on the whole tenant: retention deletes nothing while it stands.
    pub legal_hold: bool,
}

/// A change of the tenant's retention: the parts sent are replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionPatch {
    /// Seconds (1 to ten years), or `null` to keep messages for ever.
    #[serde(default, deserialize_with = "crate::http::extract::present")]
    #[schema(value_type = Option<i64>)]
    pub max_seconds: Option<Option<i64>>,
    /// Place (`true`) or lift the tenant's legal hold.
    pub legal_hold: Option<bool>,
}

/// The tenant's settings.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsBody {
    /// Applied to messages (sent and edited), display names, status texts and group names.
    pub content_policy: ContentPolicyBody,
    /// Rules about accounts.
    pub accounts: AccountsBody,
    /// What notifications may show.
    pub notifications: NotificationsBody,
    /// How long messages are kept.
    pub retention: RetentionBody,
}

/// A change of the tenant's settings: the parts sent are replaced, the others stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsChange {
    /// A new content policy.
    pub content_policy: Option<ContentPolicyBody>,
    /// New rules about accounts.
    pub accounts: Option<AccountsChange>,
    /// What notifications may show.
    pub notifications: Option<NotificationsBody>,
    /// How long messages are kept.
    pub retention: Option<RetentionPatch>,
}

fn settings_view(settings: TenantSettings) -> SettingsBody {
    let TenantSettings {
        content: rules,
        accounts,
        retention,
    } = settings;
    SettingsBody {
        content_policy: ContentPolicyBody {
            mode: rules.mode.as_str().to_owned(),
            blocked_words: rules.words,
            blocked_patterns: rules.patterns,
        },
        accounts: AccountsBody {
            deleted_user_messages: accounts.deleted_messages.as_str().to_owned(),
            registration: accounts.registration.as_str().to_owned(),
        },
        notifications: NotificationsBody {
            previews: accounts.push_previews,
        },
        retention: RetentionBody {
            max_seconds: retention.max_seconds,
            legal_hold: retention.legal_hold,
        },
    }
}

fn account_rules(change: AccountsChange) -> Result<AccountRulesChange, ApiError> {
    let deleted_messages = change
        .deleted_user_messages
        .map(|raw| {
            DeletedMessages::parse(&raw).ok_or_else(|| {
                invalid(
                    ErrorCode::ValidationFailed,
                    "accounts.deletedUserMessages",
                    "must be keep or erase",
                )
            })
        })
        .transpose()?;
    let registration = change
        .registration
        .map(|raw| {
            RegistrationMode::parse(&raw).ok_or_else(|| {
                invalid(
                    ErrorCode::ValidationFailed,
                    "accounts.registration",
                    "must be open or invite",
                )
            })
        })
        .transpose()?;
    if deleted_messages.is_none() && registration.is_none() {
        return Err(invalid(
            ErrorCode::ValidationFailed,
            "accounts",
            "send deletedUserMessages, registration or both",
        ));
    }
    Ok(AccountRulesChange {
        deleted_messages,
        registration,
        push_previews: None,
    })
}

/// The tenant's settings. Administrators.
#[utoipa::path(get, path = "/api/v1/admin/settings", tag = "admin",
    responses((status = 200, body = SettingsBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn settings(
    State(state): State<HttpState>,
    caller: Caller,
) -> ApiResult<Json<SettingsBody>> {
    let settings = state
        .app
        .tenant_settings(&caller.tenant, &caller.principal)
        .await?;
    Ok(Json(settings_view(settings)))
}

/// Changes the tenant's settings. A new content policy applies at once on this instance and
/// within a few seconds on the others. Administrators.
#[utoipa::path(patch, path = "/api/v1/admin/settings", tag = "admin", request_body = SettingsChange,
    responses((status = 200, body = SettingsBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_settings(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    ApiJson(body): ApiJson<SettingsChange>,
) -> ApiResult<Json<SettingsBody>> {
    if body.content_policy.is_none()
        && body.accounts.is_none()
        && body.notifications.is_none()
        && body.retention.is_none()
    {
        return Err(invalid(
            ErrorCode::ValidationFailed,
            "contentPolicy",
            "send contentPolicy, accounts, notifications, retention or several",
        ));
    }
    let retention = body
        .retention
        .map(|patch| {
            let max_seconds = patch
                .max_seconds
                .map(|max| {
                    max.map(|raw| retention_seconds("retention.maxSeconds", raw, None))
                        .transpose()
                })
                .transpose()
                .map_err(AppError::from)?;
            Ok::<_, ApiError>(RetentionChange {
                max_seconds,
                legal_hold: patch.legal_hold,
            })
        })
        .transpose()?;
    let mut accounts = body.accounts.map(account_rules).transpose()?;
    if let Some(notifications) = body.notifications {
        accounts
            .get_or_insert_with(AccountRulesChange::default)
            .push_previews = Some(notifications.previews);
    }
    let rules = body
        .content_policy
        .map(|policy| {
            let mode = PolicyMode::parse(&policy.mode).ok_or_else(|| {
                invalid(
                    ErrorCode::ValidationFailed,
                    "contentPolicy.mode",
                    "must be reject or mask",
                )
            })?;
            Ok::<_, ApiError>(PolicyRules {
                mode,
                words: policy.blocked_words,
                patterns: policy.blocked_patterns,
            })
        })
        .transpose()?;
    let request = SettingsRequest {
        content: rules,
        accounts,
        retention,
    };
    let settings = state
        .app
        .change_tenant_settings(&caller.tenant, &caller.principal, request, &client)
        .await?;
    Ok(Json(settings_view(settings)))
}

/// `PUT /admin/conversations/{id}/legal-hold` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldBody {
    /// `true` places the hold: retention deletes nothing of the conversation until it is
    /// lifted with `false`.
    pub hold: bool,
}

/// Places or lifts a legal hold on a conversation (audited). Administrators.
#[utoipa::path(put, path = "/api/v1/admin/conversations/{id}/legal-hold", tag = "admin",
    params(("id" = String, Path, description = "conversation id")), request_body = LegalHoldBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_legal_hold(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LegalHoldBody>,
) -> ApiResult<StatusCode> {
    let id = conversation_id(&id)?;
    state
        .app
        .set_legal_hold(&caller.tenant, &caller.principal, id, body.hold, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
