//! Whose key signs what: every tenant's tokens are signed and verified with a key of that tenant
//! alone, derived from the platform's master secret (`chemchat_backends::TenantKey`). A server
//! given only one tenant's derived key can sign and verify for that tenant and no other, so a
//! compromised tenant pod cannot mint another tenant's tokens.

use crate::domain::TenantId;
use crate::ports::VapidKey;
use base64::Engine as _;
use chemchat_backends::TenantKey;
use hkdf::Hkdf;
use jsonwebtoken::{DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretBox};
use serde::Deserialize;
use sha2::Sha256;

/// The HKDF salt of a tenant's VAPID key; a new version is a new key for every tenant.
const VAPID_LABEL: &str = "chemchat-vapid-v1";

/// The keys a server holds.
pub enum SigningKeys {
    /// The platform's master secret: any tenant's key is derived from it on use (a few HMACs,
    /// cheaper than caching keys for whatever tenant a token names).
    Master(SecretBox<[u8]>),
    /// One tenant's key and nothing else: a pinned server that was not given the master.
    Tenant {
        /// The tenant it signs for.
        tenant: TenantId,
        /// Its key.
        key: TenantKey,
    },
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKeys::Master(_) => f.write_str("SigningKeys::Master(<redacted>)"),
            SigningKeys::Tenant { tenant, .. } => {
                write!(f, "SigningKeys::Tenant({tenant}, <redacted>)")
            }
        }
    }
}

/// One tenant's key in the forms `jsonwebtoken` signs and verifies with.
pub(super) struct KeyPair {
    pub(super) encoding: EncodingKey,
    pub(super) decoding: DecodingKey,
}

impl SigningKeys {
    /// Keys derived from the platform's `master` secret.
    pub fn master(master: &[u8]) -> Self {
        SigningKeys::Master(SecretBox::new(master.into()))
    }

    /// `tenant`'s key alone.
    pub fn tenant(tenant: TenantId, key: TenantKey) -> Self {
        SigningKeys::Tenant { tenant, key }
    }

    /// The key of `tenant`; `None` when this server holds no key for it.
    pub(super) fn of(&self, tenant: &TenantId) -> Option<KeyPair> {
        self.with_tenant_key(tenant, |bytes| KeyPair {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
        })
    }

    /// The tenant's VAPID key pair for Web Push, derived from its signing key (HKDF-SHA256,
    /// its own label), so every replica that can sign for the tenant pushes as the same
    /// application server with no further secret to distribute, and no tenant shares another's.
    pub fn vapid(&self, tenant: &TenantId) -> Option<VapidKey> {
        self.with_tenant_key(tenant, |bytes| {
            let hkdf = Hkdf::<Sha256>::new(Some(VAPID_LABEL.as_bytes()), bytes);
            // One 32-byte string in about 2^32 is not a P-256 scalar; the next counter is.
            (0u8..=u8::MAX).find_map(|counter| {
                let mut scalar = [0u8; 32];
                hkdf.expand(&[counter], &mut scalar).ok()?;
                VapidKey::from_bytes(&scalar)
            })
        })
        .flatten()
    }

    fn with_tenant_key<T>(&self, tenant: &TenantId, use_key: impl FnOnce(&[u8]) -> T) -> Option<T> {
        match self {
            SigningKeys::Master(master) => {
                let derived = TenantKey::derive(master.expose_secret(), tenant.as_str());
                Some(use_key(derived.bytes()))
            }
            SigningKeys::Tenant { tenant: own, key } if own == tenant => Some(use_key(key.bytes())),
            SigningKeys::Tenant { .. } => None,
        }
    }
}

/// The tenant a token says it is for, read before its signature is checked, to pick the key to
/// check it with. Nothing else of an unverified token is believed: a token naming another
/// tenant than its signer's fails verification under that tenant's key.
pub(super) fn claimed_tenant(token: &str) -> Option<TenantId> {
    #[derive(Deserialize)]
    struct Tid {
        tid: String,
    }
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Tid = serde_json::from_slice(&json).ok()?;
    TenantId::parse(&claims.tid).ok()
}
