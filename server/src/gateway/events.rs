//! The client events of api.md's table, one method each, calling the same use case as the
//! event's REST route.

use super::client_event::{ClientEvent, Edit, Reaction, Receipt, Room, Send, Target};
use super::protocol::Frame;
use super::session::{Session, now_ms, presence_frame};
use crate::app::chat::{EditRequest, MAX_SYNC_LIMIT, SendRequest};
use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{ClientMessageId, ConversationId, Emoji};
use crate::ports::BusEnvelope;
use crate::ports::chat::{Message, MessageView, Pointer};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn message_json(m: &Message) -> Value {
    serde_json::to_value(MessageView::from(m)).unwrap_or_default()
}

impl Session {
    /// Runs one authenticated event; the value is the ack's `result`.
    pub(super) async fn dispatch(&mut self, event: ClientEvent) -> AppResult<Value> {
        match event {
            // Handled before dispatch; a second one is refused there.
            ClientEvent::Authenticate(_) => Ok(json!({})),
            ClientEvent::Ping => self.ping().await,
            ClientEvent::Join(room) => self.join(room).await,
            ClientEvent::Leave(room) => Ok(self.leave(room).await),
            ClientEvent::Send(send) => self.send_message(send).await,
            ClientEvent::Edit(edit) => self.edit(edit).await,
            ClientEvent::Delete(target) => self.delete(target).await,
            ClientEvent::React(reaction, present) => self.react(reaction, present).await,
            ClientEvent::Typing(room, started) => self.typing(room, started),
            ClientEvent::Read(receipt) => self.receipt(receipt, Pointer::Read).await,
            ClientEvent::Delivered(receipt) => self.receipt(receipt, Pointer::Delivered).await,
            ClientEvent::Sync(since) => {
                let cursor = self.sync(since).await?;
                Ok(json!({ "cursor": cursor }))
            }
            ClientEvent::Presence(status) => {
                self.status = status;
                self.refresh_presence().await;
                Ok(json!({ "status": status.as_str() }))
            }
        }
    }

    async fn ping(&self) -> AppResult<Value> {
        self.send(Frame::new("pong", &json!({ "time": now_ms() })));
        self.refresh_presence().await;
        Ok(json!({}))
    }

    async fn join(&self, Room { conversation_id }: Room) -> AppResult<Value> {
        let user = self.user()?;
        let conversation = self
            .gw
            .app()
            .conversation(&self.tenant, user, conversation_id)
            .await?;
        self.gw.hub().join(&self.conn, conversation_id);
        self.look(&[conversation_id]).await;
        let members: Vec<_> = conversation.members.iter().map(|m| m.user_id).collect();
        let statuses = self
            .gw
            .presence()
            .get(&self.tenant.id, &members, now_ms())
            .await
            .unwrap_or_default();
        if let Some(mine) = members
            .iter()
            .zip(&statuses)
            .find(|(id, _)| **id == user)
            .map(|(_, p)| *p)
        {
            self.signal(conversation_id, &presence_frame(user, mine), true);
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

    async fn leave(&mut self, Room { conversation_id }: Room) -> Value {
        self.stop_typing(conversation_id);
        let was = self.gw.hub().leave(&self.conn, conversation_id);
        self.look_away(&[conversation_id]).await;
        json!({ "conversationId": conversation_id, "joined": was })
    }

    async fn send_message(&mut self, send: Send) -> AppResult<Value> {
        let user = self.user()?;
        let key = match send.client_message_id.as_deref() {
            Some(key) => ClientMessageId::parse(key)?,
            None => ClientMessageId::generate(),
        };
        let request = SendRequest {
            content: send.content,
            client_message_id: key,
            attachments: send.attachments,
        };
        let sent = self
            .gw
            .app()
            .send_message(&self.tenant, user, send.conversation_id, request)
            .await?;
        self.clear_typing(send.conversation_id);
        Ok(json!({ "id": sent.message.id, "seq": sent.message.seq,
                   "duplicate": !sent.created }))
    }

    async fn edit(&self, edit: Edit) -> AppResult<Value> {
        let request = EditRequest {
            content: edit.content,
            expected_version: edit.expected_version,
        };
        let message = self
            .gw
            .app()
            .edit_message(&self.tenant, self.user()?, edit.message_id, request)
            .await?;
        Ok(message_json(&message))
    }

    async fn delete(&self, Target { message_id }: Target) -> AppResult<Value> {
        let message = self
            .gw
            .app()
            .delete_message(&self.tenant, self.user()?, message_id)
            .await?;
        Ok(message_json(&message))
    }

    async fn react(&self, reaction: Reaction, present: bool) -> AppResult<Value> {
        let emoji = Emoji::parse(&reaction.emoji)?;
        let message = self
            .gw
            .app()
            .react(
                &self.tenant,
                self.user()?,
                reaction.message_id,
                &emoji,
                present,
            )
            .await?;
        Ok(message_json(&message))
    }

    fn typing(&mut self, Room { conversation_id }: Room, started: bool) -> AppResult<Value> {
        self.require_joined(conversation_id)?;
        if started {
            self.start_typing(conversation_id);
        } else {
            self.stop_typing(conversation_id);
        }
        Ok(json!({}))
    }

    /// `message.read` and `message.delivered`: the same use case as REST's receipts.
    async fn receipt(&self, receipt: Receipt, pointer: Pointer) -> AppResult<Value> {
        let now = self
            .gw
            .app()
            .move_pointer(
                &self.tenant,
                self.user()?,
                receipt.conversation_id,
                pointer,
                receipt.seq,
            )
            .await?;
        Ok(json!({ "conversationId": receipt.conversation_id, "seq": now }))
    }

    fn require_joined(&self, room: ConversationId) -> AppResult<()> {
        if self.conn.joined(room) {
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
        self.conn.begin_sync();
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
                self.conn
                    .sync_frame(event.conversation_id, event.event_seq, &Frame::event(event));
            }
            if !page.has_more {
                break Ok(page.cursor);
            }
            since = Some(page.cursor);
        };
        if let Ok(cursor) = &result {
            self.send(Frame::new("sync.complete", &json!({ "cursor": cursor })));
        }
        self.conn.end_sync();
        result
    }

    fn typing_generation(&mut self, room: ConversationId, bump: bool) -> Option<u64> {
        if !bump && self.typing.is_none() {
            return None;
        }
        let typing = self
            .typing
            .get_or_insert_with(|| Arc::new(Mutex::new(HashMap::new())));
        let mut typing = typing.lock().unwrap_or_else(|e| e.into_inner());
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

    fn start_typing(&mut self, room: ConversationId) {
        let Some(generation) = self.typing_generation(room, true) else {
            return;
        };
        self.signal(room, &self.typing_frame(room, true), true);
        // Expire unless a newer typing.start (or a stop) came meanwhile.
        let Some(typing) = self.typing.clone() else {
            return;
        };
        let ttl = self.gw.settings().typing_ttl;
        let fanout = self.gw.fanout().clone();
        let stopped = BusEnvelope {
            tenant: self.tenant.id.clone(),
            conversation: room,
            event_seq: None,
            skip_user: self.user().ok(),
            revoke_user: None,
            at_ms: 0,
            frame: self.typing_frame(room, false).bytes().clone(),
            trace: None,
        };
        self.gw.tasks().spawn("typing-expiry", async move {
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
                fanout.broadcast(&BusEnvelope {
                    at_ms: now_ms(),
                    ..stopped
                });
            }
        });
    }

    fn stop_typing(&mut self, room: ConversationId) {
        if self.typing_generation(room, false).is_some() {
            self.signal(room, &self.typing_frame(room, false), true);
        }
    }

    /// A sent message ends typing without a separate event (clients hide the indicator when the
    /// message arrives).
    fn clear_typing(&mut self, room: ConversationId) {
        self.typing_generation(room, false);
    }
}
