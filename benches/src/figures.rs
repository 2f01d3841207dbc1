//! Turning the facts of a run into figures: rates, latency percentiles, CPU per
//! delivery, memory, and the completeness count.
//!
//! Definitions, so the table can be read without the code:
//! - **ingest events/s**: accepted events divided by the load phase's length.
//! - **deliveries/s (steady)**: first arrivals between the end of a warm-up (10 % of
//!   the load phase, at most 5 s) and the end of the load phase, divided by that
//!   window. It measures delivery while ingest is still running, which is what
//!   "sustained" means; deliveries still queued when load stops show as drain time.
//! - **latency**: first arrival minus the start of the event's ingest request.
//! - **CPU ms per delivery**: user + system CPU of the process under test from the
//!   start of load to the end of the drain, divided by deliveries that arrived.
//! - **lost**: accepted deliveries that had not arrived when the drain ended.

use crate::analysis::{count_between, percentile};
use crate::report::{RunReport, Unit};
use crate::scenario::Measured;

const NANOS: f64 = 1e9;
const MEGABYTE: f64 = 1e6;

/// The steady-state delivery rate of a run (see the module docs).
pub(crate) fn steady_delivery_rate(measured: &Measured) -> f64 {
    let start = measured.load.started_ns;
    let end = measured.load.ended_ns;
    let length = end.saturating_sub(start);
    let warm_up = (length / 10).min(5 * NANOS as u64);
    let window = length - warm_up;
    if window == 0 {
        return 0.0;
    }
    let arrived = count_between(&measured.analysis.arrivals_ns, start + warm_up, end);
    arrived as f64 / (window as f64 / NANOS)
}

/// Figures every load scenario reports.
pub(crate) fn load_figures(measured: &Measured) -> RunReport {
    let mut report = RunReport::default();
    let analysis = &measured.analysis;
    let load_seconds = measured
        .load
        .ended_ns
        .saturating_sub(measured.load.started_ns) as f64
        / NANOS;
    report.push(
        "ingest_per_s",
        "ingest events/s",
        Unit::Rate,
        analysis.accepted as f64 / load_seconds,
    );
    report.push(
        "deliveries_per_s",
        "deliveries/s (steady)",
        Unit::Rate,
        steady_delivery_rate(measured),
    );
    push_latencies(&mut report, &analysis.latencies_ns);
    push_process(&mut report, measured);
    push_counts(&mut report, measured);
    report.samples = measured.samples.clone();
    report.latencies_ns = analysis.latencies_ns.clone();
    report
}

/// Figures of the backlog scenario: memory with the backlog pending and the drain.
pub(crate) fn backlog_figures(measured: &Measured) -> RunReport {
    let mut report = RunReport::default();
    let analysis = &measured.analysis;
    let load_seconds = measured
        .load
        .ended_ns
        .saturating_sub(measured.load.started_ns) as f64
        / NANOS;
    report.push(
        "pending",
        "deliveries pending",
        Unit::Count,
        analysis.expected as f64,
    );
    report.push(
        "ingest_per_s",
        "ingest events/s (paused)",
        Unit::Rate,
        analysis.accepted as f64 / load_seconds,
    );
    if let Some(pause) = measured.pause {
        if let Some(rss) = pause.backlog_rss {
            report.push(
                "backlog_rss_mb",
                "RSS with backlog pending",
                Unit::Megabytes,
                rss as f64 / MEGABYTE,
            );
        }
        if let Some(peak) = pause.ingest_peak_rss {
            report.push(
                "ingest_peak_rss_mb",
                "peak RSS during ingest",
                Unit::Megabytes,
                peak as f64 / MEGABYTE,
            );
        }
        let released = pause.released_ns;
        if let Some(last) = analysis.arrivals_ns.last() {
            let drain_seconds = last.saturating_sub(released) as f64 / NANOS;
            report.push("drain_s", "drain time", Unit::Seconds, drain_seconds);
            report.push(
                "drain_per_s",
                "drain deliveries/s",
                Unit::Rate,
                analysis.delivered as f64 / drain_seconds,
            );
        }
        let drain_peak = measured
            .samples
            .iter()
            .filter(|sample| sample.at_s * NANOS >= released as f64)
            .filter_map(|sample| sample.rss_bytes)
            .max();
        if let Some(peak) = drain_peak {
            report.push(
                "drain_rss_mb",
                "max RSS during drain",
                Unit::Megabytes,
                peak as f64 / MEGABYTE,
            );
        }
    }
    push_process(&mut report, measured);
    push_counts(&mut report, measured);
    if measured.refused_while_paused > 0 {
        report.notes.push(format!(
            "{} requests answered 503 while paused",
            measured.refused_while_paused
        ));
    }
    report.samples = measured.samples.clone();
    report
}

fn push_latencies(report: &mut RunReport, sorted_ns: &[u64]) {
    let points = [
        ("latency_p50_ms", "latency p50", 50.0),
        ("latency_p90_ms", "latency p90", 90.0),
        ("latency_p99_ms", "latency p99", 99.0),
        ("latency_max_ms", "latency max", 100.0),
    ];
    for (key, label, p) in points {
        if let Some(value) = percentile(sorted_ns, p) {
            report.push(key, label, Unit::Millis, value as f64 / 1e6);
        }
    }
}

fn push_process(report: &mut RunReport, measured: &Measured) {
    let delivered = measured.analysis.delivered;
    if let (Some(cpu_ms), true) = (measured.cpu_ms, delivered > 0) {
        report.push(
            "cpu_ms_per_delivery",
            "CPU ms per delivery",
            Unit::Millis,
            cpu_ms / delivered as f64,
        );
    }
    if let Some(idle) = measured.idle_rss {
        report.push(
            "idle_rss_mb",
            "idle RSS",
            Unit::Megabytes,
            idle as f64 / MEGABYTE,
        );
    }
    if let Some(peak) = measured.peak_rss {
        report.push(
            "peak_rss_mb",
            "peak RSS (VmHWM)",
            Unit::Megabytes,
            peak as f64 / MEGABYTE,
        );
    }
}

fn push_counts(report: &mut RunReport, measured: &Measured) {
    let analysis = &measured.analysis;
    if let Some(last) = analysis.arrivals_ns.last() {
        let after_load = last.saturating_sub(measured.load.ended_ns) as f64 / NANOS;
        if measured.pause.is_none() {
            report.push("drain_s", "drain after load", Unit::Seconds, after_load);
        }
    }
    report.push(
        "accepted",
        "events accepted",
        Unit::Count,
        analysis.accepted as f64,
    );
    report.push(
        "delivered",
        "deliveries arrived",
        Unit::Count,
        analysis.delivered as f64,
    );
    report.push(
        "duplicates",
        "duplicate arrivals",
        Unit::Count,
        analysis.duplicates as f64,
    );
    report.lost = analysis.missing;
    if analysis.missing > 0 {
        report.notes.push(format!(
            "{} of {} expected deliveries never arrived, e.g. (event, route) {:?}",
            analysis.missing, analysis.expected, analysis.missing_examples
        ));
    }
    for status in &measured.missing_status {
        report
            .notes
            .push(format!("Herald on a missing delivery: {status}"));
    }
    if analysis.unexpected > 0 {
        report.notes.push(format!(
            "{} arrivals of events not acknowledged with 202 (a request that failed after Herald stored it)",
            analysis.unexpected
        ));
    }
    if measured.foreign > 0 {
        report.notes.push(format!(
            "{} requests with ids not from this run",
            measured.foreign
        ));
    }
    if let Some(problem) = &measured.load.first_problem {
        report
            .notes
            .push(format!("first refused or failed ingest: {problem}"));
    }
}
