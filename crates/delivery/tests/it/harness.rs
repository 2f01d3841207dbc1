//! Test harness: a store with one tenant and endpoint, a scripted transport, an engine.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use herald_delivery::{Clock, DeliveryConfig, DeliveryDeps, TokioClock};
use herald_event::{
    build_envelope, Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId, EndpointSecret,
    Event, EventId, TenantId, Timestamp,
};
use herald_retry::RetryPolicy;
use herald_store::Store;
use herald_store_sled::{SledConfig, SledStore};
use herald_transport::{OutboundRequest, Response, Transport, TransportError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{oneshot, Notify};

pub(crate) const T0: Timestamp = Timestamp::from_millis(1_796_310_245_000);
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A scripted answer: status, headers and body.
pub(crate) type Answer = (u16, Vec<(String, String)>, &'static str);

/// One request the transport received, with the engine's clock at that moment.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) at: Timestamp,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Sent {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    }
}

/// Answers each request with the next scripted status (the last one repeats).
#[derive(Debug)]
pub(crate) struct ScriptedTransport {
    pub(crate) clock: Arc<dyn Clock>,
    script: Mutex<VecDeque<Answer>>,
    pub(crate) sent: Mutex<Vec<Sent>>,
    in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
}

#[async_trait::async_trait]
impl Transport for ScriptedTransport {
    async fn send(&self, request: OutboundRequest) -> Result<Response, TransportError> {
        let in_flight = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
        let response = self.answer(request).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        response
    }
}

impl ScriptedTransport {
    async fn answer(&self, request: OutboundRequest) -> Result<Response, TransportError> {
        let url = request.url.clone();
        let headers = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        self.sent.lock().unwrap().push(Sent {
            at: self.clock.now(),
            url: url.clone(),
            headers,
            body: request.body.to_vec(),
        });
        if url.contains("/hang") {
            // Accepts and never answers, until the attempt's 15 s deadline.
            tokio::time::sleep(Duration::from_secs(15)).await;
            return Ok(Response {
                status: 504,
                headers: Vec::new(),
                body: Vec::new(),
                truncated: false,
                size: None,
                body_withheld: false,
            });
        }
        if url.contains("/slow") {
            // A busy receiver: every answer takes 100 ms.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut script = self.script.lock().unwrap();
        let (status, headers, body) = if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().unwrap()
        };
        Ok(Response {
            status,
            headers,
            body: body.as_bytes().to_vec(),
            truncated: false,
            size: Some(body.len() as u64),
            body_withheld: false,
        })
    }
}

pub(crate) struct Harness {
    pub(crate) store: Arc<SledStore>,
    pub(crate) transport: Arc<ScriptedTransport>,
    pub(crate) tenant: TenantId,
    pub(crate) endpoint: Endpoint,
    work: Arc<Notify>,
    stop: Option<oneshot::Sender<()>>,
    engine: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// Starts an engine with `delays` (no jitter) and a transport answering `script`.
pub(crate) async fn start(delays: &[u64], script: Vec<Answer>) -> Harness {
    start_configured(delays, script, |_| {}).await
}

/// Like `start`, with a last say on the engine's configuration.
pub(crate) async fn start_configured(
    delays: &[u64],
    script: Vec<Answer>,
    tweak: impl FnOnce(&mut DeliveryConfig),
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(T0));
    let store = Arc::new(SledStore::open(&SledConfig::temporary(dir.path()), T0).unwrap());
    let tenant = TenantId::new("acme");
    let endpoint = Endpoint {
        id: EndpointId::new("ep_1"),
        tenant: tenant.clone(),
        url: "https://hooks.example.com/in".to_owned(),
        description: String::new(),
        event_types: vec!["*".to_owned()],
        enabled: true,
        disabled_reason: None,
        secrets: vec![EndpointSecret {
            secret: SECRET.to_owned(),
            created_at: T0,
            expires_at: None,
        }],
        created_at: T0,
        updated_at: T0,
    };
    off_runtime(store.put_endpoint(&endpoint)).unwrap();
    let transport = Arc::new(ScriptedTransport {
        clock: Arc::clone(&clock),
        script: Mutex::new(script.into()),
        sent: Mutex::new(Vec::new()),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
    });
    let mut config = DeliveryConfig::standard();
    config.retry = RetryPolicy::with_delays(
        delays
            .iter()
            .map(|secs| Duration::from_secs(*secs))
            .collect(),
    );
    config.retry.jitter = 0.0;
    // Nothing outside this process writes to the store, so no need to poll often.
    config.poll_interval = Duration::from_secs(3_600);
    tweak(&mut config);
    let work = Arc::new(Notify::new());
    let deps = DeliveryDeps {
        store: store.clone(),
        transport: transport.clone(),
        clock,
        work: Arc::clone(&work),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let engine = tokio::spawn(async move {
        herald_delivery::run(deps, config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Harness {
        store,
        transport,
        tenant,
        endpoint,
        work,
        stop: Some(stop),
        engine: Some(engine),
        _dir: dir,
    }
}

impl Harness {
    /// Adds another endpoint of the tenant, subscribed to everything.
    pub(crate) fn add_endpoint(&self, id: &str, url: &str) -> EndpointId {
        let endpoint = Endpoint {
            id: EndpointId::new(id),
            url: url.to_owned(),
            ..self.endpoint.clone()
        };
        off_runtime(self.store.put_endpoint(&endpoint)).unwrap();
        endpoint.id
    }

    /// Publishes one event with a delivery to the endpoint, due at T0.
    pub(crate) async fn publish(&self, id: &str, data: &str) -> DeliveryId {
        self.publish_to(&self.endpoint.id.clone(), id, data).await
    }

    /// Publishes one event with a delivery to `endpoint`, due at T0.
    pub(crate) async fn publish_to(
        &self,
        endpoint: &EndpointId,
        id: &str,
        data: &str,
    ) -> DeliveryId {
        let event_id = EventId::new(id);
        let event = Event {
            id: event_id.clone(),
            tenant: self.tenant.clone(),
            event_type: "email.sent".to_owned(),
            timestamp: T0,
            received_at: T0,
            payload: build_envelope(&event_id, "email.sent", T0, data),
            test: false,
        };
        let delivery = Delivery {
            id: DeliveryId::generate(T0),
            tenant: self.tenant.clone(),
            event_id,
            event_type: "email.sent".to_owned(),
            endpoint_id: endpoint.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            round_base: 0,
            round_started_at: None,
            next_attempt_at: Some(T0),
            lease_until: None,
            last_status_code: None,
            last_error: None,
            test: false,
            created_at: T0,
            updated_at: T0,
        };
        off_runtime(
            self.store
                .insert_event(&event, std::slice::from_ref(&delivery)),
        )
        .unwrap();
        // As the API does after ingest: new work, dispatch at once.
        self.work.notify_one();
        delivery.id
    }

    pub(crate) fn sent(&self) -> Vec<Sent> {
        self.transport.sent.lock().unwrap().clone()
    }

    /// Lets the paused clock run for `seconds`.
    pub(crate) async fn run_for(&self, seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }

    /// Advances the paused clock a second at a time until `condition` holds (at most a day).
    pub(crate) async fn eventually<F, Fut>(&self, condition: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..86_400 {
            if condition().await {
                return;
            }
            // Real time for the store's flush thread, without letting paused time run.
            std::thread::sleep(Duration::from_millis(1));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("condition not reached within a simulated day");
    }

    pub(crate) async fn store_endpoint(&self) -> Endpoint {
        self.store
            .get_endpoint(&self.tenant, &self.endpoint.id)
            .await
            .unwrap()
            .unwrap()
    }

    pub(crate) async fn delivery(&self, id: &DeliveryId) -> Delivery {
        self.store
            .get_delivery(&self.tenant, id)
            .await
            .unwrap()
            .unwrap()
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.engine.take().unwrap().await.unwrap();
    }
}

/// Runs a store write that waits for a disk flush on its own runtime and thread.
///
/// With tokio's paused clock, awaiting the flush thread on the test runtime would let
/// simulated time jump while the write is in progress; blocking here keeps it still.
pub(crate) fn off_runtime<T: Send>(work: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap()
                    .block_on(work)
            })
            .join()
            .unwrap()
    })
}

/// Scheme B, computed independently of herald-signing.
pub(crate) fn expected_hex(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Scheme S (Standard Webhooks), computed independently of herald-signing.
pub(crate) fn expected_standard(id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key()).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

fn key() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(&SECRET["whsec_".len()..])
        .unwrap()
}

pub(crate) fn ok(status: u16, body: &'static str) -> Answer {
    (status, Vec::new(), body)
}
