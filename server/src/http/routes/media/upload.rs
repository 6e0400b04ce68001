//! Upload handlers.

use super::{idle_limited, media_id};
use crate::app::ErrorCode;
use crate::app::media::{DirectUploadRequest, Upload};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Caller, ClientIp};
use crate::http::routes::chat::ApiQuery;
use crate::ports::chat::{MediaView, rfc3339};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Bytes a multipart body may carry besides the file (boundaries, part headers, small fields).
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Fields other than `file` a multipart upload may carry (they are ignored).
const MAX_OTHER_FIELDS: usize = 8;

/// `POST /media/upload`: `multipart/form-data` with the file in the field `file`. The type is
/// sniffed from the bytes; the client's `Content-Type` is ignored.
#[utoipa::path(post, path = "/api/v1/media/upload", tag = "media",
    request_body(content_type = "multipart/form-data", description = "the file in the field `file`"),
    responses((status = 201, body = MediaView), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn multipart(
    State(state): State<HttpState>,
    caller: Caller,
    ClientIp(address): ClientIp,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<MediaView>)> {
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "expected multipart/form-data with the file in the field `file`",
            )
        })?;
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut others = 0;
    let field = loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidBody,
                    format!("malformed multipart body: {e}"),
                )
            })?
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidBody, "no field `file` in the form"))?;
        if field.name() == Some("file") {
            break field;
        }
        others += 1;
        if others > MAX_OTHER_FIELDS {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                "no field `file` in the form",
            ));
        }
    };
    let upload = Upload {
        filename: field.file_name().unwrap_or("file").to_owned(),
        // The request's length bounds the file's: a body larger than the limit is refused
        // before a byte is stored.
        declared_size: length.map(|l| l.saturating_sub(MULTIPART_OVERHEAD)),
        body: idle_limited(field),
        address,
    };
    let item = state
        .app
        .upload(&caller.tenant, caller.principal.user, upload)
        .await?;
    Ok((StatusCode::CREATED, Json(MediaView::from(&item))))
}

/// `POST /media/uploads` body: a file the client will put straight to storage.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectUploadBody {
    /// The file's name.
    pub filename: String,
    /// Its exact size in bytes.
    pub size: u64,
    /// Its type (checked against the bytes at completion).
    pub content_type: String,
}

/// Where to put the bytes of an announced upload.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectUploadView {
    /// The item's id; complete it with `POST /media/{id}/complete` after the `PUT`.
    pub media_id: String,
    /// `PUT` the bytes here: a presigned storage URL, or a path of this server (relative to its
    /// origin) when media are on local disk.
    pub upload_url: String,
    /// Headers the `PUT` must carry.
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working (RFC 3339).
    pub expires_at: String,
    /// The item, `awaiting_upload`.
    pub media: MediaView,
}

/// `POST /media/uploads`.
#[utoipa::path(post, path = "/api/v1/media/uploads", tag = "media",
    request_body = DirectUploadBody,
    responses((status = 201, body = DirectUploadView), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn announce(
    State(state): State<HttpState>,
    caller: Caller,
    ClientIp(address): ClientIp,
    ApiJson(body): ApiJson<DirectUploadBody>,
) -> ApiResult<(StatusCode, Json<DirectUploadView>)> {
    let request = DirectUploadRequest {
        filename: body.filename,
        size: body.size,
        content_type: body.content_type,
        address,
    };
    let upload = state
        .app
        .announce_upload(&caller.tenant, caller.principal.user, request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DirectUploadView {
            media_id: upload.item.id.to_string(),
            upload_url: upload.url,
            headers: upload.headers.into_iter().collect(),
            expires_at: rfc3339(upload.expires_at_ms),
            media: MediaView::from(&upload.item),
        }),
    ))
}

/// The signed upload URL's query.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub(super) token: String,
}

/// `PUT /media/{id}/blob?token=…`: the bytes of a direct upload when media are on local disk.
/// The signed token is the authorisation; it names the item, so the path's id must match.
#[utoipa::path(put, path = "/api/v1/media/{id}/blob", tag = "media",
    params(("id" = String, Path, description = "media id"),
        ("token" = String, Query, description = "the signed token of the `uploadUrl`")),
    request_body(content_type = "application/octet-stream", description = "exactly the announced bytes"),
    responses((status = 204, description = "stored; complete the upload next"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn receive(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    body: Body,
) -> ApiResult<StatusCode> {
    let id = media_id(&id)?;
    state
        .app
        .receive_upload(id, &query.token, idle_limited(body.into_data_stream()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /media/{id}/complete`: checks the stored bytes (size, sniffed type) and makes the item
/// pending (images) or ready.
#[utoipa::path(post, path = "/api/v1/media/{id}/complete", tag = "media",
    params(("id" = String, Path, description = "media id")),
    responses((status = 200, body = MediaView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MediaView>> {
    let id = media_id(&id)?;
    let item = state
        .app
        .complete_upload(&caller.tenant, caller.principal.user, id)
        .await?;
    Ok(Json(MediaView::from(&item)))
}
