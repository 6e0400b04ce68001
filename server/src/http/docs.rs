//! API documentation: the OpenAPI 3.1 document generated from the handlers (`/api/docs-json`)
//! and an interactive page (`/api/docs`) that is one self-contained HTML file compiled into the
//! binary, so it works offline and nothing is downloaded at build or run time.

use super::HttpState;
use super::routes::media::{download as media_get, upload as media_put};
use super::routes::{
    account, admin, auth, chat, invites, notify, people, recovery, reports, search, settings,
};
use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The error shape every 4xx/5xx carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error's details.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `conversation_not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request id, also in the server log.
    pub request_id: Option<String>,
    /// The offending field, for validation errors.
    pub field: Option<String>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(title = "ChemChat API", description = "Multi-tenant real-time chat. Send `X-Tenant-ID` \
        to name the tenant; authenticate with `Authorization: Bearer <accessToken>` from \
        `POST /api/v1/auth/login`. The real-time protocol (JSON WebSocket at `/api/v1/ws`, \
        Socket.IO at `/socket.io/`) is described at `/api/docs/realtime`."),
    paths(
        auth::register, auth::login, auth::refresh, auth::logout, auth::me, auth::update_me,
        auth::change_password, account::delete_me, account::export, account::warnings,
        recovery::forgot,
        recovery::reset, recovery::verify, recovery::resend, auth::mfa_setup,
        auth::mfa_enable, auth::mfa_verify, auth::mfa_disable,
        chat::list, chat::create, chat::show, chat::update, chat::add_members,
        chat::remove_member, chat::mute, chat::unmute,
        chat::send, chat::history, chat::edit, chat::remove, chat::edits, chat::react,
        chat::unreact, chat::read, chat::delivered, chat::sync, search::messages, search::conversations,
        media_put::multipart, media_put::announce, media_put::receive, media_put::complete,
        media_get::details, media_get::download, media_get::content,
        people::list, people::show, admin::users, admin::update_user, admin::delete_user,
        admin::audit,
        admin::usage, settings::settings, settings::update_settings, settings::set_legal_hold, reports::file, reports::queue, reports::resolve,
        invites::create, invites::list, invites::revoke,
        notify::vapid_public_key, notify::subscribe, notify::subscriptions, notify::unsubscribe,
        notify::preferences, notify::set_preferences, notify::set_conversation_notifications,
        notify::unsubscribe_mail, notify::unsubscribe_page,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, login, tokens, MFA"),
        (name = "conversations", description = "DMs and groups, members and roles"),
        (name = "messages", description = "Sending, history, edits, deletions, reactions, receipts"),
        (name = "sync", description = "Catching up after being offline"),
        (name = "search", description = "Full-text search over your messages; conversations by name"),
        (name = "media", description = "Uploads, attachments' metadata, thumbnails and downloads"),
        (name = "people", description = "The directory, profiles and presence"),
        (name = "admin", description = "Accounts and the audit trail, for moderators and administrators"),
        (name = "moderation", description = "Reports of messages and the moderation queue"),
        (name = "notifications", description = "Web Push subscriptions and notification preferences"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// `/api/docs` and `/api/docs-json`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/docs", get(page))
        .route("/api/docs/", get(page))
        .route("/api/docs-json", get(document))
        .route("/api/docs/docs.js", get(script))
        .route("/api/docs/docs.css", get(style))
        .route("/api/docs/realtime", get(realtime))
}

/// The real-time protocol for client authors — the JSON WebSocket and its Socket.IO mapping —
/// which OpenAPI cannot describe: the project's `docs/realtime.md`, compiled in.
async fn realtime() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        include_str!("../../../docs/realtime.md"),
    )
}

async fn document() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}

async fn page() -> impl IntoResponse {
    (
        [(header::CONTENT_SECURITY_POLICY, super::headers::CSP)],
        Html(include_str!("docs.html")),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("docs.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("docs.css"),
    )
}
