//! The gateway protocol subset the benchmark speaks, and the payload that carries the send time.

use serde::Deserialize;
use serde_json::json;
use std::sync::OnceLock;
use std::time::Instant;

/// A received envelope, reduced to the fields the benchmark reads (the rest is skipped by serde
/// without allocating).
#[derive(Debug, Deserialize)]
pub struct Incoming {
    /// The event name.
    pub event: String,
    /// The fields of `data` the benchmark needs.
    #[serde(default)]
    pub data: IncomingData,
}

/// The interesting part of `data` for `ack`, `message.created` and `authenticated`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingData {
    /// `ack`: the request it answers.
    pub ack_id: Option<u64>,
    /// `ack`: whether the request succeeded.
    pub ok: Option<bool>,
    /// `message.created`: the content, which carries the send time.
    pub content: Option<String>,
    /// `message.created`: when the server took the send (RFC 3339, milliseconds).
    pub timestamp: Option<String>,
}

/// The process-wide time origin; every send time is measured from it so a delivery on any
/// connection can be compared with its send on another.
pub fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Microseconds since [`origin`].
pub fn now_micros() -> u64 {
    u64::try_from(origin().elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The wall clock at [`origin`], in microseconds since the Unix epoch, so a server timestamp
/// (same machine, same clock) can be placed on the generator's time line.
fn origin_wall_micros() -> i64 {
    static WALL: OnceLock<i64> = OnceLock::new();
    *WALL.get_or_init(|| {
        let since_origin = origin().elapsed();
        let wall = time::OffsetDateTime::now_utc() - since_origin;
        i64::try_from(wall.unix_timestamp_nanos() / 1000).unwrap_or(0)
    })
}

/// A server timestamp (RFC 3339) as microseconds since [`origin`]; negative if earlier.
pub fn server_micros(timestamp: &str) -> Option<i64> {
    let at = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .ok()?;
    let wall = i64::try_from(at.unix_timestamp_nanos() / 1000).ok()?;
    Some(wall - origin_wall_micros())
}

/// Whether a message's deliveries are sampled for the split of their latency at the server's
/// clock: one message in eight, so parsing timestamps costs the generator little. Chosen by a
/// hash of the intended send time, not by the time itself, whose steps at round rates are
/// multiples of eight microseconds (every message or none).
pub fn split_sampled(sent_micros: u64) -> bool {
    sent_micros.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61 == 0
}

/// What a benchmark message's content carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The rate step it belongs to.
    pub step: usize,
    /// When the scheduler meant it to leave (microseconds since [`origin`]).
    pub intended: u64,
    /// When its connection's writer wrote it: after `intended` by the generator's own delay,
    /// which the split separates from the network's and the server's.
    pub written: u64,
}

/// The content of a benchmark message: its [`Stamp`] and padding up to `size` bytes (messages
/// of realistic length, not 20-byte toys).
pub fn content(stamp: Stamp, size: usize) -> String {
    let Stamp {
        step,
        intended,
        written,
    } = stamp;
    let mut text = format!("lg|{step}|{intended}|{written}|");
    let pad = size.saturating_sub(text.len());
    text.extend(std::iter::repeat_n('x', pad));
    text
}

/// The stamp carried by a benchmark message's content.
pub fn parse_content(content: &str) -> Option<Stamp> {
    let mut parts = content.split('|');
    if parts.next()? != "lg" {
        return None;
    }
    Some(Stamp {
        step: parts.next()?.parse().ok()?,
        intended: parts.next()?.parse().ok()?,
        written: parts.next()?.parse().ok()?,
    })
}

/// The `conversation.join` envelope.
pub fn join(conversation: &str, ack_id: u64) -> String {
    json!({ "event": "conversation.join", "data": { "conversationId": conversation }, "ackId": ack_id })
        .to_string()
}

/// The `message.send` envelope.
pub fn send(conversation: &str, content: &str, client_message_id: &str, ack_id: u64) -> String {
    json!({
        "event": "message.send",
        "data": { "conversationId": conversation, "content": content, "clientMessageId": client_message_id },
        "ackId": ack_id,
    })
    .to_string()
}

/// Ack ids of sends put the step in the high bits so an ack is counted in its step.
pub fn send_ack_id(step: usize, n: u64) -> u64 {
    ((step as u64 + 1) << 40) | (n & ((1 << 40) - 1))
}

/// The step of a send's ack id; `None` for the join's (below 2^40).
pub fn ack_step(ack_id: u64) -> Option<usize> {
    let high = ack_id >> 40;
    (high > 0).then(|| (high - 1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_round_trips() {
        let stamp = Stamp {
            step: 3,
            intended: 123_456,
            written: 123_789,
        };
        let text = content(stamp, 64);
        assert_eq!(text.len(), 64);
        assert_eq!(parse_content(&text), Some(stamp));
        assert_eq!(parse_content("hello"), None);
    }

    #[test]
    fn server_timestamps_land_on_the_generator_time_line() {
        let now = time::OffsetDateTime::now_utc();
        let text = now
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format");
        let at = server_micros(&text).expect("parses");
        let here = i64::try_from(now_micros()).expect("fits");
        assert!((at - here).abs() < 50_000, "{at} vs {here}");
        assert_eq!(server_micros("yesterday"), None);
    }

    #[test]
    fn one_message_in_eight_is_sampled_at_any_rate() {
        for rate in [800u64, 1_000, 1_200, 1_600] {
            let step = 1_000_000 / rate;
            let sampled = (0..8_000)
                .filter(|k| split_sampled(12_345 + k * step))
                .count();
            assert!(
                (700..1_300).contains(&sampled),
                "{rate}/s: {sampled} of 8000"
            );
        }
    }

    #[test]
    fn ack_ids_carry_the_step() {
        assert_eq!(ack_step(send_ack_id(0, 7)), Some(0));
        assert_eq!(ack_step(send_ack_id(5, 1 << 41)), Some(5));
        assert_eq!(ack_step(1), None);
    }
}
