//! Where a tenant's names live in Redis: every key and channel of a tenant starts with
//! `<prefix>chemchat:<tenant>:`, so one ACL user per tenant (`acl.rs`) can be held to
//! `~<prefix>chemchat:<tenant>:*` and `&<prefix>chemchat:<tenant>:*`. A tenant id is a DNS
//! label (no `:`), so no tenant's pattern reaches into another's names, and names shared by
//! tenants go under `_shared`, which no tenant id can be.

use crate::domain::TenantId;

/// What every key and channel of `tenant` starts with.
pub(super) fn tenant_root(prefix: &str, tenant: &TenantId) -> String {
    format!("{prefix}chemchat:{tenant}:")
}

/// What the keys shared by tenants (budgets of client addresses on a multi-tenant server)
/// start with.
pub(super) fn shared_root(prefix: &str) -> String {
    format!("{prefix}chemchat:_shared:")
}

/// The channel on which `tenant`'s ended sessions travel.
pub(super) fn control_channel(prefix: &str, tenant: &TenantId) -> String {
    format!("{}control", tenant_root(prefix, tenant))
}

/// The pattern of every tenant's control channel, for a server that serves them all.
pub(super) fn control_pattern(prefix: &str) -> String {
    format!("{}chemchat:*:control", escape_glob(prefix))
}

/// The tenant whose name `channel` is, when it is one of this installation's. A receiver trusts
/// this, not what the message says: an ACL user can publish only under its own tenant's names.
pub(super) fn channel_tenant(prefix: &str, channel: &str) -> Option<TenantId> {
    let rest = channel.strip_prefix(prefix)?.strip_prefix("chemchat:")?;
    let (tenant, _) = rest.split_once(':')?;
    TenantId::parse(tenant).ok()
}

/// Whether `channel` is a control channel (of whichever tenant).
pub(super) fn is_control_channel(channel: &str) -> bool {
    channel.ends_with(":control")
}

/// The ACL pattern of every key and channel of `tenant`: its root, glob characters of the
/// prefix escaped so they match only themselves.
pub(super) fn tenant_pattern(prefix: &str, tenant: &TenantId) -> String {
    format!("{}chemchat:{tenant}:*", escape_glob(prefix))
}

/// `text` with Redis's glob characters (`*`, `?`, `[`, `]`, `\`) escaped.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TenantId {
        TenantId::parse(id).expect("tenant")
    }

    #[test]
    fn a_channel_names_its_tenant_only_under_the_prefix() {
        let acme = t("acme");
        let control = control_channel("p:", &acme);
        assert_eq!(control, "p:chemchat:acme:control");
        assert_eq!(channel_tenant("p:", &control), Some(acme.clone()));
        assert!(is_control_channel(&control));
        assert_eq!(channel_tenant("q:", &control), None);
        assert_eq!(channel_tenant("p:", "p:chemchat:control"), None);
        assert_eq!(channel_tenant("p:", "p:chemchat:_shared:rl:x"), None);
        assert_eq!(
            channel_tenant("p:", "p:chemchat:acme:conv:1"),
            Some(acme.clone())
        );
        assert!(shared_root("p:").starts_with("p:chemchat:"));
        assert!(!shared_root("p:").starts_with(&tenant_root("p:", &acme)));
    }

    #[test]
    fn patterns_escape_the_prefix() {
        assert_eq!(
            tenant_pattern("a*b[1]?:", &t("acme")),
            r"a\*b\[1\]\?:chemchat:acme:*"
        );
        assert_eq!(control_pattern(""), "chemchat:*:control");
    }
}
