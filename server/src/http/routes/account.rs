//! The account's own data: `DELETE /api/v1/auth/me`, `GET /api/v1/auth/me/export` and
//! `GET /api/v1/auth/me/warnings` (routed with the other `/auth` routes).

use super::auth::UserBody;
use crate::app::people::AccountExport;
use crate::domain::Password;
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, Caller, Client};
use crate::ports::chat::{MediaView, MessageView, rfc3339};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Proof that it is really you, again.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct DeleteAccountBody {
    /// Your password.
    password: String,
    /// A current TOTP code; required when MFA is on.
    code: Option<String>,
}

/// Deletes your account, for good. Every session ends and every socket closes; you leave every
/// conversation; your profile is erased (others see "Deleted user"); your messages are kept or
/// erased as your tenant decides; media no message carries are deleted; the audit trail keeps
/// the events under a pseudonym.
#[utoipa::path(delete, path = "/api/v1/auth/me", tag = "auth", request_body = DeleteAccountBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn delete_me(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    ApiJson(body): ApiJson<DeleteAccountBody>,
) -> ApiResult<StatusCode> {
    let password = Password::parse_existing(body.password)?;
    state
        .app
        .delete_own_account(
            &caller.tenant,
            &caller.principal,
            password,
            body.code.as_deref(),
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything you put into the tenant, as one JSON document, streamed: your profile, your
/// messages and the media you uploaded (their metadata; download each by its id).
#[utoipa::path(get, path = "/api/v1/auth/me/export", tag = "auth",
    responses((status = 200, content_type = "application/json",
            description = "`{format: \"chemchat.account-export.v1\", profile, messages: \
                [Message…] (oldest first, deleted ones left out), media: [Media…]}`"),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn export(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
) -> ApiResult<Response> {
    let export = state
        .app
        .export_account(&caller.tenant, &caller.principal, &client)
        .await?;
    let body = Body::from_stream(futures::stream::unfold(
        Writer::Head(Box::new(export)),
        |writer| async move { writer.next().await },
    ));
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"chemchat-export.json\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// Where the streamed document is.
enum Writer {
    Head(Box<AccountExport>),
    Messages(Box<AccountExport>, bool),
    Media(Box<AccountExport>, bool),
    Done,
}

type Chunk = Result<Bytes, std::io::Error>;

impl Writer {
    /// The next piece of the document and what follows it; a failure mid-way ends the body
    /// early, so the client sees a truncated document rather than a complete-looking one.
    async fn next(self) -> Option<(Chunk, Writer)> {
        match self {
            Writer::Head(export) => {
                let profile = serde_json::to_string(&UserBody::from(export.profile.clone()))
                    .unwrap_or_default();
                let head = format!(
                    "{{\"format\":\"chemchat.account-export.v1\",\"profile\":{profile},\"messages\":["
                );
                Some((Ok(Bytes::from(head)), Writer::Messages(export, true)))
            }
            Writer::Messages(mut export, first) => match export.next_messages().await {
                Ok(Some(page)) => {
                    let views = page.iter().map(MessageView::from);
                    let chunk = join(views, first);
                    Some((Ok(chunk), Writer::Messages(export, false)))
                }
                Ok(None) => Some((
                    Ok(Bytes::from_static(b"],\"media\":[")),
                    Writer::Media(export, true),
                )),
                Err(e) => Some((Err(broken(&e)), Writer::Done)),
            },
            Writer::Media(mut export, first) => match export.next_media().await {
                Ok(Some(page)) => {
                    let chunk = join(page.iter().map(MediaView::from), first);
                    Some((Ok(chunk), Writer::Media(export, false)))
                }
                Ok(None) => Some((Ok(Bytes::from_static(b"]}")), Writer::Done)),
                Err(e) => Some((Err(broken(&e)), Writer::Done)),
            },
            Writer::Done => None,
        }
    }
}

/// Items as the members of a JSON array that may already have some.
fn join<T: Serialize>(items: impl Iterator<Item = T>, first: bool) -> Bytes {
    let mut out = Vec::new();
    for (i, item) in items.enumerate() {
        if i > 0 || !first {
            out.push(b',');
        }
        // Views are plain data; writing them to memory cannot fail.
        let _ = serde_json::to_writer(&mut out, &item);
    }
    Bytes::from(out)
}

fn broken(e: &crate::app::AppError) -> std::io::Error {
    tracing::warn!(error = %e, "account export: stopped part-way");
    std::io::Error::other("the export could not be completed")
}

/// A warning from the tenant's moderators.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct WarningView {
    /// When (RFC 3339).
    at: String,
    /// The warning, in the moderator's words.
    reason: String,
}

/// `GET /auth/me/warnings` answer.
#[derive(Serialize, ToSchema)]
pub(super) struct WarningList {
    /// Newest first, the latest hundred.
    items: Vec<WarningView>,
}

/// The warnings the tenant's moderators gave you, newest first.
#[utoipa::path(get, path = "/api/v1/auth/me/warnings", tag = "auth",
    responses((status = 200, body = WarningList), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn warnings(
    State(state): State<HttpState>,
    caller: Caller,
) -> ApiResult<Json<WarningList>> {
    let warnings = state
        .app
        .my_warnings(&caller.tenant, &caller.principal)
        .await?;
    Ok(Json(WarningList {
        items: warnings
            .into_iter()
            .map(|w| WarningView {
                at: rfc3339(w.at_ms),
                reason: w.reason,
            })
            .collect(),
    }))
}
