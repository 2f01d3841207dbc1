//! The dispatch loop: claim due deliveries in batches and run them concurrently.
//!
//! Concurrency is bounded twice. A global semaphore caps attempts in flight; the loop
//! claims no more than the free permits, so nothing claimed waits in memory. A
//! per-endpoint count caps attempts to one endpoint; a claimed delivery whose endpoint
//! is at its cap is handed back to the store, due again shortly, so one slow endpoint
//! cannot occupy the global permits (DESIGN section 4, isolation).
//!
//! The loop sleeps until the earliest due time the store reports, a wake-up from
//! ingest, a finished attempt, or the poll interval, whichever is first. On shutdown it
//! stops claiming and waits for attempts in flight, which end within the transport's
//! total timeout; their records clear their leases.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use herald_event::{DeliveryStatus, EndpointId};
use herald_store::Claim;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::{attempt::JitterSource, headers::HeaderNames, DeliveryConfig, DeliveryDeps, DeliveryError, Engine};

/// Per-endpoint attempts in flight.
#[derive(Debug, Default)]
struct EndpointSlots(Mutex<HashMap<EndpointId, usize>>);

impl EndpointSlots {
    fn try_take(&self, endpoint: &EndpointId, cap: usize) -> bool {
        let mut slots = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let in_flight = slots.entry(endpoint.clone()).or_insert(0);
        if *in_flight >= cap {
            return false;
        }
        *in_flight += 1;
        true
    }

    fn give_back(&self, endpoint: &EndpointId) {
        let mut slots = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(in_flight) = slots.get_mut(endpoint) {
            *in_flight -= 1;
            if *in_flight == 0 {
                slots.remove(endpoint);
            }
        }
    }
}

/// Runs the engine until `shutdown` completes, then lets attempts in flight finish.
pub async fn run(
    deps: DeliveryDeps,
    config: DeliveryConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DeliveryError> {
    if config.max_in_flight == 0 || config.per_endpoint_in_flight == 0 || config.claim_batch == 0 {
        return Err(DeliveryError::Config("concurrency bounds and claim batch must be at least 1"));
    }
    let header_names = HeaderNames::new(&config.header_prefix, &config.user_agent)
        .map_err(DeliveryError::Config)?;
    let engine = Arc::new(Engine {
        store: deps.store,
        transport: deps.transport,
        clock: deps.clock,
        header_names,
        jitter: JitterSource::seeded(),
        config,
    });
    let permits = Arc::new(Semaphore::new(engine.config.max_in_flight));
    let slots = Arc::new(EndpointSlots::default());
    let finished = Arc::new(Notify::new());
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        while tasks.try_join_next().is_some() {}
        let free = permits.available_permits().min(engine.config.claim_batch);
        let now = engine.clock.now();
        let mut claimed = 0;
        if free > 0 {
            let claims = match engine.store.claim_due(now, free, engine.config.lease).await {
                Ok(claims) => claims,
                Err(error) => {
                    tracing::error!(%error, "claiming due deliveries failed; retrying");
                    Vec::new()
                }
            };
            claimed = claims.len();
            for claim in claims {
                start_attempt(&engine, &permits, &slots, &finished, &mut tasks, claim).await;
            }
        }
        if free > 0 && claimed == free {
            // A full batch: more may be due right now.
            continue;
        }
        let wait = if free == 0 {
            engine.config.poll_interval
        } else {
            match engine.store.next_due_at().await {
                Ok(Some(due)) => due.since(engine.clock.now()).min(engine.config.poll_interval),
                Ok(None) => engine.config.poll_interval,
                Err(error) => {
                    tracing::error!(%error, "reading the due queue failed");
                    engine.config.poll_interval
                }
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = deps.work.notified() => {}
            // A finished attempt may have scheduled a retry earlier than what we saw.
            _ = finished.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    let in_flight = tasks.len();
    if in_flight > 0 {
        tracing::info!(in_flight, "shutting down; waiting for attempts in flight");
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Starts one claimed delivery, or hands it back if its endpoint is at its cap.
async fn start_attempt(
    engine: &Arc<Engine>,
    permits: &Arc<Semaphore>,
    slots: &Arc<EndpointSlots>,
    finished: &Arc<Notify>,
    tasks: &mut JoinSet<()>,
    claim: Claim,
) {
    let endpoint_id = claim.delivery.endpoint_id.clone();
    if !slots.try_take(&endpoint_id, engine.config.per_endpoint_in_flight) {
        defer(engine, claim).await;
        return;
    }
    // The loop claims no more than the free permits and is the only taker.
    let Ok(permit) = Arc::clone(permits).try_acquire_owned() else {
        slots.give_back(&endpoint_id);
        defer(engine, claim).await;
        return;
    };
    let engine = Arc::clone(engine);
    let slots = Arc::clone(slots);
    let finished = Arc::clone(finished);
    tasks.spawn(async move {
        engine.run_claim(claim).await;
        slots.give_back(&endpoint_id);
        drop(permit);
        finished.notify_one();
    });
}

/// Hands a claimed delivery back to the store, due again after `endpoint_busy_delay`.
async fn defer(engine: &Engine, claim: Claim) {
    let mut delivery = claim.delivery;
    let now = engine.clock.now();
    debug_assert_eq!(delivery.status, DeliveryStatus::Pending, "only pending deliveries are claimed");
    delivery.next_attempt_at = Some(now.plus(engine.config.endpoint_busy_delay));
    delivery.updated_at = now;
    if let Err(error) = engine.store.record_attempt(&delivery, None).await {
        tracing::error!(delivery = %delivery.id, %error, "failed to defer a delivery");
    }
}
