//! Socket.IO requests copied out of the connection's read buffer. hyper parses a request's URI
//! and header values without copying them: they are slices of the buffer the request was read
//! into (16 KiB), as is the copy of the URI axum keeps in the extensions (`OriginalUri`).
//! engineioxide keeps the handshake's parts for the socket's whole life, and with them that
//! buffer: 16 KiB held by every idle socket for some hundred bytes of headers
//! (docs/benchmarks.md). Copied, the parts own just their bytes.

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderValue, Request, Uri};

/// Where socketioxide answers.
const PATH: &str = "/socket.io/";

/// `request` with its URI and headers in allocations of their own when it is for Socket.IO;
/// any other request unchanged.
pub fn detach_from_read_buffer(request: Request<Body>) -> Request<Body> {
    if !request.uri().path().starts_with(PATH) {
        return request;
    }
    let (mut parts, body) = request.into_parts();
    parts.headers = owned_headers(&parts.headers);
    parts.uri = owned_uri(&parts.uri);
    if let Some(OriginalUri(original)) = parts.extensions.get_mut::<OriginalUri>() {
        *original = owned_uri(original);
    }
    Request::from_parts(parts, body)
}

/// `uri` parsed again from a string of its own (`TryFrom<String>` keeps the string's buffer).
fn owned_uri(uri: &Uri) -> Uri {
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .map(|(name, value)| {
            // `from_bytes` copies; a value that was valid stays valid.
            let mut owned =
                HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
            owned.set_sensitive(value.is_sensitive());
            (name.clone(), owned)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::detach_from_read_buffer;
    use axum::body::{Body, Bytes};
    use axum::extract::OriginalUri;
    use axum::http::{HeaderValue, Request};

    /// A request whose URI and header value are slices of one buffer, as hyper makes them.
    fn parsed(path: &str) -> (Request<Body>, Bytes) {
        let buffer = Bytes::from(format!("{path}|token-value|").into_bytes());
        let uri = axum::http::Uri::from_maybe_shared(buffer.slice(..path.len())).unwrap();
        let mut value =
            HeaderValue::from_maybe_shared(buffer.slice(path.len() + 1..path.len() + 12)).unwrap();
        value.set_sensitive(true);
        let mut request = Request::builder()
            .uri(uri.clone())
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(OriginalUri(uri));
        request.headers_mut().insert("authorization", value);
        request
            .headers_mut()
            .append("x-tenant-id", HeaderValue::from_static("acme"));
        request
            .headers_mut()
            .append("x-tenant-id", HeaderValue::from_static("again"));
        (request, buffer)
    }

    fn points_into(buffer: &Bytes, bytes: &[u8]) -> bool {
        buffer.as_ptr_range().contains(&bytes.as_ptr())
    }

    #[test]
    fn a_socket_io_request_keeps_everything_but_the_buffer() {
        let (request, buffer) = parsed("/socket.io/?EIO=4&transport=websocket");
        let request = detach_from_read_buffer(request);
        assert_eq!(request.uri(), "/socket.io/?EIO=4&transport=websocket");
        let value = &request.headers()["authorization"];
        assert_eq!(value, "token-value");
        assert!(value.is_sensitive());
        let tenants: Vec<_> = request.headers().get_all("x-tenant-id").iter().collect();
        assert_eq!(tenants, ["acme", "again"]);
        assert!(!points_into(&buffer, value.as_bytes()));
        let path = request.uri().path_and_query().unwrap().as_str();
        assert!(!points_into(&buffer, path.as_bytes()));
        let OriginalUri(original) = request.extensions().get::<OriginalUri>().unwrap();
        assert_eq!(original, request.uri());
        let path = original.path_and_query().unwrap().as_str();
        assert!(!points_into(&buffer, path.as_bytes()));
    }

    #[test]
    fn other_requests_are_left_as_they_are() {
        let (request, buffer) = parsed("/api/v1/auth/me");
        let request = detach_from_read_buffer(request);
        let value = &request.headers()["authorization"];
        assert!(points_into(&buffer, value.as_bytes()));
    }
}
