//! The client events of api.md's table, parsed once into a typed enum: the event name is
//! matched here, at the edge, and nowhere else.

use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{ConversationId, MessageId, ValidationError};
use crate::ports::Status;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A conversation named by an event.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    /// The conversation.
    pub conversation_id: ConversationId,
}

/// `message.send`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Send {
    /// Where.
    pub conversation_id: ConversationId,
    /// The text (may be empty when there are attachments).
    #[serde(default)]
    pub content: String,
    /// The idempotency key, if the client made one.
    pub client_message_id: Option<String>,
    /// Media of the sender's to attach.
    #[serde(default)]
    pub attachments: Vec<crate::domain::MediaId>,
}

/// `message.read` / `message.delivered`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Where.
    pub conversation_id: ConversationId,
    /// Up to which seq.
    pub seq: i64,
}

/// `message.edit`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Edit {
    /// Which message.
    pub message_id: MessageId,
    /// The new text.
    pub content: String,
    /// Refuse unless the message is at this version.
    pub expected_version: Option<i64>,
}

/// A message named by an event.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// The message.
    pub message_id: MessageId,
}

/// `reaction.add` / `reaction.remove`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    /// The message.
    pub message_id: MessageId,
    /// The emoji, not yet checked.
    pub emoji: String,
}

#[derive(Debug, Deserialize)]
struct Token {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Deserialize)]
struct Since {
    since: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PresenceSet {
    status: String,
}

/// One client frame, typed.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// `authenticate {token}`.
    Authenticate(String),
    /// `ping`.
    Ping,
    /// `conversation.join`.
    Join(Room),
    /// `conversation.leave`.
    Leave(Room),
    /// `message.send`.
    Send(Send),
    /// `message.edit`.
    Edit(Edit),
    /// `message.delete`.
    Delete(Target),
    /// `reaction.add` (`true`) / `reaction.remove` (`false`).
    React(Reaction, bool),
    /// `typing.start` (`true`) / `typing.stop` (`false`).
    Typing(Room, bool),
    /// `message.read`.
    Read(Receipt),
    /// `message.delivered`.
    Delivered(Receipt),
    /// `sync {since?}`.
    Sync(Option<String>),
    /// `presence.update {status}`: online or away.
    Presence(Status),
}

impl ClientEvent {
    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Authenticate(_) => "authenticate",
            Self::Ping => "ping",
            Self::Join(_) => "conversation.join",
            Self::Leave(_) => "conversation.leave",
            Self::Send(_) => "message.send",
            Self::Edit(_) => "message.edit",
            Self::Delete(_) => "message.delete",
            Self::React(_, true) => "reaction.add",
            Self::React(_, false) => "reaction.remove",
            Self::Typing(_, true) => "typing.start",
            Self::Typing(_, false) => "typing.stop",
            Self::Read(_) => "message.read",
            Self::Delivered(_) => "message.delivered",
            Self::Sync(_) => "sync",
            Self::Presence(_) => "presence.update",
        }
    }

    /// Parses an event's name and data.
    pub fn parse(event: &str, data: Value) -> AppResult<Self> {
        Ok(match event {
            "authenticate" => Self::Authenticate(read::<Token>(event, data)?.token),
            "ping" => Self::Ping,
            "conversation.join" => Self::Join(read(event, data)?),
            "conversation.leave" => Self::Leave(read(event, data)?),
            "message.send" => Self::Send(read(event, data)?),
            "message.edit" => Self::Edit(read(event, data)?),
            "message.delete" => Self::Delete(read(event, data)?),
            "reaction.add" => Self::React(read(event, data)?, true),
            "reaction.remove" => Self::React(read(event, data)?, false),
            "typing.start" => Self::Typing(read(event, data)?, true),
            "typing.stop" => Self::Typing(read(event, data)?, false),
            "message.read" => Self::Read(read(event, data)?),
            "message.delivered" => {
                let receipt: Receipt = read(event, data)?;
                if receipt.seq < 0 {
                    return Err(ValidationError::new("seq", "must be 0 or more").into());
                }
                Self::Delivered(receipt)
            }
            "sync" => Self::Sync(read::<Since>(event, data)?.since),
            "presence.update" => {
                let PresenceSet { status } = read(event, data)?;
                match Status::parse(&status) {
                    Some(s @ (Status::Online | Status::Away)) => Self::Presence(s),
                    _ => {
                        return Err(ValidationError::new("status", "must be online or away").into());
                    }
                }
            }
            other => {
                return Err(AppError::new(
                    ErrorCode::InvalidBody,
                    format!("unknown event `{other}`"),
                ));
            }
        })
    }
}

fn read<T: DeserializeOwned>(event: &str, data: Value) -> AppResult<T> {
    let data = if data.is_null() { json!({}) } else { data };
    serde_json::from_value(data).map_err(|e| {
        AppError::new(
            ErrorCode::InvalidBody,
            format!("invalid data for {event}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_event_once_and_names_what_is_wrong() {
        let room = json!({ "conversationId": ConversationId::generate() });
        assert!(matches!(
            ClientEvent::parse("typing.stop", room),
            Ok(ClientEvent::Typing(_, false))
        ));
        assert!(matches!(
            ClientEvent::parse("presence.update", json!({ "status": "away" })),
            Ok(ClientEvent::Presence(Status::Away))
        ));
        let bad = ClientEvent::parse("message.send", json!({ "content": "hi" }))
            .expect_err("no conversation");
        assert!(bad.message.contains("message.send"), "{}", bad.message);
        let unknown = ClientEvent::parse("message.explode", Value::Null).expect_err("unknown");
        assert!(unknown.message.contains("unknown event"));
        let status = ClientEvent::parse("presence.update", json!({ "status": "offline" }))
            .expect_err("offline is not settable");
        assert_eq!(status.field, Some("status"));
    }
}
