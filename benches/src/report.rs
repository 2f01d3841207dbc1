//! Figures of a run, their median over runs, the targets of issue 4, and the outputs:
//! a table on stdout and one JSON line per scenario.
//!
//! A figure is a named number with a unit. Runs of one scenario yield the same keys,
//! so the median is taken key by key. The relay's figures, when measured in the same
//! invocation, give every Herald figure a ratio (Herald / relay). Targets only mark a
//! figure as met or not; the process fails only when an accepted event was lost.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::monitor::Sample;

/// How a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Per second.
    Rate,
    /// Milliseconds.
    Millis,
    /// Megabytes (10^6 bytes).
    Megabytes,
    /// A plain ratio.
    Ratio,
    /// A count.
    Count,
    /// Seconds.
    Seconds,
}

/// One measured number.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    /// Stable name, used in JSON and for medians and ratios.
    pub(crate) key: &'static str,
    /// What the table calls it.
    pub(crate) label: &'static str,
    /// Its unit.
    pub(crate) unit: Unit,
    /// The value.
    pub(crate) value: f64,
}

/// Everything one run of one scenario produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunReport {
    /// The figures, in table order.
    pub(crate) figures: Vec<Figure>,
    /// Accepted deliveries that never arrived.
    pub(crate) lost: u64,
    /// Remarks for the reader (first refusal, missing examples, ...).
    pub(crate) notes: Vec<String>,
    /// Per-second samples, for the throughput plot.
    pub(crate) samples: Vec<Sample>,
    /// Sorted latencies in nanoseconds, for the latency plot.
    pub(crate) latencies_ns: Vec<u64>,
}

impl RunReport {
    /// Adds a figure.
    pub(crate) fn push(&mut self, key: &'static str, label: &'static str, unit: Unit, value: f64) {
        if value.is_finite() {
            self.figures.push(Figure {
                key,
                label,
                unit,
                value,
            });
        }
    }

    /// The value of `key`, if measured.
    pub(crate) fn value(&self, key: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|figure| figure.key == key)
            .map(|figure| figure.value)
    }
}

/// The figures a relay ratio is given for.
const RATIO_KEYS: &[&str] = &[
    "ingest_per_s",
    "deliveries_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "cpu_ms_per_delivery",
    "peak_rss_mb",
];

/// Whether a target is a floor or a ceiling.
#[derive(Debug, Clone, Copy)]
enum Bound {
    AtLeast,
    AtMost,
}

/// The targets of issue 4 (and issue 3's timeout ratio), per scenario and key.
const TARGETS: &[(&str, &str, Bound, f64)] = &[
    ("saturation", "deliveries_per_s", Bound::AtLeast, 10_000.0),
    ("saturation", "ingest_per_s", Bound::AtLeast, 8_000.0),
    ("saturation", "cpu_ms_per_delivery", Bound::AtMost, 0.2),
    ("saturation", "idle_rss_mb", Bound::AtMost, 25.0),
    ("saturation", "relay_ratio_deliveries", Bound::AtLeast, 0.4),
    ("paced", "latency_p99_ms", Bound::AtMost, 10.0),
    ("batch", "ingest_per_s", Bound::AtLeast, 30_000.0),
    ("backlog", "backlog_rss_mb", Bound::AtMost, 300.0),
    ("timeouts", "healthy_ratio", Bound::AtLeast, 0.8),
];

fn target_for(scenario: &str, key: &str) -> Option<(Bound, f64)> {
    TARGETS
        .iter()
        .find(|(name, target_key, _, _)| *name == scenario && *target_key == key)
        .map(|(_, _, bound, value)| (*bound, *value))
}

/// The median of every figure over runs, with the run used for plots.
#[derive(Debug)]
pub(crate) struct Summary {
    /// The scenario name.
    pub(crate) scenario: &'static str,
    /// Every run, in order.
    pub(crate) runs: Vec<RunReport>,
    /// Median figures, in the first run's order.
    pub(crate) median: Vec<Figure>,
    /// Index of the run whose headline figure is the median (for plots).
    pub(crate) median_run: usize,
}

impl Summary {
    /// Summarises runs; `headline` picks the run to plot.
    pub(crate) fn new(scenario: &'static str, runs: Vec<RunReport>, headline: &str) -> Summary {
        let mut median = Vec::new();
        if let Some(first) = runs.first() {
            for figure in &first.figures {
                let values: Vec<f64> = runs
                    .iter()
                    .filter_map(|run| run.value(figure.key))
                    .collect();
                median.push(Figure {
                    value: median_of(&values),
                    ..figure.clone()
                });
            }
        }
        let headline_median = median
            .iter()
            .find(|figure| figure.key == headline)
            .map(|figure| figure.value);
        let median_run = headline_median
            .and_then(|target| {
                (0..runs.len()).min_by(|a, b| {
                    let distance = |index: &usize| {
                        (runs[*index].value(headline).unwrap_or(f64::MAX) - target).abs()
                    };
                    distance(a).total_cmp(&distance(b))
                })
            })
            .unwrap_or(0);
        Summary {
            scenario,
            runs,
            median,
            median_run,
        }
    }

    /// Total lost deliveries over all runs.
    pub(crate) fn lost(&self) -> u64 {
        self.runs.iter().map(|run| run.lost).sum()
    }

    /// Adds `relay_ratio_deliveries` from the relay's median, for its target.
    pub(crate) fn add_relay_ratio(&mut self, relay: Option<&Summary>) {
        let Some(relay) = relay else { return };
        let ratio = ratio(&self.median, &relay.median, "deliveries_per_s");
        if let (Some(ratio), true) = (ratio, self.scenario != "relay") {
            self.median.push(Figure {
                key: "relay_ratio_deliveries",
                label: "deliveries/s vs relay",
                unit: Unit::Ratio,
                value: ratio,
            });
        }
    }

    /// The summary table, with relay ratios and targets.
    pub(crate) fn table(&self, relay: Option<&Summary>) -> String {
        let mut out = String::new();
        let runs = self.runs.len();
        let _ = writeln!(
            out,
            "\n== {} (median of {runs} run{}) ==",
            self.scenario,
            if runs == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            out,
            "{:<32} {:>14} {:>22} {:>10}  target",
            "figure", "median", "runs", "vs relay"
        );
        for figure in &self.median {
            let all: Vec<String> = self
                .runs
                .iter()
                .filter_map(|run| run.value(figure.key))
                .map(|value| format_value(value, figure.unit))
                .collect();
            let vs_relay = relay
                .filter(|_| RATIO_KEYS.contains(&figure.key) && self.scenario != "relay")
                .and_then(|relay| ratio(&self.median, &relay.median, figure.key))
                .map(|ratio| format!("{ratio:.2}x"))
                .unwrap_or_default();
            let target = target_for(self.scenario, figure.key)
                .map(|(bound, goal)| {
                    let (sign, met) = match bound {
                        Bound::AtLeast => (">=", figure.value >= goal),
                        Bound::AtMost => ("<=", figure.value <= goal),
                    };
                    let mark = if met { "met" } else { "NOT MET" };
                    format!("{sign} {} {mark}", format_value(goal, figure.unit))
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<30} {:>14} {:>36} {:>9}  {target}",
                figure.label,
                format_value(figure.value, figure.unit),
                all.join(" | "),
                vs_relay
            );
        }
        let lost = self.lost();
        let _ = writeln!(
            out,
            "lost deliveries: {lost} {}",
            if lost == 0 {
                "(every accepted event arrived everywhere it should)"
            } else {
                "FAILED"
            }
        );
        for (index, run) in self.runs.iter().enumerate() {
            for note in &run.notes {
                let _ = writeln!(out, "note (run {}): {note}", index + 1);
            }
        }
        out
    }

    /// One JSON object for the `--json` file.
    pub(crate) fn json(
        &self,
        relay: Option<&Summary>,
        machine: &serde_json::Value,
    ) -> serde_json::Value {
        let as_map = |figures: &[Figure]| -> BTreeMap<&str, f64> {
            figures
                .iter()
                .map(|figure| (figure.key, figure.value))
                .collect()
        };
        let ratios: BTreeMap<&str, f64> = relay
            .filter(|_| self.scenario != "relay")
            .map(|relay| {
                RATIO_KEYS
                    .iter()
                    .filter_map(|key| Some((*key, ratio(&self.median, &relay.median, key)?)))
                    .collect()
            })
            .unwrap_or_default();
        let targets: Vec<serde_json::Value> = self
            .median
            .iter()
            .filter_map(|figure| {
                let (bound, goal) = target_for(self.scenario, figure.key)?;
                let met = match bound {
                    Bound::AtLeast => figure.value >= goal,
                    Bound::AtMost => figure.value <= goal,
                };
                Some(serde_json::json!({
                    "key": figure.key,
                    "bound": match bound { Bound::AtLeast => "at_least", Bound::AtMost => "at_most" },
                    "target": goal,
                    "value": figure.value,
                    "met": met,
                }))
            })
            .collect();
        serde_json::json!({
            "scenario": self.scenario,
            "runs": self.runs.len(),
            "median": as_map(&self.median),
            "each_run": self.runs.iter().map(|run| as_map(&run.figures)).collect::<Vec<_>>(),
            "relay_ratio": ratios,
            "targets": targets,
            "lost": self.lost(),
            "machine": machine,
        })
    }
}

/// Appends one JSON line to `path`.
pub(crate) fn append_json_line(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(file, "{value}").with_context(|| format!("cannot write {}", path.display()))
}

fn ratio(figures: &[Figure], relay: &[Figure], key: &str) -> Option<f64> {
    let mine = figures.iter().find(|figure| figure.key == key)?.value;
    let theirs = relay.iter().find(|figure| figure.key == key)?.value;
    (theirs > 0.0).then(|| mine / theirs)
}

fn median_of(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

/// A value with its unit, for the table.
pub(crate) fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Rate => format!("{value:.0}/s"),
        Unit::Millis if value < 10.0 => format!("{value:.2} ms"),
        Unit::Millis => format!("{value:.1} ms"),
        Unit::Megabytes => format!("{value:.1} MB"),
        Unit::Ratio => format!("{value:.2}"),
        Unit::Count => format!("{value:.0}"),
        Unit::Seconds => format!("{value:.1} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(deliveries: f64) -> RunReport {
        let mut report = RunReport::default();
        report.push("deliveries_per_s", "deliveries/s", Unit::Rate, deliveries);
        report.push("latency_p99_ms", "p99", Unit::Millis, deliveries / 1000.0);
        report
    }

    #[test]
    fn median_is_taken_per_figure_and_picks_the_median_run() {
        let summary = Summary::new(
            "saturation",
            vec![run(3000.0), run(1000.0), run(2000.0)],
            "deliveries_per_s",
        );
        assert_eq!(summary.median[0].value, 2000.0);
        assert_eq!(summary.median[1].value, 2.0);
        assert_eq!(summary.median_run, 2);
        assert_eq!(median_of(&[1.0, 2.0, 3.0, 10.0]), 2.5);
    }

    #[test]
    fn relay_ratio_feeds_the_target() {
        let relay = Summary::new("relay", vec![run(4000.0)], "deliveries_per_s");
        let mut herald = Summary::new("saturation", vec![run(2000.0)], "deliveries_per_s");
        herald.add_relay_ratio(Some(&relay));
        let table = herald.table(Some(&relay));
        assert!(table.contains("0.50x"), "{table}");
        assert!(table.contains(">= 0.40 met"), "{table}");
        assert!(table.contains(">= 10000/s NOT MET"), "{table}");
    }
}
