//! Web Push over HTTP (RFC 8030): the payload encrypted for the browser (RFC 8291, `aes128gcm`,
//! by `web-push-native`), the request signed with the tenant's VAPID key (RFC 8292, an ES256
//! JWT by `jsonwebtoken`), sent with `reqwest`.
//!
//! A subscription's endpoint is a URL a client chose, so sending to it is a request on the
//! client's behalf: unless private endpoints are allowed (development and tests), only `https`
//! endpoints on public addresses are reached — literal addresses are checked here and names by
//! the resolver, after resolution, so a name cannot point the server at its own network.

use crate::domain::{endpoint_reachable, is_public_address};
use crate::ports::Probe;
use crate::ports::{PushMessage, PushOutcome, PushSender, PushSubscription, VapidKey};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a VAPID token is good for (RFC 8292 allows at most 24 hours).
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// A signed token is reused until this long before it expires: signing (ES256) per push was
/// the largest part of a push's cost.
const TOKEN_REUSE_MARGIN: Duration = Duration::from_secs(3600);
/// Tokens kept at most (one per tenant and push service in use).
const TOKEN_CACHE: usize = 10_000;
/// How long one push may take, connection included.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// `Authorization` values by (VAPID public key, push service origin), with their expiry (Unix
/// seconds).
type Tokens = HashMap<(String, String), (String, u64)>;

/// Pushes in a row that found their push service unreachable or failing (5xx, 429) before
/// `/health` reports push as down.
const FAILURES_REPORTED: u32 = 3;

/// Sends pushes to browsers' push services.
#[derive(Debug, Clone)]
pub struct WebPushSender {
    client: reqwest::Client,
    contact: String,
    allow_private: bool,
    tokens: Arc<Mutex<Tokens>>,
    /// Pushes in a row that failed for the push service's part: the push entry of `/health`,
    /// which watches the pushes made rather than probing services of the browsers' choosing.
    failing: Arc<AtomicU32>,
}

impl WebPushSender {
    /// A sender naming `contact` (`mailto:…` or `https://…`) to push services. With
    /// `allow_private`, endpoints may be plain `http` on any address.
    pub fn new(contact: &str, allow_private: bool) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if !allow_private {
            builder = builder.https_only(true).dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: builder.build()?,
            contact: contact.to_owned(),
            allow_private,
            tokens: Arc::default(),
            failing: Arc::default(),
        })
    }

    fn record(&self, outcome: &PushOutcome) {
        if matches!(outcome, PushOutcome::Retry(_)) {
            self.failing.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failing.store(0, Ordering::Relaxed);
        }
    }

    /// The `Authorization` header for `endpoint`'s push service: a cached token while it has
    /// more than [`TOKEN_REUSE_MARGIN`] left, else a new one.
    fn authorization(&self, vapid: &VapidKey, endpoint: &reqwest::Url) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let key = (
            vapid.public_key().to_owned(),
            endpoint.origin().ascii_serialization(),
        );
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((header, expires)) = tokens.get(&key)
            && *expires > now + TOKEN_REUSE_MARGIN.as_secs()
        {
            return Ok(header.clone());
        }
        let expires = now + TOKEN_LIFETIME.as_secs();
        let header = self.vapid_header(vapid, &key.1, expires)?;
        if tokens.len() >= TOKEN_CACHE {
            tokens.retain(|_, (_, at)| *at > now + TOKEN_REUSE_MARGIN.as_secs());
        }
        if tokens.len() < TOKEN_CACHE {
            tokens.insert(key, (header.clone(), expires));
        }
        Ok(header)
    }

    fn vapid_header(
        &self,
        vapid: &VapidKey,
        audience: &str,
        expires: u64,
    ) -> anyhow::Result<String> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            exp: u64,
            sub: &'a str,
        }
        let claims = Claims {
            aud: audience,
            exp: expires,
            sub: &self.contact,
        };
        let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(vapid.secret())?;
        let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        let token = jsonwebtoken::encode(&header, &claims, &key)?;
        Ok(format!("vapid t={token}, k={}", vapid.public_key()))
    }

    fn request(
        &self,
        vapid: &VapidKey,
        subscription: &PushSubscription,
        message: &PushMessage,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let endpoint = reqwest::Url::parse(&subscription.endpoint)?;
        if !self.allow_private {
            endpoint_reachable(&endpoint).map_err(anyhow::Error::msg)?;
        }
        let ua_public =
            p256::PublicKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(&subscription.p256dh)?)?;
        let auth: [u8; 16] = URL_SAFE_NO_PAD
            .decode(&subscription.auth)?
            .try_into()
            .map_err(|_| anyhow::anyhow!("the auth secret is not 16 bytes"))?;
        let body = web_push_native::encrypt(
            message.payload.clone(),
            &ua_public,
            &web_push_native::Auth::from(auth),
        )
        .map_err(|e| anyhow::anyhow!("encryption failed: {e}"))?;
        let mut request = self
            .client
            .post(endpoint.clone())
            .header("TTL", message.ttl.as_secs())
            .header("Urgency", message.urgency)
            .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(
                reqwest::header::AUTHORIZATION,
                self.authorization(vapid, &endpoint)?,
            )
            .body(body);
        if let Some(topic) = &message.topic {
            request = request.header("Topic", topic);
        }
        Ok(request)
    }
}

#[async_trait]
impl PushSender for WebPushSender {
    async fn send(
        &self,
        vapid: &VapidKey,
        subscription: &PushSubscription,
        message: &PushMessage,
    ) -> PushOutcome {
        let request = match self.request(vapid, subscription, message) {
            Ok(request) => request,
            Err(error) => {
                // A subscription whose endpoint or keys cannot be used never will be.
                tracing::info!(subscription = %subscription.id, %error, "push subscription unusable");
                return PushOutcome::Gone;
            }
        };
        let outcome = match request.send().await {
            Ok(response) => outcome(&response),
            Err(error) => {
                tracing::debug!(subscription = %subscription.id, %error, "push service unreachable");
                PushOutcome::Retry(None)
            }
        };
        self.record(&outcome);
        outcome
    }
}

#[async_trait]
impl Probe for WebPushSender {
    fn name(&self) -> &'static str {
        "push"
    }

    async fn check(&self) -> anyhow::Result<()> {
        let failing = self.failing.load(Ordering::Relaxed);
        anyhow::ensure!(
            failing < FAILURES_REPORTED,
            "the last {failing} pushes found their push service unreachable or failing"
        );
        Ok(())
    }
}

fn outcome(response: &reqwest::Response) -> PushOutcome {
    let status = response.status().as_u16();
    match status {
        200..=299 => PushOutcome::Accepted,
        404 | 410 => PushOutcome::Gone,
        429 | 500..=599 => PushOutcome::Retry(
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        ),
        _ => PushOutcome::Refused(status),
    }
}

/// Resolves names and keeps only public addresses.
#[derive(Debug)]
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public_address(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}
