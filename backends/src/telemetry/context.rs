//! Where a trace leaves this process or waits in a queue — the outbox, a Kafka record, the bus
//! between instances, an HTTP request — it travels as a W3C `traceparent`, and the work that
//! picks it up continues the same trace.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const HEADER: &str = "traceparent";
/// `00-<32 hex>-<16 hex>-<2 hex>`; a future version may append fields.
const LONGEST: usize = 128;

/// A W3C trace context (`traceparent`), as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent(String);

impl TraceParent {
    /// The current span's context, when it belongs to a sampled trace (never when traces are
    /// not exported: then no span has a context).
    pub fn current() -> Option<Self> {
        Self::of(&tracing::Span::current())
    }

    /// `span`'s context, when it belongs to a sampled trace.
    pub fn of(span: &tracing::Span) -> Option<Self> {
        let context = span.context();
        if !context.span().span_context().is_sampled() {
            return None;
        }
        let mut carrier = Carrier::default();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut carrier);
        });
        carrier.0.remove(HEADER).map(Self)
    }

    /// A `traceparent` read from outside (a header, a column): `None` unless it is short,
    /// printable ASCII (the propagator checks the rest and ignores what it cannot read).
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (!raw.is_empty() && raw.len() <= LONGEST && raw.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| Self(raw.to_owned()))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Makes `span` a child of this context (a span that has not been entered yet).
    pub fn adopt(&self, span: &tracing::Span) {
        let mut carrier = Carrier::default();
        carrier.0.insert(HEADER.to_owned(), self.0.clone());
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&carrier)
        });
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
    }

    /// Links `span` to this context: for work that serves many traces at once (a batch).
    pub fn link(&self, span: &tracing::Span) {
        let mut carrier = Carrier::default();
        carrier.0.insert(HEADER.to_owned(), self.0.clone());
        let other = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&carrier)
        });
        let other = other.span().span_context().clone();
        if other.is_valid() {
            span.add_link(other);
        }
    }
}

/// Links per batch span beyond its parent: enough to find the traces of a burst, bounded so a
/// large batch does not make a huge span.
const MOST_LINKS: usize = 32;

/// Makes `span` — work done once for a batch of events (a relay round, a consumer's batch) —
/// part of the first traced event's trace and linked to the others', so each message's trace
/// shows the batch that carried it.
pub fn batch_span<'a>(
    span: tracing::Span,
    traces: impl IntoIterator<Item = &'a TraceParent>,
) -> tracing::Span {
    let mut traces = traces.into_iter();
    if let Some(first) = traces.next() {
        first.adopt(&span);
        for other in traces.take(MOST_LINKS) {
            other.link(&span);
        }
    }
    span
}

#[derive(Default)]
struct Carrier(HashMap<String, String>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_printable_text_is_taken() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(TraceParent::parse(good).unwrap().as_str(), good);
        assert!(TraceParent::parse("").is_none());
        assert!(TraceParent::parse("00-abc def").is_none());
        assert!(TraceParent::parse(&"0".repeat(200)).is_none());
    }

    #[test]
    fn without_an_exporter_there_is_no_context_to_carry() {
        let span = tracing::info_span!("work");
        assert!(TraceParent::of(&span).is_none());
    }
}
