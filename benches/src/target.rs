//! The systems under test: a Herald (spawned fresh, or already running) and the bare relay.
//!
//! A spawned Herald is `herald serve` on a fresh temporary data directory and a free
//! loopback port, with `HERALD_ADMIN_KEY`, `HERALD_ALLOW_PRIVATE_NETWORKS=true` (the
//! receiver is on loopback) and `HERALD_LOG=warn`; it is killed when the run ends. A
//! running Herald (`--url`) is used as it is; its CPU and memory are measured only if
//! `--herald-pid` names its process. Set-up goes through the REST API only, as a
//! customer would: event types, a tenant, endpoints.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::http::{get, post_json, HttpClient};
use crate::receiver::Receiver;
use crate::topology::Topology;

/// How to reach Herald.
#[derive(Debug, Clone)]
pub(crate) struct HeraldOptions {
    /// The binary to spawn.
    pub(crate) bin: PathBuf,
    /// A running Herald's base URL, instead of spawning one.
    pub(crate) url: Option<String>,
    /// The admin key (given to a spawned Herald, used with a running one).
    pub(crate) admin_key: String,
    /// The process id of a running Herald, for CPU and memory figures.
    pub(crate) pid: Option<u32>,
}

/// A process under test, spawned by the harness and killed when dropped.
#[derive(Debug)]
pub(crate) struct Spawned {
    child: Child,
    // Dropped after the child is killed (fields drop after `Drop::drop`).
    _data_dir: Option<tempfile::TempDir>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Herald ready for load.
#[derive(Debug)]
pub(crate) struct Herald {
    /// `http://127.0.0.1:port`.
    pub(crate) base: String,
    /// The admin key.
    pub(crate) admin_key: String,
    /// Its process, if known.
    pub(crate) pid: Option<u32>,
    _process: Option<Spawned>,
}

impl Herald {
    /// Spawns a fresh Herald (or attaches to `--url`) and waits until it answers.
    ///
    /// `config_toml`, if given, is written to a file passed with `--config` (only to a
    /// spawned Herald; a running one keeps its own settings).
    pub(crate) async fn start(
        options: &HeraldOptions,
        client: &HttpClient,
        config_toml: Option<&str>,
    ) -> anyhow::Result<Herald> {
        if let Some(url) = &options.url {
            let herald = Herald {
                base: url.trim_end_matches('/').to_owned(),
                admin_key: options.admin_key.clone(),
                pid: options.pid,
                _process: None,
            };
            herald.wait_ready(client, None).await?;
            return Ok(herald);
        }
        if !options.bin.is_file() {
            bail!(
                "no Herald binary at {}: build it first with `cargo build --release --bin herald` \
                 (or pass --herald-bin PATH, or --url for a running Herald)",
                options.bin.display()
            );
        }
        let data_dir = tempfile::Builder::new()
            .prefix("herald-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        let port = free_port()?;
        let mut command = Command::new(&options.bin);
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir.path().join("data"))
            .env("HERALD_ADMIN_KEY", &options.admin_key)
            .env("HERALD_ALLOW_PRIVATE_NETWORKS", "true")
            .env("HERALD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(config) = config_toml {
            let path = data_dir.path().join("herald.toml");
            std::fs::write(&path, config).context("cannot write the Herald config file")?;
            command.arg("--config").arg(path);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", options.bin.display()))?;
        let pid = child.id();
        let mut process = Spawned {
            child,
            _data_dir: Some(data_dir),
        };
        let herald = Herald {
            base: format!("http://127.0.0.1:{port}"),
            admin_key: options.admin_key.clone(),
            pid: Some(pid),
            _process: None,
        };
        herald.wait_ready(client, Some(&mut process.child)).await?;
        Ok(Herald {
            _process: Some(process),
            ..herald
        })
    }

    /// Polls `/healthz` until it answers 200, for at most 30 s.
    async fn wait_ready(
        &self,
        client: &HttpClient,
        mut child: Option<&mut Child>,
    ) -> anyhow::Result<()> {
        wait_until_healthy(client, &format!("{}/healthz", self.base), &mut child).await
    }

    /// Creates the topology's event types, a tenant and its endpoints on `receiver`;
    /// returns the tenant's events URL.
    pub(crate) async fn set_up(
        &self,
        client: &HttpClient,
        topology: &Topology,
        receiver: &Receiver,
        tag: &str,
    ) -> anyhow::Result<String> {
        let key = Some(self.admin_key.as_str());
        for stream in &topology.streams {
            let event_type = serde_json::json!({
                "name": stream.event_type,
                "description": "herald-bench load",
            });
            // 409: added by an earlier run against the same Herald.
            post_json(
                client,
                &format!("{}/v1/event-types", self.base),
                key,
                &event_type,
            )
            .await?
            .expect("create event type", &[201, 409])?;
        }
        let tenant = format!("bench_{tag}");
        let body = serde_json::json!({"id": tenant, "name": format!("herald-bench {tag}")});
        post_json(client, &format!("{}/v1/tenants", self.base), key, &body)
            .await?
            .expect("create tenant", &[201])?;
        for stream in &topology.streams {
            for route in &stream.routes {
                let body = serde_json::json!({
                    "url": receiver.url_for(*route),
                    "description": format!("route {route}"),
                    "event_types": [stream.event_type],
                });
                let url = format!("{}/v1/tenants/{tenant}/endpoints", self.base);
                post_json(client, &url, key, &body)
                    .await?
                    .expect("create endpoint", &[201])?;
            }
        }
        Ok(format!("{}/v1/tenants/{tenant}/events", self.base))
    }
}

/// Polls `url` until it answers 200, for at most 30 s, failing early if `child` exits.
pub(crate) async fn wait_until_healthy(
    client: &HttpClient,
    url: &str,
    child: &mut Option<&mut Child>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(child) = child.as_mut() {
            if let Some(status) = child.try_wait().context("cannot check the child process")? {
                bail!("the process under test exited during start-up ({status})");
            }
        }
        if let Ok(answer) = get(client, url, None).await {
            if answer.status.is_success() {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            bail!("{url} did not answer 200 within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback port nobody listens on right now.
///
/// The port is released before the process under test binds it; another process could
/// take it in between, in which case start-up fails clearly and the run can be repeated.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener
        .local_addr()
        .context("bound socket has no address")?
        .port())
}

/// Spawns `command` as a process under test.
pub(crate) fn spawn(mut command: Command) -> anyhow::Result<Spawned> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the process under test")?;
    Ok(Spawned {
        child,
        _data_dir: None,
    })
}

impl Spawned {
    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child, to watch for an early exit.
    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}
