//! Counting the API requests of one reconcile, for the `chemchat_operator_api_calls` histogram.
//!
//! kube's `Client` hands requests to a buffer task, so neither a task-local nor a layer inside
//! the client can tell which reconcile a request belongs to. Each reconcile therefore gets a
//! client of its own that counts and passes every request to the shared one (same connections,
//! one small buffer task per reconcile).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};
use kube::Client;
use kube::client::Body;

/// A `tower::Service` that counts requests and sends them through `inner`.
#[derive(Clone)]
struct Counting {
    inner: Client,
    calls: Arc<AtomicU64>,
}

impl tower::Service<Request<Body>> for Counting {
    type Response = Response<Body>;
    type Error = kube::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, kube::Error>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner client's own buffer applies back-pressure in `send`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let inner = self.inner.clone();
        Box::pin(async move { inner.send(request).await })
    }
}

/// A client whose requests are counted in the returned counter.
pub fn counting(client: &Client) -> (Client, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let service = Counting {
        inner: client.clone(),
        calls: calls.clone(),
    };
    (
        Client::new(service, client.default_namespace().to_owned()),
        calls,
    )
}
