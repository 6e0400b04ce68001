//! Each reconcile is a trace of its own, exported through the same `tracing-opentelemetry`
//! layer `chemchat_backends::telemetry` installs when an OTLP endpoint is configured: a root span
//! named after the kind, carrying the object's name, timed around the whole pass.

use crate::cluster::{current, world};
use chemchat_operator::cluster::reconcile;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;

/// An exporter that keeps what it is given.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_cluster_reconcile_is_one_exported_root_span_with_the_clusters_name() {
    let kept = Kept::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(kept.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("chemchat-operator")));
    // The guard holds for this thread, where the current-thread runtime polls the reconcile.
    let guard = tracing::subscriber::set_default(subscriber);
    let (ctx, fake) = world(true);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    reconcile(current(&fake), ctx).await.unwrap();
    drop(guard);
    provider.force_flush().unwrap();

    let spans = kept.0.lock().unwrap().clone();
    let passes: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "reconcile ChemChatCluster")
        .collect();
    assert_eq!(passes.len(), 2, "one span per pass: {spans:?}");
    for pass in &passes {
        assert_eq!(
            pass.parent_span_id,
            opentelemetry::trace::SpanId::INVALID,
            "a root"
        );
        let cluster = pass
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "cluster")
            .map(|kv| kv.value.to_string());
        assert_eq!(cluster.as_deref(), Some("main"));
        assert!(pass.end_time > pass.start_time);
    }
    assert_ne!(
        passes[0].span_context.trace_id(),
        passes[1].span_context.trace_id(),
        "each pass is a trace of its own"
    );
}
