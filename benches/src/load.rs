//! The load generator: posts events with client-chosen ids and records when each was sent.
//!
//! Three patterns:
//! - **closed**: `concurrency` workers, each posting its next event as soon as the
//!   previous one was answered (saturation);
//! - **paced**: open loop at a fixed rate, whatever the answers take, so a slow server
//!   cannot slow the offered load down (no coordinated omission);
//! - **batch**: closed, but each request carries up to `size` events
//!   (`POST .../events/batch`).
//!
//! Events are numbered from 0 by one shared counter; event `n` has id
//! `{prefix}{n}` and is of the topology's stream `n % streams`. For every event the
//! generator records the instant its request started and whether it was accepted
//! (202, or per-item 202 in a batch), which is all the analysis needs. It does not
//! retry: an event whose request failed is counted as failed and is not expected to
//! arrive (if it arrives anyway, it is reported as unexpected).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;

use crate::http::{send, HttpClient};
use crate::topology::Topology;

/// Where events are posted.
#[derive(Debug, Clone)]
pub(crate) enum Sink {
    /// Herald's ingest API.
    Herald {
        /// `.../v1/tenants/{t}/events`.
        events_url: String,
        /// The bearer key.
        key: String,
    },
    /// The bare relay: `POST {base}/relay/{route}` with a `webhook-id` header.
    Relay {
        /// `http://addr`.
        base: String,
    },
}

/// How load is offered.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pattern {
    /// Closed loop with this many workers.
    Closed { concurrency: usize },
    /// Open loop at this many events per second.
    Paced { rate: f64 },
    /// Closed loop of batches of `size` events.
    Batch { concurrency: usize, size: usize },
}

/// When to stop offering load: whichever limit comes first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stop {
    /// Stop after this long.
    pub(crate) duration: Option<Duration>,
    /// Stop after this many events.
    pub(crate) max_events: Option<u64>,
}

/// One event the generator tried to ingest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IngestRecord {
    /// Its number.
    pub(crate) n: u64,
    /// When its request started, in nanoseconds since the run's epoch.
    pub(crate) sent_ns: u64,
    /// Whether it was accepted (202).
    pub(crate) accepted: bool,
}

/// Live counters, read by the progress line while the load runs.
#[derive(Debug, Default)]
pub(crate) struct LoadCounters {
    /// Events accepted.
    pub(crate) accepted: AtomicU64,
    /// Events refused with a status other than 202.
    pub(crate) refused: AtomicU64,
    /// Events whose request failed without an answer.
    pub(crate) failed: AtomicU64,
}

/// What a finished load phase produced.
#[derive(Debug)]
pub(crate) struct LoadOutcome {
    /// Every event tried, in no particular order.
    pub(crate) records: Vec<IngestRecord>,
    /// How many event numbers were handed out (records cover `0..numbers`).
    pub(crate) numbers: u64,
    /// When the load started and ended, in nanoseconds since the epoch.
    pub(crate) started_ns: u64,
    pub(crate) ended_ns: u64,
    /// The first refusal or failure, to show the reader what went wrong.
    pub(crate) first_problem: Option<String>,
}

/// The id of event `n`.
pub(crate) fn event_id(prefix: &str, n: u64) -> String {
    format!("{prefix}{n}")
}

/// The JSON object of event `n` (without the batch wrapper): about 250 bytes of
/// realistic outreach data.
fn event_json(prefix: &str, topology: &Topology, n: u64) -> String {
    let event_type = &topology.stream_of(n).event_type;
    format!(
        concat!(
            r#"{{"type":"{event_type}","id":"{prefix}{n}","data":{{"recipient":{{"email":"lead{n}@example.com","name":"Alex Doe"}},"#,
            r#""campaign_id":"cmp_bench","email_id":"eml_{n}","subject":"Quick question about your Q3 pipeline","#,
            r#""sent_at":"2026-12-03T15:04:05Z","sequence_step":2}}}}"#
        ),
        event_type = event_type,
        prefix = prefix,
        n = n
    )
}

/// Everything a worker needs, shared.
#[derive(Debug)]
struct Shared {
    client: HttpClient,
    sink: Sink,
    topology: Topology,
    id_prefix: String,
    epoch: Instant,
    deadline: Option<Instant>,
    max_events: u64,
    next: AtomicU64,
    counters: Arc<LoadCounters>,
    records: Mutex<Vec<IngestRecord>>,
    first_problem: Mutex<Option<String>>,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn expired(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Takes up to `count` event numbers; empty when the limit is reached.
    fn take_numbers(&self, count: u64) -> std::ops::Range<u64> {
        let first = self.next.fetch_add(count, Ordering::Relaxed);
        first.min(self.max_events)..(first + count).min(self.max_events)
    }

    fn note_problem(&self, problem: String) {
        let mut first = self.first_problem.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(problem);
    }

    fn keep(&self, local: &mut Vec<IngestRecord>) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        records.append(local);
    }
}

/// What to offer, where.
#[derive(Debug, Clone)]
pub(crate) struct LoadSpec {
    /// Where events go.
    pub(crate) sink: Sink,
    /// Which event types exist (event `n` is of stream `n % streams`).
    pub(crate) topology: Topology,
    /// Event ids are this prefix followed by the event number.
    pub(crate) id_prefix: String,
    /// Time zero of the run.
    pub(crate) epoch: Instant,
    /// How load is offered.
    pub(crate) pattern: Pattern,
    /// When to stop.
    pub(crate) stop: Stop,
}

/// Offers load until the spec's stop, recording every event.
pub(crate) async fn run_load(
    client: HttpClient,
    spec: LoadSpec,
    counters: Arc<LoadCounters>,
) -> LoadOutcome {
    let started = Instant::now();
    let LoadSpec {
        sink,
        topology,
        id_prefix,
        epoch,
        pattern,
        stop,
    } = spec;
    let shared = Arc::new(Shared {
        client,
        sink,
        topology,
        id_prefix,
        epoch,
        deadline: stop.duration.map(|duration| started + duration),
        max_events: stop.max_events.unwrap_or(u64::MAX),
        next: AtomicU64::new(0),
        counters,
        records: Mutex::new(Vec::new()),
        first_problem: Mutex::new(None),
    });
    let started_ns = shared.now_ns();
    match pattern {
        Pattern::Closed { concurrency } => {
            run_workers(&shared, concurrency, |shared| closed_worker(shared, 1)).await
        }
        Pattern::Batch { concurrency, size } => {
            run_workers(&shared, concurrency, move |shared| {
                closed_worker(shared, size as u64)
            })
            .await
        }
        Pattern::Paced { rate } => paced(&shared, rate).await,
    }
    let ended_ns = shared.now_ns();
    let numbers = shared.next.load(Ordering::Relaxed).min(shared.max_events);
    let records = std::mem::take(&mut *shared.records.lock().unwrap_or_else(|p| p.into_inner()));
    let first_problem = shared
        .first_problem
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    LoadOutcome {
        records,
        numbers,
        started_ns,
        ended_ns,
        first_problem,
    }
}

async fn run_workers<F, Fut>(shared: &Arc<Shared>, concurrency: usize, worker: F)
where
    F: Fn(Arc<Shared>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        workers.spawn(worker(Arc::clone(shared)));
    }
    while workers.join_next().await.is_some() {}
}

/// Posts `per_request` events per request (1: single ingest) until the stop.
async fn closed_worker(shared: Arc<Shared>, per_request: u64) {
    let mut local = Vec::with_capacity(1024);
    while !shared.expired() {
        let numbers = shared.take_numbers(per_request);
        if numbers.is_empty() {
            break;
        }
        post(&shared, numbers, &mut local).await;
        if local.len() >= 1024 {
            shared.keep(&mut local);
        }
    }
    shared.keep(&mut local);
}

/// Open loop: every millisecond, starts the requests whose turn has come.
async fn paced(shared: &Arc<Shared>, rate: f64) {
    // Bounds requests in flight (each holds a connection) so a server that falls
    // behind cannot make either side run out of file descriptors; if the bound is
    // reached, the offered rate drops and the reported ingest rate shows it.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(4096));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    let mut started_count: u64 = 0;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    'offering: loop {
        ticker.tick().await;
        if shared.expired() {
            break;
        }
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        while started_count < due {
            let numbers = shared.take_numbers(1);
            if numbers.is_empty() {
                break 'offering;
            }
            started_count += 1;
            let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                break 'offering;
            };
            let shared = Arc::clone(shared);
            tasks.spawn(async move {
                let mut local = Vec::with_capacity(1);
                post(&shared, numbers, &mut local).await;
                shared.keep(&mut local);
                drop(permit);
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Posts the events `numbers` in one request and records the outcome of each.
async fn post(shared: &Shared, numbers: std::ops::Range<u64>, local: &mut Vec<IngestRecord>) {
    let sent_ns = shared.now_ns();
    let batch = numbers.end - numbers.start > 1;
    let (url, bearer, id_header, body) = match &shared.sink {
        Sink::Herald { events_url, key } if batch => {
            let items: Vec<String> = numbers
                .clone()
                .map(|n| event_json(&shared.id_prefix, &shared.topology, n))
                .collect();
            let body = format!(r#"{{"events":[{}]}}"#, items.join(","));
            (
                format!("{events_url}/batch"),
                Some(key.as_str()),
                None,
                body,
            )
        }
        Sink::Herald { events_url, key } => {
            let body = event_json(&shared.id_prefix, &shared.topology, numbers.start);
            (events_url.clone(), Some(key.as_str()), None, body)
        }
        Sink::Relay { base } => {
            let n = numbers.start;
            let route = shared.topology.stream_of(n).routes[0];
            let body = event_json(&shared.id_prefix, &shared.topology, n);
            let id = event_id(&shared.id_prefix, n);
            (format!("{base}/relay/{route}"), None, Some(id), body)
        }
    };
    let headers: Vec<(&str, &str)> = match &id_header {
        Some(id) => vec![("webhook-id", id.as_str())],
        None => Vec::new(),
    };
    let answer = send(
        &shared.client,
        Method::POST,
        &url,
        bearer,
        &headers,
        Bytes::from(body),
    )
    .await;
    let accepted: Vec<bool> = match answer {
        Ok(answer) if batch && matches!(answer.status.as_u16(), 200 | 207) => {
            batch_item_accepted(&answer.body, numbers.end - numbers.start).unwrap_or_else(|| {
                shared.note_problem(format!("batch answer {} could not be read", answer.status));
                vec![false; (numbers.end - numbers.start) as usize]
            })
        }
        Ok(answer) if answer.status.as_u16() == 202 => vec![true],
        Ok(answer) => {
            shared.note_problem(format!(
                "{url} answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
            vec![false; (numbers.end - numbers.start) as usize]
        }
        Err(error) => {
            shared.note_problem(format!("{error:#}"));
            shared
                .counters
                .failed
                .fetch_add(numbers.end - numbers.start, Ordering::Relaxed);
            numbers.clone().for_each(|n| {
                local.push(IngestRecord {
                    n,
                    sent_ns,
                    accepted: false,
                })
            });
            return;
        }
    };
    for (n, accepted) in numbers.zip(accepted) {
        let counter = if accepted {
            &shared.counters.accepted
        } else {
            &shared.counters.refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        local.push(IngestRecord {
            n,
            sent_ns,
            accepted,
        });
    }
}

/// Per-item acceptance from a batch answer `{"results":[{"index":i,"status":202,...}]}`.
fn batch_item_accepted(body: &[u8], count: u64) -> Option<Vec<bool>> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut accepted = vec![false; count as usize];
    for result in answer.get("results")?.as_array()? {
        let index = result.get("index")?.as_u64()? as usize;
        let status = result.get("status")?.as_u64()?;
        *accepted.get_mut(index)? = status == 202;
    }
    Some(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_is_valid_and_carries_type_and_id() {
        let topology = Topology::one_to_one(4);
        let text = event_json("bench-x-", &topology, 6);
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["type"], "bench.s2");
        assert_eq!(value["id"], "bench-x-6");
        assert!(value["data"].is_object());
    }

    #[test]
    fn batch_results_map_to_items() {
        let body = br#"{"results":[{"index":1,"status":422,"error":{}},{"index":0,"status":202,"id":"a"}]}"#;
        assert_eq!(batch_item_accepted(body, 2), Some(vec![true, false]));
        assert_eq!(batch_item_accepted(b"{}", 2), None);
    }
}
