//! Settings: embedded defaults < TOML file < `HERALD_*` environment < command-line flags.
//!
//! `RawSettings` is the private, versioned shape of the file (every field optional,
//! unknown fields refused); the command line (`cli::GlobalArgs`, where clap reads both
//! flags and environment) is layered over it, and `validate` turns the result into the
//! public, typed `Settings`, reporting every problem at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::cli::GlobalArgs;

/// The file shape. Names match the flags (with `_` for `-`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    admin_key: Option<String>,
    allow_private_networks: Option<bool>,
    allowed_cidrs: Option<Vec<String>>,
    require_https: Option<bool>,
    retry_schedule: Option<String>,
    postgres_url: Option<String>,
    header_prefix: Option<String>,
    user_agent: Option<String>,
    log: Option<String>,
    connect_timeout_ms: Option<u64>,
    attempt_timeout_ms: Option<u64>,
    response_body_cap_bytes: Option<usize>,
    max_payload_bytes: Option<usize>,
    max_request_bytes: Option<usize>,
    circuit_failure_threshold: Option<u32>,
    circuit_cooldown_ms: Option<u64>,
    disable_after_hours: Option<u64>,
}

/// Validated settings every binary shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address of the API.
    pub listen: SocketAddr,
    /// The sled directory.
    pub data_dir: PathBuf,
    /// The admin bearer key, if configured (otherwise one is generated on first start).
    pub admin_key: Option<String>,
    /// Allow endpoints on loopback and private addresses (development, tests).
    pub allow_private_networks: bool,
    /// CIDRs re-admitted by the destination guard.
    pub allowed_cidrs: Vec<herald_transport::Cidr>,
    /// Refuse `http://` endpoint URLs.
    pub require_https: bool,
    /// Delays between attempts.
    pub retry_schedule: Vec<Duration>,
    /// Use PostgreSQL instead of sled.
    pub postgres_url: Option<String>,
    /// `Supapitch` in `X-Supapitch-Signature`.
    pub header_prefix: String,
    /// `User-Agent` of deliveries.
    pub user_agent: String,
    /// Log filter: `error`, `warn`, `info`, `debug` or `trace`.
    pub log: String,
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: Duration,
    /// Whole-attempt timeout.
    pub attempt_timeout: Duration,
    /// Response bytes kept in the log.
    pub response_body_cap: usize,
    /// Largest `data` of an event.
    pub max_payload_bytes: usize,
    /// Largest API request body.
    pub max_request_bytes: usize,
    /// Circuit breaker: failures in a row that hold an endpoint back, the first
    /// cool-down, and how long an endpoint may fail everything before it is disabled.
    pub circuit: herald_retry::CircuitPolicy,
}

impl Settings {
    /// The settings as a config file would give them, every name as the file spells it
    /// (what `herald check-config` prints). Secrets are not shown: a set admin key or
    /// PostgreSQL URL is a comment.
    pub fn to_toml(&self) -> String {
        let mut lines = vec![
            format!("listen = {}", toml_string(&self.listen.to_string())),
            format!(
                "data_dir = {}",
                toml_string(&self.data_dir.display().to_string())
            ),
        ];
        if self.admin_key.is_some() {
            lines.push("# admin_key is set (not shown)".to_owned());
        }
        let cidrs: Vec<String> = self
            .allowed_cidrs
            .iter()
            .map(|cidr| toml_string(&cidr.to_string()))
            .collect();
        lines.extend([
            format!("allow_private_networks = {}", self.allow_private_networks),
            format!("allowed_cidrs = [{}]", cidrs.join(", ")),
            format!("require_https = {}", self.require_https),
            format!(
                "retry_schedule = {}",
                toml_string(&herald_retry::format_schedule(&self.retry_schedule))
            ),
        ]);
        if self.postgres_url.is_some() {
            lines.push("# postgres_url is set (not shown)".to_owned());
        }
        lines.extend([
            format!("header_prefix = {}", toml_string(&self.header_prefix)),
            format!("user_agent = {}", toml_string(&self.user_agent)),
            format!("log = {}", toml_string(&self.log)),
            format!("connect_timeout_ms = {}", self.connect_timeout.as_millis()),
            format!("attempt_timeout_ms = {}", self.attempt_timeout.as_millis()),
            format!("response_body_cap_bytes = {}", self.response_body_cap),
            format!("max_payload_bytes = {}", self.max_payload_bytes),
            format!("max_request_bytes = {}", self.max_request_bytes),
            format!(
                "circuit_failure_threshold = {}",
                self.circuit.failure_threshold
            ),
            format!(
                "circuit_cooldown_ms = {}",
                self.circuit.base_cooldown.as_millis()
            ),
            format!(
                "disable_after_hours = {}",
                self.circuit.disable_after.as_secs() / 3600
            ),
        ]);
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// Loads settings from `--config` (if given), the environment and the flags.
    pub fn load(args: &GlobalArgs) -> anyhow::Result<Settings> {
        let raw = match &args.config {
            Some(path) => read_file(path)?,
            None => RawSettings::default(),
        };
        validate(raw, args)
    }
}

fn read_file(path: &Path) -> anyhow::Result<RawSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

fn validate(raw: RawSettings, args: &GlobalArgs) -> anyhow::Result<Settings> {
    let mut problems: Vec<String> = Vec::new();
    let listen_text = args
        .listen
        .clone()
        .or(raw.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        problems.push(format!(
            "listen: '{listen_text}' is not an address:port such as 127.0.0.1:8080"
        ));
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let schedule_text = args.retry_schedule.clone().or(raw.retry_schedule);
    let retry_schedule = match schedule_text {
        Some(text) => herald_retry::parse_schedule(&text).unwrap_or_else(|error| {
            problems.push(format!("retry-schedule: {error}"));
            Vec::new()
        }),
        None => herald_retry::RetryPolicy::standard().delays,
    };
    let mut allowed_cidrs = Vec::new();
    for text in args
        .allowed_cidrs
        .clone()
        .or(raw.allowed_cidrs)
        .unwrap_or_default()
    {
        match text.parse::<herald_transport::Cidr>() {
            Ok(cidr) => allowed_cidrs.push(cidr),
            Err(error) => problems.push(format!("allowed-cidrs: '{text}': {error}")),
        }
    }
    let admin_key = args
        .admin_key
        .clone()
        .or(raw.admin_key)
        .filter(|key| !key.is_empty());
    if admin_key.as_ref().is_some_and(|key| key.len() < 16) {
        problems.push("admin-key: must be at least 16 characters".to_owned());
    }
    let header_prefix = raw.header_prefix.unwrap_or_else(|| "Supapitch".to_owned());
    if header_prefix.is_empty()
        || !header_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        problems.push("header_prefix: must be letters, digits or '-'".to_owned());
    }
    let log = args
        .log
        .clone()
        .or(raw.log)
        .unwrap_or_else(|| "info".to_owned());
    if !["error", "warn", "info", "debug", "trace"].contains(&log.as_str()) {
        problems.push(format!(
            "log: '{log}' is not one of error, warn, info, debug, trace"
        ));
    }
    let positive = |name: &str, value: u64, problems: &mut Vec<String>| {
        if value == 0 {
            problems.push(format!("{name}: must be greater than 0"));
        }
        value
    };
    let connect_ms = positive(
        "connect_timeout_ms",
        raw.connect_timeout_ms.unwrap_or(5_000),
        &mut problems,
    );
    let attempt_ms = positive(
        "attempt_timeout_ms",
        raw.attempt_timeout_ms.unwrap_or(15_000),
        &mut problems,
    );
    let horizon = herald_retry::RetryPolicy::standard().horizon;
    let total: Duration = retry_schedule.iter().sum();
    if total > horizon {
        problems.push(format!(
            "retry-schedule: the delays add up to {}, past the 24h horizon; attempts after it would never be made",
            herald_retry::format_schedule(&[total])
        ));
    }
    let user_agent = raw
        .user_agent
        .unwrap_or_else(|| format!("Supapitch-Webhooks/{}", env!("CARGO_PKG_VERSION")));
    if axum::http::HeaderValue::from_str(&user_agent).is_err() || user_agent.is_empty() {
        problems.push("user_agent: must be visible ASCII text without line breaks".to_owned());
    }
    let max_request_bytes = raw.max_request_bytes.unwrap_or(1024 * 1024);
    let max_payload_bytes = raw.max_payload_bytes.unwrap_or(256 * 1024);
    if max_request_bytes < 1024 {
        problems.push("max_request_bytes: must be at least 1024".to_owned());
    }
    if max_payload_bytes == 0 || max_payload_bytes > max_request_bytes {
        problems.push(format!(
            "max_payload_bytes: must be between 1 and max_request_bytes ({max_request_bytes})"
        ));
    }
    let mut circuit = herald_retry::CircuitPolicy::standard();
    if let Some(threshold) = raw.circuit_failure_threshold {
        circuit.failure_threshold = positive(
            "circuit_failure_threshold",
            u64::from(threshold),
            &mut problems,
        ) as u32;
    }
    if let Some(cooldown) = raw.circuit_cooldown_ms {
        circuit.base_cooldown =
            Duration::from_millis(positive("circuit_cooldown_ms", cooldown, &mut problems));
        circuit.max_cooldown = circuit.max_cooldown.max(circuit.base_cooldown);
    }
    if let Some(hours) = raw.disable_after_hours {
        circuit.disable_after =
            Duration::from_secs(positive("disable_after_hours", hours, &mut problems) * 3600);
    }
    let settings = Settings {
        listen,
        data_dir: args
            .data_dir
            .clone()
            .or(raw.data_dir)
            .unwrap_or_else(|| PathBuf::from("./herald-data")),
        admin_key,
        allow_private_networks: args
            .allow_private_networks
            .or(raw.allow_private_networks)
            .unwrap_or(false),
        allowed_cidrs,
        require_https: args.require_https.or(raw.require_https).unwrap_or(false),
        retry_schedule,
        postgres_url: args
            .postgres_url
            .clone()
            .or(raw.postgres_url)
            .filter(|url| !url.is_empty()),
        header_prefix,
        user_agent,
        log,
        connect_timeout: Duration::from_millis(connect_ms),
        attempt_timeout: Duration::from_millis(attempt_ms),
        response_body_cap: raw.response_body_cap_bytes.unwrap_or(64 * 1024),
        max_payload_bytes,
        max_request_bytes,
        circuit,
    };
    if !problems.is_empty() {
        bail!("invalid settings:\n  {}", problems.join("\n  "));
    }
    Ok(settings)
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(list: &[&str]) -> GlobalArgs {
        let mut all = vec!["herald"];
        all.extend_from_slice(list);
        all.push("check-config");
        crate::cli::HeraldCli::parse_from(all).global
    }

    #[test]
    fn flags_override_the_file() {
        let raw: RawSettings = toml::from_str(
            "listen = \"127.0.0.1:9000\"\nretry_schedule = \"1s,2s\"\nlog = \"debug\"",
        )
        .unwrap();
        let settings = validate(raw, &args(&["--listen", "127.0.0.1:9001"])).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(
            settings.retry_schedule,
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert_eq!(settings.log, "debug");
        assert_eq!(settings.data_dir, PathBuf::from("./herald-data"));
        assert!(!settings.allow_private_networks);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let raw: RawSettings =
            toml::from_str("listen = \"nowhere\"\nretry_schedule = \"5x\"").unwrap();
        let error = validate(raw, &args(&[])).unwrap_err().to_string();
        assert!(error.contains("listen: 'nowhere'"), "{error}");
        assert!(error.contains("retry-schedule:"), "{error}");
    }

    #[test]
    fn settings_that_cannot_work_are_refused_at_start() {
        let raw: RawSettings = toml::from_str(
            "user_agent = \"a\\r\\nX-Injected: 1\"\nmax_request_bytes = 1000\nmax_payload_bytes = 2000000\nretry_schedule = \"20h,5h\"",
        )
        .unwrap();
        let error = validate(raw, &args(&[])).unwrap_err().to_string();
        for expected in [
            "user_agent: must be visible ASCII text without line breaks",
            "max_request_bytes: must be at least 1024",
            "max_payload_bytes: must be between 1 and max_request_bytes (1000)",
            "retry-schedule: the delays add up to 25h, past the 24h horizon",
        ] {
            assert!(error.contains(expected), "{expected} not in {error}");
        }
    }

    #[test]
    fn unknown_file_fields_are_refused() {
        let error = toml::from_str::<RawSettings>("lisen = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `lisen`"), "{error}");
    }

    #[test]
    fn check_config_prints_a_file_that_loads_back_to_the_same_settings() {
        let raw: RawSettings = toml::from_str(
            "retry_schedule = \"5s,90s\"\nallowed_cidrs = [\"10.1.0.0/16\"]\nuser_agent = \"Acme \\\"hooks\\\"\"\ndisable_after_hours = 48",
        )
        .unwrap();
        let settings = validate(raw, &args(&["--admin-key", "adm_secret_value_123"])).unwrap();
        let text = settings.to_toml();
        assert!(!text.contains("adm_secret_value_123"), "{text}");
        for line in [
            "# admin_key is set (not shown)",
            "retry_schedule = \"5s,90s\"",
            "allowed_cidrs = [\"10.1.0.0/16\"]",
            "user_agent = \"Acme \\\"hooks\\\"\"",
            "connect_timeout_ms = 5000",
            "disable_after_hours = 48",
        ] {
            assert!(
                text.lines().any(|printed| printed == line),
                "{line} not in\n{text}"
            );
        }
        let again = validate(toml::from_str(&text).unwrap(), &args(&[])).unwrap();
        assert_eq!(
            again.to_toml(),
            text.replace("# admin_key is set (not shown)\n", "")
        );
    }
}
