//! The scenarios of issue 4 (and issue 3's timeout check) as plans, and how each one's
//! figures are made.
//!
//! | scenario | endpoints | load |
//! |---|---|---|
//! | `saturation` | `--routes` (8), one per event | `--concurrency` (64) clients, closed loop, `--duration` |
//! | `paced` | same | `--rate` (1000) events/s, open loop |
//! | `batch` | same | `--concurrency` clients posting `--batch-size` (1000) events per request |
//! | `fanout` | `--fanout` (10), every event to all | as saturation |
//! | `timeouts` | `--timeout-routes` (20), one per event, 10 % hang | as saturation, after an all-healthy baseline |
//! | `backlog` | `--routes`, receiver paused | `--pending` deliveries in batches, then release and drain |
//! | `relay` | as saturation, through the bare relay | as saturation |

use std::time::Duration;

use crate::figures::{backlog_figures, load_figures, steady_delivery_rate};
use crate::load::{Pattern, Stop};
use crate::receiver::PauseMode;
use crate::report::{RunReport, Unit};
use crate::scenario::{measure, Environment, Plan, System};
use crate::topology::Topology;

/// A scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    Saturation,
    Paced,
    Batch,
    Fanout,
    Timeouts,
    Backlog,
    Relay,
}

impl Scenario {
    /// Every scenario, the relay first so the others can be compared with it.
    pub(crate) const ALL: [Scenario; 7] = [
        Scenario::Relay,
        Scenario::Saturation,
        Scenario::Paced,
        Scenario::Batch,
        Scenario::Fanout,
        Scenario::Timeouts,
        Scenario::Backlog,
    ];

    /// Its name on the command line and in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Saturation => "saturation",
            Scenario::Paced => "paced",
            Scenario::Batch => "batch",
            Scenario::Fanout => "fanout",
            Scenario::Timeouts => "timeouts",
            Scenario::Backlog => "backlog",
            Scenario::Relay => "relay",
        }
    }

    /// The figure that picks the median run (for plots).
    pub(crate) fn headline(self) -> &'static str {
        match self {
            Scenario::Paced => "latency_p99_ms",
            Scenario::Batch => "ingest_per_s",
            Scenario::Timeouts => "healthy_per_s",
            Scenario::Backlog => "drain_per_s",
            _ => "deliveries_per_s",
        }
    }
}

/// Knobs of the scenarios.
#[derive(Debug, Clone)]
pub(crate) struct Knobs {
    /// Closed-loop clients.
    pub(crate) concurrency: usize,
    /// Length of the load phase.
    pub(crate) duration: Duration,
    /// Events per second of `paced`.
    pub(crate) rate: f64,
    /// Events per batch request.
    pub(crate) batch_size: usize,
    /// Endpoints of the one-endpoint-per-event scenarios.
    pub(crate) routes: u32,
    /// Endpoints of `fanout`.
    pub(crate) fanout: u32,
    /// Endpoints of `timeouts` (every tenth hangs).
    pub(crate) timeout_routes: u32,
    /// Deliveries of `backlog`.
    pub(crate) pending: u64,
    /// What the paused receiver does.
    pub(crate) pause: PauseMode,
}

/// Runs `scenario` once and returns its figures.
pub(crate) async fn run_once(
    scenario: Scenario,
    knobs: &Knobs,
    environment: &Environment,
) -> anyhow::Result<RunReport> {
    let closed = Pattern::Closed {
        concurrency: knobs.concurrency,
    };
    let timed = Stop {
        duration: Some(knobs.duration),
        max_events: None,
    };
    let plan = |system, topology, pattern| Plan {
        label: scenario.name().to_owned(),
        system,
        topology,
        pattern,
        stop: timed,
        pause: None,
        herald_config: None,
    };
    let one_to_one = Topology::one_to_one(knobs.routes);
    let report = match scenario {
        Scenario::Saturation => {
            load_figures(&measure(&plan(System::Herald, one_to_one, closed), environment).await?)
        }
        Scenario::Relay => {
            load_figures(&measure(&plan(System::Relay, one_to_one, closed), environment).await?)
        }
        Scenario::Paced => {
            let paced = Pattern::Paced { rate: knobs.rate };
            load_figures(&measure(&plan(System::Herald, one_to_one, paced), environment).await?)
        }
        Scenario::Batch => {
            let batch = Pattern::Batch {
                concurrency: knobs.concurrency,
                size: knobs.batch_size,
            };
            load_figures(&measure(&plan(System::Herald, one_to_one, batch), environment).await?)
        }
        Scenario::Fanout => {
            let topology = Topology::fan_out(knobs.fanout);
            load_figures(&measure(&plan(System::Herald, topology, closed), environment).await?)
        }
        Scenario::Timeouts => timeouts(knobs, environment, plan).await?,
        Scenario::Backlog => {
            let per_event = one_to_one.healthy_deliveries_for(0).max(1) as u64;
            let backlog = Plan {
                pattern: Pattern::Batch {
                    concurrency: knobs.concurrency.min(16),
                    size: knobs.batch_size,
                },
                stop: Stop {
                    duration: None,
                    max_events: Some(knobs.pending / per_event),
                },
                pause: Some(knobs.pause),
                herald_config: backlog_config(knobs.pause),
                ..plan(System::Herald, one_to_one, closed)
            };
            backlog_figures(&measure(&backlog, environment).await?)
        }
    };
    Ok(report)
}

/// Herald settings for a backlog run.
///
/// A held request must not time out while the receiver is paused: a timeout is a
/// failure, failures open the circuit breaker, and its cool-down (up to 10 min) would
/// then be measured instead of the drain. So with `hold` the attempt timeout is
/// raised to an hour. With `unavailable` Herald keeps its defaults: that run shows
/// the real recovery after an outage, circuit breaker included.
fn backlog_config(pause: PauseMode) -> Option<String> {
    match pause {
        PauseMode::Hold => Some("attempt_timeout_ms = 3600000\n".to_owned()),
        PauseMode::Unavailable => None,
    }
}

/// The all-healthy baseline, then the same load with every tenth endpoint hanging.
async fn timeouts(
    knobs: &Knobs,
    environment: &Environment,
    plan: impl Fn(System, Topology, Pattern) -> Plan,
) -> anyhow::Result<RunReport> {
    let closed = Pattern::Closed {
        concurrency: knobs.concurrency,
    };
    let healthy_topology = Topology::one_to_one(knobs.timeout_routes);
    let hanging_topology = healthy_topology.clone().with_every_nth_hanging(10);
    let mut baseline_plan = plan(System::Herald, healthy_topology, closed);
    baseline_plan.label = "timeouts baseline".to_owned();
    let baseline = measure(&baseline_plan, environment).await?;
    let hanging = measure(&plan(System::Herald, hanging_topology, closed), environment).await?;
    let mut report = load_figures(&hanging);
    let healthy_rate = steady_delivery_rate(&hanging);
    let baseline_rate = steady_delivery_rate(&baseline);
    let mut figures = RunReport::default();
    figures.push(
        "healthy_per_s",
        "deliveries/s to healthy",
        Unit::Rate,
        healthy_rate,
    );
    figures.push(
        "baseline_per_s",
        "deliveries/s all healthy",
        Unit::Rate,
        baseline_rate,
    );
    figures.push(
        "healthy_ratio",
        "healthy / all-healthy",
        Unit::Ratio,
        healthy_rate / baseline_rate,
    );
    if let Some(p99) = crate::analysis::percentile(&baseline.analysis.latencies_ns, 99.0) {
        figures.push(
            "baseline_p99_ms",
            "latency p99 all healthy",
            Unit::Millis,
            p99 as f64 / 1e6,
        );
    }
    figures.figures.append(&mut report.figures);
    report.figures = figures.figures;
    let baseline_report = load_figures(&baseline);
    report.lost += baseline_report.lost;
    report.notes.extend(
        baseline_report
            .notes
            .into_iter()
            .map(|note| format!("baseline: {note}")),
    );
    Ok(report)
}
