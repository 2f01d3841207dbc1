//! The dispatch loop: claim due deliveries in batches and run them concurrently.
//!
//! Concurrency is bounded twice. A global semaphore caps attempts in flight; a
//! per-endpoint count caps attempts to one endpoint, and shrinks to a quarter of the
//! permits still free, so even many hanging endpoints together leave room for a
//! healthy one (DESIGN section 4, isolation).
//!
//! A claimed delivery whose endpoint is at its cap waits in memory, in that
//! endpoint's queue, and starts as soon as one of the endpoint's attempts ends: a
//! backlog drains with one claim and one record per delivery. Waiting is bounded
//! three ways: claims stop while the waiting ones and the attempts in flight fill the
//! global bound; an endpoint's queue holds at most four times its cap (more are handed
//! back to the store, due again after the busy delay, or after as long as the endpoint
//! has gone without finishing an attempt, if that is longer); and a delivery waits at most `hold_limit`,
//! well inside its lease, before it is handed back. An endpoint whose circuit is open
//! gets its deliveries handed back, due when the circuit lets a probe through.
//!
//! The loop sleeps until the earliest due time the store reports, a wake-up from
//! ingest, a finished attempt, or the poll interval, whichever is first. On shutdown it
//! stops claiming, hands waiting deliveries back, and waits for attempts in flight,
//! which end within the transport's total timeout; their records clear their leases.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

use herald_event::{DeliveryStatus, EndpointId, Timestamp};
use herald_retry::{Admission, CircuitPolicy, EndpointHealth};
use herald_store::Claim;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::attempt::{AttemptResult, JitterSource};
use crate::{headers::HeaderNames, DeliveryConfig, DeliveryDeps, DeliveryError, Engine};

/// Per-endpoint attempts in flight, health (circuit breaker) and waiting claims, for
/// this engine.
#[derive(Debug, Default)]
struct Endpoints(Mutex<EndpointsInner>);

#[derive(Debug, Default)]
struct EndpointsInner {
    map: HashMap<EndpointId, EndpointState>,
    /// Claims waiting in all the queues.
    held: usize,
}

#[derive(Debug, Default)]
struct EndpointState {
    in_flight: usize,
    health: EndpointHealth,
    /// Claimed deliveries waiting for a slot, oldest first, with when they were held.
    queue: VecDeque<(Claim, Timestamp)>,
    /// Since when attempts are in flight and none has ended (`None` while idle).
    stalled_since: Option<Timestamp>,
}

impl EndpointState {
    fn idle(&self) -> bool {
        self.in_flight == 0 && self.health == EndpointHealth::default() && self.queue.is_empty()
    }

    /// When a delivery this endpoint cannot take now is due again: after the busy
    /// delay, or, once its attempts have made no progress for longer (an endpoint that
    /// hangs), after as long again as it has been stalled, at most `MAX_BUSY_DEFER`.
    /// So a hanging endpoint's backlog is claimed a few times per attempt timeout,
    /// not four times a second, and does not crowd out due deliveries of others.
    fn busy_until(&self, now: Timestamp, config: &DeliveryConfig) -> Timestamp {
        let stalled = self
            .stalled_since
            .map_or(std::time::Duration::ZERO, |since| now.since(since));
        now.plus(stalled.clamp(
            config.endpoint_busy_delay,
            MAX_BUSY_DEFER.max(config.endpoint_busy_delay),
        ))
    }
}

/// The longest a delivery for a stalled endpoint is handed back for.
const MAX_BUSY_DEFER: std::time::Duration = std::time::Duration::from_secs(30);

/// How many claims may wait per endpoint, in attempts it may have in flight.
const QUEUE_PER_SLOT: usize = 4;

/// Whether an attempt to an endpoint may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// A slot was taken.
    Go,
    /// At its cap (or a probe is in flight): a slot frees when an attempt ends.
    Busy,
    /// The circuit is open until then.
    Closed(Timestamp),
}

/// Where a fresh claim goes.
#[derive(Debug)]
enum Placed {
    /// Its slot is taken: start it.
    Start(Claim),
    /// It waits in its endpoint's queue.
    Held,
    /// Hand it back to the store, due at this time.
    Defer(Claim, Timestamp),
}

impl Endpoints {
    fn lock(&self) -> std::sync::MutexGuard<'_, EndpointsInner> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn held(&self) -> usize {
        self.lock().held
    }

    /// Takes a slot if the endpoint's cap and circuit allow an attempt now.
    ///
    /// The cap shrinks as global permits run out (fair share): an endpoint may take a
    /// quarter of the permits still free beyond a reserve of an eighth, and once only
    /// the reserve is left, only endpoints with nothing in flight are admitted. So
    /// endpoints that hang cannot take the last permits, and a healthy endpoint is
    /// admitted while any permit is free (DESIGN section 4, isolation).
    fn try_take(
        state: &mut EndpointState,
        now: Timestamp,
        config: &DeliveryConfig,
        free_permits: usize,
    ) -> Take {
        // An eighth of the permits is kept for endpoints with nothing in flight: once
        // only the reserve is free, endpoints already sending get no more.
        let reserve = config.max_in_flight / 8;
        let fair_share = if free_permits > reserve {
            ((free_permits - reserve) / 4).max(1)
        } else {
            1
        };
        let busy_until = now.plus(config.endpoint_busy_delay);
        match state.health.admit(
            now,
            state.in_flight,
            config.per_endpoint_in_flight.min(fair_share),
            config.endpoint_busy_delay,
        ) {
            Admission::Go => {
                if state.in_flight == 0 {
                    state.stalled_since = Some(now);
                }
                state.in_flight += 1;
                Take::Go
            }
            Admission::WaitUntil(later) if later > busy_until => Take::Closed(later),
            Admission::WaitUntil(_) => Take::Busy,
        }
    }

    /// Takes a slot for a fresh claim, or queues it, or says to hand it back.
    fn admit_or_hold(
        &self,
        claim: Claim,
        now: Timestamp,
        config: &DeliveryConfig,
        free_permits: usize,
    ) -> Placed {
        let mut inner = self.lock();
        let held_total = inner.held;
        let state = inner
            .map
            .entry(claim.delivery.endpoint_id.clone())
            .or_default();
        // Older claims of this endpoint go first.
        let take = if state.queue.is_empty() {
            Self::try_take(state, now, config, free_permits)
        } else {
            Take::Busy
        };
        match take {
            Take::Go => Placed::Start(claim),
            Take::Closed(until) => Placed::Defer(claim, until),
            Take::Busy => {
                // Waiting room is shared; one endpoint takes at most a few times its
                // cap of it, so endpoints that hang cannot fill it.
                let room = held_total < config.max_in_flight
                    && state.queue.len() < config.per_endpoint_in_flight * QUEUE_PER_SLOT;
                if room {
                    state.queue.push_back((claim, now));
                    inner.held += 1;
                    Placed::Held
                } else {
                    Placed::Defer(claim, state.busy_until(now, config))
                }
            }
        }
    }

    /// Takes waiting claims whose endpoint has a slot now (at most `free_permits`), and
    /// those to hand back: held too long, or behind an open circuit.
    fn release_waiting(
        &self,
        now: Timestamp,
        config: &DeliveryConfig,
        mut free_permits: usize,
    ) -> (Vec<Claim>, Vec<(Claim, Timestamp)>) {
        let mut start = Vec::new();
        let mut defer = Vec::new();
        let mut inner = self.lock();
        if inner.held == 0 {
            return (start, defer);
        }
        let mut released = 0;
        for state in inner.map.values_mut() {
            while let Some((_, held_at)) = state.queue.front() {
                if now.since(*held_at) > config.hold_limit {
                    // Its lease must still outlast a whole attempt: hand it back.
                    let (claim, _) = state.queue.pop_front().expect("front exists");
                    defer.push((claim, state.busy_until(now, config)));
                    released += 1;
                    continue;
                }
                if free_permits == 0 {
                    break;
                }
                match Self::try_take(state, now, config, free_permits) {
                    Take::Go => {
                        let (claim, _) = state.queue.pop_front().expect("front exists");
                        start.push(claim);
                        free_permits -= 1;
                        released += 1;
                    }
                    Take::Busy => break,
                    Take::Closed(until) => {
                        released += state.queue.len();
                        defer.extend(state.queue.drain(..).map(|(claim, _)| (claim, until)));
                    }
                }
            }
        }
        inner.held -= released;
        inner.map.retain(|_, state| !state.idle());
        (start, defer)
    }

    /// Every waiting claim (at shutdown).
    fn drain_waiting(&self) -> Vec<Claim> {
        let mut inner = self.lock();
        inner.held = 0;
        let waiting = inner
            .map
            .values_mut()
            .flat_map(|state| state.queue.drain(..).map(|(claim, _)| claim))
            .collect();
        inner.map.retain(|_, state| !state.idle());
        waiting
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
        let mut inner = self.lock();
        let Some(state) = inner.map.get_mut(endpoint) else {
            return false;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        state.stalled_since = (state.in_flight > 0).then_some(now);
        match result {
            AttemptResult::Succeeded => state.health.record_success(),
            AttemptResult::Failed => state.health.record_failure(now, policy),
            AttemptResult::NotAttempted => {}
        }
        let disable = state.health.should_disable(now, policy);
        // Forget healthy idle endpoints so the map does not grow without bound.
        if state.idle() {
            inner.map.remove(endpoint);
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
    if config.hold_limit >= config.lease {
        return Err(DeliveryError::Config(
            "hold_limit must be shorter than the lease",
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
    // When the last claim batch was mostly handed back, and how many claims were
    // waiting then.
    let mut churned: Option<(Timestamp, usize)> = None;
    tokio::pin!(shutdown);

    loop {
        while tasks.try_join_next().is_some() {}
        let now = engine.clock.now();
        // Waiting claims first: they are older than anything a claim would bring.
        let (ready, back) = slots.release_waiting(now, &engine.config, permits.available_permits());
        for claim in ready {
            spawn_attempt(&engine, &permits, &slots, &finished, &mut tasks, claim);
        }
        for (claim, due) in back {
            defer(&engine, claim, due).await;
        }
        // Claim what can start or wait: the free permits plus the room left for
        // waiting claims (`max_in_flight` of them). After a batch that was mostly
        // handed back (its deliveries were for endpoints that cannot take more), claim
        // again only once half the waiting claims have started, so a backlog for busy
        // endpoints is not claimed and handed back over and over; or, if none of them
        // could start for `endpoint_busy_delay` (endpoints that hang), claim a whole
        // batch anyway: handing back moves those deliveries behind the others due, so
        // the claims reach the other endpoints' deliveries.
        let held = slots.held();
        let max_held = engine.config.max_in_flight;
        let capacity = permits.available_permits() + max_held.saturating_sub(held);
        let stuck = churned.is_some_and(|(at, held_then)| {
            now.since(at) >= engine.config.endpoint_busy_delay && held >= held_then
        });
        let room = if stuck {
            engine.config.claim_batch
        } else {
            capacity.min(engine.config.claim_batch)
        };
        let settled = churned.is_none() || held <= max_held / 2 || stuck;
        let mut claimed = 0;
        let mut deferred = 0;
        if room > 0 && settled {
            let claims = match engine.store.claim_due(now, room, engine.config.lease).await {
                Ok(claims) => claims,
                Err(error) => {
                    tracing::error!(%error, "claiming due deliveries failed; retrying");
                    Vec::new()
                }
            };
            claimed = claims.len();
            for claim in claims {
                let free = permits.available_permits();
                match slots.admit_or_hold(claim, engine.clock.now(), &engine.config, free) {
                    Placed::Start(claim) => {
                        spawn_attempt(&engine, &permits, &slots, &finished, &mut tasks, claim);
                    }
                    Placed::Held => {}
                    Placed::Defer(claim, due) => {
                        deferred += 1;
                        defer(&engine, claim, due).await;
                    }
                }
            }
            churned = (deferred > 0 && deferred * 2 >= claimed).then(|| (now, slots.held()));
        }
        if room > 0 && settled && claimed == room && churned.is_none() {
            // A full batch that found a place: more may be due right now.
            continue;
        }
        let wait = if !settled || churned.is_some() {
            engine
                .config
                .endpoint_busy_delay
                .min(engine.config.poll_interval)
        } else if room == 0 {
            // Every permit is taken and the waiting room is full: an ending attempt
            // wakes the loop.
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
        let wait = if slots.held() > 0 {
            // Held claims must be handed back in time even if nothing ends.
            wait.min(engine.config.hold_limit)
        } else {
            wait
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = deps.work.notified() => {}
            // A finished attempt frees a slot, and may have scheduled an earlier retry.
            _ = finished.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    for claim in slots.drain_waiting() {
        let now = engine.clock.now();
        defer(&engine, claim, now).await;
    }
    let in_flight = tasks.len();
    if in_flight > 0 {
        tracing::info!(in_flight, "shutting down; waiting for attempts in flight");
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Runs one claim whose endpoint slot is taken, holding a global permit.
fn spawn_attempt(
    engine: &Arc<Engine>,
    permits: &Arc<Semaphore>,
    slots: &Arc<Endpoints>,
    finished: &Arc<Notify>,
    tasks: &mut JoinSet<()>,
    claim: Claim,
) {
    let endpoint_id = claim.delivery.endpoint_id.clone();
    // The loop starts no more than the free permits and is the only taker.
    let permit = Arc::clone(permits).try_acquire_owned().ok();
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
