//! Logs and traces of both binaries: `tracing` everywhere, with pretty output on a terminal or
//! JSON lines, and —
//! when an OTLP endpoint is configured by the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`
//! or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) — the same spans exported as OpenTelemetry traces over
//! OTLP/HTTP. Sampling, the service name and resource attributes follow the standard variables
//! too (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`); `OTEL_SDK_DISABLED=true` turns export off.
//!
//! Export never slows a request: spans are queued to the SDK's batch processor, which sends them
//! from a thread of its own and drops what does not fit its queue.

mod context;
mod log_ids;
mod sql_spans;

pub use context::{TraceParent, batch_span};
pub use sql_spans::STATEMENT_TARGET;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Which spans become traces when `CHEMCHAT_TRACE_FILTER` does not say (the syntax of
/// `RUST_LOG`). Separate from the log filter: quiet logs must not mean empty traces.
const DEFAULT_TRACE_FILTER: &str = "info";

/// What `init` set up; `shutdown` sends the spans still queued.
#[derive(Debug, Default)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.traces.is_some()
    }

    /// Flushes and stops the exporter (blocking for at most its timeout): call once, when the
    /// process is about to exit.
    pub fn shutdown(self) {
        if let Some(traces) = self.traces
            && let Err(e) = traces.shutdown()
        {
            eprintln!("chemchat: flushing traces failed: {e}");
        }
    }
}

/// Installs the global subscriber for `service`, logging JSON lines when `json`. `RUST_LOG`
/// filters the logs (default `info`). A second call (tests that start several servers in one
/// process) keeps the first subscriber.
pub fn init(json: bool, service: &'static str) -> Telemetry {
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    init_with(json, service, log_filter)
}

fn init_with(json: bool, service: &'static str, log_filter: EnvFilter) -> Telemetry {
    let traces = match tracer_provider(service) {
        Ok(traces) => traces,
        Err(e) => {
            eprintln!("chemchat: traces are not exported: {e}");
            None
        }
    };
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .map_event_format(log_ids::WithTraceIds::new)
            .with_filter(log_filter)
            .boxed()
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(ansi)
            .map_event_format(log_ids::WithTraceIds::new)
            .with_filter(log_filter)
            .boxed()
    };
    let exported = traces.as_ref().map(|provider| {
        let tracer = provider.tracer(service);
        let trace_filter = std::env::var("CHEMCHAT_TRACE_FILTER")
            .ok()
            .and_then(|raw| EnvFilter::try_new(raw).ok())
            .unwrap_or_else(|| EnvFilter::new(DEFAULT_TRACE_FILTER));
        let spans = tracing_opentelemetry::layer()
            .with_tracer(tracer.clone())
            .with_filter(trace_filter);
        // sqlx reports each statement as a debug event; these become spans of their own. The
        // filter also admits the info spans they happen in: a filtered layer sees only the
        // spans its own filter enables, and a statement needs its parent.
        let statements = sql_spans::SqlSpans::new(tracer).with_filter(
            Targets::new()
                .with_target("sqlx::query", Level::DEBUG)
                .with_target(sql_spans::STATEMENT_TARGET, Level::DEBUG)
                .with_default(Level::INFO),
        );
        spans.and_then(statements).boxed()
    });
    let logged = tracing_subscriber::registry().with(logs);
    // Two subscribers rather than an `Option` layer: `Option` does not pass on
    // `on_register_dispatch`, which the statement layer needs; and a stand-in layer without a
    // filter would count as wanting every level (the process's maximum would be `TRACE`, and
    // every `debug!` of every dependency dispatched only to be filtered out).
    let installed = match exported {
        Some(exported) => logged.with(exported).try_init(),
        None => logged.try_init(),
    };
    match installed {
        Ok(()) => {
            log_ids::remember_dispatch();
            Telemetry { traces }
        }
        // Someone else's subscriber is in place: our spans would go nowhere.
        Err(_) => Telemetry::default(),
    }
}

/// The exporter, when one is configured.
fn tracer_provider(service: &'static str) -> Result<Option<SdkTracerProvider>, String> {
    let configured = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled
        || !(configured("OTEL_EXPORTER_OTLP_ENDPOINT")
            || configured("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string())?;
    let mut resource = Resource::builder().with_attributes([
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("service.instance.id", instance_id()),
    ]);
    // OTEL_SERVICE_NAME, when set, is read by the builder's own detectors and wins.
    if !configured("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name(service);
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Some(
        SdkTracerProvider::builder()
            .with_resource(resource.build())
            .with_batch_exporter(exporter)
            .build(),
    ))
}

/// This process among the service's replicas: the pod name on Kubernetes, else a fresh id.
fn instance_id() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|host| format!("{host}-{}", std::process::id()))
        .unwrap_or_else(|_| uuid::Uuid::now_v7().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    /// Quiet logs must make disabled levels free: the process's maximum level is the log
    /// filter's when nothing is exported, so `debug!` in a hot path costs one comparison.
    #[test]
    fn the_maximum_level_is_the_log_filters() {
        let telemetry = init_with(false, "test", EnvFilter::new("warn"));
        if telemetry.exporting() {
            // OTEL_EXPORTER_OTLP_ENDPOINT is set around the test: spans are wanted at `info`.
            assert_eq!(LevelFilter::current(), LevelFilter::DEBUG);
            return;
        }
        assert_eq!(LevelFilter::current(), LevelFilter::WARN);
        assert!(!tracing::enabled!(Level::DEBUG));
        assert!(tracing::enabled!(Level::WARN));
    }
}
