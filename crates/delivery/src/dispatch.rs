//! The dispatch loop: claim due deliveries in batches and run them concurrently.
//!
//! Concurrency is bounded twice. A global semaphore caps attempts in flight; the loop
//! claims no more than the free permits, so nothing claimed waits in memory. A
//! per-endpoint count caps attempts to one endpoint; a claimed delivery whose endpoint
//! is at its cap is handed back to the store, due again shortly, so one slow endpoint
//! cannot occupy the global permits (DESIGN section 4, isolation). The per-endpoint
//! cap also shrinks to a quarter of the permits still free, so even many hanging
//! endpoints together leave room for a healthy one.
//!
//! The loop sleeps until the earliest due time the store reports, a wake-up from
//! ingest, a finished attempt, or the poll interval, whichever is first. On shutdown it
//! stops claiming and waits for attempts in flight, which end within the transport's
//! total timeout; their records clear their leases.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use herald_event::{DeliveryStatus, EndpointId, Timestamp};
use herald_retry::{Admission, CircuitPolicy, EndpointHealth};
use herald_store::Claim;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::attempt::{AttemptResult, JitterSource};
use crate::{headers::HeaderNames, DeliveryConfig, DeliveryDeps, DeliveryError, Engine};

/// Per-endpoint attempts in flight and health (circuit breaker), for this engine.
#[derive(Debug, Default)]
struct Endpoints(Mutex<HashMap<EndpointId, EndpointState>>);

#[derive(Debug, Default)]
struct EndpointState {
    in_flight: usize,
    health: EndpointHealth,
}

impl Endpoints {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EndpointId, EndpointState>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a slot if the endpoint's cap and circuit allow an attempt now.
    ///
    /// The cap shrinks as global permits run out (fair share): an endpoint may take a
    /// quarter of the permits still free beyond a reserve of an eighth, and once only
    /// the reserve is left, only endpoints with nothing in flight are admitted. So
    /// endpoints that hang cannot take the last permits, and a healthy endpoint is
    /// admitted while any permit is free (DESIGN section 4, isolation).
    fn try_take(
        &self,
        endpoint: &EndpointId,
        now: Timestamp,
        config: &DeliveryConfig,
        free_permits: usize,
    ) -> Admission {
        let mut endpoints = self.lock();
        let state = endpoints.entry(endpoint.clone()).or_default();
        // An eighth of the permits is kept for endpoints with nothing in flight: once
        // only the reserve is free, endpoints already sending get no more.
        let reserve = config.max_in_flight / 8;
        let fair_share = if free_permits > reserve {
            ((free_permits - reserve) / 4).max(1)
        } else {
            1
        };
        let admission = state.health.admit(
            now,
            state.in_flight,
            config.per_endpoint_in_flight.min(fair_share),
            config.endpoint_busy_delay,
        );
        if admission == Admission::Go {
            state.in_flight += 1;
        }
        admission
    }

    /// Gives the slot back and updates health; returns whether the endpoint has failed
    /// long enough to be disabled.
    fn give_back(
        &self,
        endpoint: &EndpointId,
        result: AttemptResult,
        now: Timestamp,
        policy: &CircuitPolicy,
    ) -> bool {
        let mut endpoints = self.lock();
        let Some(state) = endpoints.get_mut(endpoint) else {
            return false;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        match result {
            AttemptResult::Succeeded => state.health.record_success(),
            AttemptResult::Failed => state.health.record_failure(now, policy),
            AttemptResult::NotAttempted => {}
        }
        let disable = state.health.should_disable(now, policy);
        // Forget healthy idle endpoints so the map does not grow without bound.
        if state.in_flight == 0 && state.health == EndpointHealth::default() {
            endpoints.remove(endpoint);
        }
        disable
    }
}

/// Runs the engine until `shutdown` completes, then lets attempts in flight finish.
pub async fn run(
    deps: DeliveryDeps,
    config: DeliveryConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DeliveryError> {
    if config.max_in_flight == 0 || config.per_endpoint_in_flight == 0 || config.claim_batch == 0 {
        return Err(DeliveryError::Config(
            "concurrency bounds and claim batch must be at least 1",
        ));
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
    let slots = Arc::new(Endpoints::default());
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
                Ok(Some(due)) => due
                    .since(engine.clock.now())
                    .min(engine.config.poll_interval),
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

/// Starts one claimed delivery, or hands it back if its endpoint is at its cap or
/// held back by its circuit breaker.
async fn start_attempt(
    engine: &Arc<Engine>,
    permits: &Arc<Semaphore>,
    slots: &Arc<Endpoints>,
    finished: &Arc<Notify>,
    tasks: &mut JoinSet<()>,
    claim: Claim,
) {
    let endpoint_id = claim.delivery.endpoint_id.clone();
    let now = engine.clock.now();
    let free_permits = permits.available_permits();
    if let Admission::WaitUntil(later) =
        slots.try_take(&endpoint_id, now, &engine.config, free_permits)
    {
        defer(engine, claim, later).await;
        return;
    }
    // The loop claims no more than the free permits and is the only taker.
    let Ok(permit) = Arc::clone(permits).try_acquire_owned() else {
        slots.give_back(
            &endpoint_id,
            AttemptResult::NotAttempted,
            now,
            &engine.config.circuit,
        );
        defer(engine, claim, now.plus(engine.config.endpoint_busy_delay)).await;
        return;
    };
    let engine = Arc::clone(engine);
    let slots = Arc::clone(slots);
    let finished = Arc::clone(finished);
    tasks.spawn(async move {
        let tenant = claim.delivery.tenant.clone();
        let result = engine.run_claim(claim).await;
        let now = engine.clock.now();
        if slots.give_back(&endpoint_id, result, now, &engine.config.circuit) {
            engine
                .disable_failing_endpoint(&tenant, &endpoint_id, now)
                .await;
        }
        drop(permit);
        finished.notify_one();
    });
}

/// Hands a claimed delivery back to the store, due again at `later`; not an attempt.
async fn defer(engine: &Engine, claim: Claim, later: Timestamp) {
    let mut delivery = claim.delivery;
    let now = engine.clock.now();
    debug_assert_eq!(
        delivery.status,
        DeliveryStatus::Pending,
        "only pending deliveries are claimed"
    );
    delivery.next_attempt_at = Some(later);
    delivery.updated_at = now;
    if let Err(error) = engine.store.record_attempt(&delivery, None).await {
        tracing::error!(delivery = %delivery.id, %error, "failed to defer a delivery");
    }
}
