//! The in-process event log: a broadcast channel for consumers in this process (the default
//! when no Kafka brokers are configured).

use crate::ports::chat::StoredEvent;
use crate::ports::{EventLog, EventLogError, EventStream};
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

    fn subscribe(&self) -> EventStream {
        EventStream::new(self.tx.subscribe())
    }
}
