//! Command-line shapes of the binaries (clap), with `HERALD_*` environment fallbacks.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

/// Flags every binary accepts; each also reads the `HERALD_*` variable named here.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// TOML settings file (flags and HERALD_* variables override it).
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address:port of the API [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "HERALD_LISTEN")]
    pub listen: Option<String>,
    /// sled data directory [default: ./herald-data].
    #[arg(long, global = true, env = "HERALD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Admin bearer key; stored (hashed) for later starts. When none was ever set, one is
    /// generated on first start and printed once.
    #[arg(long, global = true, env = "HERALD_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Allow endpoints on loopback and private addresses (local development, tests).
    #[arg(long, global = true, env = "HERALD_ALLOW_PRIVATE_NETWORKS", num_args = 0..=1,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub allow_private_networks: Option<bool>,
    /// Comma-separated CIDRs the destination guard admits (cloud metadata stays blocked).
    #[arg(
        long,
        global = true,
        env = "HERALD_ALLOWED_CIDRS",
        value_delimiter = ','
    )]
    pub allowed_cidrs: Option<Vec<String>>,
    /// Refuse endpoint URLs that are not https.
    #[arg(long, global = true, env = "HERALD_REQUIRE_HTTPS", num_args = 0..=1,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub require_https: Option<bool>,
    /// Delays between attempts, e.g. 30s,2m,5m,15m [default: 30s,2m,5m,15m,30m,1h,2h,4h,8h,8h].
    #[arg(long, global = true, env = "HERALD_RETRY_SCHEDULE")]
    pub retry_schedule: Option<String>,
    /// PostgreSQL store URL (reserved: the PostgreSQL store is not in this build yet).
    #[arg(
        long,
        global = true,
        env = "HERALD_POSTGRES_URL",
        hide_env_values = true
    )]
    pub postgres_url: Option<String>,
    /// Log level: error, warn, info, debug, trace [default: info].
    #[arg(long, global = true, env = "HERALD_LOG")]
    pub log: Option<String>,
}

/// `herald`: API, delivery and admin commands in one binary.
#[derive(Debug, Parser)]
#[command(
    name = "herald",
    version,
    about = "Signed webhook delivery for outreach events"
)]
pub struct HeraldCli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: HeraldCommand,
}

/// Commands of `herald`.
#[derive(Debug, Subcommand)]
pub enum HeraldCommand {
    /// Run the API and the delivery engine in one process (sled store).
    Serve,
    /// Start Herald on a throwaway data dir with a local receiver and deliver one sample
    /// of every event type, printing what the receiver saw and the attempt log.
    Demo,
    /// Print the validated settings (secrets hidden) and exit.
    CheckConfig,
}

/// `herald-api` and `herald-worker`: one role of a shared-store deployment.
#[derive(Debug, Parser)]
#[command(version)]
pub struct RoleCli {
    /// Settings.
    #[command(flatten)]
    pub global: GlobalArgs,
}
