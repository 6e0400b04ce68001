//! The account channel: what every authenticated connection hears about its user without
//! joining anything — conversations created with them, their being added or removed, a
//! conversation's new name or floor, their mutes, their read pointer moving on another device,
//! `unread.updated` for conversations the connection has not joined, and changes of the account
//! itself (a new tenant role, a warning).
//!
//! **How it reaches the instance.** Membership news is addressed to users (`AccountEnvelope`,
//! one per tenant channel on the bus). Everything else is derived here: the hub watches every
//! conversation of its connected users (a room's `watchers`), so the conversation's events
//! already arrive once per instance, and each is turned into small per-user frames. A message
//! costs one bus delivery per instance with a member connected, not one per member.
//!
//! **Bounds.** A user watches at most [`MAX_WATCHED`] conversations (the most recently active
//! when they connect, plus those they join later). A user's `unread.updated` frames leave
//! together, at most once per [`ACCOUNT_WINDOW`]: one for each conversation that changed since
//! the last ones, with its latest count and message. So a 10 000-member conversation at 100
//! messages a second costs each member's connection one frame a second, and a member of ten
//! busy conversations gets their ten frames in one write rather than ten writes spread over the
//! second (each write to a socket costs the kernel about as much as a frame's fan-out does).
//!
//! **Counts.** Unread counts start from the store when the user's first connection
//! authenticates and then follow the events: +1 for another member's message, −1 for another
//! member's unread message deleted, 0 when the user reads to the end. A read that stops short of
//! the end keeps the count at most the messages after it; the conversation list is exact.

use super::{Hub, RoomKey, lock};
use crate::domain::{ConversationId, TenantId, UserId};
use crate::gateway::FastMap;
use crate::gateway::protocol::Frame;
use crate::ports::chat::UnreadPosition;
use crate::ports::{AccountEnvelope, BusEnvelope, Membership};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shortest time between two sendings of a user's `unread.updated`.
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(1);
/// Longest a window may last beyond [`ACCOUNT_WINDOW`]: each is lengthened by a random part of
/// this. Without it, every member's window opened at the same message, whose fan-out then
/// carried an update to each of their other connections (nine hundred frames on one message,
/// ten times its own fan-out, in docs/benchmarks.md's load), and the messages behind it waited:
/// the spread hands those updates to the messages of the next quarter second.
pub const ACCOUNT_SPREAD: Duration = Duration::from_millis(250);
/// Conversations watched per user at most.
pub const MAX_WATCHED: u32 = 500;
/// Characters of a message's text an `unread.updated` carries.
const PREVIEW_CHARS: usize = 200;

/// What a user's connections here watch: their conversations, where they stand in each, and
/// the window their updates wait for.
#[derive(Debug, Default)]
pub(super) struct Watch {
    conversations: FastMap<ConversationId, Unread>,
    /// When the window reopens, once updates were sent.
    opens_at: Option<Instant>,
    /// Updates wait for the window to pass.
    pending: bool,
}

#[derive(Debug, Default)]
struct Unread {
    /// The conversation's last event applied.
    event_seq: i64,
    last_seq: i64,
    read_seq: i64,
    unread: i64,
    /// Changed since its last `unread.updated`.
    changed: bool,
    /// The latest message not yet told.
    preview: Option<Preview>,
}

/// A message's preview, serialised once per event and shared by every watcher it concerns.
type Preview = Arc<RawValue>;

/// What one conversation event means to a watcher.
#[derive(Debug)]
enum News {
    Message {
        seq: i64,
        sender: Option<UserId>,
        preview: Option<Preview>,
    },
    Deleted {
        seq: i64,
        sender: Option<UserId>,
    },
    Read {
        user: Option<UserId>,
        seq: i64,
    },
    /// Passed on as it is: to everyone (`about` none) or to the user it is about.
    Forward {
        about: Option<UserId>,
    },
}

#[derive(Deserialize)]
struct WireFrame {
    event: String,
    data: Value,
}

impl News {
    fn parse(frame: &Bytes) -> Option<Self> {
        let wire: WireFrame = serde_json::from_slice(frame).ok()?;
        let data = &wire.data;
        let user = |field: &str| data[field].as_str().and_then(UserId::parse);
        let seq = || data["seq"].as_i64().unwrap_or_default();
        Some(match wire.event.as_str() {
            "message.created" => News::Message {
                seq: seq(),
                sender: user("senderId"),
                preview: preview(data),
            },
            "message.deleted" => News::Deleted {
                seq: seq(),
                sender: user("senderId"),
            },
            "receipt.read" => News::Read {
                user: user("userId"),
                seq: seq(),
            },
            "conversation.updated" => News::Forward { about: None },
            "member.muted" => News::Forward {
                about: user("userId"),
            },
            _ => return None,
        })
    }
}

/// A message as `unread.updated` shows it: enough for a conversation list's line.
fn preview(message: &Value) -> Option<Preview> {
    let content = message["content"]
        .as_str()
        .map(|text| text.chars().take(PREVIEW_CHARS).collect::<String>());
    let preview = json!({
        "id": message["id"],
        "senderId": message["senderId"],
        "seq": message["seq"],
        "type": message["type"],
        "content": content,
        "timestamp": message["timestamp"],
        "attachments": message["attachments"].as_array().map_or(0, Vec::len),
    });
    // Serialising a `Value` cannot fail.
    serde_json::value::to_raw_value(&preview)
        .ok()
        .map(Arc::from)
}

/// Frames for a user's connections, each with the conversation it is about: a connection that
/// joined that conversation hears it there instead.
type AccountFrames = Vec<(ConversationId, Frame)>;

/// What applying one event to a watch produced.
#[derive(Debug, Default)]
struct Told {
    frames: AccountFrames,
    /// Updates began waiting for the window: the hub's upkeep sends them.
    began_waiting: bool,
}

impl Watch {
    fn new(positions: &[UnreadPosition]) -> Self {
        let conversations = positions
            .iter()
            .map(|p| {
                let unread = Unread {
                    last_seq: p.last_seq,
                    read_seq: p.last_read_seq,
                    unread: p.unread,
                    ..Unread::default()
                };
                (p.conversation_id, unread)
            })
            .collect();
        Self {
            conversations,
            ..Self::default()
        }
    }

    /// The watched conversations.
    pub(super) fn conversations(&self) -> Vec<ConversationId> {
        self.conversations.keys().copied().collect()
    }

    fn watches(&self, conversation: ConversationId) -> bool {
        self.conversations.contains_key(&conversation)
    }

    /// Starts watching a conversation the user joined; false when it already did (or is full).
    fn join(&mut self, conversation: ConversationId) -> bool {
        if self.conversations.len() >= MAX_WATCHED as usize
            || self.conversations.contains_key(&conversation)
        {
            return false;
        }
        self.conversations.insert(conversation, Unread::default());
        true
    }

    fn leave(&mut self, conversation: ConversationId) -> bool {
        self.conversations.remove(&conversation).is_some()
    }

    /// Applies an event of a conversation once. The relay hands the fan-out again the events it
    /// ships late (`app/chat/outbox.rs`); connections drop such copies by event seq, and so does
    /// this: a copy would count a deleted message twice and tell the user again of a message
    /// they were told of, a second `unread.updated` a window later. The conversation's events
    /// arrive here in order, so any event at or below the last applied is a copy (or one that
    /// came after its gap was given up on, which sync and the conversation list account for).
    fn apply_once(
        &mut self,
        conversation: ConversationId,
        event_seq: i64,
        user: UserId,
        news: &News,
        frame: &Bytes,
        now: Instant,
    ) -> Told {
        match self.conversations.get_mut(&conversation) {
            Some(state) if event_seq > state.event_seq => state.event_seq = event_seq,
            _ => return Told::default(),
        }
        self.apply(conversation, user, news, frame, now)
    }

    fn apply(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        news: &News,
        frame: &Bytes,
        now: Instant,
    ) -> Told {
        let mut told = Told::default();
        let Some(state) = self.conversations.get_mut(&conversation) else {
            return told;
        };
        let changed = match news {
            News::Message {
                seq,
                sender,
                preview,
            } => {
                // A message committed before the positions were loaded but delivered
                // after them is already in the count: only one past `last_seq` is news.
                let fresh = *seq > state.last_seq;
                if fresh && *sender != Some(user) && *seq > state.read_seq {
                    state.unread += 1;
                }
                state.last_seq = state.last_seq.max(*seq);
                state.preview.clone_from(preview);
                true
            }
            News::Deleted { seq, sender } => {
                let counted = *sender != Some(user) && *seq > state.read_seq && state.unread > 0;
                if counted {
                    state.unread -= 1;
                }
                counted
            }
            News::Read { user: reader, seq } if *reader == Some(user) => {
                state.read_seq = state.read_seq.max(*seq);
                state.unread = if state.read_seq >= state.last_seq {
                    0
                } else {
                    state.unread.min(state.last_seq - state.read_seq)
                };
                // The user's own read is told at once, whatever the window.
                told.frames
                    .push((conversation, Frame::from_bytes(frame.clone())));
                told.frames
                    .push((conversation, state.updated(conversation)));
                false
            }
            News::Read { .. } => false,
            News::Forward { about } => {
                if about.is_none_or(|about| about == user) {
                    told.frames
                        .push((conversation, Frame::from_bytes(frame.clone())));
                }
                false
            }
        };
        if changed {
            state.changed = true;
            told.began_waiting = self.release(now, &mut told.frames);
        }
        told
    }

    /// Sends every changed conversation's update when the window is open, and opens the next
    /// one; otherwise lets them wait. Returns whether they began waiting now.
    fn release(&mut self, now: Instant, frames: &mut AccountFrames) -> bool {
        if self.opens_at.is_some_and(|at| now < at) {
            let began = !self.pending;
            self.pending = true;
            return began;
        }
        for (conversation, state) in &mut self.conversations {
            if state.changed {
                frames.push((*conversation, state.updated(*conversation)));
            }
        }
        self.opens_at = Some(now + ACCOUNT_WINDOW + ACCOUNT_SPREAD.mul_f64(rand::random::<f64>()));
        self.pending = false;
        false
    }

    /// The updates whose window has passed; true when they still wait.
    fn due(&mut self, now: Instant, frames: &mut AccountFrames) -> bool {
        if !self.pending {
            return false;
        }
        self.release(now, frames);
        self.pending
    }
}

impl Unread {
    /// Its `unread.updated`, now told.
    fn updated(&mut self, conversation: ConversationId) -> Frame {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct UnreadUpdated<'a> {
            conversation_id: ConversationId,
            unread_count: i64,
            last_seq: i64,
            last_read_seq: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            last_message: Option<&'a RawValue>,
        }
        let data = UnreadUpdated {
            conversation_id: conversation,
            unread_count: self.unread,
            last_seq: self.last_seq,
            last_read_seq: self.read_seq,
            last_message: self.preview.as_deref(),
        };
        let frame = Frame::new("unread.updated", &data);
        self.preview = None;
        self.changed = false;
        frame
    }
}

type UserKey = (TenantId, UserId);

impl Hub {
    /// Starts the account channel of a user whose first connection here authenticated, from
    /// where they stand in their conversations. Later connections share it.
    pub fn watch_account(&self, tenant: &TenantId, user: UserId, positions: &[UnreadPosition]) {
        let key = (tenant.clone(), user);
        {
            let mut users = lock(self.users(&key));
            let Some(account) = users.get_mut(&key) else {
                return;
            };
            if account.watch.is_some() {
                return;
            }
            account.watch = Some(Watch::new(positions));
        }
        if lock(&self.watched_tenants).insert(tenant.clone()) {
            self.bus.watch_tenant(tenant);
        }
        for position in positions {
            self.watch(&key, position.conversation_id);
        }
    }

    /// Adds the user to the conversation's watchers (and the instance to its bus channel).
    fn watch(&self, key: &UserKey, conversation: ConversationId) {
        let room_key: RoomKey = (key.0.clone(), conversation);
        let mut shard = lock(self.shard(&room_key));
        let room = shard.rooms.entry(room_key).or_default();
        if room.members.is_empty() && room.watchers.is_empty() {
            self.bus.interest(&key.0, conversation, true);
        }
        if !room.watchers.contains(&key.1) {
            room.watchers.push(key.1);
        }
    }

    /// Removes the user from the conversation's watchers, unless they watch it again by now.
    pub(super) fn unwatch(&self, key: &UserKey, conversation: ConversationId) {
        let room_key: RoomKey = (key.0.clone(), conversation);
        let mut shard = lock(self.shard(&room_key));
        let still = lock(self.users(key))
            .get(key)
            .and_then(|account| account.watch.as_ref())
            .is_some_and(|watch| watch.watches(conversation));
        if still {
            return;
        }
        if let Some(room) = shard.rooms.get_mut(&room_key) {
            room.watchers.retain(|user| *user != key.1);
        }
        self.forget_if_empty(&mut shard, &room_key);
    }

    /// Tells the watchers of a conversation what its event means to each (called with the
    /// conversation's shard locked, in event order).
    pub(super) fn tell_watchers(&self, watchers: &[UserId], envelope: &BusEnvelope) {
        let Some(event_seq) = envelope.event_seq else {
            return;
        };
        let Some(news) = News::parse(&envelope.frame) else {
            return;
        };
        let Some(first) = watchers.first() else {
            return;
        };
        let now = Instant::now();
        // One key for every watcher (only the user changes): a message reaches every member.
        let mut key = (envelope.tenant.clone(), *first);
        let mut began_waiting = Vec::new();
        for user in watchers {
            key.1 = *user;
            let mut users = lock(self.users(&key));
            let Some(account) = users.get_mut(&key) else {
                continue;
            };
            let Some(watch) = account.watch.as_mut() else {
                continue;
            };
            let told = watch.apply_once(
                envelope.conversation,
                event_seq,
                *user,
                &news,
                &envelope.frame,
                now,
            );
            send_unjoined(&account.conns, &told.frames);
            drop(users);
            if told.began_waiting {
                began_waiting.push(key.clone());
            }
        }
        if !began_waiting.is_empty() {
            lock(&self.account_pending).extend(began_waiting);
        }
    }

    /// Account news for users connected here: passed to their connections (those that joined
    /// the conversation it is about hear it there), and the watch follows membership changes.
    pub fn deliver_account(&self, envelope: &AccountEnvelope) {
        let frame = Frame::from_bytes(envelope.frame.clone());
        for user in &envelope.users {
            let key = (envelope.tenant.clone(), *user);
            let mut users = lock(self.users(&key));
            let Some(account) = users.get_mut(&key) else {
                continue;
            };
            let Some(conversation) = envelope.conversation else {
                for conn in &account.conns {
                    conn.send(frame.clone());
                }
                continue;
            };
            let changed = match (account.watch.as_mut(), envelope.membership) {
                (Some(watch), Some(Membership::Joined)) => watch.join(conversation),
                (Some(watch), Some(Membership::Left)) => watch.leave(conversation),
                _ => false,
            };
            send_unjoined(&account.conns, &[(conversation, frame.clone())]);
            drop(users);
            match (changed, envelope.membership) {
                (true, Some(Membership::Joined)) => self.watch(&key, conversation),
                (true, Some(Membership::Left)) => self.unwatch(&key, conversation),
                _ => {}
            }
        }
    }

    /// Sends the `unread.updated` whose window has passed (the hub's upkeep calls it).
    pub fn flush_accounts(&self) {
        let pending: Vec<UserKey> = lock(&self.account_pending).drain().collect();
        let now = Instant::now();
        for key in pending {
            let mut users = lock(self.users(&key));
            let Some(account) = users.get_mut(&key) else {
                continue;
            };
            let Some(watch) = account.watch.as_mut() else {
                continue;
            };
            let mut frames = Vec::new();
            let waiting = watch.due(now, &mut frames);
            send_unjoined(&account.conns, &frames);
            drop(users);
            if waiting {
                lock(&self.account_pending).insert(key);
            }
        }
    }
}

fn send_unjoined(conns: &[std::sync::Arc<super::Conn>], frames: &[(ConversationId, Frame)]) {
    if frames.is_empty() {
        return;
    }
    for conn in conns {
        conn.send_unjoined(frames);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: i64, sender: UserId) -> (News, Bytes) {
        let frame = json!({ "event": "message.created", "data": {
            "id": "m", "senderId": sender, "seq": seq, "type": "text",
            "content": "x".repeat(500), "timestamp": "t", "attachments": [] } });
        let bytes = Bytes::from(frame.to_string());
        (News::parse(&bytes).unwrap(), bytes)
    }

    fn count(frames: &[(ConversationId, Frame)]) -> Option<i64> {
        frames.iter().rev().find_map(|(_, f)| {
            let wire: WireFrame = serde_json::from_slice(f.bytes()).ok()?;
            (wire.event == "unread.updated").then(|| wire.data["unreadCount"].as_i64())?
        })
    }

    fn watching(conversations: &[ConversationId]) -> Watch {
        let positions: Vec<UnreadPosition> = conversations
            .iter()
            .map(|&conversation_id| UnreadPosition {
                conversation_id,
                last_seq: 4,
                last_read_seq: 2,
                unread: 2,
            })
            .collect();
        Watch::new(&positions)
    }

    /// By then any window has passed.
    const LONGEST_WINDOW: Duration = ACCOUNT_WINDOW.checked_add(ACCOUNT_SPREAD).unwrap();

    #[test]
    fn counts_follow_the_events_and_updates_coalesce() {
        let (me, other) = (UserId::generate(), UserId::generate());
        let conversation = ConversationId::generate();
        let mut watch = watching(&[conversation]);
        let start = Instant::now();
        let (news, frame) = message(5, other);
        let told = watch.apply(conversation, me, &news, &frame, start);
        assert_eq!(count(&told.frames), Some(3));
        let preview = serde_json::from_slice::<WireFrame>(told.frames[0].1.bytes()).unwrap();
        let text = preview.data["lastMessage"]["content"].as_str().unwrap();
        assert_eq!(text.chars().count(), PREVIEW_CHARS);

        // Within the window: folded, then sent once the window passed.
        let (news, frame) = message(6, other);
        let told = watch.apply(conversation, me, &news, &frame, start);
        assert!(told.frames.is_empty() && told.began_waiting);
        let (news, frame) = message(7, me);
        let told = watch.apply(conversation, me, &news, &frame, start);
        assert!(!told.began_waiting, "already waiting");
        let mut due = Vec::new();
        assert!(watch.due(start, &mut due), "still within the window");
        assert!(due.is_empty());
        assert!(!watch.due(start + LONGEST_WINDOW, &mut due));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, conversation);
        assert_eq!(count(&due), Some(4), "own messages do not count");

        // Reading to the end clears it at once, and the receipt is passed on.
        let read = json!({ "event": "receipt.read", "data": {
            "conversationId": conversation, "userId": me, "seq": 7 } });
        let read = Bytes::from(read.to_string());
        let news = News::parse(&read).unwrap();
        let told = watch.apply(conversation, me, &news, &read, start + LONGEST_WINDOW);
        assert_eq!(told.frames.len(), 2);
        assert_eq!(count(&told.frames), Some(0));
        // Someone else's receipt means nothing here.
        let theirs = json!({ "event": "receipt.read", "data": {
            "conversationId": conversation, "userId": other, "seq": 7 } });
        let theirs = Bytes::from(theirs.to_string());
        let news = News::parse(&theirs).unwrap();
        assert!(
            watch
                .apply(conversation, me, &news, &theirs, start)
                .frames
                .is_empty()
        );
    }

    /// The positions are loaded while messages are still being delivered: one they already
    /// count must not be counted again when its frame arrives.
    #[test]
    fn a_message_the_positions_hold_is_not_counted_again() {
        let (me, other) = (UserId::generate(), UserId::generate());
        let conversation = ConversationId::generate();
        let mut watch = watching(&[conversation]);
        let (news, frame) = message(4, other);
        let told = watch.apply(conversation, me, &news, &frame, Instant::now());
        assert_eq!(count(&told.frames), Some(2), "seq 4 was in the positions");
        let (news, frame) = message(5, other);
        let later = Instant::now() + LONGEST_WINDOW;
        let mut sent = watch.apply(conversation, me, &news, &frame, later).frames;
        watch.due(later + LONGEST_WINDOW, &mut sent);
        assert_eq!(count(&sent), Some(3));
    }

    /// The relay hands late events to the fan-out again: a copy neither counts nor is told.
    #[test]
    fn a_copy_of_an_event_changes_nothing() {
        let (me, other) = (UserId::generate(), UserId::generate());
        let conversation = ConversationId::generate();
        let mut watch = watching(&[conversation]);
        let start = Instant::now();
        let (news, frame) = message(5, other);
        let told = watch.apply_once(conversation, 10, me, &news, &frame, start);
        assert_eq!(count(&told.frames), Some(3));
        let copy = watch.apply_once(conversation, 10, me, &news, &frame, start);
        assert!(copy.frames.is_empty() && !copy.began_waiting);
        assert!(
            !watch.due(start + LONGEST_WINDOW, &mut Vec::new()),
            "nothing waits"
        );

        let deleted = json!({ "event": "message.deleted", "data": {
            "conversationId": conversation, "senderId": other, "seq": 5 } });
        let deleted = Bytes::from(deleted.to_string());
        let news = News::parse(&deleted).unwrap();
        let later = start + LONGEST_WINDOW;
        let told = watch.apply_once(conversation, 11, me, &news, &deleted, later);
        assert_eq!(count(&told.frames), Some(2));
        let copy = watch.apply_once(conversation, 11, me, &news, &deleted, later);
        assert!(copy.frames.is_empty() && !copy.began_waiting);
        let mut due = Vec::new();
        watch.due(later + LONGEST_WINDOW, &mut due);
        assert!(due.is_empty(), "counted once: {due:?}");
        assert_eq!(watch.conversations[&conversation].unread, 2);
    }

    /// A user's updates wait for one window and leave together: one per conversation that
    /// changed, none for those that did not.
    #[test]
    fn a_users_updates_leave_together() {
        let (me, other) = (UserId::generate(), UserId::generate());
        let rooms: Vec<ConversationId> = (0..3).map(|_| ConversationId::generate()).collect();
        let mut watch = watching(&rooms);
        let start = Instant::now();
        let (news, frame) = message(5, other);
        assert_eq!(
            watch.apply(rooms[0], me, &news, &frame, start).frames.len(),
            1
        );
        for room in &rooms[..2] {
            let (news, frame) = message(6, other);
            assert!(
                watch
                    .apply(*room, me, &news, &frame, start)
                    .frames
                    .is_empty()
            );
        }
        let mut due = Vec::new();
        watch.due(start + LONGEST_WINDOW, &mut due);
        let mut told: Vec<(ConversationId, Option<i64>)> = due
            .iter()
            .map(|(room, frame)| (*room, count(&[(*room, frame.clone())])))
            .collect();
        told.sort();
        let mut expected = vec![(rooms[0], Some(4)), (rooms[1], Some(3))];
        expected.sort();
        assert_eq!(told, expected, "the quiet conversation is not told");
        assert!(
            !watch.due(start + LONGEST_WINDOW * 3, &mut Vec::new()),
            "nothing left"
        );
    }

    /// Users' windows opened by the same message close at different times within the spread,
    /// so their next updates leave with different messages.
    #[test]
    fn windows_opened_together_reopen_apart() {
        let conversation = ConversationId::generate();
        let (me, other) = (UserId::generate(), UserId::generate());
        let start = Instant::now();
        let (news, frame) = message(5, other);
        let reopen: Vec<Instant> = (0..100)
            .map(|_| {
                let mut watch = watching(&[conversation]);
                watch.apply(conversation, me, &news, &frame, start);
                watch.opens_at.unwrap()
            })
            .collect();
        let window = start + ACCOUNT_WINDOW..start + LONGEST_WINDOW;
        assert!(reopen.iter().all(|at| window.contains(at)));
        let apart: std::collections::HashSet<_> = reopen.iter().collect();
        assert!(apart.len() > 90, "{} distinct of 100", apart.len());
    }

    #[test]
    fn joins_are_bounded_and_unknown_events_ignored() {
        let mut watch = Watch::default();
        let conversation = ConversationId::generate();
        assert!(watch.join(conversation));
        assert!(!watch.join(conversation));
        assert!(watch.leave(conversation));
        for _ in 0..MAX_WATCHED {
            watch.join(ConversationId::generate());
        }
        assert!(!watch.join(ConversationId::generate()));
        let typing = Bytes::from_static(br#"{"event":"typing.started","data":{}}"#);
        assert!(News::parse(&typing).is_none());
    }
}
