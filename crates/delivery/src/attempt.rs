//! One attempt of one claimed delivery: sign, send, classify, decide, record.
//!
//! This module is the delivery state machine for a single step. It never loops or
//! sleeps: the dispatcher (`dispatch`) decides when to call it, and the store's lease
//! protects the delivery while it runs.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use herald_event::{
    Attempt, AttemptError, AttemptId, AttemptOutcome, Delivery, DeliveryStatus, Endpoint,
    EndpointId, HttpRecord, NextAction, TenantId, Timestamp,
};
use herald_retry::{is_gone, jitter_sample_from, next_attempt, Next};
use herald_signing::Secret;
use herald_store::Claim;
use herald_transport::{OutboundRequest, Response};

use crate::headers::delivery_headers;
use crate::Engine;

/// What one run of a claim came to, for the endpoint's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptResult {
    /// A 2xx.
    Succeeded,
    /// An attempt was made and failed.
    Failed,
    /// No request was sent (endpoint deleted or disabled).
    NotAttempted,
}

/// A cheap, lock-free random stream for retry jitter (splitmix64).
#[derive(Debug)]
pub(crate) struct JitterSource(AtomicU64);

impl JitterSource {
    pub(crate) fn seeded() -> Self {
        let mut seed = [0u8; 8];
        // Jitter only spreads retries; a fixed seed is an acceptable fallback.
        let _ = getrandom::fill(&mut seed);
        JitterSource(AtomicU64::new(u64::from_le_bytes(seed)))
    }

    pub(crate) fn sample(&self) -> f64 {
        let state = self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        let mut mixed = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        jitter_sample_from(mixed ^ (mixed >> 31))
    }
}

impl Engine {
    /// Runs one claimed delivery to its next state and records it.
    pub(crate) async fn run_claim(&self, claim: Claim) -> AttemptResult {
        let Claim {
            mut delivery,
            event,
            endpoint,
        } = claim;
        let now = self.clock.now();
        let endpoint = match endpoint {
            None => {
                self.finish(&mut delivery, DeliveryStatus::Cancelled, now, None)
                    .await;
                return AttemptResult::NotAttempted;
            }
            // Test sends go out even to a disabled endpoint: the operator asked for them.
            Some(endpoint) if !endpoint.enabled && !delivery.test => {
                self.finish(&mut delivery, DeliveryStatus::Skipped, now, None)
                    .await;
                return AttemptResult::NotAttempted;
            }
            Some(endpoint) => endpoint,
        };
        let round_started_at = *delivery.round_started_at.get_or_insert(now);
        let secrets: Vec<Secret> = endpoint
            .live_secrets(now)
            .filter_map(|secret| Secret::parse(secret).ok())
            .collect();
        let headers = delivery_headers(
            &self.header_names,
            &secrets,
            event.id.as_str(),
            &event.event_type,
            now,
            &event.payload,
        );
        let request_record = HttpRecord {
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            // The body is the event's stored envelope, byte for byte, on every attempt;
            // the log keeps its size and the API shows the event's bytes, so a 1 KiB
            // body is not copied into every attempt record.
            body: Vec::new(),
            truncated: false,
            size: Some(event.payload.len() as u64),
        };
        let request = OutboundRequest {
            url: endpoint.url.clone(),
            headers,
            body: Bytes::from(event.payload),
        };
        let result = self.transport.send(request).await;
        let finished = self.clock.now();

        let (outcome, status_code, response, error) = classify(result);
        let attempts_in_round = delivery.attempts - delivery.round_base + 1;
        let next = next_attempt(
            &self.config.retry,
            attempts_in_round,
            &outcome,
            round_started_at,
            finished,
            self.jitter.sample(),
        );
        delivery.attempts += 1;
        delivery.last_status_code = status_code;
        delivery.last_error = failure_summary(status_code, error.as_ref());
        delivery.updated_at = finished;
        let next_action = match next {
            Next::Done => {
                delivery.status = DeliveryStatus::Succeeded;
                delivery.next_attempt_at = None;
                NextAction::Done
            }
            Next::At(time) => {
                delivery.status = DeliveryStatus::Pending;
                delivery.next_attempt_at = Some(time);
                NextAction::Retry(time)
            }
            Next::GiveUp => {
                delivery.status = DeliveryStatus::Failed;
                delivery.next_attempt_at = None;
                NextAction::GiveUp
            }
        };
        let attempt = Attempt {
            id: AttemptId::generate(now),
            tenant: delivery.tenant.clone(),
            delivery_id: delivery.id.clone(),
            event_id: delivery.event_id.clone(),
            endpoint_id: delivery.endpoint_id.clone(),
            attempt: delivery.attempts,
            started_at: now,
            duration_ms: finished.since(now).as_millis() as u64,
            url: endpoint.url.clone(),
            request: request_record,
            status_code,
            response,
            error,
            next: next_action,
            test: delivery.test,
        };
        match next_action {
            NextAction::Done => tracing::debug!(
                delivery = %delivery.id,
                attempt = delivery.attempts,
                status = ?status_code,
                "delivered"
            ),
            NextAction::Retry(at) => tracing::info!(
                delivery = %delivery.id,
                endpoint = %delivery.endpoint_id,
                attempt = delivery.attempts,
                status = ?status_code,
                error = delivery.last_error.as_deref().unwrap_or(""),
                retry_at = %at,
                "attempt failed; will retry"
            ),
            NextAction::GiveUp => tracing::warn!(
                delivery = %delivery.id,
                endpoint = %delivery.endpoint_id,
                attempt = delivery.attempts,
                status = ?status_code,
                error = delivery.last_error.as_deref().unwrap_or(""),
                "delivery failed; no attempts left"
            ),
        }
        if is_gone(&outcome) {
            self.disable_gone_endpoint(endpoint, finished).await;
        }
        self.record(&delivery, Some(&attempt)).await;
        if attempt.succeeded() {
            AttemptResult::Succeeded
        } else {
            AttemptResult::Failed
        }
    }

    /// Ends a delivery without an attempt (endpoint deleted or disabled).
    async fn finish(
        &self,
        delivery: &mut Delivery,
        status: DeliveryStatus,
        now: Timestamp,
        attempt: Option<&Attempt>,
    ) {
        delivery.status = status;
        delivery.next_attempt_at = None;
        delivery.updated_at = now;
        self.record(delivery, attempt).await;
    }

    async fn record(&self, delivery: &Delivery, attempt: Option<&Attempt>) {
        if let Err(error) = self.store.record_attempt(delivery, attempt).await {
            // The lease stays; when it expires the delivery is taken again and the lost
            // attempt is logged as interrupted, so nothing is dropped.
            tracing::error!(delivery = %delivery.id, %error, "failed to record attempt");
        }
    }

    /// A receiver answered 410 Gone: stop sending to the endpoint, saying why.
    async fn disable_gone_endpoint(&self, endpoint: Endpoint, now: Timestamp) {
        let reason = format!("receiver answered 410 Gone at {now}");
        self.disable_endpoint(&endpoint.tenant, &endpoint.id, reason, now)
            .await;
    }

    /// The endpoint failed every attempt for the circuit policy's `disable_after`.
    pub(crate) async fn disable_failing_endpoint(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        now: Timestamp,
    ) {
        let period = herald_retry::format_schedule(&[self.config.circuit.disable_after]);
        let reason = format!("every attempt failed for {period} (disabled at {now})");
        self.disable_endpoint(tenant, endpoint, reason, now).await;
    }

    async fn disable_endpoint(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        reason: String,
        now: Timestamp,
    ) {
        // Re-read so a concurrent change (new URL, re-enable) is not overwritten blindly.
        let mut endpoint = match self.store.get_endpoint(tenant, endpoint).await {
            Ok(Some(endpoint)) => endpoint,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(endpoint = %endpoint, %error, "cannot read endpoint to disable it");
                return;
            }
        };
        if !endpoint.enabled {
            return;
        }
        endpoint.enabled = false;
        endpoint.disabled_reason = Some(reason);
        endpoint.updated_at = now;
        tracing::warn!(endpoint = %endpoint.id, reason = ?endpoint.disabled_reason, "endpoint disabled");
        if let Err(error) = self.store.put_endpoint(&endpoint).await {
            tracing::error!(endpoint = %endpoint.id, %error, "failed to disable endpoint");
        }
    }
}

type Classified = (
    AttemptOutcome,
    Option<u16>,
    Option<HttpRecord>,
    Option<AttemptError>,
);

/// Turns a transport result into the retry policy's outcome and the log's fields.
fn classify(result: Result<Response, herald_transport::TransportError>) -> Classified {
    match result {
        Ok(response) => {
            let status = response.status;
            let retry_after = response
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
                .map(|(_, value)| value.clone());
            let outcome = if (200..300).contains(&status) {
                AttemptOutcome::Delivered { status }
            } else {
                AttemptOutcome::Rejected {
                    status,
                    retry_after,
                }
            };
            let record = HttpRecord {
                headers: response.headers,
                body: response.body,
                truncated: response.truncated,
                size: response.size,
            };
            (outcome, Some(status), Some(record), None)
        }
        Err(error) => {
            let unreachable = AttemptError {
                kind: error.kind(),
                message: error.report(),
            };
            (
                AttemptOutcome::Unreachable(unreachable.clone()),
                None,
                None,
                Some(unreachable),
            )
        }
    }
}

/// A short summary for the delivery listing: `http 500` or the error kind.
fn failure_summary(status: Option<u16>, error: Option<&AttemptError>) -> Option<String> {
    match (status, error) {
        (Some(status), _) if (200..300).contains(&status) => None,
        (Some(status), _) => Some(format!("http {status}")),
        (None, Some(error)) => Some(error.kind.as_str().to_owned()),
        (None, None) => None,
    }
}
