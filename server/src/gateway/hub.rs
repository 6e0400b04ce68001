//! The hub: this instance's connections, the conversations each has joined, and delivery of
//! bus envelopes to them through each connection's bounded send queue.
//!
//! **Invariant**: delivery never waits. A connection whose queue is full is closed with
//! [`CLOSE_SLOW_CONSUMER`] (it resumes with sync); it never slows anyone else and never loses a
//! frame silently.

use super::metrics;
use super::protocol::{CLOSE_SLOW_CONSUMER, CloseReason, Frame};
use crate::domain::{ConversationId, TenantId, UserId};
use crate::ports::{Bus, BusEnvelope};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// A connection's id, unique within the process.
pub type ConnId = u64;

/// The transport's side of a connection: frames to write, and a close request.
#[derive(Debug)]
pub struct Outbound {
    /// Frames in order.
    pub frames: mpsc::Receiver<Frame>,
    /// Set once when the hub closes the connection (slow consumer, lag, revoked).
    pub close: watch::Receiver<Option<CloseReason>>,
}

#[derive(Debug)]
struct Conn {
    tenant: TenantId,
    user: Option<UserId>,
    tx: mpsc::Sender<Frame>,
    close: watch::Sender<Option<CloseReason>>,
    rooms: HashSet<ConversationId>,
    /// Last event seq queued per conversation: drops the relay's duplicates and whatever a
    /// sync already delivered.
    last: HashMap<ConversationId, i64>,
    /// While a sync streams, live frames wait here so they cannot overtake it.
    held: Option<Vec<(ConversationId, Option<i64>, Frame)>>,
    /// Event seqs delivered live since the last sync ended. A sync skips exactly these rather
    /// than everything below `last`: a live frame that arrived between `conversation.join` and
    /// `sync` must not make the sync drop the older events it is there to deliver.
    live: HashMap<ConversationId, BTreeSet<i64>>,
}

/// Live seqs remembered per conversation between syncs (the oldest are forgotten first).
const LIVE_MEMORY: usize = 512;

impl Conn {
    /// Queues a frame unless it is a duplicate; false when the queue is full.
    fn offer(&mut self, conversation: ConversationId, seq: Option<i64>, frame: &Frame) -> bool {
        if let Some(seq) = seq {
            let last = self.last.entry(conversation).or_insert(0);
            if *last >= seq {
                return true;
            }
            *last = seq;
        }
        self.tx.try_send(frame.clone()).is_ok()
    }

    /// [`Conn::offer`] for a live frame, remembering its seq for the next sync.
    fn offer_live(
        &mut self,
        conversation: ConversationId,
        seq: Option<i64>,
        frame: &Frame,
    ) -> bool {
        if let Some(seq) = seq
            && self.last.get(&conversation).is_none_or(|last| *last < seq)
        {
            let seen = self.live.entry(conversation).or_default();
            seen.insert(seq);
            if seen.len() > LIVE_MEMORY {
                seen.pop_first();
            }
        }
        self.offer(conversation, seq, frame)
    }

    /// Queues a synced event unless it was already delivered live; false when the queue is full.
    fn offer_synced(&mut self, conversation: ConversationId, seq: i64, frame: &Frame) -> bool {
        if self
            .live
            .get(&conversation)
            .is_some_and(|seen| seen.contains(&seq))
        {
            return true;
        }
        let last = self.last.entry(conversation).or_insert(0);
        *last = (*last).max(seq);
        self.tx.try_send(frame.clone()).is_ok()
    }

    fn close(&self, reason: CloseReason) {
        self.close.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(reason);
            }
            first
        });
    }
}

#[derive(Debug, Default)]
struct State {
    conns: HashMap<ConnId, Conn>,
    rooms: HashMap<(TenantId, ConversationId), HashSet<ConnId>>,
}

/// Connections and their subscriptions.
#[derive(Debug)]
pub struct Hub {
    state: Mutex<State>,
    next_id: AtomicU64,
    bus: Arc<dyn Bus>,
    queue: usize,
    held_limit: usize,
}

fn slow() -> CloseReason {
    CloseReason::new(
        CLOSE_SLOW_CONSUMER,
        "slow consumer: send queue full; reconnect and sync",
    )
}

impl Hub {
    /// A hub whose connections queue at most `queue` frames each.
    pub fn new(bus: Arc<dyn Bus>, queue: usize) -> Self {
        let queue = queue.max(1);
        Self {
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            bus,
            queue,
            held_limit: queue.saturating_mul(4),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain maps; a panic elsewhere cannot leave it half-updated in a way that
        // matters more than refusing every connection would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection of `tenant`.
    pub fn register(&self, tenant: TenantId) -> (ConnId, Outbound) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, frames) = mpsc::channel(self.queue);
        let (close_tx, close) = watch::channel(None);
        let mut state = self.lock();
        state.conns.insert(
            id,
            Conn {
                tenant,
                user: None,
                tx,
                close: close_tx,
                rooms: HashSet::new(),
                last: HashMap::new(),
                held: None,
                live: HashMap::new(),
            },
        );
        ::metrics::gauge!(metrics::CONNECTIONS).set(state.conns.len() as f64);
        (id, Outbound { frames, close })
    }

    /// Records who the connection authenticated as.
    pub fn set_user(&self, id: ConnId, user: UserId) {
        if let Some(conn) = self.lock().conns.get_mut(&id) {
            conn.user = Some(user);
        }
    }

    /// Forgets a connection; returns the conversations it had joined.
    pub fn unregister(&self, id: ConnId) -> Vec<ConversationId> {
        let mut state = self.lock();
        let Some(conn) = state.conns.remove(&id) else {
            return Vec::new();
        };
        ::metrics::gauge!(metrics::CONNECTIONS).set(state.conns.len() as f64);
        let rooms: Vec<_> = conn.rooms.into_iter().collect();
        for room in &rooms {
            self.drop_member(&mut state, &conn.tenant, *room, id);
        }
        rooms
    }

    fn drop_member(&self, state: &mut State, tenant: &TenantId, room: ConversationId, id: ConnId) {
        let key = (tenant.clone(), room);
        if let Some(members) = state.rooms.get_mut(&key) {
            members.remove(&id);
            if members.is_empty() {
                state.rooms.remove(&key);
                self.bus.interest(tenant, room, false);
            }
        }
    }

    /// Subscribes the connection to a conversation's live events.
    pub fn join(&self, id: ConnId, room: ConversationId) {
        let mut state = self.lock();
        let Some(conn) = state.conns.get_mut(&id) else {
            return;
        };
        if !conn.rooms.insert(room) {
            return;
        }
        let tenant = conn.tenant.clone();
        let members = state.rooms.entry((tenant.clone(), room)).or_default();
        if members.is_empty() {
            self.bus.interest(&tenant, room, true);
        }
        members.insert(id);
    }

    /// Unsubscribes; returns whether it was joined.
    pub fn leave(&self, id: ConnId, room: ConversationId) -> bool {
        let mut state = self.lock();
        let Some(conn) = state.conns.get_mut(&id) else {
            return false;
        };
        if !conn.rooms.remove(&room) {
            return false;
        }
        let tenant = conn.tenant.clone();
        self.drop_member(&mut state, &tenant, room, id);
        true
    }

    /// Whether the connection has joined the conversation.
    pub fn joined(&self, id: ConnId, room: ConversationId) -> bool {
        self.lock()
            .conns
            .get(&id)
            .is_some_and(|c| c.rooms.contains(&room))
    }

    /// The conversations the connection has joined.
    pub fn rooms_of(&self, id: ConnId) -> Vec<ConversationId> {
        self.lock()
            .conns
            .get(&id)
            .map(|c| c.rooms.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Queues a reply to one connection; a full queue closes it as a slow consumer.
    pub fn send(&self, id: ConnId, frame: Frame) {
        let state = self.lock();
        if let Some(conn) = state.conns.get(&id)
            && conn.tx.try_send(frame).is_err()
        {
            conn.close(slow());
            ::metrics::counter!(metrics::SLOW_CONSUMERS).increment(1);
        }
    }

    /// Delivers an envelope to the connections that joined its conversation; returns how many
    /// frames were queued.
    pub fn deliver(&self, envelope: &BusEnvelope) -> usize {
        let frame = Frame::from_bytes(envelope.frame.clone());
        let mut state = self.lock();
        let State { conns, rooms } = &mut *state;
        let key = (envelope.tenant.clone(), envelope.conversation);
        let Some(members) = rooms.get_mut(&key) else {
            return 0;
        };
        let mut queued = 0;
        let mut revoked = Vec::new();
        for id in members.iter() {
            let Some(conn) = conns.get_mut(id) else {
                continue;
            };
            if envelope.skip_user.is_some() && conn.user == envelope.skip_user {
                continue;
            }
            if let Some(held) = &mut conn.held {
                if held.len() >= self.held_limit {
                    conn.close(slow());
                    ::metrics::counter!(metrics::SLOW_CONSUMERS).increment(1);
                } else {
                    held.push((envelope.conversation, envelope.event_seq, frame.clone()));
                }
            } else if conn.offer_live(envelope.conversation, envelope.event_seq, &frame) {
                queued += 1;
            } else {
                conn.close(slow());
                ::metrics::counter!(metrics::SLOW_CONSUMERS).increment(1);
            }
            if envelope.revoke_user.is_some() && conn.user == envelope.revoke_user {
                revoked.push(*id);
            }
        }
        for id in revoked {
            members.remove(&id);
            if let Some(conn) = conns.get_mut(&id) {
                conn.rooms.remove(&envelope.conversation);
            }
        }
        if members.is_empty() {
            rooms.remove(&key);
            self.bus
                .interest(&envelope.tenant, envelope.conversation, false);
        }
        queued
    }

    /// Starts holding live frames for the connection while a sync streams.
    pub fn begin_sync(&self, id: ConnId) {
        if let Some(conn) = self.lock().conns.get_mut(&id) {
            conn.held.get_or_insert_with(Vec::new);
        }
    }

    /// Queues one synced event (and records its seq so the live copy is dropped).
    pub fn sync_frame(&self, id: ConnId, conversation: ConversationId, seq: i64, frame: &Frame) {
        let mut state = self.lock();
        if let Some(conn) = state.conns.get_mut(&id)
            && !conn.offer_synced(conversation, seq, frame)
        {
            conn.close(slow());
            ::metrics::counter!(metrics::SLOW_CONSUMERS).increment(1);
        }
    }

    /// Ends a sync: releases the held live frames that the sync did not already deliver.
    pub fn end_sync(&self, id: ConnId) {
        let mut state = self.lock();
        let Some(conn) = state.conns.get_mut(&id) else {
            return;
        };
        conn.live.clear();
        for (conversation, seq, frame) in conn.held.take().unwrap_or_default() {
            if !conn.offer_live(conversation, seq, &frame) {
                conn.close(slow());
                ::metrics::counter!(metrics::SLOW_CONSUMERS).increment(1);
                return;
            }
        }
    }

    /// Closes one connection.
    pub fn close(&self, id: ConnId, reason: CloseReason) {
        if let Some(conn) = self.lock().conns.get(&id) {
            conn.close(reason);
        }
    }

    /// Closes every connection (the hub fell behind: each client must resynchronise).
    pub fn close_all(&self, reason: &CloseReason) {
        for conn in self.lock().conns.values() {
            conn.close(reason.clone());
        }
    }

    /// Live connections.
    pub fn len(&self) -> usize {
        self.lock().conns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
