//! Log lines that name their trace: `trace_id` and `span_id` of the span a line was written in,
//! so a log search leads to the trace and a trace to its logs.

use opentelemetry::trace::TraceContextExt;
use std::fmt;
use std::sync::RwLock;
use tracing::dispatcher::WeakDispatch;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The subscriber the OpenTelemetry layer lives in: a formatter runs inside the subscriber's
/// own callback, where `tracing` offers no current dispatcher, so it is kept here. (Not a layer
/// that learns it on registration: a layer without a filter counts as wanting every level, and
/// would lift the process's maximum level to `TRACE`.)
static DISPATCH: RwLock<Option<WeakDispatch>> = RwLock::new(None);

/// Remembers the current default subscriber as the one whose spans carry trace contexts: call
/// right after installing it.
pub fn remember_dispatch() {
    tracing::dispatcher::get_default(|current| {
        *DISPATCH.write().unwrap_or_else(|e| e.into_inner()) = Some(current.downgrade());
    });
}

/// The trace and span ids of the innermost span of `ctx`, when it is part of a trace.
pub fn current_ids<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<(String, String)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let span = ctx.lookup_current()?;
    let dispatch = DISPATCH
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()?
        .upgrade()?;
    let context = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| {
        (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        )
    })
}

/// Wraps an event format: the line it writes, with the ids added — as JSON fields for JSON
/// lines, as `trace_id=… span_id=…` at the end of text lines.
pub struct WithTraceIds<F> {
    inner: F,
}

impl<F> WithTraceIds<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        Self { inner }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = current_ids(ctx) else {
            return self.inner.format_event(ctx, writer, event);
        };
        // Formatted aside (without colours) so the ids can go inside the JSON object.
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let body = line.trim_end_matches('\n');
        match body.strip_suffix('}') {
            Some(object) if body.starts_with('{') => writeln!(
                writer,
                "{object},\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
            ),
            _ => writeln!(writer, "{body} trace_id={trace_id} span_id={span_id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_written_in_a_traced_span_name_its_trace_and_others_do_not() {
        let provider = SdkTracerProvider::builder().build();
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .map_event_format(WithTraceIds::new)
                    .with_writer(move || writer.clone()),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            remember_dispatch();
            tracing::info!("outside");
            let span = tracing::info_span!("work");
            let _entered = span.enter();
            tracing::info!("inside");
        });
        let text = String::from_utf8(lines.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_default())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].get("trace_id").is_none(), "{text}");
        let trace_id = lines[1]["trace_id"].as_str().unwrap_or_default();
        let span_id = lines[1]["span_id"].as_str().unwrap_or_default();
        assert_eq!(trace_id.len(), 32, "{text}");
        assert_eq!(span_id.len(), 16, "{text}");
        assert_eq!(
            lines[1]["message"], "inside",
            "still the JSON line it was: {text}"
        );
    }
}
