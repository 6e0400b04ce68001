//! A cluster's `spec.ingress.trustedProxies`, checked and joined into the server's
//! `CHEMCHAT_TRUSTED_PROXIES`. The schema's `format: cidr` rejects bad entries at admission, but
//! a CRD applied without it (or an older one) would let them through, and a server given one
//! refuses to start: the operator checks again rather than roll out pods that cannot run.

use std::net::IpAddr;

use chemchat_crds::ChemChatCluster;

use crate::plan::InvalidSpec;

/// JSON path of the field, for status messages.
pub const FIELD: &str = "spec.ingress.trustedProxies";

/// The comma-separated CIDRs for `CHEMCHAT_TRUSTED_PROXIES`, `None` when the cluster lists none
/// (then the variable stays unset and the server trusts no forwarding header).
pub fn trusted_proxies(cluster: &ChemChatCluster) -> Result<Option<String>, InvalidSpec> {
    let listed = cluster
        .spec
        .ingress
        .as_ref()
        .map(|ingress| ingress.trusted_proxies.as_slice())
        .unwrap_or_default();
    for (index, cidr) in listed.iter().enumerate() {
        if !is_cidr(cidr) {
            return Err(InvalidSpec {
                field: format!("{FIELD}[{index}]"),
                message: format!("`{cidr}` is not a CIDR such as 10.244.0.0/16 or 10.0.0.7/32"),
            });
        }
    }
    Ok((!listed.is_empty()).then(|| listed.join(",")))
}

/// `address/prefix` as Go's `net.ParseCIDR` (the API server's `format: cidr`) accepts it: an
/// IPv4 or IPv6 address and a decimal prefix no longer than the address.
fn is_cidr(value: &str) -> bool {
    let Some((address, prefix)) = value.split_once('/') else {
        return false;
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let bits = if address.is_ipv4() { 32 } else { 128 };
    // `u8::from_str` takes a leading `+`, which Go refuses.
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u16>().is_ok_and(|p| p <= bits)
}

#[cfg(test)]
mod tests {
    use super::is_cidr;

    #[test]
    fn cidrs() {
        for good in [
            "10.244.0.0/16",
            "10.0.0.7/32",
            "0.0.0.0/0",
            "fd00::/8",
            "::1/128",
        ] {
            assert!(is_cidr(good), "{good}");
        }
        for bad in [
            "10.244.0.0",
            "10.244.0.0/33",
            "10.244.0.0/+8",
            "10.244.0.0/",
            "fd00::/129",
            "ingress-nginx",
            "10.244.0.0/16,10.0.0.0/8",
            " 10.0.0.0/8",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }
}
