//! [`HyperTransport`]: the production [`Transport`], on `hyper-util`'s pooled client.
//!
//! The stack, from the socket up: `HttpConnector` dials only addresses vetted by
//! [`GuardedResolver`] and applies the connect timeout; `hyper-rustls` adds TLS (ring
//! provider, Mozilla roots, HTTP/2 or HTTP/1.1 by ALPN) for `https` and passes `http`
//! through; the legacy `Client` pools keep-alive connections per scheme and authority and
//! never follows redirects. This file adds what a webhook attempt needs on top: the URL
//! rules and the guard for IP hosts, the total timeout, the capped body read, and
//! withholding bodies from allowlisted private destinations. It does not retry.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, DATE, RETRY_AFTER};
use http::{HeaderMap, Method};
use http_body_util::Full;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::{HttpConnector, HttpInfo};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::read_capped;
use crate::guard::Admission;
use crate::resolve::{GuardedResolver, Resolve, SystemResolver};
use crate::url::{check_endpoint_url, EndpointUrl};
use crate::{OutboundRequest, Response, Transport, TransportConfig, TransportError};

/// How long an idle pooled connection is kept for the next attempt to the same host.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle connections kept per host; more than this many parallel attempts still work,
/// their connections are just not all kept.
///
/// Many endpoints often share one host (one receiver service, paths per customer), so
/// this is well above the engine's per-endpoint cap of 32: with 16, eight busy
/// endpoints on one host opened and closed a connection for most attempts (connect and
/// shutdown were 4 % of Herald's CPU at saturation, docs/performance.md). Idle
/// connections only exist after as many were in flight at once, which the engine
/// bounds (1,024 by default), and close after [`POOL_IDLE_TIMEOUT`].
const POOL_MAX_IDLE_PER_HOST: usize = 256;

/// Response headers kept when the body is withheld: what the retry policy and the log
/// need, nothing that could carry the internal service's data.
const HEADERS_KEPT_WHEN_WITHHELD: [http::HeaderName; 4] =
    [RETRY_AFTER, CONTENT_LENGTH, CONTENT_TYPE, DATE];

type Connector<R> = HttpsConnector<HttpConnector<GuardedResolver<R>>>;

/// Sends webhooks over HTTP(S) with the destination guard, timeouts and body cap of its
/// [`TransportConfig`].
///
/// `R` resolves host names; the default is the system resolver, and tests inject their
/// own through [`HyperTransport::with_resolver`]. Cloning is cheap and shares the
/// connection pool.
pub struct HyperTransport<R: Resolve = SystemResolver> {
    client: Client<Connector<R>, Full<Bytes>>,
    config: Arc<TransportConfig>,
}

impl<R: Resolve> Clone for HyperTransport<R> {
    fn clone(&self) -> Self {
        HyperTransport {
            client: self.client.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<R: Resolve> std::fmt::Debug for HyperTransport<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// A transport that resolves names with the operating system's resolver.
    pub fn new(config: TransportConfig) -> Result<Self, TransportError> {
        HyperTransport::with_resolver(config, SystemResolver)
    }
}

impl<R: Resolve> HyperTransport<R> {
    /// A transport that resolves names with `resolver`. Its answers are still vetted by
    /// the destination guard.
    pub fn with_resolver(config: TransportConfig, resolver: R) -> Result<Self, TransportError> {
        let policy = Arc::new(config.destinations.clone());
        let mut http = HttpConnector::new_with_resolver(GuardedResolver::new(resolver, policy));
        // `https` URLs are handed to this connector by `hyper-rustls`, which then
        // performs the handshake itself.
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);

        // The crypto provider is chosen here rather than taken from a process-wide
        // default, so embedding Herald never depends on (or changes) global state.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| TransportError::TlsSetup { source })?
            .with_webpki_roots()
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);

        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .build(connector);
        Ok(HyperTransport {
            client,
            config: Arc::new(config),
        })
    }

    /// The settings it was built with.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Sends the request and reads the response, without the total timeout.
    async fn exchange(
        &self,
        endpoint: &EndpointUrl,
        headers: Vec<(http::HeaderName, http::HeaderValue)>,
        body: Bytes,
    ) -> Result<Response, TransportError> {
        let host = endpoint.host().to_string();
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = endpoint.uri().clone();
        for (name, value) in headers {
            request.headers_mut().append(name, value);
        }
        let response =
            self.client
                .request(request)
                .await
                .map_err(|source| TransportError::Request {
                    host: host.clone(),
                    source,
                })?;

        let status = response.status().as_u16();
        let declared_len = declared_content_length(response.headers());
        let body_withheld = self.must_withhold(&response);
        if body_withheld {
            // Not even read: the connection is dropped with whatever the peer still sends.
            tracing::debug!(%host, status, "response body withheld from allowlisted destination");
            return Ok(Response {
                status,
                headers: header_pairs(response.headers(), Some(&HEADERS_KEPT_WHEN_WITHHELD)),
                body: Vec::new(),
                truncated: false,
                size: declared_len,
                body_withheld,
            });
        }

        let headers = header_pairs(response.headers(), None);
        let capped = read_capped(response.into_body(), self.config.response_body_cap)
            .await
            .map_err(|source| TransportError::Body { host, source })?;
        Ok(Response {
            status,
            headers,
            body: capped.bytes,
            truncated: capped.truncated,
            size: declared_len.or(capped.complete_len),
            body_withheld,
        })
    }

    /// Whether the peer's address was admitted only by an operator allowlist entry. An
    /// unknown peer address counts as such: the guard cannot vouch for it.
    fn must_withhold<B>(&self, response: &http::Response<B>) -> bool {
        let Some(info) = response.extensions().get::<HttpInfo>() else {
            return true;
        };
        let admission = self.config.destinations.admit(info.remote_addr().ip());
        !matches!(
            admission,
            Ok(Admission::Public | Admission::PrivateNetworks)
        )
    }
}

#[async_trait::async_trait]
impl<R: Resolve> Transport for HyperTransport<R> {
    async fn send(&self, request: OutboundRequest) -> Result<Response, TransportError> {
        // Checks the URL rules, and IP hosts against the guard: `hyper-util` dials IP
        // literals without asking the resolver, so this is their only check.
        let endpoint = check_endpoint_url(&request.url, &self.config.destinations)?;
        tracing::debug!(url = %endpoint, "sending webhook");
        let total_timeout = self.config.total_timeout;
        tokio::time::timeout(
            total_timeout,
            self.exchange(&endpoint, request.headers, request.body),
        )
        .await
        .map_err(|source| TransportError::Timeout {
            after: total_timeout,
            source,
        })?
    }
}

/// The `Content-Length` header as a number, if present and well-formed.
fn declared_content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse().ok())
}

/// Header pairs in received order, optionally only those named in `keep`.
fn header_pairs(headers: &HeaderMap, keep: Option<&[http::HeaderName]>) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| keep.is_none_or(|names| names.contains(name)))
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), text)
        })
        .collect()
}
