//! The progress line and the per-second series behind the throughput plot.
//!
//! Once a second it reads the load generator's and the receiver's counters and the
//! process's resident memory, prints one line to stderr, and keeps the sample. It
//! only observes: nothing in a run waits for it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::load::LoadCounters;
use crate::procfs;
use crate::receiver::Receiver;

/// One observation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Seconds since the run's epoch.
    pub(crate) at_s: f64,
    /// Events accepted so far.
    pub(crate) accepted: u64,
    /// Deliveries recorded by the receiver so far.
    pub(crate) delivered: u64,
    /// Resident memory of the process under test, if known.
    pub(crate) rss_bytes: Option<u64>,
}

/// A running monitor; [`Monitor::stop`] returns its samples.
#[derive(Debug)]
pub(crate) struct Monitor {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<Sample>>,
}

impl Monitor {
    /// Starts sampling every second, labelling progress lines with `label`.
    pub(crate) fn start(
        label: String,
        epoch: Instant,
        counters: Arc<LoadCounters>,
        receiver: Arc<Receiver>,
        pid: Option<u32>,
    ) -> Monitor {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            let mut previous: Option<Sample> = None;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = ticker.tick() => {}
                }
                let sample = Sample {
                    at_s: epoch.elapsed().as_secs_f64(),
                    accepted: counters.accepted.load(Ordering::Relaxed),
                    delivered: receiver.recorded(),
                    rss_bytes: pid
                        .and_then(|pid| procfs::sample(pid).ok())
                        .map(|s| s.rss_bytes),
                };
                let problems = counters.refused.load(Ordering::Relaxed)
                    + counters.failed.load(Ordering::Relaxed);
                eprintln!(
                    "{}",
                    progress_line(&label, previous.as_ref(), &sample, problems)
                );
                previous = Some(sample);
                samples.push(sample);
            }
            samples
        });
        Monitor { stop, task }
    }

    /// Stops sampling and returns what was seen.
    pub(crate) async fn stop(self) -> Vec<Sample> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

fn progress_line(label: &str, previous: Option<&Sample>, now: &Sample, problems: u64) -> String {
    let (ingest_rate, delivery_rate) = match previous {
        Some(before) => {
            let seconds = (now.at_s - before.at_s).max(1e-3);
            (
                (now.accepted - before.accepted) as f64 / seconds,
                (now.delivered.saturating_sub(before.delivered)) as f64 / seconds,
            )
        }
        None => (0.0, 0.0),
    };
    let rss = now
        .rss_bytes
        .map(|bytes| format!("  rss {:.1} MB", bytes as f64 / 1e6))
        .unwrap_or_default();
    let problems = if problems > 0 {
        format!("  refused/failed {problems}")
    } else {
        String::new()
    };
    format!(
        "[{label} {:>5.0}s] ingest {:>7.0}/s ({})  delivered {:>7.0}/s ({}){rss}{problems}",
        now.at_s,
        ingest_rate,
        compact(now.accepted),
        delivery_rate,
        compact(now.delivered),
    )
}

/// `1234567` as `1.23M`.
pub(crate) fn compact(count: u64) -> String {
    match count {
        0..=9_999 => count.to_string(),
        10_000..=999_999 => format!("{:.1}k", count as f64 / 1e3),
        _ => format!("{:.2}M", count as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_shows_rates_and_totals() {
        let before = Sample {
            at_s: 1.0,
            accepted: 1000,
            delivered: 900,
            rss_bytes: None,
        };
        let now = Sample {
            at_s: 2.0,
            accepted: 3000,
            delivered: 2900,
            rss_bytes: Some(20_000_000),
        };
        let line = progress_line("saturation", Some(&before), &now, 0);
        assert_eq!(
            line,
            "[saturation     2s] ingest    2000/s (3000)  delivered    2000/s (2900)  rss 20.0 MB"
        );
        assert_eq!(compact(1_234_567), "1.23M");
        assert_eq!(compact(45_600), "45.6k");
    }
}
