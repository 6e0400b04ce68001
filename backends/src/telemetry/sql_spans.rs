//! SQL statements as spans. sqlx reports each finished statement as a `sqlx::query` debug event
//! with its text, rows and elapsed time; this layer turns the event into a client span of the
//! work that ran it — named by the statement's kind and table (`INSERT messages`), timed by
//! sqlx's own clock — so a trace shows every round trip to the database without wrapping each
//! query in the adapters. Statements run without sqlx (SQLite's send batches, on their own
//! connection) report the same event under [`STATEMENT_TARGET`].

use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context as OtelContext, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The target of a statement event sent by the server's own SQL code, with sqlx's fields:
/// `db.statement` (its text), `rows_returned`, `rows_affected`, `elapsed_secs`.
pub const STATEMENT_TARGET: &str = "chemchat::statement";

/// The layer.
pub struct SqlSpans {
    tracer: SdkTracer,
    dispatch: OnceLock<WeakDispatch>,
}

impl SqlSpans {
    /// Spans made with `tracer`.
    pub fn new(tracer: SdkTracer) -> Self {
        Self {
            tracer,
            dispatch: OnceLock::new(),
        }
    }

    fn parent<S>(&self, ctx: &Context<'_, S>, event: &Event<'_>) -> Option<OtelContext>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let span = ctx.event_span(event)?;
        let dispatch = self.dispatch.get()?.upgrade()?;
        let parent = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
        parent.span().span_context().is_valid().then_some(parent)
    }
}

impl<S> tracing_subscriber::Layer<S> for SqlSpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !matches!(event.metadata().target(), "sqlx::query" | STATEMENT_TARGET) {
            return;
        }
        // A statement outside any traced work (a background sweep between rounds) would be a
        // trace of its own: noise.
        let Some(parent) = self.parent(&ctx, event) else {
            return;
        };
        let mut fields = Statement::default();
        event.record(&mut fields);
        let text = if fields.statement.trim().is_empty() {
            fields.summary.trim()
        } else {
            fields.statement.trim()
        };
        let (operation, table) = kind_and_table(text);
        let name = match table {
            Some(table) => format!("{operation} {table}"),
            None => operation.clone(),
        };
        let ended = SystemTime::now();
        let started = ended
            .checked_sub(Duration::from_secs_f64(fields.elapsed_secs.max(0.0)))
            .unwrap_or(ended);
        let mut attributes = vec![
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("db.query.summary", name.clone()),
            KeyValue::new("db.response.returned_rows", fields.rows_returned),
            KeyValue::new("chemchat.db.rows_affected", fields.rows_affected),
        ];
        if let Some(table) = table {
            attributes.push(KeyValue::new("db.collection.name", table.to_owned()));
        }
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(started)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        let mut span = span;
        opentelemetry::trace::Span::end_with_timestamp(&mut span, ended);
    }
}

#[derive(Default)]
struct Statement {
    summary: String,
    statement: String,
    rows_returned: i64,
    rows_affected: i64,
    elapsed_secs: f64,
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => value.clone_into(&mut self.summary),
            "db.statement" => value.clone_into(&mut self.statement),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        match field.name() {
            "rows_returned" => self.rows_returned = value,
            "rows_affected" => self.rows_affected = value,
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = value;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.summary = format!("{value:?}").trim_matches('"').to_owned();
        }
    }
}

/// The statement's kind (`SELECT`, `INSERT`, …) and the table it is about, read from its text:
/// the name after `FROM`, `INTO`, `UPDATE`, `TABLE` or `JOIN` (`JOIN LATERAL`'s subquery: its own
/// `FROM`).
fn kind_and_table(sql: &str) -> (String, Option<&str>) {
    let mut words = sql.split_whitespace();
    let operation = words
        .next()
        .map(|word| {
            word.trim_matches(|c: char| !c.is_ascii_alphabetic())
                .to_ascii_uppercase()
        })
        .unwrap_or_default();
    let mut previous = operation.as_str().to_owned();
    for word in words {
        // `JOIN LATERAL (SELECT … FROM t)`: the table is the subquery's.
        if word.eq_ignore_ascii_case("LATERAL") {
            continue;
        }
        let keyword = previous.to_ascii_uppercase();
        // `FROM (SELECT …)` is a subquery, not a table.
        if matches!(
            keyword.as_str(),
            "FROM" | "INTO" | "UPDATE" | "TABLE" | "JOIN"
        ) && !word.starts_with('(')
        {
            let table = word
                .trim_matches(|c: char| c == '(' || c == ')' || c == '"' || c == ',' || c == ';')
                .rsplit('.')
                .next()
                .unwrap_or_default();
            if !table.is_empty() && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return (operation, Some(table));
            }
        }
        word.clone_into(&mut previous);
    }
    (operation, None)
}

#[cfg(test)]
mod tests {
    use super::kind_and_table;

    #[test]
    fn statements_are_named_by_kind_and_table() {
        assert_eq!(
            kind_and_table("INSERT INTO events (tenant_id, id) VALUES ($1, $2)"),
            ("INSERT".to_owned(), Some("events"))
        );
        assert_eq!(
            kind_and_table("SELECT id, seq FROM messages WHERE tenant_id = $1"),
            ("SELECT".to_owned(), Some("messages"))
        );
        assert_eq!(
            kind_and_table("UPDATE conversations SET x = 1"),
            ("UPDATE".to_owned(), Some("conversations"))
        );
        assert_eq!(
            kind_and_table("DELETE FROM public.sessions WHERE id = $1"),
            ("DELETE".to_owned(), Some("sessions"))
        );
        assert_eq!(kind_and_table("BEGIN"), ("BEGIN".to_owned(), None));
        assert_eq!(
            kind_and_table(
                "SELECT k.i FROM (SELECT 1 AS i) AS k \
                 LEFT JOIN LATERAL (SELECT id FROM conversations c LIMIT 1) AS c ON true"
            ),
            ("SELECT".to_owned(), Some("conversations"))
        );
        assert_eq!(
            kind_and_table("SELECT (SELECT 1) FROM (SELECT 2) AS x"),
            ("SELECT".to_owned(), None)
        );
    }
}
