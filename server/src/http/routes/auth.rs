//! `/api/v1/auth/*`: registration, login, tokens, logout, MFA, the caller's profile.

use crate::app::ErrorCode;
use crate::app::auth::{LoginAttempt, MfaRequest, Profile, Registration, TokenPair};
use crate::app::people::ProfileEdit;
use crate::domain::{
    DeviceId, DisplayName, Email, LoginName, MailToken, MediaId, Password, StatusText, Username,
    ValidationError,
};
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, Caller, Client, ClientIp, CurrentTenant};
use crate::ports::chat::rfc3339;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The auth routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .route(
            "/me",
            get(me).patch(update_me).delete(super::account::delete_me),
        )
        .route("/me/export", get(super::account::export))
        .route("/me/warnings", get(super::account::warnings))
        .route("/password/forgot", post(super::recovery::forgot))
        .route("/password/reset", post(super::recovery::reset))
        .route("/email/verify", post(super::recovery::verify))
        .route("/email/verification", post(super::recovery::resend))
        .route("/password", post(change_password))
        .route("/mfa/setup", post(mfa_setup))
        .route("/mfa/enable", post(mfa_enable))
        .route("/mfa/verify", post(mfa_verify))
        .route("/mfa/disable", post(mfa_disable))
}

/// The caller's own account.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserBody {
    id: String,
    username: String,
    email: String,
    display_name: String,
    mfa_enabled: bool,
    created_at: String,
    /// Tenant role: `owner`, `admin`, `moderator` or `member`.
    role: &'static str,
    /// Avatar media id.
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar_media_id: Option<String>,
    /// Status text; empty when none.
    status_text: String,
    /// The email address was proven by a link mailed to it.
    email_verified: bool,
}

impl From<Profile> for UserBody {
    fn from(p: Profile) -> Self {
        Self {
            id: p.id.to_string(),
            username: p.username,
            email: p.email,
            display_name: p.display_name,
            mfa_enabled: p.mfa_enabled,
            created_at: rfc3339(p.created_at_ms),
            role: p.role.as_str(),
            avatar_media_id: p.avatar.map(|a| a.to_string()),
            status_text: p.status_text,
            email_verified: p.email_verified,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    username: String,
    display_name: String,
    email: String,
    password: String,
    /// An invitation code from an administrator: required when the tenant is invite-only
    /// (403 `invite_required` without one, 400 `invalid_invite` for one that is unknown,
    /// expired, revoked or used up).
    invite_code: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = UserBody), (status = 400, body = crate::http::docs::ErrorBody), (status = 409, body = crate::http::docs::ErrorBody), (status = 429, body = crate::http::docs::ErrorBody), (status = 503, body = crate::http::docs::ErrorBody)))]
async fn register(
    State(state): State<HttpState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegisterBody>,
) -> ApiResult<(StatusCode, Json<UserBody>)> {
    let registration = Registration {
        username: Username::parse(&body.username)?,
        display_name: DisplayName::parse(&body.display_name)?,
        email: Email::parse(&body.email)?,
        password: Password::parse_new(body.password)?,
        invite: body
            .invite_code
            .as_deref()
            .map(|raw| {
                MailToken::parse(raw).map_err(|_| {
                    ValidationError::new("inviteCode", "not an invitation code this server made")
                })
            })
            .transpose()?,
    };
    let profile = state.app.register(&tenant, registration, ip).await?;
    Ok((StatusCode::CREATED, Json(profile.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LoginBody {
    /// Username or email (clients of the original API send either here).
    #[serde(alias = "email", alias = "login")]
    username: String,
    password: String,
    mfa_token: Option<String>,
    device_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TokensBody {
    access_token: String,
    refresh_token: String,
    ws_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_expires_in: i64,
    ws_expires_in: i64,
    session_id: String,
    device_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserBody>,
}

impl TokensBody {
    fn new(tokens: TokenPair, user: Option<Profile>) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            ws_token: tokens.ws_token,
            token_type: "Bearer",
            expires_in: tokens.access_expires_in,
            refresh_expires_in: tokens.refresh_expires_in,
            ws_expires_in: tokens.ws_expires_in,
            session_id: tokens.session.to_string(),
            device_id: tokens.device.to_string(),
            user: user.map(UserBody::from),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = TokensBody), (status = 401, body = crate::http::docs::ErrorBody), (status = 429, body = crate::http::docs::ErrorBody)))]
async fn login(
    State(state): State<HttpState>,
    CurrentTenant(tenant): CurrentTenant,
    Client(client): Client,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Json<TokensBody>> {
    let attempt = LoginAttempt {
        login: LoginName::parse(&body.username)?,
        password: Password::parse_existing(body.password)?,
        mfa_token: body.mfa_token,
        device: body.device_id.as_deref().map(DeviceId::parse).transpose()?,
        client,
    };
    let login = state.app.login(&tenant, attempt).await?;
    Ok(Json(TokensBody::new(login.tokens, Some(login.user))))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokensBody), (status = 401, body = crate::http::docs::ErrorBody)))]
async fn refresh(
    State(state): State<HttpState>,
    CurrentTenant(tenant): CurrentTenant,
    Client(client): Client,
    ApiJson(body): ApiJson<RefreshBody>,
) -> ApiResult<Json<TokensBody>> {
    let tokens = state
        .app
        .refresh(&tenant, &body.refresh_token, Some(&client))
        .await?;
    Ok(Json(TokensBody::new(tokens, None)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LogoutBody {
    #[serde(default)]
    all_devices: bool,
}

/// The body is optional: an empty `POST /auth/logout` ends this device's session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body(content = LogoutBody, description = "optional"),
    responses((status = 204), (status = 401, body = crate::http::docs::ErrorBody)), security(("bearer" = [])))]
async fn logout(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let all_devices = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        serde_json::from_slice::<LogoutBody>(&body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("invalid body: {e}")))?
            .all_devices
    };
    state
        .app
        .logout(&caller.principal, all_devices, Some(&client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = UserBody), (status = 401, body = crate::http::docs::ErrorBody)), security(("bearer" = [])))]
async fn me(State(state): State<HttpState>, caller: Caller) -> ApiResult<Json<UserBody>> {
    Ok(Json(state.app.me(&caller.principal).await?.into()))
}

/// A profile change: only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProfileBody {
    /// 1–64 characters.
    display_name: Option<String>,
    /// A ready image you uploaded; `null` removes the avatar.
    #[serde(default, deserialize_with = "crate::http::extract::present")]
    #[schema(value_type = Option<String>)]
    avatar_media_id: Option<Option<String>>,
    /// At most 140 characters; empty clears it.
    status_text: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/auth/me", tag = "auth", request_body = ProfileBody,
    responses((status = 200, body = UserBody), (status = 400, body = crate::http::docs::ErrorBody), (status = 422, body = crate::http::docs::ErrorBody), (status = 429, body = crate::http::docs::ErrorBody)), security(("bearer" = [])))]
async fn update_me(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<Json<UserBody>> {
    let avatar = match body.avatar_media_id {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => Some(Some(MediaId::parse(&raw).ok_or_else(|| {
            ApiError(crate::app::AppError {
                field: Some("avatarMediaId"),
                ..crate::app::AppError::new(
                    ErrorCode::ValidationFailed,
                    "avatarMediaId: must be a media id",
                )
            })
        })?)),
    };
    let edit = ProfileEdit {
        display_name: body
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()?,
        avatar,
        status_text: body
            .status_text
            .as_deref()
            .map(StatusText::parse)
            .transpose()?,
    };
    let profile = state
        .app
        .update_profile(&caller.tenant, &caller.principal, edit)
        .await?;
    Ok(Json(profile.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// Changes your password. Every other session ends and its sockets close; this one stays.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordBody,
    responses((status = 204), (status = 400, body = crate::http::docs::ErrorBody), (status = 401, body = crate::http::docs::ErrorBody), (status = 429, body = crate::http::docs::ErrorBody)), security(("bearer" = [])))]
async fn change_password(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    let current = Password::parse_existing(body.current_password)?;
    let new = Password::parse_new(body.new_password)?;
    state
        .app
        .change_password(&caller.tenant, &caller.principal, current, new, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MfaSetupBody {
    secret: String,
    otpauth_uri: String,
}

#[utoipa::path(post, path = "/api/v1/auth/mfa/setup", tag = "auth",
    responses((status = 200, body = MfaSetupBody), (status = 409, body = crate::http::docs::ErrorBody)), security(("bearer" = [])))]
async fn mfa_setup(
    State(state): State<HttpState>,
    caller: Caller,
) -> ApiResult<Json<MfaSetupBody>> {
    let setup = state.app.mfa_setup(&caller.principal).await?;
    Ok(Json(MfaSetupBody {
        secret: setup.secret,
        otpauth_uri: setup.otpauth_uri,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MfaEnableBody {
    /// The account's password: changing MFA re-authenticates.
    password: String,
    secret: String,
    token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/mfa/enable", tag = "auth", request_body = MfaEnableBody,
    responses((status = 200, description = "`{ \"enabled\": true }`"), (status = 401, body = crate::http::docs::ErrorBody), (status = 429, body = crate::http::docs::ErrorBody)), security(("bearer" = [])))]
async fn mfa_enable(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    ApiJson(body): ApiJson<MfaEnableBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let request = MfaRequest {
        password: Password::parse_existing(body.password)?,
        secret: Some(&body.secret),
        code: &body.token,
    };
    state
        .app
        .mfa_enable(&caller.tenant, &caller.principal, request, Some(&client))
        .await?;
    Ok(Json(serde_json::json!({ "enabled": true })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MfaTokenBody {
    token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/mfa/verify", tag = "auth", request_body = MfaTokenBody,
    responses((status = 200, description = "`{ \"verified\": true, \"accessToken\": … }`"), (status = 401, body = crate::http::docs::ErrorBody), (status = 429, body = crate::http::docs::ErrorBody)), security(("bearer" = [])))]
async fn mfa_verify(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<MfaTokenBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let access_token = state
        .app
        .mfa_verify(&caller.tenant, &caller.principal, &body.token)
        .await?;
    Ok(Json(
        serde_json::json!({ "verified": true, "accessToken": access_token }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MfaDisableBody {
    /// The account's password: changing MFA re-authenticates.
    password: String,
    token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/mfa/disable", tag = "auth", request_body = MfaDisableBody,
    responses((status = 200, description = "`{ \"enabled\": false }`"), (status = 401, body = crate::http::docs::ErrorBody), (status = 429, body = crate::http::docs::ErrorBody)), security(("bearer" = [])))]
async fn mfa_disable(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    ApiJson(body): ApiJson<MfaDisableBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let request = MfaRequest {
        password: Password::parse_existing(body.password)?,
        secret: None,
        code: &body.token,
    };
    state
        .app
        .mfa_disable(&caller.tenant, &caller.principal, request, Some(&client))
        .await?;
    Ok(Json(serde_json::json!({ "enabled": false })))
}
