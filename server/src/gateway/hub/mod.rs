//! The hub: this instance's connections, the conversations each has joined, and delivery of
//! envelopes to them.
//!
//! **No shared lock on the hot path.** Conversations are spread over shards by a hash of
//! (tenant, conversation); delivering an envelope locks only its conversation's shard, and then
//! each recipient's own connection briefly. Delivery runs in the task that produced the
//! envelope (the use case that committed it, or the bus subscriber for other instances), so it
//! spreads over every core the runtime has, and its cost is proportional to the members
//! connected here. The events of one commit (a batch of sends) go to each connection as one
//! run per conversation: one look at the connection, and one write or one wake-up, per batch.
//!
//! **Order.** Events of one conversation can reach the hub out of order: two use cases commit
//! seq 5 and 6 and race to deliver, or another instance's 5 arrives over the bus after this
//! instance's 6. Each joined conversation therefore keeps the next `event_seq` it expects and
//! holds a later event until the gap fills, at most [`GAP_WAIT`]; then it delivers what it holds
//! and the client, seeing the gap in `sequenceNumber`, fetches it with `sync`.
//!
//! **Invariant**: delivery never waits. A connection whose queue is full is closed with
//! 4008 (it resumes with sync); it never slows anyone else and never loses a frame silently.

mod account;

pub use account::{ACCOUNT_WINDOW, MAX_WATCHED};

use super::conn::{Conn, ConnId};
use super::metrics;
use super::protocol::CLOSE_UNAUTHENTICATED;
use super::protocol::{CloseReason, Frame};
use super::{FastMap, FastSet};
use crate::app::auth::Principal;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::ports::{AccountEnvelope, Bus, BusEnvelope, BusInbox, Revocation};
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest an event waits for an earlier one of its conversation before it is delivered anyway.
pub const GAP_WAIT: Duration = Duration::from_millis(100);
/// Events held per conversation at most while waiting for a gap to fill.
const HELD_PER_ROOM: usize = 1024;
/// Sockets a committed event is written through to, at most, by its deliverer (each a system
/// call of a few microseconds while the conversation's shard is locked): every member of a room
/// of a hundred, the first 128 of a larger one, the others queued for their own tasks. Deliveries
/// of other commits, on other threads, write through at the same time: queueing a frame instead
/// costs the connection's task a wake-up, and under load every connection woken waited for the
/// runtime to reach it (docs/benchmarks.md, 2026-12-04, 18:45).
const THROUGH_PER_EVENT: usize = 128;

type RoomKey = (TenantId, ConversationId);
/// One shard of the connection registry.
type Registry = FastMap<ConnId, Arc<Conn>>;
/// One shard of the authenticated users: their connections (for revocation and the account
/// channel) and what the account channel watches for them.
type ByUser = FastMap<(TenantId, UserId), Account>;

/// A user with connections here.
#[derive(Debug, Default)]
struct Account {
    conns: Vec<Arc<Conn>>,
    /// Their conversations, once loaded: `None` until the first connection authenticated.
    watch: Option<account::Watch>,
}

#[derive(Debug, Default)]
struct Room {
    members: Vec<Arc<Conn>>,
    /// Users connected here who are members of the conversation, whether or not a connection
    /// of theirs joined it: the account channel tells them what concerns them.
    watchers: Vec<UserId>,
    /// The event seq expected next; unknown until the first event after the room opened.
    next: Option<i64>,
    /// Events ahead of `next`, waiting for the gap to fill.
    ahead: BTreeMap<i64, BusEnvelope>,
    waiting_since: Option<Instant>,
}

#[derive(Debug, Default)]
struct Shard {
    rooms: FastMap<RoomKey, Room>,
    /// Rooms holding events ahead of a gap.
    waiting: FastSet<RoomKey>,
}

/// Connections and their subscriptions.
#[derive(Debug)]
pub struct Hub {
    /// Picks a key's shard (fixed for the process).
    spread: foldhash::fast::RandomState,
    shards: Box<[Mutex<Shard>]>,
    registry: Box<[Mutex<Registry>]>,
    users: Box<[Mutex<ByUser>]>,
    count: AtomicUsize,
    next_id: AtomicU64,
    bus: Arc<dyn Bus>,
    queue: usize,
    held_limit: usize,
    /// Tenants whose account news this instance already asked the bus for.
    watched_tenants: Mutex<FastSet<TenantId>>,
    /// Users with an `unread.updated` waiting for its window.
    account_pending: Mutex<FastSet<(TenantId, UserId)>>,
    /// Live connections per tenant, for the per-tenant gauge (opened and closed only).
    tenant_connections: Mutex<metrics::TenantConnections>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain maps; a panic elsewhere cannot leave them worse than refusing everyone would.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// A hub whose connections queue at most `queue` frames each, with `shards` shards (a
    /// few per core keeps two busy conversations from sharing one).
    pub fn new(bus: Arc<dyn Bus>, queue: usize, shards: usize) -> Self {
        let shards = shards.max(1);
        let queue = queue.max(1);
        metrics::set_connections(0);
        Self {
            spread: foldhash::fast::RandomState::default(),
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            registry: (0..shards).map(|_| Mutex::default()).collect(),
            users: (0..shards).map(|_| Mutex::default()).collect(),
            count: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            bus,
            queue,
            held_limit: queue.saturating_mul(4),
            watched_tenants: Mutex::default(),
            account_pending: Mutex::default(),
            tenant_connections: Mutex::default(),
        }
    }

    fn shard(&self, key: &RoomKey) -> &Mutex<Shard> {
        let index = (self.spread.hash_one(key) as usize) % self.shards.len();
        &self.shards[index]
    }

    fn registry(&self, id: ConnId) -> &Mutex<Registry> {
        &self.registry[(id as usize) % self.registry.len()]
    }

    fn users(&self, key: &(TenantId, UserId)) -> &Mutex<ByUser> {
        &self.users[(self.spread.hash_one(key) as usize) % self.users.len()]
    }

    /// Records that the connection authenticated as `principal` (again, when it re-authenticates
    /// with a fresh token), so ending that session closes it.
    pub fn identify(&self, conn: &Arc<Conn>, principal: &Principal) {
        let first = conn.user().is_none();
        conn.identify(principal.user, principal.session, principal.device.clone());
        if first {
            let key = (conn.tenant().clone(), principal.user);
            lock(self.users(&key))
                .entry(key)
                .or_default()
                .conns
                .push(Arc::clone(conn));
        }
    }

    /// Closes this instance's connections that authenticated with an ended session; returns how
    /// many.
    pub fn revoke(&self, revocation: &Revocation) -> usize {
        let key = (revocation.tenant.clone(), revocation.user);
        let users = lock(self.users(&key));
        let Some(account) = users.get(&key) else {
            return 0;
        };
        let mut closed = 0;
        for conn in &account.conns {
            if let Some((session, device)) = conn.session()
                && revocation.scope.covers(session, &device)
            {
                conn.close(CloseReason::new(
                    CLOSE_UNAUTHENTICATED,
                    revocation.reason.clone(),
                ));
                closed += 1;
            }
        }
        closed
    }

    /// Every authenticated connection's tenant and session (for the periodic session check).
    pub fn sessions(&self) -> Vec<(Arc<Conn>, TenantId, crate::domain::SessionId)> {
        let mut all = Vec::new();
        for shard in self.users.iter() {
            for ((tenant, _), account) in lock(shard).iter() {
                for conn in &account.conns {
                    if let Some((session, _)) = conn.session() {
                        all.push((Arc::clone(conn), tenant.clone(), session));
                    }
                }
            }
        }
        all
    }

    /// Registers a new connection of `tenant`.
    pub fn register(&self, tenant: TenantId) -> Arc<Conn> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.tenant_connections).opened(tenant.as_str());
        let conn = Arc::new(Conn::new(id, tenant, self.queue));
        lock(self.registry(id)).insert(id, Arc::clone(&conn));
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::set_connections(count);
        conn
    }

    /// Forgets a connection; returns the conversations it had joined.
    pub fn unregister(&self, conn: &Arc<Conn>) -> Vec<ConversationId> {
        if lock(self.registry(conn.id())).remove(&conn.id()).is_none() {
            return Vec::new();
        }
        let count = self.count.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        metrics::set_connections(count);
        lock(&self.tenant_connections).closed(conn.tenant().as_str());
        if let Some(user) = conn.user() {
            let key = (conn.tenant().clone(), user);
            let mut users = lock(self.users(&key));
            let mut unwatched = Vec::new();
            if let Some(account) = users.get_mut(&key) {
                account.conns.retain(|other| other.id() != conn.id());
                if account.conns.is_empty()
                    && let Some(watch) = users.remove(&key).and_then(|a| a.watch)
                {
                    unwatched = watch.conversations();
                }
            }
            drop(users);
            for conversation in unwatched {
                self.unwatch(&key, conversation);
            }
        }
        let rooms = conn.take_rooms();
        for room in &rooms {
            self.drop_member(conn, *room);
        }
        rooms
    }

    fn drop_member(&self, conn: &Arc<Conn>, room: ConversationId) {
        let key = (conn.tenant().clone(), room);
        let mut shard = lock(self.shard(&key));
        if let Some(entry) = shard.rooms.get_mut(&key) {
            entry.members.retain(|m| m.id() != conn.id());
        }
        self.forget_if_empty(&mut shard, &key);
    }

    /// Subscribes the connection to a conversation's live events.
    pub fn join(&self, conn: &Arc<Conn>, room: ConversationId) {
        if !conn.add_room(room) {
            return;
        }
        let key = (conn.tenant().clone(), room);
        let mut shard = lock(self.shard(&key));
        let entry = shard.rooms.entry(key).or_default();
        if entry.members.is_empty() && entry.watchers.is_empty() {
            self.bus.interest(conn.tenant(), room, true);
        }
        entry.members.push(Arc::clone(conn));
    }

    /// Unsubscribes; returns whether it was joined.
    pub fn leave(&self, conn: &Arc<Conn>, room: ConversationId) -> bool {
        if !conn.remove_room(room) {
            return false;
        }
        self.drop_member(conn, room);
        true
    }

    /// Delivers an envelope to the connections that joined its conversation, in the
    /// conversation's event order; returns how many frames were sent (queued or written).
    pub fn deliver(&self, envelope: &BusEnvelope) -> usize {
        self.deliver_ordered(envelope, false)
    }

    /// Delivers an event committed alone (not one of a batch): written through to the sockets
    /// with nothing waiting (`conn.rs`, at most [`THROUGH_PER_EVENT`]), so the connections'
    /// tasks are not woken.
    pub fn deliver_alone(&self, envelope: &BusEnvelope) -> usize {
        self.deliver_ordered(envelope, true)
    }

    /// Delivers the events of one commit, in order. Each conversation's events go to each of
    /// its connections as one run: written through in one write per socket (as
    /// [`Hub::deliver_alone`] writes one event), or queued with one wake-up per connection
    /// rather than one per event.
    pub fn deliver_batch(&self, envelopes: &[BusEnvelope]) -> usize {
        let mut rooms: Vec<(RoomKey, Vec<&BusEnvelope>)> = Vec::new();
        for envelope in envelopes {
            let key = (envelope.tenant.clone(), envelope.conversation);
            match rooms.iter_mut().find(|(k, _)| *k == key) {
                Some((_, run)) => run.push(envelope),
                None => rooms.push((key, vec![envelope])),
            }
        }
        let mut sent = 0;
        for (key, run) in rooms {
            sent += match self.deliver_run(&key, &run) {
                Some(sent) => sent,
                None => run.iter().map(|e| self.deliver_ordered(e, false)).sum(),
            };
        }
        sent
    }

    /// Delivers a conversation's run of events that follows on what it delivered last; `None`
    /// (nothing done) when the run is not such a plain run: a gap before it or inside it,
    /// events held, or an event that skips or removes someone.
    fn deliver_run(&self, key: &RoomKey, run: &[&BusEnvelope]) -> Option<usize> {
        let first = run.first()?.event_seq?;
        let plain = (first..).zip(run).all(|(seq, e)| {
            e.event_seq == Some(seq) && e.skip_user.is_none() && e.revoke_user.is_none()
        });
        if !plain {
            return None;
        }
        let mut shard = lock(self.shard(key));
        let Some(room) = shard.rooms.get_mut(key) else {
            return Some(0);
        };
        if !room.ahead.is_empty() || room.next.is_some_and(|next| next != first) {
            return None;
        }
        let frames: Vec<Frame> = run
            .iter()
            .map(|e| Frame::committed(e.frame.clone(), e.at_ms))
            .collect();
        let mut sent = 0;
        for (conn, through) in recipients(&room.members, true) {
            sent += conn.offer_live_run(key.1, first, &frames, self.held_limit, through);
        }
        room.next = Some(first + run.len() as i64);
        if !room.watchers.is_empty() {
            for envelope in run {
                self.tell_watchers(&room.watchers, envelope);
            }
        }
        record_delivered(sent, run.iter().map(|e| e.at_ms));
        Some(sent)
    }

    fn deliver_ordered(&self, envelope: &BusEnvelope, through: bool) -> usize {
        let key = (envelope.tenant.clone(), envelope.conversation);
        let mut shard = lock(self.shard(&key));
        let Shard { rooms, waiting } = &mut *shard;
        let Some(room) = rooms.get_mut(&key) else {
            return 0;
        };
        let mut queued = 0;
        match (envelope.event_seq, room.next) {
            (Some(seq), Some(next)) if seq > next && room.ahead.len() < HELD_PER_ROOM => {
                room.ahead.insert(seq, envelope.clone());
                room.waiting_since.get_or_insert_with(Instant::now);
                ::metrics::counter!(metrics::HELD).increment(1);
                waiting.insert(key);
                return 0;
            }
            (Some(seq), next) => {
                queued += self.deliver_now(room, envelope, through);
                room.next = Some(next.map_or(seq + 1, |n| n.max(seq + 1)));
                queued += self.release_consecutive(room);
            }
            (None, _) => queued += self.deliver_now(room, envelope, through),
        }
        if room.ahead.is_empty() {
            room.waiting_since = None;
            waiting.remove(&key);
        }
        self.forget_if_empty(&mut shard, &key);
        queued
    }

    /// Delivers what waits behind a gap older than `max_wait` (the earlier event is not coming:
    /// its instance died or the bus dropped it; clients will sync it).
    pub fn release_stale(&self, max_wait: Duration) {
        let now = Instant::now();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            if shard.waiting.is_empty() {
                continue;
            }
            let stale: Vec<RoomKey> = shard
                .waiting
                .iter()
                .filter(|key| {
                    shard.rooms.get(key).is_none_or(|room| {
                        room.waiting_since
                            .is_none_or(|since| now.duration_since(since) >= max_wait)
                    })
                })
                .cloned()
                .collect();
            for key in stale {
                shard.waiting.remove(&key);
                let Some(room) = shard.rooms.get_mut(&key) else {
                    continue;
                };
                ::metrics::counter!(metrics::GAPS_SKIPPED).increment(1);
                for (seq, envelope) in std::mem::take(&mut room.ahead) {
                    self.deliver_now(room, &envelope, false);
                    room.next = Some(seq + 1);
                }
                room.waiting_since = None;
                self.forget_if_empty(&mut shard, &key);
            }
        }
    }

    fn release_consecutive(&self, room: &mut Room) -> usize {
        let mut queued = 0;
        while let Some(next) = room.next
            && let Some(envelope) = room.ahead.remove(&next)
        {
            queued += self.deliver_now(room, &envelope, false);
            room.next = Some(next + 1);
        }
        queued
    }

    fn forget_if_empty(&self, shard: &mut Shard, key: &RoomKey) {
        if shard
            .rooms
            .get(key)
            .is_some_and(|room| room.members.is_empty() && room.watchers.is_empty())
        {
            shard.rooms.remove(key);
            shard.waiting.remove(key);
            self.bus.interest(&key.0, key.1, false);
        }
    }

    fn deliver_now(&self, room: &mut Room, envelope: &BusEnvelope, through: bool) -> usize {
        let frame = match envelope.event_seq {
            Some(_) => Frame::committed(envelope.frame.clone(), envelope.at_ms),
            None => Frame::from_bytes(envelope.frame.clone()),
        };
        let mut queued = 0;
        for (conn, through) in recipients(&room.members, through) {
            if envelope.skip_user.is_some() && conn.user() == envelope.skip_user {
                continue;
            }
            if conn.offer_live(
                envelope.conversation,
                envelope.event_seq,
                &frame,
                self.held_limit,
                through,
            ) {
                queued += 1;
            }
        }
        if !room.watchers.is_empty() {
            self.tell_watchers(&room.watchers, envelope);
        }
        if let Some(revoked) = envelope.revoke_user {
            room.members.retain(|conn| {
                let keep = conn.user() != Some(revoked);
                if !keep {
                    conn.remove_room(envelope.conversation);
                }
                keep
            });
        }
        record_delivered(queued, [envelope.at_ms]);
        queued
    }

    /// Asks every connection to reconnect elsewhere, each after a random delay below
    /// `jitter_ms` so clients do not all return at once.
    pub fn drain_all(&self, jitter_ms: u64) {
        for registry in self.registry.iter() {
            for conn in lock(registry).values() {
                let after_ms = if jitter_ms == 0 {
                    0
                } else {
                    rand::random::<u64>() % jitter_ms
                };
                conn.drain(after_ms);
            }
        }
    }

    /// Closes every connection.
    pub fn close_all(&self, reason: &CloseReason) {
        for registry in self.registry.iter() {
            for conn in lock(registry).values() {
                conn.close(reason.clone());
            }
        }
    }

    /// Live connections.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A room's members, each with whether the deliverer writes to it itself (`through` allows it
/// for the first [`THROUGH_PER_EVENT`]). Those are last: the deliverer queues for the others
/// first, whose tasks meanwhile write on the other cores.
fn recipients(members: &[Arc<Conn>], through: bool) -> impl Iterator<Item = (&Arc<Conn>, bool)> {
    let direct = if through {
        members.len().min(THROUGH_PER_EVENT)
    } else {
        0
    };
    let (written, woken) = members.split_at(direct);
    let woken = woken.iter().map(|c| (c, false));
    woken.chain(written.iter().map(|c| (c, true)))
}

/// Counts `sent` frames delivered, and the delay since each delivered event was committed.
fn record_delivered(sent: usize, committed_at_ms: impl IntoIterator<Item = i64>) {
    if sent == 0 {
        return;
    }
    ::metrics::counter!(metrics::DELIVERED).increment(sent as u64);
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    for at_ms in committed_at_ms {
        let latency_ms = (now - i128::from(at_ms)).max(0);
        ::metrics::histogram!(metrics::LATENCY).record(latency_ms as f64 / 1000.0);
    }
}

/// Other instances' envelopes arrive here.
impl BusInbox for Hub {
    fn deliver(&self, envelope: BusEnvelope) {
        let Some(trace) = &envelope.trace else {
            Hub::deliver(self, &envelope);
            return;
        };
        // The hop from another instance, in the trace of the change it carries.
        let span = tracing::info_span!(
            "bus.deliver",
            otel.kind = "consumer",
            messaging.system = "redis",
            connections = tracing::field::Empty
        );
        trace.adopt(&span);
        let _entered = span.enter();
        let queued = Hub::deliver(self, &envelope);
        span.record("connections", queued);
    }

    fn revoked(&self, revocation: &Revocation) {
        Hub::revoke(self, revocation);
    }

    fn account(&self, envelope: AccountEnvelope) {
        Hub::deliver_account(self, &envelope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::bus::LocalBus;

    fn envelope(tenant: &TenantId, room: ConversationId, seq: i64) -> BusEnvelope {
        BusEnvelope {
            tenant: tenant.clone(),
            conversation: room,
            event_seq: Some(seq),
            skip_user: None,
            revoke_user: None,
            at_ms: 0,
            frame: bytes::Bytes::from(format!("{room}:{seq}")),
            trace: None,
        }
    }

    fn taken(conn: &Conn) -> Vec<String> {
        let frames = conn.take().frames;
        conn.written();
        frames
            .iter()
            .map(|f| String::from_utf8_lossy(f.bytes()).into_owned())
            .collect()
    }

    fn names(room: ConversationId, seqs: impl IntoIterator<Item = i64>) -> Vec<String> {
        seqs.into_iter()
            .map(|seq| format!("{room}:{seq}"))
            .collect()
    }

    #[test]
    fn a_batch_reaches_each_room_in_order_and_only_its_own_room() {
        let hub = Hub::new(Arc::new(LocalBus), 64, 4);
        let tenant = TenantId::parse("acme").unwrap();
        let (a, b) = (ConversationId::generate(), ConversationId::generate());
        let (in_a, in_b) = (hub.register(tenant.clone()), hub.register(tenant.clone()));
        hub.join(&in_a, a);
        hub.join(&in_b, b);
        let batch = [(a, 1), (b, 1), (a, 2), (b, 2), (a, 3)].map(|(r, s)| envelope(&tenant, r, s));
        assert_eq!(hub.deliver_batch(&batch), 5);
        assert_eq!(taken(&in_a), names(a, 1..=3));
        assert_eq!(taken(&in_b), names(b, 1..=2));
        // The next batch follows on; a copy of delivered events is not sent again.
        let again = [(a, 3), (a, 4)].map(|(r, s)| envelope(&tenant, r, s));
        assert_eq!(hub.deliver_batch(&again), 1);
        assert_eq!(taken(&in_a), names(a, [4]));
    }

    #[test]
    fn a_batch_after_a_gap_waits_for_it() {
        let hub = Hub::new(Arc::new(LocalBus), 64, 4);
        let tenant = TenantId::parse("acme").unwrap();
        let room = ConversationId::generate();
        let conn = hub.register(tenant.clone());
        hub.join(&conn, room);
        hub.deliver(&envelope(&tenant, room, 1));
        let batch = [3, 4].map(|seq| envelope(&tenant, room, seq));
        assert_eq!(hub.deliver_batch(&batch), 0);
        assert_eq!(taken(&conn), names(room, [1]));
        hub.deliver(&envelope(&tenant, room, 2));
        assert_eq!(taken(&conn), names(room, 2..=4));
    }
}
