//! Logs and traces: the subscriber both binaries share (`chemchat_backends::telemetry`, where
//! the spans' export, the SQL statement spans and the trace context live), in the format
//! `CHEMCHAT_LOG_FORMAT` names.

use crate::config::LogFormat;
pub use chemchat_backends::telemetry::{STATEMENT_TARGET, Telemetry, TraceParent, batch_span};

/// Installs the global subscriber for `service` (see `chemchat_backends::telemetry::init`).
pub fn init(format: LogFormat, service: &'static str) -> Telemetry {
    chemchat_backends::telemetry::init(format == LogFormat::Json, service)
}
