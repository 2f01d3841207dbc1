//! One measured run: start the receiver and the system under test, offer load, wait
//! for every delivery, and gather the facts.
//!
//! The sequence is the same for every scenario: receiver up; Herald (or the relay) up
//! and set up; one idle second, then idle memory; CPU counters; load with the progress
//! line; for a paused receiver, the backlog's memory and then the release; the drain
//! (until every expected delivery arrived, or nothing arrived for `drain_timeout`);
//! CPU counters and peak memory again; matching arrivals to accepted events. Turning
//! the facts into figures is `figures.rs`'s job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analysis::{analyse, Analysis};
use crate::http::client;
use crate::load::{run_load, LoadCounters, LoadOutcome, LoadSpec, Pattern, Sink, Stop};
use crate::monitor::{Monitor, Sample};
use crate::procfs;
use crate::receiver::{PauseMode, Receiver, ReceiverConfig};
use crate::relay::Relay;
use crate::target::{Herald, HeraldOptions};
use crate::topology::Topology;

/// What is under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum System {
    /// Herald.
    Herald,
    /// The bare relay.
    Relay,
}

/// One run to measure.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Progress-line label.
    pub(crate) label: String,
    /// What is under test.
    pub(crate) system: System,
    /// Endpoints and event types.
    pub(crate) topology: Topology,
    /// How load is offered.
    pub(crate) pattern: Pattern,
    /// When load stops.
    pub(crate) stop: Stop,
    /// Pause the receiver during the load (backlog), in this mode.
    pub(crate) pause: Option<PauseMode>,
    /// Extra Herald settings (TOML) for a spawned Herald.
    pub(crate) herald_config: Option<String>,
}

/// Where Herald comes from and how long to wait for stragglers.
#[derive(Debug, Clone)]
pub(crate) struct Environment {
    /// Spawn or attach.
    pub(crate) herald: HeraldOptions,
    /// Give up waiting once nothing arrived for this long.
    pub(crate) drain_timeout: Duration,
}

/// Memory around the release of a paused receiver.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PausePhase {
    /// Resident memory with the whole backlog pending.
    pub(crate) backlog_rss: Option<u64>,
    /// Peak memory up to then (the ingest of the backlog).
    pub(crate) ingest_peak_rss: Option<u64>,
    /// When the receiver was released, since the epoch.
    pub(crate) released_ns: u64,
}

/// The facts of one run.
#[derive(Debug)]
pub(crate) struct Measured {
    /// What the load generator did.
    pub(crate) load: LoadOutcome,
    /// What arrived.
    pub(crate) analysis: Analysis,
    /// Per-second samples.
    pub(crate) samples: Vec<Sample>,
    /// Resident memory after set-up, before load.
    pub(crate) idle_rss: Option<u64>,
    /// CPU milliseconds from the start of load to the end of the drain.
    pub(crate) cpu_ms: Option<f64>,
    /// Peak resident memory of the process (VmHWM) at the end.
    pub(crate) peak_rss: Option<u64>,
    /// Set when the receiver was paused.
    pub(crate) pause: Option<PausePhase>,
    /// Requests the receiver saw with ids not from this run.
    pub(crate) foreign: u64,
    /// Requests refused with 503 while paused.
    pub(crate) refused_while_paused: u64,
    /// Herald's view of a few missing deliveries.
    pub(crate) missing_status: Vec<String>,
}

/// A unique tag per run, so ids never collide with an earlier run's (idempotency).
fn run_tag() -> String {
    #[allow(clippy::disallowed_methods)] // A tag, not a measurement: wall-clock is what we want.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("{:x}", nanos as u64)
}

/// Runs `plan` once.
pub(crate) async fn measure(plan: &Plan, environment: &Environment) -> anyhow::Result<Measured> {
    let http = client();
    let epoch = Instant::now();
    let tag = run_tag();
    let id_prefix = format!("bench-{tag}-");
    let receiver = Arc::new(
        Receiver::start(
            ReceiverConfig {
                id_prefix: id_prefix.clone(),
                hanging: plan.topology.hanging.clone(),
                paused: plan.pause,
            },
            epoch,
        )
        .await?,
    );
    // Keep the system under test alive until the end of this function.
    let (sink, pid, herald, _relay) = match plan.system {
        System::Herald => {
            let herald =
                Herald::start(&environment.herald, &http, plan.herald_config.as_deref()).await?;
            let events_url = herald
                .set_up(&http, &plan.topology, &receiver, &tag)
                .await?;
            let sink = Sink::Herald {
                events_url,
                key: herald.admin_key.clone(),
            };
            (sink, herald.pid, Some(herald), None)
        }
        System::Relay => {
            let relay = Relay::start(&http, receiver.addr()).await?;
            let sink = Sink::Relay {
                base: relay.base.clone(),
            };
            (sink, Some(relay.pid), None, Some(relay))
        }
    };
    let read = |pid: Option<u32>| pid.and_then(|pid| procfs::sample(pid).ok());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = read(pid);
    let counters = Arc::new(LoadCounters::default());
    let monitor = Monitor::start(
        plan.label.clone(),
        epoch,
        Arc::clone(&counters),
        Arc::clone(&receiver),
        pid,
    );
    let spec = LoadSpec {
        sink: sink.clone(),
        topology: plan.topology.clone(),
        id_prefix,
        epoch,
        pattern: plan.pattern,
        stop: plan.stop,
    };
    let load = run_load(http.clone(), spec, Arc::clone(&counters)).await;
    let pause = match plan.pause {
        Some(_) => Some(release_after_backlog(&receiver, pid, epoch).await),
        None => None,
    };
    let expected: u64 = load
        .records
        .iter()
        .filter(|record| record.accepted)
        .map(|record| plan.topology.healthy_deliveries_for(record.n) as u64)
        .sum();
    let analysis = drain(
        &plan.topology,
        &load,
        &receiver,
        expected,
        environment.drain_timeout,
    )
    .await;
    let end = read(pid);
    let samples = monitor.stop().await;
    let missing_status = match (&herald, &sink) {
        (Some(herald), Sink::Herald { events_url, .. }) if analysis.missing > 0 => {
            describe_missing(&http, herald, events_url, &tag, &analysis).await
        }
        _ => Vec::new(),
    };
    Ok(Measured {
        cpu_ms: idle
            .zip(end)
            .map(|(before, after)| after.cpu_ms - before.cpu_ms),
        idle_rss: idle.map(|sample| sample.rss_bytes),
        peak_rss: end.map(|sample| sample.peak_rss_bytes),
        load,
        analysis,
        samples,
        pause,
        foreign: receiver.foreign(),
        refused_while_paused: receiver.refused(),
        missing_status,
    })
}

/// What Herald says about a few deliveries that did not arrive (status, attempts,
/// last error, next attempt), so a report can tell "late" from "lost".
async fn describe_missing(
    http: &crate::http::HttpClient,
    herald: &Herald,
    events_url: &str,
    tag: &str,
    analysis: &Analysis,
) -> Vec<String> {
    let deliveries_url = format!("{}/deliveries", events_url.trim_end_matches("/events"));
    let mut described = Vec::new();
    for (n, route) in &analysis.missing_examples {
        let id = crate::load::event_id(&format!("bench-{tag}-"), *n);
        let url = format!("{deliveries_url}?event_id={id}");
        let text = match crate::http::get(http, &url, Some(&herald.admin_key)).await {
            Ok(answer) => String::from_utf8_lossy(&answer.body).into_owned(),
            Err(error) => format!("cannot ask Herald: {error:#}"),
        };
        described.push(format!("event {id} route {route}: {text}"));
    }
    described
}

/// Lets the backlog settle, reads memory with it pending, and releases the receiver.
async fn release_after_backlog(
    receiver: &Receiver,
    pid: Option<u32>,
    epoch: Instant,
) -> PausePhase {
    // Two seconds for writes in flight and sled's periodic flush to settle, so the
    // reading is the backlog's steady cost, not the ingest's transient one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sample = pid.and_then(|pid| procfs::sample(pid).ok());
    eprintln!(
        "backlog pending; rss {}; releasing the receiver",
        sample
            .map(|sample| format!("{:.1} MB", sample.rss_bytes as f64 / 1e6))
            .unwrap_or_else(|| "unknown".to_owned())
    );
    let released_ns = epoch.elapsed().as_nanos() as u64;
    receiver.release();
    PausePhase {
        backlog_rss: sample.map(|sample| sample.rss_bytes),
        ingest_peak_rss: sample.map(|sample| sample.peak_rss_bytes),
        released_ns,
    }
}

/// Waits until every expected delivery arrived, or nothing arrived for `stall`.
async fn drain(
    topology: &Topology,
    load: &LoadOutcome,
    receiver: &Receiver,
    expected: u64,
    stall: Duration,
) -> Analysis {
    let mut last_count = receiver.recorded();
    let mut last_progress = Instant::now();
    let mut last_check = Instant::now() - Duration::from_secs(1);
    loop {
        let count = receiver.recorded();
        if count > last_count {
            last_count = count;
            last_progress = Instant::now();
        }
        // Duplicates count too, so a full count is checked against the real matching
        // (at most once a second: matching a million deliveries takes a moment).
        if count >= expected && last_check.elapsed() >= Duration::from_secs(1) {
            last_check = Instant::now();
            let analysis = analyse(topology, load, &receiver.arrivals());
            if analysis.missing == 0 {
                return analysis;
            }
        }
        if last_progress.elapsed() >= stall {
            eprintln!("nothing arrived for {stall:?}; {count} of {expected} deliveries recorded");
            return analyse(topology, load, &receiver.arrivals());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
