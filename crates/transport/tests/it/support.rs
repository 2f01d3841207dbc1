//! Test servers and resolvers on loopback: a recording hyper stub, raw TCP peers that
//! misbehave, a listener that proves nothing connected, a scripted DNS resolver and a
//! TLS stub with a self-signed certificate. Nothing here touches the external network.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use herald_transport::{
    DestinationPolicy, HyperTransport, OutboundRequest, Resolve, TransportConfig,
};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Timeouts long enough never to fire in tests that do not test them.
pub(crate) fn config(destinations: DestinationPolicy) -> TransportConfig {
    TransportConfig {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(5),
        response_body_cap: 64 * 1024,
        destinations,
    }
}

/// A transport for loopback stubs (private networks allowed, system resolver).
pub(crate) fn loopback_transport() -> HyperTransport {
    HyperTransport::new(config(DestinationPolicy::allow_private())).expect("transport builds")
}

/// A POST of `body` to `url` with a couple of webhook headers.
pub(crate) fn post(url: &str, body: &'static str) -> OutboundRequest {
    OutboundRequest {
        url: url.to_owned(),
        headers: vec![
            (
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            ),
            (
                http::HeaderName::from_static("webhook-id"),
                http::HeaderValue::from_static("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ),
        ],
        body: Bytes::from_static(body.as_bytes()),
    }
}

/// The body a stub answers with.
pub(crate) enum StubBody {
    /// Bytes with a `Content-Length`.
    Full(Option<Bytes>),
    /// Chunks without a length (chunked encoding).
    Chunks(VecDeque<Bytes>),
    /// `x` forever.
    Endless,
}

impl Body for StubBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = match &mut *self {
            StubBody::Full(bytes) => bytes.take(),
            StubBody::Chunks(chunks) => chunks.pop_front(),
            StubBody::Endless => Some(Bytes::from_static(&[b'x'; 16 * 1024])),
        };
        Poll::Ready(next.map(|data| Ok(Frame::data(data))))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            StubBody::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            StubBody::Full(None) => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

/// A response with a fixed body.
pub(crate) fn reply(status: u16, body: impl Into<Bytes>) -> http::Response<StubBody> {
    let mut response = http::Response::new(StubBody::Full(Some(body.into())));
    *response.status_mut() = http::StatusCode::from_u16(status).expect("test statuses are valid");
    response
}

/// What a stub received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: http::Method,
    pub(crate) uri: http::Uri,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

type Respond = dyn Fn() -> http::Response<StubBody> + Send + Sync;

/// An HTTP/1.1 server that records requests and answers with `respond`.
pub(crate) struct Stub {
    pub(crate) addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl Stub {
    /// Starts on 127.0.0.1 with an ephemeral port.
    pub(crate) async fn start(
        respond: impl Fn() -> http::Response<StubBody> + Send + Sync + 'static,
    ) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        Stub::start_on(listener, respond)
    }

    /// Starts on `listener`.
    pub(crate) fn start_on(
        listener: TcpListener,
        respond: impl Fn() -> http::Response<StubBody> + Send + Sync + 'static,
    ) -> Stub {
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Respond> = Arc::new(respond);
        let task = tokio::spawn(serve(
            listener,
            Arc::clone(&connections),
            Arc::clone(&requests),
            respond,
        ));
        Stub {
            addr,
            connections,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .expect("no test panics holding the lock")
            .clone()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    listener: TcpListener,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    respond: Arc<Respond>,
) {
    while let Ok((stream, _peer)) = listener.accept().await {
        connections.fetch_add(1, Ordering::SeqCst);
        let requests = Arc::clone(&requests);
        let respond = Arc::clone(&respond);
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let requests = Arc::clone(&requests);
            let respond = Arc::clone(&respond);
            async move {
                let (parts, body) = request.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|collected| collected.to_bytes())
                    .unwrap_or_default();
                requests
                    .lock()
                    .expect("no test panics holding the lock")
                    .push(Recorded {
                        method: parts.method,
                        uri: parts.uri,
                        headers: parts.headers,
                        body,
                    });
                Ok::<_, Infallible>(respond())
            }
        });
        tokio::spawn(async move {
            // The client hanging up early (body cap reached) is expected.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A TCP server that hands each connection to `behave` and keeps it open until the
/// test ends.
pub(crate) struct RawServer {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RawServer {
    pub(crate) async fn start<F, Fut>(behave: F) -> RawServer
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = TcpStream> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let task = tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((stream, _peer)) = listener.accept().await {
                kept.push(behave(stream).await);
            }
        });
        RawServer { addr, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A listener that reports every connection it accepts, to prove that none was made.
pub(crate) struct Tripwire {
    pub(crate) addr: SocketAddr,
    accepted: mpsc::UnboundedReceiver<SocketAddr>,
    task: JoinHandle<()>,
}

impl Tripwire {
    pub(crate) async fn bind(addr: &str) -> Tripwire {
        let listener = TcpListener::bind(addr).await.expect("bind loopback");
        Tripwire::on(listener)
    }

    pub(crate) fn on(listener: TcpListener) -> Tripwire {
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let (sender, accepted) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((_stream, peer)) = listener.accept().await {
                if sender.send(peer).is_err() {
                    break;
                }
            }
        });
        Tripwire {
            addr,
            accepted,
            task,
        }
    }

    /// Connects once itself, then asserts that its own connection is the first one
    /// accepted: the accept queue is FIFO, so any earlier connection would come first.
    /// No sleeping, no guessing how long to wait.
    pub(crate) async fn assert_untouched(mut self) {
        let probe = TcpStream::connect(self.addr)
            .await
            .expect("tripwire accepts");
        let probe_addr = probe.local_addr().expect("connected socket has an address");
        let first = self.accepted.recv().await.expect("tripwire is running");
        assert_eq!(
            first, probe_addr,
            "something connected to the tripwire before the probe"
        );
        self.task.abort();
    }
}

/// A resolver that answers from a script, one answer per lookup, and fails with
/// `NotFound` when the script runs out.
#[derive(Debug, Default)]
pub(crate) struct ScriptedResolver {
    answers: Mutex<VecDeque<io::Result<Vec<IpAddr>>>>,
    lookups: Arc<AtomicUsize>,
}

impl ScriptedResolver {
    pub(crate) fn new(answers: impl IntoIterator<Item = io::Result<Vec<IpAddr>>>) -> Self {
        ScriptedResolver {
            answers: Mutex::new(answers.into_iter().collect()),
            lookups: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A counter of lookups made, which stays readable after the resolver moved into a
    /// transport.
    pub(crate) fn lookups(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.lookups)
    }
}

impl Resolve for ScriptedResolver {
    fn resolve(&self, _host: &str) -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .answers
            .lock()
            .expect("no test panics holding the lock")
            .pop_front()
            .unwrap_or_else(|| Err(io::Error::new(io::ErrorKind::NotFound, "script exhausted")));
        async move { answer }
    }
}

/// A TLS server with a self-signed certificate (for 127.0.0.1) that runs handshakes on
/// a thread until the client gives up. Returns its address.
pub(crate) fn self_signed_tls_server() -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let certificate =
        CertificateDer::from(include_bytes!("fixtures/self-signed-cert.der").to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("fixtures/self-signed-key.der").to_vec(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .expect("fixture certificate and key match");
    let server_config = Arc::new(server_config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Ok(mut connection) = rustls::ServerConnection::new(Arc::clone(&server_config))
            else {
                return;
            };
            // Runs until the client aborts the handshake over the unknown issuer.
            while connection.is_handshaking() {
                if connection.complete_io(&mut stream).is_err() {
                    break;
                }
            }
        }
    });
    addr
}
