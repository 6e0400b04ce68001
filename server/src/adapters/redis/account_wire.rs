//! The account channel's wire form on Redis: one channel per tenant
//! (`<prefix>chemchat:<tenant>:account`), to which an instance subscribes once it has connected
//! users of the tenant. A message is one JSON header line (origin, tenant, conversation, users,
//! membership, time) and the client frame, as the conversation channels carry it.

use crate::domain::{ConversationId, TenantId, UserId};
use crate::ports::{AccountEnvelope, Membership};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What precedes the frame.
#[derive(Debug, Serialize, Deserialize)]
struct AccountHeader {
    o: String,
    t: String,
    c: Option<ConversationId>,
    u: Vec<UserId>,
    /// `true`: joined; `false`: left; absent: news about the account itself.
    j: Option<bool>,
    a: i64,
}

/// The channel of a tenant's account news.
pub(super) fn account_channel(prefix: &str, tenant: &TenantId) -> String {
    format!("{prefix}chemchat:{tenant}:account")
}

/// Whether `channel` is an account channel (conversation channels end in a UUID).
pub(super) fn is_account_channel(channel: &str) -> bool {
    channel.ends_with(":account")
}

pub(super) fn encode_account(origin: &str, envelope: &AccountEnvelope) -> Vec<u8> {
    let header = AccountHeader {
        o: origin.to_owned(),
        t: envelope.tenant.as_str().to_owned(),
        c: envelope.conversation,
        u: envelope.users.clone(),
        j: envelope.membership.map(|m| m == Membership::Joined),
        a: envelope.at_ms,
    };
    let mut bytes = serde_json::to_vec(&header).unwrap_or_default();
    bytes.push(b'\n');
    bytes.extend_from_slice(&envelope.frame);
    bytes
}

pub(super) fn decode_account(payload: &[u8]) -> Option<(String, AccountEnvelope)> {
    let split = payload.iter().position(|b| *b == b'\n')?;
    let header: AccountHeader = serde_json::from_slice(payload.get(..split)?).ok()?;
    let envelope = AccountEnvelope {
        tenant: TenantId::parse(&header.t).ok()?,
        users: header.u,
        conversation: header.c,
        membership: header.j.map(|joined| {
            if joined {
                Membership::Joined
            } else {
                Membership::Left
            }
        }),
        at_ms: header.a,
        frame: Bytes::copy_from_slice(payload.get(split + 1..)?),
    };
    Some((header.o, envelope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_envelopes_round_trip() {
        let envelope = AccountEnvelope {
            tenant: TenantId::parse("acme").unwrap(),
            users: vec![UserId::generate(), UserId::generate()],
            conversation: Some(ConversationId::generate()),
            membership: Some(Membership::Left),
            at_ms: 42,
            frame: Bytes::from_static(br#"{"event":"member.removed","data":{}}"#),
        };
        let (origin, back) = decode_account(&encode_account("me", &envelope)).unwrap();
        assert_eq!((origin.as_str(), back), ("me", envelope.clone()));
        assert!(is_account_channel(&account_channel(
            "p:",
            &TenantId::parse("acme").unwrap()
        )));
        assert!(decode_account(b"not json\n{}").is_none());
        let notice = AccountEnvelope {
            conversation: None,
            membership: None,
            ..envelope
        };
        let (_, back) = decode_account(&encode_account("me", &notice)).unwrap();
        assert_eq!(back, notice);
    }
}
