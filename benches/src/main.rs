//! `herald-bench`: Herald's end-to-end load benchmark (issue 4).
//!
//! ```sh
//! cargo build --release --bin herald
//! cargo run --release -p herald-bench -- saturation --runs 3 --with-relay --plots docs/perf
//! cargo run --release -p herald-bench -- all --quick     # every scenario in about a minute
//! ```
//!
//! It starts a fresh Herald (or uses a running one with `--url`), a fast receiver in
//! this process, creates a tenant and endpoints through the REST API, drives load, and
//! reports ingest events/s, deliveries/s, latency from ingest to arrival, CPU per
//! delivery and memory, checking that every accepted event arrived everywhere it
//! should (a loss fails the process). `docs/performance.md` has the figures and the
//! definitions. Module map: `scenarios` (what each scenario does), `scenario` (one
//! measured run), `load`, `receiver`, `relay`, `target` (processes under test),
//! `analysis` and `figures` (facts to numbers), `report` (medians, targets, output),
//! `plot` (PNG).
//!
//! This is a benchmark, not a test: it does not run under `cargo test` (its unit
//! tests do) and it never tunes Herald.

mod analysis;
mod figures;
mod font;
mod http;
mod load;
mod monitor;
mod plot;
mod procfs;
mod receiver;
mod relay;
mod report;
mod scenario;
mod scenarios;
mod target;
mod topology;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use crate::receiver::PauseMode;
use crate::report::{append_json_line, Summary};
use crate::scenario::Environment;
use crate::scenarios::{run_once, Knobs, Scenario};
use crate::target::HeraldOptions;

/// Command-line scenario names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ScenarioArg {
    /// 64 concurrent clients for --duration: throughput, latency, CPU, memory.
    Saturation,
    /// A fixed --rate of events per second, open loop: latency.
    Paced,
    /// Batches of --batch-size events per request: ingest throughput.
    Batch,
    /// Every event to --fanout endpoints.
    Fanout,
    /// 10 % of endpoints never answer; compared with an all-healthy baseline.
    Timeouts,
    /// --pending deliveries while the receiver is paused; then release and drain.
    Backlog,
    /// The bare relay (no storage, no signing) under the saturation load.
    Relay,
    /// Every scenario, the relay first.
    All,
    /// Internal: run the relay server (spawned by the harness).
    #[value(hide = true)]
    RelayServe,
}

#[derive(Debug, Parser)]
#[command(name = "herald-bench", about = "End-to-end load benchmark of Herald")]
struct Cli {
    /// The scenario to run.
    #[arg(value_enum)]
    scenario: ScenarioArg,
    /// The Herald binary to spawn (build it with `cargo build --release --bin herald`).
    #[arg(long, default_value = "target/release/herald")]
    herald_bin: PathBuf,
    /// Use a running Herald at this base URL instead of spawning one.
    #[arg(long)]
    url: Option<String>,
    /// Admin key (given to a spawned Herald; must match a running one).
    #[arg(long, default_value = "adm_herald_bench_key_0123456789")]
    admin_key: String,
    /// Process id of the running Herald of --url, for CPU and memory figures.
    #[arg(long)]
    herald_pid: Option<u32>,
    /// Length of the load phase, e.g. 60s or 500ms [default: 60s, --quick 5s].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Concurrent clients (closed loop).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Events per second for `paced`.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Events per batch request (at most 1000).
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Endpoints, one per event, for saturation, paced, batch, backlog and relay.
    #[arg(long, default_value_t = 8)]
    routes: u32,
    /// Endpoints every event goes to, for `fanout`.
    #[arg(long, default_value_t = 10)]
    fanout: u32,
    /// Endpoints for `timeouts`; every tenth hangs.
    #[arg(long, default_value_t = 20)]
    timeout_routes: u32,
    /// Deliveries to accumulate for `backlog` [default: 1000000, --quick 50000].
    #[arg(long)]
    pending: Option<u64>,
    /// What the paused receiver of `backlog` does.
    #[arg(long, value_enum, default_value = "hold")]
    pause: PauseMode,
    /// Fail once no delivery arrived for this long after the load [default: 60s].
    #[arg(long, value_parser = parse_duration)]
    drain_timeout: Option<Duration>,
    /// Runs per scenario; the report shows the median.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Short runs (5 s, 50,000 backlog): the whole suite in about a minute.
    #[arg(long)]
    quick: bool,
    /// Also run the bare relay first and report every figure as a ratio to it.
    #[arg(long)]
    with_relay: bool,
    /// Append one JSON line per scenario to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write PNG plots (throughput over time, latency CDF) into this directory.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Internal (relay-serve): address to listen on.
    #[arg(long, hide = true)]
    listen: Option<SocketAddr>,
    /// Internal (relay-serve): the receiver to forward to.
    #[arg(long, hide = true)]
    target: Option<SocketAddr>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.scenario == ScenarioArg::RelayServe {
        let (Some(listen), Some(target)) = (cli.listen, cli.target) else {
            bail!("relay-serve needs --listen and --target");
        };
        return relay::serve(listen, target);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let knobs = Knobs {
        concurrency: cli.concurrency,
        duration: cli
            .duration
            .unwrap_or(Duration::from_secs(if cli.quick { 5 } else { 60 })),
        rate: cli.rate,
        batch_size: cli.batch_size.clamp(1, 1000),
        routes: cli.routes.max(1),
        fanout: cli.fanout.max(1),
        timeout_routes: cli.timeout_routes.max(10),
        pending: cli
            .pending
            .unwrap_or(if cli.quick { 50_000 } else { 1_000_000 }),
        pause: cli.pause,
    };
    let environment = Environment {
        herald: HeraldOptions {
            bin: resolve_herald_bin(cli.herald_bin),
            url: cli.url,
            admin_key: cli.admin_key,
            pid: cli.herald_pid,
        },
        drain_timeout: cli.drain_timeout.unwrap_or(Duration::from_secs(60)),
    };
    let scenarios = scenario_list(cli.scenario, cli.with_relay);
    if let Some(dir) = &cli.plots {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let machine = machine();
    let mut relay: Option<Summary> = None;
    let mut lost = 0;
    for scenario in scenarios {
        let mut runs = Vec::new();
        for run in 1..=cli.runs.max(1) {
            eprintln!("== {} run {run}/{}", scenario.name(), cli.runs.max(1));
            runs.push(run_once(scenario, &knobs, &environment).await?);
        }
        let mut summary = Summary::new(scenario.name(), runs, scenario.headline());
        summary.add_relay_ratio(relay.as_ref());
        print_out(&summary.table(relay.as_ref()));
        if let Some(path) = &cli.json {
            append_json_line(path, &summary.json(relay.as_ref(), &machine))?;
        }
        if let Some(dir) = &cli.plots {
            let shown = &summary.runs[summary.median_run];
            let title = scenario.name().to_uppercase();
            plot::throughput(
                &dir.join(format!("{}-throughput.png", scenario.name())),
                &title,
                &shown.samples,
            )?;
            plot::latency_cdf(
                &dir.join(format!("{}-latency.png", scenario.name())),
                &title,
                &shown.latencies_ns,
            )?;
        }
        lost += summary.lost();
        if scenario == Scenario::Relay {
            relay = Some(summary);
        }
    }
    if lost > 0 {
        bail!("{lost} accepted deliveries never arrived (see the notes above)");
    }
    Ok(())
}

/// The report goes to stdout; progress went to stderr.
#[allow(clippy::print_stdout)] // The summary table is this program's output.
fn print_out(text: &str) {
    println!("{text}");
}

fn scenario_list(arg: ScenarioArg, with_relay: bool) -> Vec<Scenario> {
    let single = match arg {
        ScenarioArg::All => return Scenario::ALL.to_vec(),
        ScenarioArg::Relay => return vec![Scenario::Relay],
        ScenarioArg::Saturation => Scenario::Saturation,
        ScenarioArg::Paced => Scenario::Paced,
        ScenarioArg::Batch => Scenario::Batch,
        ScenarioArg::Fanout => Scenario::Fanout,
        ScenarioArg::Timeouts => Scenario::Timeouts,
        ScenarioArg::Backlog => Scenario::Backlog,
        ScenarioArg::RelayServe => unreachable!("handled before the runtime starts"),
    };
    if with_relay {
        vec![Scenario::Relay, single]
    } else {
        vec![single]
    }
}

/// The default `target/release/herald` is relative to where cargo was run; when that
/// is not the workspace root, fall back to the workspace's own target directory.
fn resolve_herald_bin(bin: PathBuf) -> PathBuf {
    if bin.exists() || bin.as_path() != std::path::Path::new("target/release/herald") {
        return bin;
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/release/herald"
    ))
}

/// `60`, `60s`, `500ms`, `2m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 60s, 500ms or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("'{text}': unit must be ms, s or m")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// Where the figures were measured, for the JSON line.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_default();
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "kernel": kernel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn all_runs_the_relay_first() {
        assert_eq!(scenario_list(ScenarioArg::All, false)[0], Scenario::Relay);
        assert_eq!(
            scenario_list(ScenarioArg::Paced, true),
            vec![Scenario::Relay, Scenario::Paced]
        );
    }
}
