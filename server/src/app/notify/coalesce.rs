//! The notifier's memory: per member and conversation, the window in which further messages are
//! held rather than pushed; pushes waiting for a retry; and the events already seen (the log
//! delivers at least once).

use super::notifier::Delivery;
use crate::domain::{ConversationId, EventId, TenantId, UserId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// Attempts per push before it is given up.
const MAX_ATTEMPTS: u32 = 5;
/// Event ids remembered to drop redelivered ones.
const SEEN: usize = 20_000;
/// Longest wait before a retry, whatever the push service asks.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(300);

type Key = (TenantId, UserId, ConversationId);

#[derive(Debug)]
struct Window {
    until_ms: i64,
    /// The newest held notice, its count the messages held.
    held: Option<Delivery>,
}

/// What to do with a delivery offered to the coalescer.
#[derive(Debug)]
pub(super) enum Hold {
    /// Push it now: it opens a window.
    SendNow(Delivery),
    /// Held: the window's end pushes it with the others.
    Held,
}

/// Something due now.
#[derive(Debug)]
pub(super) enum Due {
    /// A window ended with messages held: one notice for them.
    Held(Delivery),
    /// A push to try again, with its attempt number.
    Retry(Delivery, u32),
}

/// Windows, retries and seen events.
#[derive(Debug)]
pub(super) struct Coalescer {
    window: Duration,
    windows: HashMap<Key, Window>,
    retries: Vec<(i64, Delivery, u32)>,
    seen: HashSet<EventId>,
    seen_order: VecDeque<EventId>,
}

impl Coalescer {
    pub(super) fn new(window: Duration) -> Self {
        Self {
            window,
            windows: HashMap::new(),
            retries: Vec::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Whether the event is new to the notifier (and remembers it).
    pub(super) fn first_sight(&mut self, event: EventId) -> bool {
        if !self.seen.insert(event) {
            return false;
        }
        self.seen_order.push_back(event);
        if self.seen_order.len() > SEEN
            && let Some(oldest) = self.seen_order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        true
    }

    /// Pushes now when no window is open for the member and conversation; holds otherwise.
    pub(super) fn offer(&mut self, delivery: Delivery, now_ms: i64) -> Hold {
        let key = (
            delivery.tenant.clone(),
            delivery.user,
            delivery.notice.conversation_id,
        );
        let until_ms = now_ms.saturating_add(self.window_ms());
        match self.windows.get_mut(&key) {
            Some(window) if window.until_ms > now_ms => {
                let count = window.held.as_ref().map_or(0, |held| held.notice.count);
                let mut newest = delivery;
                newest.notice.count = count + 1;
                // The earliest held message's commit time measures how long the notice waited.
                if let Some(held) = &window.held {
                    newest.committed_at_ms = held.committed_at_ms;
                }
                window.held = Some(newest);
                Hold::Held
            }
            _ => {
                self.windows.insert(
                    key,
                    Window {
                        until_ms,
                        held: None,
                    },
                );
                Hold::SendNow(delivery)
            }
        }
    }

    /// Schedules a push that asked to be retried; gives up after [`MAX_ATTEMPTS`].
    pub(super) fn retry(
        &mut self,
        delivery: Delivery,
        attempt: u32,
        after: Option<Duration>,
        now_ms: i64,
    ) {
        if attempt >= MAX_ATTEMPTS {
            tracing::info!(user = %delivery.user, "push given up after {MAX_ATTEMPTS} attempts");
            return;
        }
        let backoff = Duration::from_secs(1 << attempt.min(8));
        let wait = after.unwrap_or(backoff).max(backoff).min(MAX_RETRY_WAIT);
        let due = now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        self.retries.push((due, delivery, attempt + 1));
    }

    /// Takes what is due at `now_ms`: held notices of ended windows (each opens a new window,
    /// so a burst that goes on is pushed once per window) and retries.
    pub(super) fn due(&mut self, now_ms: i64) -> Vec<Due> {
        let mut due = Vec::new();
        let next_until = now_ms.saturating_add(self.window_ms());
        self.windows.retain(|_, window| {
            if window.until_ms > now_ms {
                return true;
            }
            match window.held.take() {
                Some(held) => {
                    due.push(Due::Held(held));
                    window.until_ms = next_until;
                    true
                }
                None => false,
            }
        });
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|(at, _, _)| *at <= now_ms);
        self.retries = waiting;
        due.extend(
            ready
                .into_iter()
                .map(|(_, delivery, attempt)| Due::Retry(delivery, attempt)),
        );
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::notify::notice::Notice;

    fn delivery(conversation: ConversationId, user: UserId, seq: i64) -> Delivery {
        Delivery {
            tenant: TenantId::parse("acme").unwrap(),
            user,
            subscriptions: Vec::new(),
            notice: Notice {
                kind: "message",
                title: "t".into(),
                body: format!("m{seq}"),
                conversation_id: conversation,
                seq,
                count: 1,
            },
            urgent: false,
            committed_at_ms: seq,
        }
    }

    #[test]
    fn a_burst_is_one_push_then_one_notice_with_its_count() {
        let mut c = Coalescer::new(Duration::from_secs(10));
        let (room, ann) = (ConversationId::generate(), UserId::generate());
        assert!(matches!(
            c.offer(delivery(room, ann, 1), 0),
            Hold::SendNow(_)
        ));
        for seq in 2..=4 {
            assert!(matches!(c.offer(delivery(room, ann, seq), 100), Hold::Held));
        }
        assert!(c.due(9_999).is_empty());
        let due = c.due(10_000);
        let [Due::Held(held)] = due.as_slice() else {
            panic!("{due:?}")
        };
        assert_eq!((held.notice.seq, held.notice.count), (4, 3));
        assert_eq!(held.committed_at_ms, 2);
        // The burst goes on: held again until the next window ends, then nothing is due.
        assert!(matches!(
            c.offer(delivery(room, ann, 5), 10_001),
            Hold::Held
        ));
        assert_eq!(c.due(20_000).len(), 1);
        assert!(c.due(30_000).is_empty());
        assert!(matches!(
            c.offer(delivery(room, ann, 6), 30_001),
            Hold::SendNow(_)
        ));
    }

    #[test]
    fn members_and_conversations_have_their_own_windows() {
        let mut c = Coalescer::new(Duration::from_secs(10));
        let (room, other) = (ConversationId::generate(), ConversationId::generate());
        let (ann, bob) = (UserId::generate(), UserId::generate());
        assert!(matches!(
            c.offer(delivery(room, ann, 1), 0),
            Hold::SendNow(_)
        ));
        assert!(matches!(
            c.offer(delivery(room, bob, 1), 0),
            Hold::SendNow(_)
        ));
        assert!(matches!(
            c.offer(delivery(other, ann, 1), 0),
            Hold::SendNow(_)
        ));
    }

    #[test]
    fn retries_back_off_and_give_up() {
        let mut c = Coalescer::new(Duration::from_secs(10));
        let d = delivery(ConversationId::generate(), UserId::generate(), 1);
        c.retry(d.clone(), 1, None, 0);
        assert!(c.due(1_999).is_empty());
        assert!(matches!(c.due(2_000).as_slice(), [Due::Retry(_, 2)]));
        c.retry(d.clone(), 1, Some(Duration::from_secs(30)), 0);
        assert!(c.due(29_999).is_empty());
        assert_eq!(c.due(30_000).len(), 1);
        c.retry(d, MAX_ATTEMPTS, None, 0);
        assert!(c.due(i64::MAX / 2).is_empty());
    }

    #[test]
    fn redelivered_events_are_seen_once() {
        let mut c = Coalescer::new(Duration::from_secs(1));
        let id = EventId::generate();
        assert!(c.first_sight(id));
        assert!(!c.first_sight(id));
    }
}
