//! Log lines that name their trace: `trace_id` and `span_id` of the span a line was written in,
//! so a log search leads to the trace and a trace to its logs.

use opentelemetry::trace::TraceContextExt;
use std::fmt;
use std::sync::OnceLock;
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The subscriber the OpenTelemetry layer lives in: a formatter runs inside the subscriber's
/// own callback, where `tracing` offers no current dispatcher, so it is kept here.
static DISPATCH: OnceLock<WeakDispatch> = OnceLock::new();

/// A layer that only remembers which subscriber it was installed in.
pub struct DispatchHandle;

impl<S: Subscriber> tracing_subscriber::Layer<S> for DispatchHandle {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = DISPATCH.set(subscriber.downgrade());
    }

    fn enabled(&self, _: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        true
    }
}

/// The trace and span ids of the innermost span of `ctx`, when it is part of a trace.
pub fn current_ids<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<(String, String)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let span = ctx.lookup_current()?;
    let dispatch = DISPATCH.get()?.upgrade()?;
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
