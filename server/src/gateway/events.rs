//! The client events of api.md's table, each calling the same use case as its REST route.

use super::protocol::Frame;
use super::session::{Session, now_ms, presence_frame};
use crate::app::chat::{MAX_SYNC_LIMIT, SendRequest};
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{ClientMessageId, ConversationId, Emoji, MessageId};
use crate::ports::Status;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Room {
    conversation_id: ConversationId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Send {
    conversation_id: ConversationId,
    content: String,
    client_message_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Receipt {
    conversation_id: ConversationId,
    seq: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Edit {
    message_id: MessageId,
    content: String,
    expected_version: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    message_id: MessageId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reaction {
    message_id: MessageId,
    emoji: String,
}

#[derive(Deserialize)]
struct Sync {
    since: Option<String>,
}

#[derive(Deserialize)]
struct PresenceSet {
    status: String,
}

fn data<T: DeserializeOwned>(event: &str, data: Value) -> AppResult<T> {
    let data = if data.is_null() { json!({}) } else { data };
    serde_json::from_value(data).map_err(|e| {
        AppError::new(
            ErrorCode::InvalidBody,
            format!("invalid data for {event}: {e}"),
        )
    })
}

fn message_json(m: &crate::ports::chat::Message) -> Value {
    serde_json::to_value(crate::ports::chat::MessageView::from(m)).unwrap_or_default()
}

impl Session {
    /// Runs one authenticated event; the value is the ack's `result`.
    pub(super) async fn dispatch(&mut self, event: &str, raw: Value) -> AppResult<Value> {
        let app = self.gw.app().clone();
        let user = self.user()?;
        let tenant = self.tenant.clone();
        match event {
            "ping" => {
                self.send(Frame::new("pong", &json!({ "time": now_ms() })));
                self.refresh_presence().await;
                Ok(json!({}))
            }
            "conversation.join" => {
                let Room { conversation_id } = data(event, raw)?;
                let conversation = app.conversation(&tenant, user, conversation_id).await?;
                self.gw.inner.hub.join(self.id, conversation_id);
                let members: Vec<_> = conversation.members.iter().map(|m| m.user_id).collect();
                let statuses = self
                    .gw
                    .inner
                    .presence
                    .get(&tenant.id, &members, now_ms())
                    .await
                    .unwrap_or_default();
                if let Some(mine) = members
                    .iter()
                    .zip(&statuses)
                    .find(|(id, _)| **id == user)
                    .map(|(_, p)| *p)
                {
                    self.signal(conversation_id, presence_frame(user, mine), true)
                        .await;
                }
                let presence: Vec<Value> = members
                    .iter()
                    .zip(&statuses)
                    .map(|(id, p)| json!({ "userId": id, "status": p.status.as_str() }))
                    .collect();
                Ok(
                    json!({ "conversationId": conversation_id, "lastSeq": conversation.last_seq,
                           "presence": presence }),
                )
            }
            "conversation.leave" => {
                let Room { conversation_id } = data(event, raw)?;
                self.stop_typing(conversation_id).await;
                let was = self.gw.inner.hub.leave(self.id, conversation_id);
                Ok(json!({ "conversationId": conversation_id, "joined": was }))
            }
            "message.send" => {
                let send: Send = data(event, raw)?;
                let key = match send.client_message_id.as_deref() {
                    Some(key) => ClientMessageId::parse(key)?,
                    None => ClientMessageId::generate(),
                };
                let request = SendRequest {
                    content: send.content,
                    client_message_id: key,
                };
                let sent = app
                    .send_message(&tenant, user, send.conversation_id, request)
                    .await?;
                self.clear_typing(send.conversation_id);
                Ok(json!({ "id": sent.message.id, "seq": sent.message.seq,
                           "duplicate": !sent.created }))
            }
            "message.edit" => {
                let edit: Edit = data(event, raw)?;
                let request = crate::app::chat::EditRequest {
                    content: edit.content,
                    expected_version: edit.expected_version,
                };
                let message = app
                    .edit_message(&tenant, user, edit.message_id, request)
                    .await?;
                Ok(message_json(&message))
            }
            "message.delete" => {
                let Target { message_id } = data(event, raw)?;
                Ok(message_json(
                    &app.delete_message(&tenant, user, message_id).await?,
                ))
            }
            "reaction.add" | "reaction.remove" => {
                let reaction: Reaction = data(event, raw)?;
                let emoji = Emoji::parse(&reaction.emoji)?;
                let present = event == "reaction.add";
                let message = app
                    .react(&tenant, user, reaction.message_id, &emoji, present)
                    .await?;
                Ok(message_json(&message))
            }
            "typing.start" | "typing.stop" => {
                let Room { conversation_id } = data(event, raw)?;
                self.require_joined(conversation_id)?;
                if event == "typing.start" {
                    self.start_typing(conversation_id).await;
                } else {
                    self.stop_typing(conversation_id).await;
                }
                Ok(json!({}))
            }
            "message.read" => {
                let Receipt {
                    conversation_id,
                    seq,
                } = data(event, raw)?;
                let pointer = app.mark_read(&tenant, user, conversation_id, seq).await?;
                Ok(json!({ "conversationId": conversation_id, "seq": pointer }))
            }
            "message.delivered" => {
                let Receipt {
                    conversation_id,
                    seq,
                } = data(event, raw)?;
                if seq < 0 {
                    return Err(
                        crate::domain::ValidationError::new("seq", "must be 0 or more").into(),
                    );
                }
                if !self.gw.inner.hub.joined(self.id, conversation_id) {
                    // Membership is checked by the same use case REST uses to show a conversation.
                    app.conversation(&tenant, user, conversation_id).await?;
                }
                let frame = Frame::new(
                    "receipt.delivered",
                    &json!({ "conversationId": conversation_id, "userId": user, "seq": seq }),
                );
                self.signal(conversation_id, frame, false).await;
                Ok(json!({}))
            }
            "sync" => {
                let Sync { since } = data(event, raw)?;
                let cursor = self.sync(since).await?;
                Ok(json!({ "cursor": cursor }))
            }
            "presence.update" => {
                let PresenceSet { status } = data(event, raw)?;
                self.status = match Status::parse(&status) {
                    Some(s @ (Status::Online | Status::Away)) => s,
                    _ => {
                        return Err(crate::domain::ValidationError::new(
                            "status",
                            "must be online or away",
                        )
                        .into());
                    }
                };
                self.refresh_presence().await;
                Ok(json!({ "status": status }))
            }
            other => Err(AppError::new(
                ErrorCode::InvalidBody,
                format!("unknown event `{other}`"),
            )),
        }
    }

    fn require_joined(&self, room: ConversationId) -> AppResult<()> {
        if self.gw.inner.hub.joined(self.id, room) {
            Ok(())
        } else {
            Err(AppError::new(
                ErrorCode::ConversationNotFound,
                "join the conversation first (conversation.join)",
            ))
        }
    }

    /// Streams the missed events, then `sync.complete`; live frames wait meanwhile so they
    /// cannot overtake or repeat a synced one.
    async fn sync(&mut self, since: Option<String>) -> AppResult<String> {
        let user = self.user()?;
        let hub = std::sync::Arc::clone(&self.gw.inner.hub);
        hub.begin_sync(self.id);
        let mut since = since;
        let result = loop {
            let page = match self
                .gw
                .app()
                .sync(&self.tenant, user, since.as_deref(), MAX_SYNC_LIMIT)
                .await
            {
                Ok(page) => page,
                Err(error) => break Err(error),
            };
            for event in &page.events {
                let frame = Frame::new(&event.kind, &event.payload);
                hub.sync_frame(self.id, event.conversation_id, event.event_seq, &frame);
            }
            if !page.has_more {
                break Ok(page.cursor);
            }
            since = Some(page.cursor);
        };
        if let Ok(cursor) = &result {
            self.send(Frame::new("sync.complete", &json!({ "cursor": cursor })));
        }
        hub.end_sync(self.id);
        result
    }

    fn typing_generation(&self, room: ConversationId, bump: bool) -> Option<u64> {
        let mut typing = self.typing.lock().unwrap_or_else(|e| e.into_inner());
        if bump {
            let generation = typing.entry(room).or_insert(0);
            *generation += 1;
            Some(*generation)
        } else {
            typing.remove(&room)
        }
    }

    pub(super) fn typing_frame(&self, room: ConversationId, started: bool) -> Frame {
        let (user, name) = self
            .auth
            .as_ref()
            .map(|a| (Some(a.principal.user), a.display_name.as_str()))
            .unwrap_or((None, ""));
        Frame::new(
            if started {
                "typing.started"
            } else {
                "typing.stopped"
            },
            &json!({ "conversationId": room, "userId": user, "displayName": name }),
        )
    }

    async fn start_typing(&self, room: ConversationId) {
        let Some(generation) = self.typing_generation(room, true) else {
            return;
        };
        self.signal(room, self.typing_frame(room, true), true).await;
        // Expire unless a newer typing.start (or a stop) came meanwhile.
        let typing = std::sync::Arc::clone(&self.typing);
        let stopped = self.typing_frame(room, false);
        let ttl = self.gw.settings().typing_ttl;
        let bus = std::sync::Arc::clone(&self.gw.inner.bus);
        let tenant = self.tenant.id.clone();
        let skip = self.user().ok();
        tokio::spawn(async move {
            tokio::time::sleep(ttl).await;
            let expired = {
                let mut typing = typing.lock().unwrap_or_else(|e| e.into_inner());
                let current = typing.get(&room).copied();
                if current == Some(generation) {
                    typing.remove(&room);
                    true
                } else {
                    false
                }
            };
            if expired {
                let envelope = crate::ports::BusEnvelope {
                    tenant,
                    conversation: room,
                    event_seq: None,
                    skip_user: skip,
                    revoke_user: None,
                    at_ms: now_ms(),
                    frame: stopped.bytes().clone(),
                };
                let _ = bus.publish(envelope).await;
            }
        });
    }

    async fn stop_typing(&self, room: ConversationId) {
        if self.typing_generation(room, false).is_some() {
            self.signal(room, self.typing_frame(room, false), true)
                .await;
        }
    }

    /// A sent message ends typing without a separate event (clients hide the indicator when the
    /// message arrives).
    fn clear_typing(&self, room: ConversationId) {
        self.typing_generation(room, false);
    }
}
