//! The wire protocol of api.md's WebSocket section, independent of the transport: the client's
//! envelope `{event, data, ackId?}`, the server's frames, acks, errors and close codes.

use crate::app::{AppError, ErrorCode};
use crate::ports::chat::StoredEvent;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

/// Close code: no valid authentication within the deadline, a token that does not verify or
/// expired, or a session that ended.
pub const CLOSE_UNAUTHENTICATED: u16 = 4401;
/// Close code: the client did not read its frames fast enough; reconnect and `sync`.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Close code: more frames than the per-connection rate limit allows.
pub const CLOSE_RATE_LIMITED: u16 = 4029;
/// Close code: the user's connection limit or the tenant's `maxConnections` is reached.
pub const CLOSE_TOO_MANY_CONNECTIONS: u16 = 4429;
/// Close code: nothing heard from the client within the heartbeat timeout.
pub const CLOSE_HEARTBEAT_TIMEOUT: u16 = 4408;
/// Close code (RFC 6455 "message too big"): a frame over the configured maximum.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code (RFC 6455 "service restart"): the server is draining; `reconnect` said when.
pub const CLOSE_RESTART: u16 = 1012;

/// Why the server closes a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// One of the `CLOSE_*` codes.
    pub code: u16,
    /// Human-readable reason (at most 123 bytes, the close frame's limit).
    pub reason: String,
}

impl CloseReason {
    /// A close with this code and reason.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        while reason.len() > 123 {
            reason.pop();
        }
        Self { code, reason }
    }
}

/// One serialised server frame. Cloning shares the bytes, so a frame fanned out to a thousand
/// connections is serialised once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: Bytes,
    /// When the change it carries was committed (Unix milliseconds), for the delivery latency
    /// measured when the frame is written; 0 for anything else.
    committed_at_ms: i64,
}

impl Frame {
    /// Serialises `{"event": event, "data": data}`.
    pub fn new(event: &str, data: &impl Serialize) -> Self {
        #[derive(Serialize)]
        struct Out<'a, T> {
            event: &'a str,
            data: &'a T,
        }
        // Serialising a `Value` or a derived struct into a Vec cannot fail.
        Self::from_bytes(Bytes::from(
            serde_json::to_vec(&Out { event, data }).unwrap_or_default(),
        ))
    }

    /// The frame of a committed event: `{"event": kind, "data": payload}`.
    pub fn event(event: &StoredEvent) -> Self {
        Self::new(event.kind().as_str(), &event.payload)
    }

    /// Wraps bytes that are already a serialised frame (from the bus).
    pub fn from_bytes(bytes: Bytes) -> Self {
        Self {
            bytes,
            committed_at_ms: 0,
        }
    }

    /// Wraps the frame of a change committed at `at_ms`.
    pub fn committed(bytes: Bytes, at_ms: i64) -> Self {
        Self {
            bytes,
            committed_at_ms: at_ms,
        }
    }

    /// When the change it carries was committed; 0 when it carries none.
    pub fn committed_at_ms(&self) -> i64 {
        self.committed_at_ms
    }

    /// The bytes, shared.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

/// A parsed client frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The event name.
    pub event: String,
    /// Its data (`null` when absent).
    pub data: Value,
    /// Echoed back in the `ack`; a number or a string.
    pub ack_id: Option<Value>,
}

/// A client frame that could not be parsed: the error, and the ackId if one was readable.
#[derive(Debug)]
pub struct BadFrame {
    /// To answer with a failed ack instead of an `error` event.
    pub ack_id: Option<Value>,
    /// What was wrong.
    pub error: AppError,
}

/// Parses `{event, data?, ackId?}`.
pub fn parse(text: &str) -> Result<Inbound, BadFrame> {
    let bad = |ack_id, message: String| BadFrame {
        ack_id,
        error: AppError::new(ErrorCode::InvalidBody, message),
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad(None, format!("malformed JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(bad(
            None,
            "a frame is a JSON object {event, data, ackId?}".into(),
        ));
    };
    let ack_id = match object.remove("ackId") {
        None | Some(Value::Null) => None,
        Some(id @ (Value::Number(_) | Value::String(_))) => Some(id),
        Some(_) => return Err(bad(None, "ackId must be a number or a string".into())),
    };
    let event = match object.remove("event") {
        Some(Value::String(event)) if !event.is_empty() => event,
        _ => return Err(bad(ack_id, "missing field `event` (a string)".into())),
    };
    Ok(Inbound {
        event,
        data: object.remove("data").unwrap_or(Value::Null),
        ack_id,
    })
}

/// The `{code, message}` of an error event or a failed ack (internal details never leave).
pub fn error_body(error: &AppError) -> Value {
    let mut body = json!({ "code": error.code.as_str(), "message": error.message });
    if let Some(field) = error.field {
        body["field"] = json!(field);
    }
    if let Some(after) = error.retry_after {
        body["retryAfterMs"] = json!(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
    }
    body
}

/// A successful ack.
pub fn ack_ok(ack_id: &Value, result: &Value) -> Frame {
    Frame::new(
        "ack",
        &json!({ "ackId": ack_id, "ok": true, "result": result }),
    )
}

/// A failed ack.
pub fn ack_err(ack_id: &Value, error: &AppError) -> Frame {
    Frame::new(
        "ack",
        &json!({ "ackId": ack_id, "ok": false, "error": error_body(error) }),
    )
}

/// An `error` event, for a failed frame without an ackId.
pub fn error_event(error: &AppError) -> Frame {
    Frame::new("error", &error_body(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_envelopes_and_rejects_bad_ones() {
        let ok = parse(r#"{"event":"ping","ackId":3}"#).expect("parses");
        assert_eq!(ok.event, "ping");
        assert_eq!(ok.data, Value::Null);
        assert_eq!(ok.ack_id, Some(json!(3)));
        let bad = parse(r#"{"data":{},"ackId":"a"}"#).expect_err("no event");
        assert_eq!(bad.ack_id, Some(json!("a")));
        assert!(parse("{nope").is_err());
        assert!(parse("[1,2]").is_err());
        assert!(parse(r#"{"event":"x","ackId":{}}"#).is_err());
    }

    #[test]
    fn frames_serialise_once_and_truncate_reasons() {
        let frame = Frame::new("pong", &json!({}));
        assert_eq!(&frame.bytes()[..], br#"{"event":"pong","data":{}}"#);
        assert_eq!(CloseReason::new(1000, "x".repeat(200)).reason.len(), 123);
    }
}
