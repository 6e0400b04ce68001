//! A socket's client events on their way to its session: in arrival order, bounded (a client
//! that outruns its session ends the inbox), and allocated on demand. A tokio channel allocates its first block (32 slots of an event with its
//! acknowledgement callback, some 3 KiB) when the socket connects, and most sockets sit idle.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// Events waiting for their session: filled by the socket's handler, drained by its task.
pub(super) struct Inbox<T> {
    queue: Mutex<VecDeque<T>>,
    arrived: Notify,
    limit: usize,
    overflowed: AtomicBool,
}

impl<T> Inbox<T> {
    /// An empty inbox that holds at most `limit` events.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            arrived: Notify::new(),
            limit,
            overflowed: AtomicBool::new(false),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        // Plain data: a panic elsewhere leaves nothing half-written in a queue.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `event`; when `limit` events already wait, gives it back and ends the inbox.
    pub(super) fn push(&self, event: T) -> Result<(), T> {
        {
            let mut queue = self.queue();
            if queue.len() >= self.limit {
                self.overflowed.store(true, Ordering::Release);
                drop(queue);
                self.arrived.notify_one();
                return Err(event);
            }
            queue.push_back(event);
        }
        self.arrived.notify_one();
        Ok(())
    }

    /// The oldest event, once there is one; `None` once the inbox overflowed. Cancel-safe: an
    /// event is only taken by a call that returns it, and a call that was dropped leaves the
    /// queue as it was.
    pub(super) async fn next(&self) -> Option<T> {
        loop {
            if self.overflowed.load(Ordering::Acquire) {
                return None;
            }
            if let Some(event) = self.pop() {
                return Some(event);
            }
            // A push between the look above and this wait stores a permit: nothing is missed.
            self.arrived.notified().await;
        }
    }

    fn pop(&self) -> Option<T> {
        let mut queue = self.queue();
        let event = queue.pop_front();
        // An emptied queue gives its buffer back: most sockets fall idle after each event, and
        // one allocation per busy stretch costs less than a buffer held by every idle socket.
        if queue.is_empty() && queue.capacity() > 0 {
            queue.shrink_to_fit();
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::Inbox;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn events_come_out_in_order_up_to_the_limit() {
        let inbox = Inbox::new(2);
        assert!(inbox.push(1).is_ok());
        assert!(inbox.push(2).is_ok());
        assert_eq!(inbox.next().await, Some(1));
        assert!(inbox.push(3).is_ok());
        assert_eq!(inbox.next().await, Some(2));
        assert_eq!(inbox.next().await, Some(3));
    }

    #[tokio::test]
    async fn an_overflow_ends_the_inbox() {
        let inbox = Inbox::new(2);
        inbox.push(1).unwrap();
        inbox.push(2).unwrap();
        assert_eq!(inbox.push(3), Err(3), "over the limit");
        assert_eq!(inbox.next().await, None, "what waited is not served either");
        assert_eq!(inbox.next().await, None);
    }

    #[tokio::test]
    async fn a_waiting_task_wakes_for_a_later_event() {
        let inbox = Arc::new(Inbox::new(4));
        let waiting = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.next().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        inbox.push("hello").unwrap();
        assert_eq!(waiting.await.unwrap(), Some("hello"));
    }

    #[tokio::test]
    async fn a_dropped_wait_loses_nothing() {
        let inbox = Inbox::new(4);
        let gave_up = tokio::time::timeout(Duration::from_millis(10), inbox.next()).await;
        assert!(gave_up.is_err());
        inbox.push(7).unwrap();
        assert_eq!(inbox.next().await, Some(7));
    }

    #[tokio::test]
    async fn an_emptied_queue_gives_back_its_memory() {
        let inbox = Inbox::new(1_000);
        for n in 0..1_000 {
            inbox.push(n).unwrap();
        }
        for _ in 0..1_000 {
            inbox.next().await;
        }
        assert_eq!(inbox.queue().capacity(), 0);
    }
}
