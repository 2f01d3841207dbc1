//! Liveness and metrics, without authentication.
//!
//! Both report the delivery lag: how long the most overdue delivery (or expired lease)
//! has been waiting, from `Store::next_due_at`. A stalled or missing delivery engine
//! shows up here within its polling interval, instead of the API answering 202 forever
//! while nothing goes out (field case 29). Neither route fails because of lag; alerting
//! on it is the operator's choice.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde_json::json;

use crate::views::json_response;
use crate::{now, ApiError, ApiState};

/// Whole seconds since the earliest due time, 0 when nothing is overdue.
async fn due_lag_seconds(state: &ApiState) -> Result<u64, ApiError> {
    let next_due = state.store().next_due_at().await?;
    Ok(next_due.map_or(0, |due| now().since(due).as_secs()))
}

/// `GET /healthz` → 200 `{"status": "ok", "due_lag_seconds": n}`, or a 503 problem when
/// the store cannot be read.
pub(crate) async fn healthz(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let lag = due_lag_seconds(&state).await?;
    json_response(
        StatusCode::OK,
        &json!({"status": "ok", "due_lag_seconds": lag}),
    )
}

/// `GET /metrics` in the Prometheus text format.
pub(crate) async fn metrics(State(state): State<ApiState>) -> Response {
    let lag = due_lag_seconds(&state).await;
    let mut text = String::new();
    // Writing into a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        text,
        "# HELP herald_store_up Whether the store answered this scrape (1) or not (0)."
    );
    let _ = writeln!(text, "# TYPE herald_store_up gauge");
    let _ = writeln!(text, "herald_store_up {}", u8::from(lag.is_ok()));
    if let Ok(lag) = lag {
        let _ = writeln!(text, "# HELP herald_due_lag_seconds Seconds the most overdue delivery has waited (0 if none).");
        let _ = writeln!(text, "# TYPE herald_due_lag_seconds gauge");
        let _ = writeln!(text, "herald_due_lag_seconds {lag}");
    }
    let _ = writeln!(text, "# HELP herald_events_ingested_total Events accepted by this API instance (repeats excluded).");
    let _ = writeln!(text, "# TYPE herald_events_ingested_total counter");
    let _ = writeln!(
        text,
        "herald_events_ingested_total {}",
        state.metrics().events_ingested()
    );
    let _ = writeln!(text, "# HELP herald_http_requests_total HTTP requests answered by this API instance, by status class.");
    let _ = writeln!(text, "# TYPE herald_http_requests_total counter");
    for (class, count) in state.metrics().responses() {
        let _ = writeln!(
            text,
            "herald_http_requests_total{{class=\"{class}\"}} {count}"
        );
    }
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
