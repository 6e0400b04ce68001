//! Recovery and proof of address by email: `POST /api/v1/auth/password/forgot`,
//! `/auth/password/reset`, `/auth/email/verify` and `/auth/email/verification` (routed with the
//! other `/auth` routes).

use crate::domain::{Email, MailToken, Password};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, Caller, Client, CurrentTenant};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ForgotBody {
    /// The account's email address.
    email: String,
}

/// Mails a password reset link (good for 30 minutes, once) when the address is an account's.
/// The answer is the same, and as quick, whether it is or not.
#[utoipa::path(post, path = "/api/v1/auth/password/forgot", tag = "auth", request_body = ForgotBody,
    responses((status = 202), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 501, body = ErrorBody)))]
pub(super) async fn forgot(
    State(state): State<HttpState>,
    CurrentTenant(tenant): CurrentTenant,
    Client(client): Client,
    ApiJson(body): ApiJson<ForgotBody>,
) -> ApiResult<StatusCode> {
    let email = Email::parse(&body.email)?;
    state.app.forgot_password(&tenant, &email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ResetBody {
    /// The token from the mail.
    token: String,
    /// At least 12 characters.
    new_password: String,
}

/// Sets a new password with the token from a reset mail. Every session of the account ends and
/// its sockets close.
#[utoipa::path(post, path = "/api/v1/auth/password/reset", tag = "auth", request_body = ResetBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn reset(
    State(state): State<HttpState>,
    CurrentTenant(tenant): CurrentTenant,
    Client(client): Client,
    ApiJson(body): ApiJson<ResetBody>,
) -> ApiResult<StatusCode> {
    let token = MailToken::parse(&body.token)?;
    let password = Password::parse_new(body.new_password)?;
    state
        .app
        .reset_password(&tenant, &token, password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct VerifyBody {
    /// The token from the mail.
    token: String,
}

/// Confirms the account's email address with the token from a confirmation mail.
#[utoipa::path(post, path = "/api/v1/auth/email/verify", tag = "auth", request_body = VerifyBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn verify(
    State(state): State<HttpState>,
    CurrentTenant(tenant): CurrentTenant,
    Client(client): Client,
    ApiJson(body): ApiJson<VerifyBody>,
) -> ApiResult<StatusCode> {
    let token = MailToken::parse(&body.token)?;
    state.app.verify_email(&tenant, &token, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails you a new confirmation link for your address (nothing when it is confirmed already).
#[utoipa::path(post, path = "/api/v1/auth/email/verification", tag = "auth",
    responses((status = 202), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 501, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn resend(
    State(state): State<HttpState>,
    caller: Caller,
) -> ApiResult<StatusCode> {
    state
        .app
        .send_verification(&caller.tenant, &caller.principal)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
