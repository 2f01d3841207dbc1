//! `herald demo`: the whole path on one machine in a few seconds.
//!
//! Starts Herald on a throwaway data directory with a built-in receiver on loopback
//! (private networks are allowed for the demo only), registers an endpoint through the
//! REST API, publishes the sample of every catalog event type, and prints what the
//! receiver saw (with signature checks) and the attempt log. The receiver answers the
//! first `email.bounced` delivery with 503, so the log also shows a retry.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use axum::http::HeaderMap;
use bytes::Bytes;
use herald_signing::{verify_hex, verify_standard, Secret, DEFAULT_TOLERANCE_SECS};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::GlobalArgs;
use crate::Settings;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

async fn receive(
    axum::extract::State(inbox): axum::extract::State<Inbox>,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, &'static str) {
    let mut inbox = inbox
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let is_bounce = headers
        .get("x-supapitch-event")
        .is_some_and(|value| value == "email.bounced");
    let first_bounce = is_bounce
        && !inbox
            .iter()
            .any(|seen| seen.headers.get("x-supapitch-event") == headers.get("x-supapitch-event"));
    let answered = if first_bounce { 503 } else { 200 };
    inbox.push(Received {
        headers,
        body,
        answered,
    });
    let status = axum::http::StatusCode::from_u16(answered).unwrap_or(axum::http::StatusCode::OK);
    (
        status,
        if first_bounce {
            "busy, try again"
        } else {
            "ok"
        },
    )
}

/// Minimal HTTP/1.1 client for the demo's calls to its own API (keeps the hyper client
/// out of this crate); one request per connection.
async fn call(
    api: SocketAddr,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let body = body.map(|value| value.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(api).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    let (head, payload) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("no status")?;
    let value = if payload.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(payload)?
    };
    Ok((status, value))
}

/// Runs the demo and prints its report.
pub(crate) async fn run_demo() -> anyhow::Result<()> {
    let data_dir = tempfile::Builder::new().prefix("herald-demo-").tempdir()?;
    let admin_key = herald_api::generate_key("hadm_");
    let args = GlobalArgs {
        config: None,
        listen: Some("127.0.0.1:0".to_owned()),
        data_dir: Some(data_dir.path().to_path_buf()),
        admin_key: Some(admin_key.clone()),
        allow_private_networks: Some(true),
        allowed_cidrs: None,
        require_https: None,
        retry_schedule: Some("1s,2s,4s".to_owned()),
        postgres_url: None,
        log: Some("warn".to_owned()),
    };
    let settings = Settings::load(&args)?;

    let inbox: Inbox = Arc::default();
    let receiver = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(Arc::clone(&inbox));
    let receiver_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_addr = receiver_listener.local_addr()?;
    tokio::spawn(async move { axum::serve(receiver_listener, receiver).await });

    let store =
        crate::serve::open_sled(&herald_store_sled::SledConfig::temporary(data_dir.path()))?;
    let components = crate::serve::build_deps(&settings, store).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let herald = tokio::spawn(crate::serve::run_components(components, listener, async {
        let _ = stopped.await;
    }));
    println!(
        "Herald is running on http://{api} (data in {})",
        data_dir.path().display()
    );
    println!("Receiver is listening on http://{receiver_addr}/hooks\n");

    let (status, tenant) = call(
        api,
        "POST",
        "/v1/tenants",
        &admin_key,
        Some(json!({"id": "demo", "name": "Demo Outreach"})),
    )
    .await?;
    if status != 201 {
        bail!("creating the demo tenant failed: {status} {tenant}");
    }
    let endpoint_body = json!({"url": format!("http://{receiver_addr}/hooks"), "event_types": ["*"], "description": "demo receiver"});
    let (status, endpoint) = call(
        api,
        "POST",
        "/v1/tenants/demo/endpoints",
        &admin_key,
        Some(endpoint_body),
    )
    .await?;
    if status != 201 {
        bail!("creating the demo endpoint failed: {status} {endpoint}");
    }
    let secret_text = endpoint["secret"]
        .as_str()
        .context("endpoint without secret")?
        .to_owned();
    println!(
        "Endpoint {} subscribed to * with secret {}…\n",
        endpoint["id"].as_str().unwrap_or("?"),
        &secret_text[..12.min(secret_text.len())]
    );

    let catalog = herald_event::builtin_catalog();
    let mut published: Vec<(String, String)> = Vec::new();
    for def in &catalog {
        let event = json!({"type": def.name, "data": def.sample});
        let (status, accepted) = call(
            api,
            "POST",
            "/v1/tenants/demo/events",
            &admin_key,
            Some(event),
        )
        .await?;
        if status != 202 {
            bail!("publishing {} failed: {status} {accepted}", def.name);
        }
        let id = accepted["id"].as_str().unwrap_or("?").to_owned();
        println!(
            "published {:<24} -> 202 id={id} deliveries={}",
            def.name, accepted["deliveries"]
        );
        published.push((id, def.name.clone()));
    }

    // Every type once, plus the retry of the bounced email.
    let expected = catalog.len() + 1;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while inbox.lock().map(|inbox| inbox.len()).unwrap_or(0) < expected
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the engine a moment to record the last attempt.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let secret = Secret::parse(&secret_text)?;
    let received = inbox.lock().map(|inbox| inbox.clone()).unwrap_or_default();
    println!("\nThe receiver saw {} requests:", received.len());
    println!(
        "  {:<24} {:<6} {:<10} {:<10} event id",
        "type", "answer", "sig (hex)", "sig (std)"
    );
    for request in &received {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
        };
        let now_secs = header("webhook-timestamp").parse::<u64>().unwrap_or(0);
        let hex_ok = verify_hex(
            std::slice::from_ref(&secret),
            header("x-supapitch-signature"),
            &request.body,
        )
        .is_ok();
        let std_ok = verify_standard(
            std::slice::from_ref(&secret),
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            &request.body,
            now_secs,
            DEFAULT_TOLERANCE_SECS,
        )
        .is_ok();
        let verdict = |ok: bool| if ok { "verified" } else { "BAD" };
        println!(
            "  {:<24} {:<6} {:<10} {:<10} {}",
            header("x-supapitch-event"),
            request.answered,
            verdict(hex_ok),
            verdict(std_ok),
            header("webhook-id")
        );
    }

    let (_, attempts) = call(
        api,
        "GET",
        "/v1/tenants/demo/attempts?limit=100",
        &admin_key,
        None,
    )
    .await?;
    println!("\nAttempt log (newest first):");
    println!(
        "  {:<3} {:<6} {:<5} {:<6} {:<24} event id",
        "#", "status", "ms", "next", "type"
    );
    let type_of = |id: &str| {
        published
            .iter()
            .find(|(event_id, _)| event_id == id)
            .map(|(_, name)| name.as_str())
            .unwrap_or("?")
    };
    for attempt in attempts["data"].as_array().into_iter().flatten() {
        let event_id = attempt["event_id"].as_str().unwrap_or("?");
        println!(
            "  {:<3} {:<6} {:<5} {:<6} {:<24} {event_id}",
            attempt["attempt"].to_string(),
            attempt["status_code"].to_string(),
            attempt["duration_ms"].to_string(),
            attempt["next"]["action"].as_str().unwrap_or("?"),
            type_of(event_id),
        );
    }
    let (_, deliveries) = call(
        api,
        "GET",
        "/v1/tenants/demo/deliveries?limit=100",
        &admin_key,
        None,
    )
    .await?;
    let succeeded = deliveries["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|delivery| delivery["status"] == "succeeded")
        .count();
    println!("\n{succeeded} of {} deliveries succeeded.", catalog.len());
    println!("Next: run `herald serve` and follow the walkthrough in README.md.");

    let _ = stop.send(());
    herald.await.context("herald task failed")??;
    if succeeded != catalog.len() {
        bail!("only {succeeded} of {} deliveries succeeded", catalog.len());
    }
    Ok(())
}
