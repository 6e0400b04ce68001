//! Metadata and downloads. Who may read an item: its uploader, and the current members of a
//! conversation in which a message carries it; anyone else (another tenant included) is told
//! the item does not exist.

use super::media_not_found;
use crate::app::auth::{Grant, GrantKind};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::media::{MediaStatus, MediaType, Variant, blob_key};
use crate::domain::{Action, MediaId, Subject, Tenant, TenantId, UserId};
use crate::ports::{BlobRead, ByteRange, DownloadAs, MediaItem};
use std::time::Duration;

/// A `Range` header's one range, before the size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// `bytes=a-b`.
    Span(u64, u64),
    /// `bytes=a-`.
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Last(u64),
}

impl RangeRequest {
    /// The bytes of an object of `size` this asks for; `None` when none of them exist.
    pub fn resolve(self, size: u64) -> Option<ByteRange> {
        let last = size.checked_sub(1)?;
        let (start, end) = match self {
            RangeRequest::Span(a, b) if a <= b => (a, b.min(last)),
            RangeRequest::Span(..) => return None,
            RangeRequest::From(a) => (a, last),
            RangeRequest::Last(0) => return None,
            RangeRequest::Last(n) => (size.saturating_sub(n), last),
        };
        (start <= last).then_some(ByteRange { start, end })
    }
}

/// How a download reaches the client.
#[allow(missing_debug_implementations)]
pub enum Download {
    /// To the store itself, by a presigned URL of at most five minutes.
    Redirect(String),
    /// Streamed by the server.
    Stream {
        /// The bytes (the range, when one was asked for and satisfiable).
        read: BlobRead,
        /// The range served, `None` for the whole object.
        range: Option<ByteRange>,
        /// The whole object's size.
        size: u64,
        /// `Content-Type`.
        content_type: String,
        /// `Content-Disposition`.
        disposition: String,
        /// A strong validator: objects never change once an item is ready.
        etag: String,
    },
}

impl App {
    /// An item the caller may read.
    #[tracing::instrument(name = "media", skip_all, fields(tenant = %tenant.id))]
    pub async fn media(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: MediaId,
    ) -> AppResult<MediaItem> {
        self.charge_media_read(tenant, caller).await?;
        self.readable(&tenant.id, caller, id).await
    }

    /// Charges a metadata read or a completion check to the caller's and the tenant's
    /// `media.read` budgets.
    pub(super) async fn charge_media_read(&self, tenant: &Tenant, caller: UserId) -> AppResult<()> {
        let subjects = [
            Subject::User(&tenant.id, caller),
            Subject::Tenant(&tenant.id),
        ];
        self.charge(tenant.tier, Action::MediaRead, &subjects).await
    }

    async fn readable(
        &self,
        tenant: &TenantId,
        caller: UserId,
        id: MediaId,
    ) -> AppResult<MediaItem> {
        if !self.store.may_read_media(tenant, id, caller).await? {
            return Err(media_not_found());
        }
        self.store
            .media(tenant, id)
            .await?
            .ok_or_else(media_not_found)
    }

    /// A download of one variant, for a caller who authenticated with a token.
    #[tracing::instrument(name = "download", skip_all, fields(tenant = %tenant.id))]
    pub async fn download(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: MediaId,
        variant: Variant,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        self.charge(
            tenant.tier,
            Action::Download,
            &[
                Subject::User(&tenant.id, caller),
                Subject::Tenant(&tenant.id),
            ],
        )
        .await?;
        let item = self.readable(&tenant.id, caller, id).await?;
        self.serve(&tenant.id, &item, variant, range).await
    }

    /// A download through a signed URL (`downloadUrl`), for clients that cannot send a header
    /// (`<img src>`). The grant was issued to a reader; reading rights are checked again.
    pub async fn download_granted(
        &self,
        id: MediaId,
        token: &str,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        let grant = self
            .tokens
            .verify_grant(GrantKind::Download, token)
            .ok()
            .filter(|grant| grant.media == id)
            .ok_or_else(|| {
                AppError::unauthenticated("the download URL is invalid or has expired")
            })?;
        // The same budgets as a download with a header: a signed URL is no way around them.
        let tenant = self
            .store
            .tenant(&grant.tenant)
            .await?
            .ok_or_else(media_not_found)?;
        self.charge(
            tenant.tier,
            Action::Download,
            &[
                Subject::User(&tenant.id, grant.user),
                Subject::Tenant(&tenant.id),
            ],
        )
        .await?;
        let variant = grant
            .variant
            .as_deref()
            .and_then(Variant::parse)
            .unwrap_or(Variant::Original);
        let item = self
            .readable(&grant.tenant, grant.user, grant.media)
            .await?;
        self.serve(&grant.tenant, &item, variant, range).await
    }

    /// A signed URL the caller's browser can load one variant from for a few minutes: the
    /// store's presigned URL, or the server's own signed path.
    #[tracing::instrument(name = "download_url", skip_all, fields(tenant = %tenant.id))]
    pub async fn download_url(
        &self,
        tenant: &Tenant,
        caller: UserId,
        item: &MediaItem,
        variant: Variant,
    ) -> AppResult<String> {
        let ttl = self.media.download_url_ttl;
        if let Some(url) = self.presigned_download(&tenant.id, item, variant).await? {
            return Ok(url);
        }
        let grant = Grant {
            kind: GrantKind::Download,
            tenant: tenant.id.clone(),
            user: caller,
            media: item.id,
            variant: Some(variant.as_str().to_owned()),
        };
        let expires_at = self.clock.now_ms() + i64::try_from(ttl.as_millis()).unwrap_or(300_000);
        let token = self.sign_grant(&grant, expires_at)?;
        Ok(format!("/api/v1/media/{}/content?token={token}", item.id))
    }

    /// The store's presigned URL for one variant (at most 5 minutes), `None` when the store
    /// cannot sign (local disk).
    async fn presigned_download(
        &self,
        tenant: &TenantId,
        item: &MediaItem,
        variant: Variant,
    ) -> AppResult<Option<String>> {
        let (content_type, disposition) = presentation(item, variant)?;
        let ttl = self.media.download_url_ttl.min(Duration::from_secs(300));
        let download = DownloadAs {
            content_type: &content_type,
            disposition: &disposition,
        };
        let key = blob_key(tenant, item.id, variant);
        let presigned = self.media.blobs.presign_get(&key, ttl, download).await?;
        Ok(presigned.map(|p| p.url))
    }

    async fn serve(
        &self,
        tenant: &TenantId,
        item: &MediaItem,
        variant: Variant,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        if let Some(url) = self.presigned_download(tenant, item, variant).await? {
            return Ok(Download::Redirect(url));
        }
        let (content_type, disposition) = presentation(item, variant)?;
        let key = blob_key(tenant, item.id, variant);
        let size = variant_size(item, variant)?;
        let range = match range {
            None => None,
            Some(asked) => Some(asked.resolve(size).ok_or_else(|| {
                AppError::new(
                    ErrorCode::RangeNotSatisfiable,
                    format!("the range lies outside the file ({size} bytes)"),
                )
            })?),
        };
        let read = self.media.blobs.get(&key, range).await?;
        Ok(Download::Stream {
            etag: format!("\"{}-{}-{}\"", item.id, variant.as_str(), read.size),
            size: read.size,
            read,
            range,
            content_type,
            disposition,
        })
    }
}

/// The size of one variant of an item.
fn variant_size(item: &MediaItem, variant: Variant) -> AppResult<u64> {
    if variant == Variant::Original {
        return Ok(item.size);
    }
    item.variants
        .iter()
        .find(|v| v.variant == variant)
        .map(|v| v.size)
        .ok_or_else(media_not_found)
}

/// How a variant is served: its type, and `inline` or `attachment` with a safe file name.
/// Anything that could run in a browser (HTML, SVG, scripts, PDF) is only ever an attachment.
fn presentation(item: &MediaItem, variant: Variant) -> AppResult<(String, String)> {
    match &item.status {
        MediaStatus::Ready => {}
        MediaStatus::Failed(reason) => {
            return Err(AppError::new(
                ErrorCode::MediaNotReady,
                format!("processing failed: {reason}"),
            ));
        }
        MediaStatus::Deleting => return Err(media_not_found()),
        MediaStatus::Pending | MediaStatus::AwaitingUpload => {
            return Err(AppError::new(
                ErrorCode::MediaNotReady,
                "the file is still being processed; retry in a moment",
            )
            .retry_after(Duration::from_secs(1)));
        }
    }
    let (content_type, inline) = if variant == Variant::Original {
        let inline = MediaType::from_mime(&item.content_type).is_some_and(MediaType::inline);
        (item.content_type.clone(), inline)
    } else {
        let rendition = item
            .variants
            .iter()
            .find(|v| v.variant == variant)
            .ok_or_else(media_not_found)?;
        (rendition.content_type.clone(), true)
    };
    let disposition = content_disposition(inline, item.filename.as_str());
    Ok((content_type, disposition))
}

/// `inline` or `attachment`, with an ASCII fallback name and the exact name in RFC 5987 form.
fn content_disposition(inline: bool, filename: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = filename
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != '%' && c != ';' => c,
            _ => '_',
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        let r = |start, end| Some(ByteRange { start, end });
        assert_eq!(RangeRequest::Span(0, 9).resolve(100), r(0, 9));
        assert_eq!(RangeRequest::Span(90, 500).resolve(100), r(90, 99));
        assert_eq!(RangeRequest::From(50).resolve(100), r(50, 99));
        assert_eq!(RangeRequest::Last(10).resolve(100), r(90, 99));
        assert_eq!(RangeRequest::Last(500).resolve(100), r(0, 99));
        assert_eq!(RangeRequest::From(100).resolve(100), None);
        assert_eq!(RangeRequest::Span(5, 2).resolve(100), None);
        assert_eq!(RangeRequest::From(0).resolve(0), None);
    }

    #[test]
    fn dispositions_cannot_be_broken_out_of() {
        let d = content_disposition(false, "a\";b=c résumé.pdf");
        assert_eq!(
            d,
            "attachment; filename=\"a__b=c r_sum_.pdf\"; filename*=UTF-8''a%22%3Bb%3Dc%20r%C3%A9sum%C3%A9.pdf"
        );
        assert!(content_disposition(true, "cat.png").starts_with("inline; "));
    }
}
