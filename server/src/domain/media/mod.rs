//! Media: what an uploaded file is (sniffed type), what it is called (file name), which
//! renditions exist (variants), and where it is in its life (status).

mod file_name;
mod sniff;

pub use file_name::FileName;
pub use sniff::{MediaClass, MediaType, SNIFF_BYTES, SniffRefusal, sniff};

use super::{MediaId, TenantId, Tier};

/// Attachments one message may carry.
pub const MAX_ATTACHMENTS: usize = 10;

/// The largest file one upload may hold, by tier, unless configured
/// (`CHEMCHAT_MEDIA_MAX_UPLOAD_BYTES`): a phone video fits Free; Enterprise archives fit 1 GiB.
pub fn default_upload_cap(tier: Tier) -> u64 {
    const MIB: u64 = 1024 * 1024;
    match tier {
        Tier::Free => 25 * MIB,
        Tier::Pro => 100 * MIB,
        Tier::Enterprise => 1024 * MIB,
    }
}

/// A stored rendition of a media item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// The file as uploaded (for images: with its metadata removed).
    Original,
    /// A small picture for lists and message bubbles (fits 320×320).
    Thumb,
    /// A screen-sized picture (fits 1280×1280), for images larger than that.
    Preview,
}

impl Variant {
    /// Its name in keys, URLs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Original => "original",
            Variant::Thumb => "thumb",
            Variant::Preview => "preview",
        }
    }

    /// The variant a client named.
    pub fn parse(raw: &str) -> Option<Self> {
        [Variant::Original, Variant::Thumb, Variant::Preview]
            .into_iter()
            .find(|v| v.as_str() == raw)
    }
}

/// Where a media item is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaStatus {
    /// Announced for a direct upload; the bytes have not been confirmed yet.
    AwaitingUpload,
    /// Stored; the pipeline has not finished with it (images only).
    Pending,
    /// Ready to download.
    Ready,
    /// The pipeline refused it; the reason says why.
    Failed(String),
    /// Unreferenced past its grace period; the sweeper is removing it.
    Deleting,
}

impl MediaStatus {
    /// The name stored and shown (`failed` without its reason).
    pub fn as_str(&self) -> &'static str {
        match self {
            MediaStatus::AwaitingUpload => "awaiting_upload",
            MediaStatus::Pending => "pending",
            MediaStatus::Ready => "ready",
            MediaStatus::Failed(_) => "failed",
            MediaStatus::Deleting => "deleting",
        }
    }

    /// A stored status, with the stored failure reason.
    pub fn from_stored(name: &str, reason: Option<String>) -> Option<Self> {
        Some(match name {
            "awaiting_upload" => MediaStatus::AwaitingUpload,
            "pending" => MediaStatus::Pending,
            "ready" => MediaStatus::Ready,
            "failed" => MediaStatus::Failed(reason.unwrap_or_default()),
            "deleting" => MediaStatus::Deleting,
            _ => return None,
        })
    }

    /// Whether a message may carry it: stored bytes that are not on their way out.
    pub fn attachable(&self) -> bool {
        matches!(self, MediaStatus::Pending | MediaStatus::Ready)
    }
}

/// The object key of one rendition: `<tenant>/<media id>/<variant>`, so a tenant's media share
/// one prefix (what the operator deletes with the tenant) and an item's renditions another.
pub fn blob_key(tenant: &TenantId, media: MediaId, variant: Variant) -> String {
    format!("{tenant}/{media}/{}", variant.as_str())
}

/// The key prefix of every rendition of one item.
pub fn blob_prefix(tenant: &TenantId, media: MediaId) -> String {
    format!("{tenant}/{media}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_nest_tenant_then_item_then_variant() {
        let tenant = TenantId::parse("acme").expect("valid");
        let id = MediaId::generate();
        let key = blob_key(&tenant, id, Variant::Thumb);
        assert_eq!(key, format!("acme/{id}/thumb"));
        assert!(key.starts_with(&blob_prefix(&tenant, id)));
    }

    #[test]
    fn statuses_and_variants_round_trip() {
        for status in [
            MediaStatus::AwaitingUpload,
            MediaStatus::Pending,
            MediaStatus::Ready,
            MediaStatus::Failed("too large".into()),
            MediaStatus::Deleting,
        ] {
            let reason = match &status {
                MediaStatus::Failed(r) => Some(r.clone()),
                _ => None,
            };
            assert_eq!(
                MediaStatus::from_stored(status.as_str(), reason),
                Some(status)
            );
        }
        for v in [Variant::Original, Variant::Thumb, Variant::Preview] {
            assert_eq!(Variant::parse(v.as_str()), Some(v));
        }
        assert_eq!(Variant::parse("../etc"), None);
    }
}
