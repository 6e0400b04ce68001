//! One connection's side of the hub: its send queue, its close request, the conversations it
//! joined, and the per-conversation bookkeeping that keeps delivery in order and free of
//! duplicates. The transport holds an `Arc<Conn>` and waits on [`Conn::notified`]; the hub and
//! the session push frames into it from any task.
//!
//! Memory is spent on demand: the queue is an empty `VecDeque` until frames wait (and is handed
//! to the writer whole, so a burst's capacity leaves with it), the maps stay unallocated until
//! the connection joins a conversation, and one `Notify` wakes the connection's single task.

use super::FastMap;
use super::protocol::{CLOSE_RESTART, CLOSE_SLOW_CONSUMER, CloseReason, Frame};
use crate::domain::{ConversationId, DeviceId, SessionId, TenantId, UserId};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, OnceLock};
use tokio::sync::Notify;

/// A connection's id, unique within the process.
pub type ConnId = u64;

/// Runs of live seqs remembered per conversation between syncs (the oldest are forgotten first).
const LIVE_RANGES: usize = 64;

/// What the transport's writer takes from the connection at once.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Frames to write, in order.
    pub frames: VecDeque<Frame>,
    /// Set once the connection must close (after the frames above are written, if they can be).
    pub close: Option<CloseReason>,
    /// When the server drains: the `afterMs` of the `reconnect` frame sent before the close.
    pub reconnect_after_ms: Option<u64>,
}

/// One connection, shared by its transport, its session and the hub.
#[derive(Debug)]
pub struct Conn {
    id: ConnId,
    tenant: TenantId,
    user: OnceLock<UserId>,
    state: Mutex<State>,
    wake: Notify,
    queue_limit: usize,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Frame>,
    close: Option<CloseReason>,
    reconnect_after_ms: Option<u64>,
    rooms: Vec<ConversationId>,
    /// What was queued of each conversation: drops the relay's duplicates and whatever a sync
    /// already delivered.
    delivered: FastMap<ConversationId, Delivered>,
    /// While a sync streams, live frames wait here so they cannot overtake it.
    held: Option<Vec<(ConversationId, Option<i64>, Frame)>>,
    /// The session (and its device) the connection authenticated with last.
    session: Option<(SessionId, DeviceId)>,
}

/// What a connection was sent of one conversation.
#[derive(Debug, Default)]
struct Delivered {
    /// The highest event seq queued.
    last: i64,
    /// Event seqs delivered live since the last sync ended, as inclusive ranges. A sync skips
    /// exactly these rather than everything below `last`: a live frame that arrived between
    /// `conversation.join` and `sync` must not make the sync drop the older events it is there to
    /// deliver. Live events arrive in order, so this is almost always one range: one comparison
    /// per frame, and no memory growing with the frames.
    live: Vec<(i64, i64)>,
}

impl Delivered {
    fn record_live(&mut self, seq: i64) {
        match self.live.last_mut() {
            Some(range) if range.1 + 1 == seq => range.1 = seq,
            _ => {
                if self.live.len() == LIVE_RANGES {
                    self.live.remove(0);
                }
                self.live.push((seq, seq));
            }
        }
    }

    fn delivered_live(&self, seq: i64) -> bool {
        self.live
            .iter()
            .any(|&(from, to)| (from..=to).contains(&seq))
    }
}

fn slow() -> CloseReason {
    CloseReason::new(
        CLOSE_SLOW_CONSUMER,
        "slow consumer: send queue full; reconnect and sync",
    )
}

impl Conn {
    pub(super) fn new(id: ConnId, tenant: TenantId, queue_limit: usize) -> Self {
        Self {
            id,
            tenant,
            user: OnceLock::new(),
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            queue_limit: queue_limit.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain data; a panic elsewhere cannot leave it in a state worse than closing would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection's id.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The tenant it belongs to.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Who it authenticated as, once it has.
    pub fn user(&self) -> Option<UserId> {
        self.user.get().copied()
    }

    /// Records who the connection authenticated as, and with which session. The user never
    /// changes (a re-authentication must name the same user); the session may.
    pub(super) fn identify(&self, user: UserId, session: SessionId, device: DeviceId) {
        let _ = self.user.set(user);
        self.lock().session = Some((session, device));
    }

    /// The session the connection authenticated with, once it has.
    pub fn session(&self) -> Option<(SessionId, DeviceId)> {
        self.lock().session.clone()
    }

    /// Resolves when frames or a close request are waiting (or were, since the last take).
    pub async fn notified(&self) {
        self.wake.notified().await;
    }

    /// Everything waiting for the writer.
    pub fn take(&self) -> Outgoing {
        let mut state = self.lock();
        Outgoing {
            frames: std::mem::take(&mut state.queue),
            close: state.close.clone(),
            reconnect_after_ms: state.reconnect_after_ms,
        }
    }

    /// Whether a close was requested.
    pub fn closing(&self) -> bool {
        self.lock().close.is_some()
    }

    /// Asks the writer to close the connection with `reason` (the first reason wins).
    pub fn close(&self, reason: CloseReason) {
        let first = {
            let mut state = self.lock();
            let first = state.close.is_none();
            if first {
                state.close = Some(reason);
            }
            first
        };
        if first {
            self.wake.notify_one();
        }
    }

    /// Tells the client to reconnect after `after_ms` and closes with 1012 (the server drains).
    pub fn drain(&self, after_ms: u64) {
        self.lock().reconnect_after_ms.get_or_insert(after_ms);
        self.close(CloseReason::new(
            CLOSE_RESTART,
            "server draining; reconnect",
        ));
    }

    /// Queues a reply; a full queue closes the connection as a slow consumer.
    pub fn send(&self, frame: Frame) {
        let queued = {
            let mut state = self.lock();
            Self::enqueue(&mut state, self.queue_limit, frame)
        };
        self.after_enqueue(queued);
    }

    /// Queues the account channel's frames about conversations the connection has not joined
    /// (it hears those it joined in their rooms), together, so that one write carries them.
    pub(super) fn send_unjoined(&self, frames: &[(ConversationId, Frame)]) {
        let (mut queued, mut full) = (false, false);
        {
            let mut state = self.lock();
            for (conversation, frame) in frames {
                if state.rooms.contains(conversation) {
                    continue;
                }
                if !Self::enqueue(&mut state, self.queue_limit, frame.clone()) {
                    full = true;
                    break;
                }
                queued = true;
            }
        }
        if queued || full {
            self.after_enqueue(!full);
        }
    }

    fn enqueue(state: &mut State, limit: usize, frame: Frame) -> bool {
        if state.queue.len() >= limit {
            return false;
        }
        state.queue.push_back(frame);
        true
    }

    fn after_enqueue(&self, queued: bool) {
        if queued {
            self.wake.notify_one();
        } else {
            ::metrics::counter!(super::metrics::SLOW_CONSUMERS).increment(1);
            self.close(slow());
        }
    }

    /// Offers a live event frame: held during a sync, dropped when already delivered; returns
    /// whether a frame was queued.
    pub(super) fn offer_live(
        &self,
        conversation: ConversationId,
        seq: Option<i64>,
        frame: &Frame,
        held_limit: usize,
    ) -> bool {
        let mut state = self.lock();
        if state.close.is_some() {
            return false;
        }
        if let Some(held) = &mut state.held {
            if held.len() < held_limit {
                held.push((conversation, seq, frame.clone()));
                return false;
            }
            drop(state);
            self.after_enqueue(false);
            return false;
        }
        match Self::offer(&mut state, self.queue_limit, conversation, seq, frame) {
            Offer::Queued => {
                drop(state);
                self.wake.notify_one();
                true
            }
            Offer::Duplicate => false,
            Offer::Full => {
                drop(state);
                self.after_enqueue(false);
                false
            }
        }
    }

    fn offer(
        state: &mut State,
        limit: usize,
        conversation: ConversationId,
        seq: Option<i64>,
        frame: &Frame,
    ) -> Offer {
        if let Some(seq) = seq {
            let delivered = state.delivered.entry(conversation).or_default();
            if delivered.last >= seq {
                return Offer::Duplicate;
            }
            delivered.record_live(seq);
            delivered.last = seq;
        }
        if Self::enqueue(state, limit, frame.clone()) {
            Offer::Queued
        } else {
            Offer::Full
        }
    }

    /// Starts holding live frames while a sync streams.
    pub fn begin_sync(&self) {
        self.lock().held.get_or_insert_with(Vec::new);
    }

    /// Queues one synced event unless it was already delivered live.
    pub fn sync_frame(&self, conversation: ConversationId, seq: i64, frame: &Frame) {
        let queued = {
            let mut state = self.lock();
            let delivered = state.delivered.entry(conversation).or_default();
            if delivered.delivered_live(seq) {
                return;
            }
            delivered.last = delivered.last.max(seq);
            Self::enqueue(&mut state, self.queue_limit, frame.clone())
        };
        self.after_enqueue(queued);
    }

    /// Ends a sync: releases the held live frames the sync did not already deliver.
    pub fn end_sync(&self) {
        let mut state = self.lock();
        for delivered in state.delivered.values_mut() {
            delivered.live = Vec::new();
        }
        for (conversation, seq, frame) in state.held.take().unwrap_or_default() {
            if let Offer::Full =
                Self::offer(&mut state, self.queue_limit, conversation, seq, &frame)
            {
                drop(state);
                self.after_enqueue(false);
                return;
            }
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Adds a conversation; false when already joined.
    pub(super) fn add_room(&self, room: ConversationId) -> bool {
        let mut state = self.lock();
        if state.rooms.contains(&room) {
            return false;
        }
        state.rooms.push(room);
        true
    }

    /// Removes a conversation; false when not joined.
    pub(super) fn remove_room(&self, room: ConversationId) -> bool {
        let mut state = self.lock();
        let before = state.rooms.len();
        state.rooms.retain(|r| *r != room);
        state.rooms.len() != before
    }

    /// Every joined conversation, forgotten.
    pub(super) fn take_rooms(&self) -> Vec<ConversationId> {
        std::mem::take(&mut self.lock().rooms)
    }

    /// Whether the connection has joined the conversation.
    pub fn joined(&self, room: ConversationId) -> bool {
        self.lock().rooms.contains(&room)
    }

    /// The conversations the connection has joined.
    pub fn rooms(&self) -> Vec<ConversationId> {
        self.lock().rooms.clone()
    }
}

enum Offer {
    Queued,
    Duplicate,
    Full,
}
