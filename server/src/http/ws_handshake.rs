//! The WebSocket opening handshake (RFC 6455 §4.2.2), answered here rather than by axum's
//! extractor so that the connection owns tokio-tungstenite's stream and can write its frames
//! around tungstenite's write buffer (`ws_write.rs`). That buffer keeps the capacity of the
//! largest batch it ever held for the connection's whole life: ~6 KiB per idle connection once
//! `conversation.join` acknowledged with a room's presence list. The upgraded connection is
//! taken back to its TCP socket, which the connection shares with the frames written through to
//! it (`ws_wire.rs`).

use super::error::ApiError;
use super::ws_wire::{Wire, WireStream};
use crate::app::ErrorCode;
use crate::tasks::Tasks;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto::upgrade::downcast;
use std::future::Future;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// An accepted WebSocket.
pub(super) type Socket = WebSocketStream<WireStream>;

/// A request that asked to become a WebSocket, checked; [`Handshake::accept`] answers it.
pub(super) struct Handshake {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if parts.method != Method::GET {
            return Err(ApiError::new(
                ErrorCode::MethodNotAllowed,
                "a WebSocket is opened with GET",
            ));
        }
        let headers = &parts.headers;
        if !lists(headers, header::CONNECTION, "upgrade")
            || !lists(headers, header::UPGRADE, "websocket")
        {
            return Err(refused(
                "expected a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)",
            ));
        }
        if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
            return Err(refused("Sec-WebSocket-Version must be 13"));
        }
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or_else(|| refused("Sec-WebSocket-Key is missing"))?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or_else(|| refused("this connection cannot be upgraded (HTTP/1.1 only)"))?;
        Ok(Self { key, on_upgrade })
    }
}

impl Handshake {
    /// Answers 101 and runs `connection` on the socket once the client has it, as a task of
    /// `tasks` (the gateway's), so shutdown stops and awaits it like every other.
    pub fn accept<F, Fut>(self, tasks: &Tasks, config: WebSocketConfig, connection: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        // One box: the task below keeps what it captures for its whole life, even once it has
        // been moved on (an async block stores its captures apart from its locals:
        // rust-lang/rust#62958), so it captures one pointer rather than the closure's and the
        // configuration's few hundred bytes.
        let start = Box::new((self.on_upgrade, config, connection));
        tasks.spawn("websocket", async move {
            let (on_upgrade, config, connection) = *start;
            // `let … else`, not `if let`: the `Option` would stay alive beside the connection.
            let Some(socket) = socket(on_upgrade, config).await else {
                return;
            };
            connection(socket).await;
        });
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// The upgraded connection as a WebSocket, once the client has it.
async fn socket(on_upgrade: OnUpgrade, config: WebSocketConfig) -> Option<Socket> {
    let upgraded = on_upgrade.await.ok()?;
    // The accept loop serves TCP streams only (`listener.rs`).
    let Ok(parts) = downcast::<TokioIo<TcpStream>>(upgraded) else {
        tracing::error!("an upgraded connection is not a TCP stream; dropped");
        return None;
    };
    // Bytes the client sent right after its request were read with it. They are copied out
    // and hyper's read buffer dropped now: the `Bytes` shares hyper's 16 KiB allocation, which
    // would otherwise stay alive for the whole life of an idle connection.
    let (io, read_buf) = (parts.io, parts.read_buf);
    let early = read_buf.to_vec();
    drop(read_buf);
    let socket = WebSocketStream::from_partially_read(
        WireStream(Wire::new(io.into_inner())),
        early,
        Role::Server,
        Some(config),
    )
    .await;
    Some(socket)
}

/// Whether a comma-separated header lists `token` (case-insensitively).
fn lists(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

fn refused(why: &str) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_tokens_are_found_in_lists_whatever_their_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert!(lists(&headers, header::CONNECTION, "upgrade"));
        assert!(!lists(&headers, header::UPGRADE, "websocket"));
    }

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
