//! The in-process event log: a broadcast channel for consumers in this process (the default
//! when no Kafka brokers are configured).

use crate::ports::chat::StoredEvent;
use crate::ports::{Delivery, EventConsumer, EventLog, EventLogError, EventStream};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events a slow consumer may fall behind by before it is told it lagged.
const CAPACITY: usize = 4096;

/// Delivers published events to every in-process subscriber.
#[derive(Debug, Clone)]
pub struct InProcessEventLog {
    tx: broadcast::Sender<Arc<StoredEvent>>,
}

impl Default for InProcessEventLog {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessEventLog {
    /// An empty log.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Self { tx }
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> EventStream {
        EventStream::new(self.tx.subscribe())
    }
}

#[async_trait]
impl EventLog for InProcessEventLog {
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), EventLogError> {
        for event in events {
            // No subscriber is not an error: the events stay in the store for sync.
            let _ = self.tx.send(Arc::new(event.clone()));
        }
        Ok(())
    }

    async fn consumer(&self, purpose: &str) -> Result<Box<dyn EventConsumer>, EventLogError> {
        Ok(Box::new(InProcessConsumer {
            purpose: purpose.to_owned(),
            stream: self.subscribe(),
        }))
    }
}

/// A consumer of the in-process log. It sees what is published after it subscribed and keeps
/// no position: the in-process log is the single-node default, where the built-in search needs
/// no feed. Falling more than the channel's capacity behind loses events for this consumer;
/// that is logged and counted rather than hidden.
#[derive(Debug)]
struct InProcessConsumer {
    purpose: String,
    stream: EventStream,
}

#[async_trait]
impl EventConsumer for InProcessConsumer {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Arc<StoredEvent>>, EventLogError> {
        let mut batch = Vec::new();
        loop {
            let delivery = if batch.is_empty() {
                self.stream.next().await
            } else {
                match self.stream.try_next() {
                    Some(delivery) => Some(delivery),
                    None => return Ok(batch),
                }
            };
            match delivery {
                Some(Delivery::Event(event)) => {
                    batch.push(event);
                    if batch.len() >= max {
                        return Ok(batch);
                    }
                }
                Some(Delivery::Lagged(missed)) => {
                    metrics::counter!("chemchat_consumer_lagged_total", "purpose" => self.purpose.clone())
                        .increment(missed);
                    tracing::warn!(purpose = %self.purpose, missed, "in-process consumer fell behind");
                }
                None => {
                    return Err(EventLogError(anyhow::anyhow!(
                        "the in-process event log closed"
                    )));
                }
            }
        }
    }

    async fn commit(&mut self) -> Result<(), EventLogError> {
        Ok(())
    }
}
