//! The accept loop: hyper's connection builder with the edge's limits — a cap on open
//! connections, a deadline for request headers (which also ends idle keep-alive connections),
//! HTTP/2 keep-alive pings — and graceful shutdown. axum's own `serve` exposes none of these.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::add_extension::AddExtensionLayer;

/// Connections refused because the cap was reached (counter).
pub const METRIC_REFUSED: &str = "chemchat_http_connections_refused_total";

/// The limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// Open HTTP connections at once; more are closed on accept. (An upgraded WebSocket leaves
    /// this count and is held by the gateway's own cap.)
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and the longest an idle keep-alive
    /// connection waits for its next request.
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
/// WebSockets are handed to their own tasks on upgrade and are the gateway's to drain.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or a connection reset before accept: wait a moment
                    // rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            metrics::counter!(METRIC_REFUSED).increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = ServiceBuilder::new()
            .layer(AddExtensionLayer::new(ConnectInfo(peer)))
            .service(router.clone());
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            // hyper's header deadline starts once it knows the protocol, and finding that out
            // waits for a first byte without a deadline: a client that connects and says nothing
            // is dropped here.
            let mut first = [0_u8; 1];
            match tokio::time::timeout(header_read_timeout, stream.peek(&mut first)).await {
                Ok(Ok(read)) if read > 0 => {}
                _ => return drop(permit),
            }
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
