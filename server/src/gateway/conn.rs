//! One connection's side of the hub: its send queue, its close request, the conversations it
//! joined, and the per-conversation bookkeeping that keeps delivery in order and free of
//! duplicates. The transport holds an `Arc<Conn>` and waits on [`Conn::notified`]; the hub and
//! the session push frames into it from any task.
//!
//! Memory is spent on demand: the queue is an empty `VecDeque` until frames wait (and is handed
//! to the writer whole, so a burst's capacity leaves with it), the maps stay unallocated until
//! the connection joins a conversation, and one `Notify` wakes the connection's single task.
//!
//! **Write-through.** A transport with an [`Outlet`] takes a frame at once when nothing waits
//! before it: the queue is empty and the connection's task is not writing. The frame is then
//! written by whoever offers it, under the connection's lock, so it can neither overtake a
//! queued frame nor interleave with one; whatever the socket does not take goes the queued way.

use super::FastMap;
use super::outlet::{Direct, Outlet};
use super::protocol::{CLOSE_RESTART, CLOSE_SLOW_CONSUMER, CloseReason, Frame};
use crate::domain::{ConversationId, DeviceId, SessionId, TenantId, UserId};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
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
    /// Where frames can be written at once, while the transport offers it.
    outlet: Option<Arc<dyn Outlet>>,
    /// The connection's task took frames and has not finished writing them.
    writing: bool,
}

impl State {
    /// Writes `frames` through the outlet when nothing waits before them.
    fn write_through(&self, frames: &[Frame]) -> Direct {
        match &self.outlet {
            Some(outlet) if self.queue.is_empty() && !self.writing && self.close.is_none() => {
                let direct = outlet.try_write(frames);
                if direct != Direct::NotNow {
                    super::metrics::written(frames);
                }
                direct
            }
            _ => Direct::NotNow,
        }
    }
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

    /// Wakes the writer again (it took a wake-up meant for its next batch).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Everything waiting for the writer, who writes it before anything offered later
    /// (until [`Conn::written`]).
    pub fn take(&self) -> Outgoing {
        let mut state = self.lock();
        state.writing = true;
        Outgoing {
            frames: std::mem::take(&mut state.queue),
            close: state.close.clone(),
            reconnect_after_ms: state.reconnect_after_ms,
        }
    }

    /// The writer wrote what it took: frames offered from now on may be written through.
    pub fn written(&self) {
        self.lock().writing = false;
    }

    /// Lets frames be written through `outlet` (see the module's documentation).
    pub fn attach(&self, outlet: Arc<dyn Outlet>) {
        self.lock().outlet = Some(outlet);
    }

    /// Lets go of the outlet, so the socket closes with the transport rather than with the
    /// last holder of the connection.
    pub fn detach(&self) {
        self.lock().outlet = None;
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

    /// Sends a reply (written through, or queued); a full queue closes the connection as a
    /// slow consumer.
    pub fn send(&self, frame: Frame) {
        let queued = {
            let mut state = self.lock();
            match state.write_through(std::slice::from_ref(&frame)) {
                Direct::Written => return,
                Direct::Begun => true,
                Direct::NotNow => Self::enqueue(&mut state, self.queue_limit, frame),
            }
        };
        self.after_enqueue(queued);
    }

    /// Queues the account channel's frames about conversations the connection has not joined
    /// (it hears those it joined in their rooms), together, so that one write carries them.
    ///
    /// Never written through: they go to every connection of the users a change concerns,
    /// which would be hundreds of writes in the deliverer's turn; queued, their tasks write them.
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

    /// Offers a live event frame: held during a sync, dropped when already delivered, written
    /// through (when `through` allows) or queued otherwise; returns whether it was sent.
    pub(super) fn offer_live(
        &self,
        conversation: ConversationId,
        seq: Option<i64>,
        frame: &Frame,
        held_limit: usize,
        through: bool,
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
        match Self::offer(
            &mut state,
            self.queue_limit,
            conversation,
            seq,
            frame,
            through,
        ) {
            Offer::Written => true,
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

    /// Offers a run of one conversation's live event frames, of seqs `first`, `first + 1`, …,
    /// as [`Conn::offer_live`] offers each, but with one look at the connection: written
    /// through in one write when `through` allows and nothing waits, else queued with one
    /// wake-up. Returns how many frames were sent.
    pub(super) fn offer_live_run(
        &self,
        conversation: ConversationId,
        first: i64,
        frames: &[Frame],
        held_limit: usize,
        through: bool,
    ) -> usize {
        let mut state = self.lock();
        let all_new = state.close.is_none()
            && state.held.is_none()
            && state
                .delivered
                .get(&conversation)
                .is_none_or(|delivered| delivered.last < first);
        if !all_new {
            // Closing, syncing or partly delivered: frame by frame, as when they come alone.
            drop(state);
            return (first..)
                .zip(frames)
                .filter(|(seq, frame)| {
                    self.offer_live(conversation, Some(*seq), frame, held_limit, false)
                })
                .count();
        }
        let delivered = state.delivered.entry(conversation).or_default();
        for seq in (first..).take(frames.len()) {
            delivered.record_live(seq);
            delivered.last = seq;
        }
        if through {
            match state.write_through(frames) {
                Direct::Written => return frames.len(),
                Direct::Begun => {
                    drop(state);
                    self.wake.notify_one();
                    return frames.len();
                }
                Direct::NotNow => {}
            }
        }
        let fits = state.queue.len() + frames.len() <= self.queue_limit;
        if fits {
            state.queue.extend(frames.iter().cloned());
        }
        drop(state);
        self.after_enqueue(fits);
        if fits { frames.len() } else { 0 }
    }

    fn offer(
        state: &mut State,
        limit: usize,
        conversation: ConversationId,
        seq: Option<i64>,
        frame: &Frame,
        through: bool,
    ) -> Offer {
        if let Some(seq) = seq {
            let delivered = state.delivered.entry(conversation).or_default();
            if delivered.last >= seq {
                return Offer::Duplicate;
            }
            delivered.record_live(seq);
            delivered.last = seq;
        }
        if through {
            match state.write_through(std::slice::from_ref(frame)) {
                Direct::Written => return Offer::Written,
                Direct::Begun => return Offer::Queued,
                Direct::NotNow => {}
            }
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
            // Queued, not written through: the writer sends the released frames in one batch.
            if let Offer::Full = Self::offer(
                &mut state,
                self.queue_limit,
                conversation,
                seq,
                &frame,
                false,
            ) {
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
    Written,
    Queued,
    Duplicate,
    Full,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// An outlet that records what it takes, or takes nothing while `full`.
    #[derive(Debug, Default)]
    struct Recorded {
        taken: Mutex<Vec<String>>,
        full: AtomicBool,
    }

    impl Outlet for Recorded {
        fn try_write(&self, frames: &[Frame]) -> Direct {
            if self.full.load(Ordering::Relaxed) {
                return Direct::NotNow;
            }
            let mut taken = self.taken.lock().unwrap();
            for frame in frames {
                taken.push(String::from_utf8_lossy(frame.bytes()).into_owned());
            }
            Direct::Written
        }
    }

    fn frame(text: &str) -> Frame {
        Frame::from_bytes(bytes::Bytes::from(text.to_owned()))
    }

    fn queued(conn: &Conn) -> Vec<String> {
        conn.take()
            .frames
            .iter()
            .map(|f| String::from_utf8_lossy(f.bytes()).into_owned())
            .collect()
    }

    fn connected() -> (Conn, Arc<Recorded>) {
        let conn = Conn::new(1, TenantId::parse("acme").unwrap(), 16);
        let outlet = Arc::new(Recorded::default());
        conn.attach(outlet.clone());
        (conn, outlet)
    }

    #[test]
    fn frames_go_through_only_while_nothing_waits_before_them() {
        let (conn, outlet) = connected();
        conn.send(frame("a"));
        // The writer takes (nothing), and is writing: later frames wait behind it.
        assert!(queued(&conn).is_empty());
        conn.send(frame("b"));
        conn.written();
        // "b" waits: "c" must not overtake it.
        conn.send(frame("c"));
        assert_eq!(queued(&conn), ["b", "c"]);
        conn.written();
        conn.send(frame("d"));
        assert_eq!(*outlet.taken.lock().unwrap(), ["a", "d"]);
    }

    fn frames(texts: &[&str]) -> Vec<Frame> {
        texts.iter().map(|t| frame(t)).collect()
    }

    #[test]
    fn a_run_goes_through_in_one_write_and_is_never_sent_twice() {
        let (conn, outlet) = connected();
        let room = ConversationId::generate();
        assert_eq!(
            conn.offer_live_run(room, 1, &frames(&["1", "2"]), 8, true),
            2
        );
        // The same events again (another instance's copy), then a run overlapping them.
        assert_eq!(
            conn.offer_live_run(room, 1, &frames(&["1", "2"]), 8, true),
            0
        );
        assert_eq!(
            conn.offer_live_run(room, 2, &frames(&["2", "3"]), 8, true),
            1
        );
        assert_eq!(*outlet.taken.lock().unwrap(), ["1", "2"]);
        assert_eq!(queued(&conn), ["3"]);
    }

    #[test]
    fn a_run_the_socket_refuses_is_queued_whole_behind_what_waits() {
        let (conn, outlet) = connected();
        let room = ConversationId::generate();
        outlet.full.store(true, Ordering::Relaxed);
        assert!(conn.offer_live(room, Some(1), &frame("1"), 8, true));
        outlet.full.store(false, Ordering::Relaxed);
        assert_eq!(
            conn.offer_live_run(room, 2, &frames(&["2", "3"]), 8, true),
            2
        );
        assert!(outlet.taken.lock().unwrap().is_empty());
        assert_eq!(queued(&conn), ["1", "2", "3"]);
    }

    #[test]
    fn a_run_that_overflows_the_queue_closes_the_connection() {
        let conn = Conn::new(1, TenantId::parse("acme").unwrap(), 2);
        let room = ConversationId::generate();
        assert_eq!(
            conn.offer_live_run(room, 1, &frames(&["1", "2", "3"]), 8, false),
            0
        );
        assert!(conn.closing());
    }

    #[test]
    fn a_run_waits_behind_a_sync() {
        let (conn, outlet) = connected();
        let room = ConversationId::generate();
        conn.begin_sync();
        assert_eq!(
            conn.offer_live_run(room, 1, &frames(&["1", "2"]), 8, true),
            0
        );
        conn.sync_frame(room, 1, &frame("1"));
        conn.end_sync();
        assert!(outlet.taken.lock().unwrap().is_empty());
        assert_eq!(queued(&conn), ["1", "2"]);
    }

    #[test]
    fn what_the_socket_refuses_is_queued_and_keeps_its_place() {
        let (conn, outlet) = connected();
        outlet.full.store(true, Ordering::Relaxed);
        let room = ConversationId::generate();
        assert!(conn.offer_live(room, Some(1), &frame("1"), 8, true));
        outlet.full.store(false, Ordering::Relaxed);
        assert!(conn.offer_live(room, Some(2), &frame("2"), 8, true));
        assert!(outlet.taken.lock().unwrap().is_empty());
        assert_eq!(queued(&conn), ["1", "2"]);
    }

    #[test]
    fn nothing_goes_through_a_closing_or_detached_connection() {
        let (conn, outlet) = connected();
        conn.detach();
        conn.send(frame("a"));
        conn.attach(outlet.clone());
        conn.take();
        conn.written();
        conn.close(slow());
        conn.send(frame("b"));
        assert!(outlet.taken.lock().unwrap().is_empty());
    }
}
