//! What one tenant's servers are given instead of the platform's credentials: a signing key
//! derived from the master secret, and the names of its two PostgreSQL login roles (a rotation
//! moves from one to the other) and of its Redis user. The server (which signs, verifies and
//! creates the roles) and the operator (which hands them out) derive them here, so both always
//! agree.

use base64::Engine as _;
use chemchat_crds::contract::{JWT_KEY_LABEL, TENANT_ROLE_PREFIX};
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretBox};
use sha2::{Digest, Sha256};

/// Bytes of a tenant's signing key: HS256's natural key size.
pub const KEY_BYTES: usize = 32;

/// One tenant's JWT signing key. `Debug` never shows it.
pub struct TenantKey(SecretBox<[u8; KEY_BYTES]>);

impl TenantKey {
    /// The key of `tenant` under the platform's `master` secret: HKDF-SHA256 with the versioned
    /// label as salt and the tenant id as info. Knowing one tenant's key tells nothing of
    /// another's, nor of the master.
    pub fn derive(master: &[u8], tenant: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(JWT_KEY_LABEL.as_bytes()), master);
        let mut key = Box::new([0u8; KEY_BYTES]);
        // 32 bytes is far below HKDF-SHA256's limit of 255 × 32, so expanding cannot fail.
        if hkdf.expand(tenant.as_bytes(), key.as_mut_slice()).is_err() {
            unreachable!("HKDF-SHA256 expands to 32 bytes");
        }
        Self(SecretBox::new(key))
    }

    /// The key as configuration text (standard base64): what the operator writes into a
    /// tenant's Secret as `CHEMCHAT_JWT_TENANT_KEY`.
    pub fn to_text(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.expose_secret())
    }

    /// Reads [`TenantKey::to_text`]'s form back; `None` unless it is 32 bytes of base64.
    pub fn from_text(text: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()?;
        let key: [u8; KEY_BYTES] = bytes.try_into().ok()?;
        Some(Self(SecretBox::new(Box::new(key))))
    }

    /// The key's bytes, for the one place that signs and verifies with them.
    pub fn bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl Clone for TenantKey {
    fn clone(&self) -> Self {
        Self(SecretBox::new(Box::new(*self.0.expose_secret())))
    }
}

impl std::fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TenantKey(<redacted>)")
    }
}

/// One of a tenant's two PostgreSQL login roles. A role has one password, so a new password
/// goes to the role the tenant's servers do not use, and the one they use keeps working until
/// every pod has rolled to the new URL; only then is it retired (`NOLOGIN`, sessions ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoleSlot {
    /// The first role: [`database_role`], the only one before there were two.
    A,
    /// The second role.
    B,
}

impl RoleSlot {
    /// Both slots.
    pub const ALL: [RoleSlot; 2] = [RoleSlot::A, RoleSlot::B];

    /// The slot a rotation moves to from this one.
    pub fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }

    /// `a` or `b`: what the command line and the operator's annotations say.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
        }
    }

    /// Reads [`RoleSlot::as_str`]'s form back.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "a" => Some(Self::A),
            "b" => Some(Self::B),
            _ => None,
        }
    }
}

impl std::fmt::Display for RoleSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The PostgreSQL role of `tenant` in `database` (its slot `a`): [`TENANT_ROLE_PREFIX`] and 32
/// hex digits of SHA-256 over both. A hash, because a tenant id (up to 63 characters) and a
/// prefix do not fit PostgreSQL's 63-byte names; the database is part of it because roles are
/// shared by every database of a PostgreSQL server, and two ChemChat installations on one server
/// may both have a tenant `acme`.
pub fn database_role(database: &str, tenant: &str) -> String {
    database_role_in_slot(database, tenant, RoleSlot::A)
}

/// The PostgreSQL role of `tenant` in `database` in `slot`. Slot `a` hashes as roles did before
/// there were two (so an existing tenant's role is its slot `a`); slot `b` adds its name to the
/// hash. Both carry [`TENANT_ROLE_PREFIX`], so row-level security pins both.
pub fn database_role_in_slot(database: &str, tenant: &str, slot: RoleSlot) -> String {
    let mut hasher = Sha256::new()
        .chain_update(database.as_bytes())
        .chain_update([0u8])
        .chain_update(tenant.as_bytes());
    if slot == RoleSlot::B {
        hasher.update([0u8]);
        hasher.update(slot.as_str().as_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{TENANT_ROLE_PREFIX}{hex}")
}

/// The Redis ACL user of `tenant` under the key prefix `prefix`: [`TENANT_ROLE_PREFIX`] and the
/// tenant id, then, when there is a prefix, 16 hex digits of its SHA-256. ACL users are shared by
/// every installation on a Redis, as keys are not: two of them (or two tests) with a tenant
/// `acme` under different prefixes get two users. A tenant id has no `_`, so the two parts never
/// run into another tenant's name.
pub fn redis_user(prefix: &str, tenant: &str) -> String {
    if prefix.is_empty() {
        return format!("{TENANT_ROLE_PREFIX}{tenant}");
    }
    let digest = Sha256::digest(prefix.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{TENANT_ROLE_PREFIX}{tenant}_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &[u8] = b"the-platform-master-secret-0123456789";

    #[test]
    fn each_tenant_has_its_own_stable_key() {
        let acme = TenantKey::derive(MASTER, "acme");
        assert_eq!(acme.bytes(), TenantKey::derive(MASTER, "acme").bytes());
        assert_ne!(acme.bytes(), TenantKey::derive(MASTER, "globex").bytes());
        assert_ne!(
            acme.bytes(),
            TenantKey::derive(b"another-master-secret-0123456789", "acme").bytes()
        );
        assert_ne!(acme.bytes(), &MASTER[..KEY_BYTES]);
    }

    #[test]
    fn the_derivation_is_hkdf_sha256_with_the_versioned_label() {
        // RFC 5869's construction computed by hand: PRK = HMAC(salt, IKM); T(1) = HMAC(PRK, info ‖ 1).
        use hkdf::hmac::{Hmac, Mac};
        let mut extract = Hmac::<Sha256>::new_from_slice(b"chemchat-jwt-v1").expect("any key size");
        extract.update(MASTER);
        let prk = extract.finalize().into_bytes();
        let mut expand = Hmac::<Sha256>::new_from_slice(&prk).expect("any key size");
        expand.update(b"acme");
        expand.update(&[1]);
        let expected = expand.finalize().into_bytes();
        assert_eq!(TenantKey::derive(MASTER, "acme").bytes(), &expected[..]);
    }

    #[test]
    fn the_text_form_round_trips_and_refuses_other_sizes() {
        let key = TenantKey::derive(MASTER, "acme");
        let text = key.to_text();
        assert_eq!(
            text.len(),
            44,
            "32 bytes of padded base64: never read as a number"
        );
        assert_eq!(
            TenantKey::from_text(&text).map(|k| k.bytes().to_vec()),
            Some(key.bytes().to_vec())
        );
        assert!(TenantKey::from_text("c2hvcnQ=").is_none());
        assert!(TenantKey::from_text("not base64!").is_none());
    }

    #[test]
    fn debug_hides_the_key() {
        let key = TenantKey::derive(MASTER, "acme");
        assert!(!format!("{key:?}").contains(&key.to_text()));
    }

    #[test]
    fn role_names_fit_postgres_and_differ_per_database_and_tenant() {
        let long = "a".repeat(63);
        let role = database_role("chemchat", &long);
        assert!(role.len() <= 63, "{role}");
        assert!(role.starts_with(TENANT_ROLE_PREFIX));
        assert!(
            role.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
        assert_eq!(role, database_role("chemchat", &long));
        assert_ne!(
            database_role("chemchat", "acme"),
            database_role("chemchat", "globex")
        );
        assert_ne!(
            database_role("chemchat", "acme"),
            database_role("other", "acme")
        );
    }

    #[test]
    fn the_two_slots_are_two_roles_and_slot_a_is_the_role_of_old() {
        let a = database_role_in_slot("chemchat", "acme", RoleSlot::A);
        let b = database_role_in_slot("chemchat", "acme", RoleSlot::B);
        assert_eq!(a, database_role("chemchat", "acme"));
        // The hash of slot `a` is the one roles were made with before there were two.
        let digest = Sha256::digest(b"chemchat\0acme");
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        assert_eq!(a, format!("{TENANT_ROLE_PREFIX}{hex}"));
        assert_ne!(a, b);
        assert!(
            b.starts_with(TENANT_ROLE_PREFIX) && b.len() == a.len(),
            "{b}"
        );
        assert_ne!(b, database_role_in_slot("chemchat", "globex", RoleSlot::B));
        for slot in RoleSlot::ALL {
            assert_eq!(RoleSlot::parse(slot.as_str()), Some(slot));
            assert_eq!(slot.other().other(), slot);
        }
        assert_eq!(RoleSlot::parse("c"), None);
    }

    #[test]
    fn redis_users_are_the_tenant_and_differ_per_prefix() {
        assert_eq!(redis_user("", "acme"), "chemchat_tenant_acme");
        let prefixed = redis_user("staging:", "acme");
        assert!(prefixed.starts_with("chemchat_tenant_acme_"), "{prefixed}");
        assert_eq!(prefixed, redis_user("staging:", "acme"));
        assert_ne!(prefixed, redis_user("prod:", "acme"));
    }
}
