//! `herald serve`: API and delivery engine in one process on the sled store.
//!
//! Shutdown order: the API stops accepting first (so no new event is acknowledged),
//! then the engine stops claiming and lets attempts in flight finish; their records
//! clear the leases. A second signal is not needed: attempts end within their timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herald_delivery::{DeliveryConfig, DeliveryDeps, SystemClock};
use herald_store::Store;
use herald_store_sled::{SledConfig, SledStore};
use herald_transport::{DestinationPolicy, HyperTransport, TransportConfig};
use tokio::sync::{watch, Notify};

use crate::Settings;

/// Everything a running Herald holds, built from settings.
#[derive(Debug)]
pub struct Components {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The API router.
    pub router: axum::Router,
    /// Engine inputs.
    pub delivery: DeliveryDeps,
    /// Engine settings.
    pub delivery_config: DeliveryConfig,
}

fn destination_policy(settings: &Settings) -> DestinationPolicy {
    let mut policy = if settings.allow_private_networks {
        DestinationPolicy::allow_private()
    } else {
        DestinationPolicy::public_only()
    };
    policy.allowed_cidrs = settings.allowed_cidrs.clone();
    policy
}

/// Opens the store and builds API and engine inputs.
pub async fn build_deps(settings: &Settings, store: Arc<dyn Store>) -> anyhow::Result<Components> {
    let admin_hash =
        crate::admin::resolve_admin_key(store.as_ref(), settings.admin_key.as_deref()).await?;
    let policy = destination_policy(settings);
    let transport = HyperTransport::new(TransportConfig {
        connect_timeout: settings.connect_timeout,
        total_timeout: settings.attempt_timeout,
        response_body_cap: settings.response_body_cap,
        destinations: policy.clone(),
    })
    .context("cannot set up the HTTP client")?;
    let require_https = settings.require_https;
    let url_check: herald_api::UrlCheck = Arc::new(move |url: &str| {
        let parsed =
            herald_transport::url::check_endpoint_url(url, &policy).map_err(|error| {
                use herald_transport::url::UrlError;
                // Cloud metadata stays blocked whatever the settings: no hint for it.
                let allowable = match &error {
                    UrlError::Blocked { reason } => {
                        reason.range != herald_transport::ReservedRange::CloudMetadata
                    }
                    UrlError::LocalhostName { .. } => true,
                    _ => false,
                };
                if allowable {
                    // Says how to allow it, for development against a local receiver.
                    format!("{error}; to deliver to private or loopback addresses, start Herald with --allow-private-networks or --allowed-cidrs")
                } else {
                    error.to_string()
                }
            })?;
        if require_https && parsed.scheme().as_str() != "https" {
            return Err("scheme must be https (this server requires https endpoints)".to_owned());
        }
        Ok(())
    });
    let mut api_config = herald_api::ApiConfig::standard(url_check);
    api_config.max_payload_bytes = settings.max_payload_bytes;
    api_config.max_body_bytes = settings.max_request_bytes;
    let work = Arc::new(Notify::new());
    let state = herald_api::ApiState::new(
        Arc::clone(&store),
        api_config,
        admin_hash,
        Arc::clone(&work),
    );
    let mut delivery_config = DeliveryConfig::standard();
    delivery_config.retry.delays = settings.retry_schedule.clone();
    delivery_config.header_prefix = settings.header_prefix.clone();
    delivery_config.user_agent = settings.user_agent.clone();
    delivery_config.circuit = settings.circuit.clone();
    // The lease must outlast a whole attempt (DESIGN section 4).
    delivery_config.lease = settings.attempt_timeout + Duration::from_secs(30);
    Ok(Components {
        router: herald_api::router(state),
        delivery: DeliveryDeps {
            store: Arc::clone(&store),
            transport: Arc::new(transport),
            clock: Arc::new(SystemClock),
            work,
        },
        delivery_config,
        store,
    })
}

/// Opens the sled store of `settings`.
pub(crate) fn open_sled(config: &SledConfig) -> anyhow::Result<Arc<dyn Store>> {
    use herald_delivery::Clock;
    let store = SledStore::open(config, SystemClock.now())
        .with_context(|| format!("cannot open the data directory {}", config.path.display()))?;
    Ok(Arc::new(store))
}

/// Runs API and engine until `shutdown` completes.
pub async fn run_serve(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if settings.postgres_url.is_some() {
        anyhow::bail!("--postgres-url: the PostgreSQL store is not part of this build yet; omit it to use the embedded sled store");
    }
    let store = open_sled(&SledConfig::at(&settings.data_dir))?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let components = build_deps(&settings, store).await?;
    tracing::info!(listen = %settings.listen, data_dir = %settings.data_dir.display(), "herald serving");
    run_components(components, listener, shutdown).await
}

/// Runs a built Herald on `listener` until `shutdown`.
pub(crate) async fn run_components(
    components: Components,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_api, api_stopped) = watch::channel(false);
    let (stop_engine, engine_stopped) = watch::channel(false);
    let api = tokio::spawn(herald_api::serve(
        listener,
        components.router,
        wait_for(api_stopped),
    ));
    let engine = tokio::spawn(herald_delivery::run(
        components.delivery,
        components.delivery_config,
        wait_for(engine_stopped),
    ));
    tokio::pin!(engine);
    // The engine only ends on its own when it cannot work (a bad configuration): then
    // the whole process stops, loudly, rather than accept events it will never send.
    let engine_result = tokio::select! {
        _ = shutdown => None,
        result = &mut engine => Some(result),
    };
    tracing::info!("shutting down");
    let _ = stop_api.send(true);
    let api_result = api
        .await
        .context("api task failed")?
        .context("api server failed");
    let engine_result = match engine_result {
        Some(result) => result,
        None => {
            let _ = stop_engine.send(true);
            engine.await
        }
    };
    engine_result
        .context("delivery task failed")?
        .context("delivery engine failed")?;
    api_result
}

async fn wait_for(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
