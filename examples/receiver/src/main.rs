//! A webhook receiver that verifies Herald's signatures before trusting a delivery.
//!
//! Run: `WEBHOOK_SECRET=whsec_... cargo run -p example-receiver -- 127.0.0.1:9999`,
//! then create an endpoint with `url` `http://127.0.0.1:9999/webhooks` (and run Herald
//! with `--allow-private-networks`, since this listens on loopback).
//!
//! It checks the Standard Webhooks signature (`webhook-signature` over id, timestamp
//! and body, with a 5-minute tolerance against replays) and answers 401 when it does
//! not verify, 200 when it does. Real receivers would also store `webhook-id` and skip
//! repeats: delivery is at-least-once.
#![allow(clippy::print_stdout)] // An example prints what it receives.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use herald_signing::{verify_standard, Secret, DEFAULT_TOLERANCE_SECS};

async fn receive(State(secret): State<Secret>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    let verified = verify_standard(
        std::slice::from_ref(&secret),
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        now,
        DEFAULT_TOLERANCE_SECS,
    );
    match verified {
        Ok(()) => {
            println!(
                "{} {} {}",
                header("x-supapitch-event"),
                header("webhook-id"),
                String::from_utf8_lossy(&body)
            );
            StatusCode::OK
        }
        Err(error) => {
            println!("refused a request: {error}");
            StatusCode::UNAUTHORIZED
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret_text = std::env::var("WEBHOOK_SECRET")
        .map_err(|_| "set WEBHOOK_SECRET to the endpoint's whsec_ secret")?;
    let secret = Secret::parse(&secret_text)?;
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9999".to_owned());
    let app = axum::Router::new()
        .route("/webhooks", post(receive))
        .with_state(secret);
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on http://{address}/webhooks");
    axum::serve(listener, app).await?;
    Ok(())
}
