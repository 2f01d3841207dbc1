//! Embedding Herald in your own Rust service: your runtime, your listener, your
//! shutdown, Herald's API router and delivery engine side by side.
//!
//! Run: `cargo run -p example-embed` (serves on 127.0.0.1:8090, data in a temp dir,
//! admin key `adm_embedded_example_key`; ctrl-c stops it).
//!
//! The pieces are the library crates' public API: a store (`SledStore` here; any
//! `Store` impl works), a transport, the API state and router, and
//! `herald_delivery::run`. Nothing here reads environment variables or files: every
//! setting is a typed value. Swap the store for your own implementation of
//! `herald_store::Store` (it should pass `herald_store::testkit::conformance`).

use std::sync::Arc;

use herald_delivery::{Clock, DeliveryConfig, DeliveryDeps, SystemClock};
use herald_store::Store;
use herald_store_sled::{SledConfig, SledStore};
use herald_transport::{DestinationPolicy, HyperTransport, TransportConfig};
use tokio::sync::{watch, Notify};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = std::env::temp_dir().join("herald-embed-example");
    let store: Arc<dyn Store> = Arc::new(SledStore::open(
        &SledConfig::temporary(&data),
        SystemClock.now(),
    )?);

    // Endpoint URLs are checked by the same rules the transport enforces at connect time.
    let policy = DestinationPolicy::public_only();
    let url_policy = policy.clone();
    let url_check: herald_api::UrlCheck = Arc::new(move |url: &str| {
        herald_transport::url::check_endpoint_url(url, &url_policy)
            .map(|_| ())
            .map_err(|error| error.to_string())
    });
    let work = Arc::new(Notify::new());
    let state = herald_api::ApiState::new(
        Arc::clone(&store),
        herald_api::ApiConfig::standard(url_check),
        herald_api::hash_key("adm_embedded_example_key"),
        Arc::clone(&work),
    );
    let mut transport_config = TransportConfig::standard();
    transport_config.destinations = policy;
    let deps = DeliveryDeps {
        store,
        transport: Arc::new(HyperTransport::new(transport_config)?),
        clock: Arc::new(SystemClock),
        work,
    };

    // One shutdown signal for both halves; no global state, so two embedded Heralds
    // could run side by side on different stores and listeners.
    let (stop, stopped) = watch::channel(false);
    let wait = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
    let api = tokio::spawn(herald_api::serve(
        listener,
        herald_api::router(state),
        wait(stopped.clone()),
    ));
    let engine = tokio::spawn(herald_delivery::run(
        deps,
        DeliveryConfig::standard(),
        wait(stopped),
    ));
    tokio::signal::ctrl_c().await?;
    stop.send(true)?;
    api.await??;
    engine.await??;
    Ok(())
}
