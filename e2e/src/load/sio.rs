//! Socket.IO v5 over Engine.IO v4's WebSocket transport, as much of it as the benchmark needs:
//! the open packet, the namespace CONNECT with `auth`, events with and without acknowledgement,
//! acknowledgements, and the server's pings (which a client must answer or be dropped).

use super::frames::{Incoming, IncomingData};
use serde::Deserialize;
use serde_json::{Value, json};

/// The Engine.IO answer to a ping.
pub const PONG: &str = "3";

/// A packet from the server, reduced to what the benchmark reads.
#[derive(Debug)]
pub enum Packet {
    /// Engine.IO open (the handshake's first packet).
    Open,
    /// Engine.IO ping: answer [`PONG`].
    Ping,
    /// The namespace accepted the CONNECT.
    Connected,
    /// The namespace refused it, with the server's reason.
    Refused(String),
    /// The server disconnected the socket.
    Disconnected,
    /// An event or an acknowledgement, as the JSON protocol's envelope would carry it.
    Frame(Incoming),
    /// Anything else (noop, upgrade probes).
    Other,
}

/// The data of an acknowledgement: `{ok, result}` or `{ok: false, error}`.
#[derive(Debug, Default, Deserialize)]
struct AckReply {
    ok: Option<bool>,
}

/// Reads one text frame.
pub fn decode(text: &str) -> Packet {
    let Some(message) = text.strip_prefix('4') else {
        return match text.as_bytes().first() {
            Some(b'0') => Packet::Open,
            Some(b'2') => Packet::Ping,
            Some(b'1') => Packet::Disconnected,
            _ => Packet::Other,
        };
    };
    let kind = message.as_bytes().first().copied();
    let rest = message.get(1..).unwrap_or_default();
    match kind {
        Some(b'0') => Packet::Connected,
        Some(b'1') => Packet::Disconnected,
        Some(b'4') => Packet::Refused(rest.to_owned()),
        Some(b'2') => {
            let body = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            match serde_json::from_str::<(String, IncomingData)>(body) {
                Ok((event, data)) => Packet::Frame(Incoming { event, data }),
                Err(_) => Packet::Other,
            }
        }
        Some(b'3') => {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let (id, body) = rest.split_at(digits);
            match (id.parse::<u64>(), serde_json::from_str::<(AckReply,)>(body)) {
                (Ok(id), Ok((reply,))) => Packet::Frame(Incoming {
                    event: "ack".to_owned(),
                    data: IncomingData {
                        ack_id: Some(id),
                        ok: reply.ok,
                        ..IncomingData::default()
                    },
                }),
                _ => Packet::Other,
            }
        }
        _ => Packet::Other,
    }
}

/// The namespace CONNECT with the token as `auth`.
pub fn connect(token: &str) -> String {
    format!("40{}", json!({ "token": token }))
}

/// An event asking for an acknowledgement under `ack_id`.
pub fn event(event: &str, data: &Value, ack_id: u64) -> String {
    format!("42{ack_id}{}", json!([event, data]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_a_socketio_server_writes() {
        assert!(matches!(
            decode(r#"0{"sid":"x","pingInterval":25000}"#),
            Packet::Open
        ));
        assert!(matches!(decode("2"), Packet::Ping));
        assert!(matches!(decode(r#"40{"sid":"y"}"#), Packet::Connected));
        assert!(matches!(
            decode(r#"44{"message":"not_found: no"}"#),
            Packet::Refused(_)
        ));
        let Packet::Frame(created) = decode(r#"42["message.created",{"content":"lg|1|2|x"}]"#)
        else {
            panic!("an event");
        };
        assert_eq!(created.event, "message.created");
        assert_eq!(created.data.content.as_deref(), Some("lg|1|2|x"));
        let Packet::Frame(ack) = decode(r#"4317[{"ok":true,"result":{"seq":3}}]"#) else {
            panic!("an ack");
        };
        assert_eq!(
            (ack.event.as_str(), ack.data.ack_id, ack.data.ok),
            ("ack", Some(17), Some(true))
        );
        assert_eq!(event("ping", &json!({}), 5), r#"425["ping",{}]"#);
    }
}
