//! Size limits (field case 14): `data` is limited in bytes of its raw JSON (256 KiB),
//! the whole request body to 1 MiB; both answer 413 with a problem and store nothing.

use crate::support::Api;

const LIMIT: usize = 262_144;

/// An ingest body whose raw `data` JSON is `{"pad":"<pad>"}`.
fn event_with_pad(pad: &str) -> (Vec<u8>, usize) {
    let data = format!(r#"{{"pad":"{pad}"}}"#);
    let body = format!(r#"{{"type":"email.sent","data":{data}}}"#);
    (body.into_bytes(), data.len())
}

#[tokio::test]
async fn data_of_exactly_the_limit_is_accepted_and_one_byte_more_is_413() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let overhead = r#"{"pad":""}"#.len();

    let (body, data_len) = event_with_pad(&"x".repeat(LIMIT - overhead));
    assert_eq!(data_len, LIMIT);
    let reply = api
        .admin_raw("POST", "/v1/tenants/acme/events", &body)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());

    let (body, data_len) = event_with_pad(&"x".repeat(LIMIT - overhead + 1));
    assert_eq!(data_len, LIMIT + 1);
    let reply = api
        .admin_raw("POST", "/v1/tenants/acme/events", &body)
        .await;
    assert!(reply.problem(413).is_empty());
    assert_eq!(
        reply.json()["type"],
        "https://herald.dev/problems/payload-too-large"
    );
    assert_eq!(
        reply.json()["detail"],
        "data is larger than the limit of 262144 bytes"
    );

    assert_eq!(api.list("/v1/tenants/acme/events").await.len(), 1);
    assert_eq!(api.list("/v1/tenants/acme/deliveries").await.len(), 1);
}

#[tokio::test]
async fn the_limit_counts_bytes_not_characters() {
    let api = Api::new();
    api.tenant("acme").await;
    // 65 536 four-byte emoji (f0 9f 98 80): 65 546 characters of data, 262 154 bytes.
    let pad = "\u{1F600}".repeat(65_536);
    let (body, data_len) = event_with_pad(&pad);
    assert_eq!(data_len, LIMIT + 10);
    assert!(format!(r#"{{"pad":"{pad}"}}"#).chars().count() < LIMIT);
    let reply = api
        .admin_raw("POST", "/v1/tenants/acme/events", &body)
        .await;
    reply.problem(413);
    assert!(api.list("/v1/tenants/acme/events").await.is_empty());
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let (body, _) = event_with_pad(&"x".repeat(1024 * 1024));
    let reply = api
        .admin_raw("POST", "/v1/tenants/acme/events", &body)
        .await;
    reply.problem(413);
    assert_eq!(
        reply.json()["detail"],
        "request body is larger than the limit of 1048576 bytes"
    );
    // The endpoint routes share the limit.
    let url = format!("https://hooks.example.com/{}", "a".repeat(1024 * 1024));
    let body = serde_json::json!({"url": url, "event_types": ["*"]}).to_string();
    api.admin_raw("POST", "/v1/tenants/acme/endpoints", body.as_bytes())
        .await
        .problem(413);
    assert!(api.list("/v1/tenants/acme/events").await.is_empty());
    assert_eq!(api.list("/v1/tenants/acme/endpoints").await.len(), 1);
}

#[tokio::test]
async fn limits_are_configurable() {
    let api = Api::with_config(|config| {
        config.max_payload_bytes = 16;
        config.max_body_bytes = 100;
    });
    api.tenant("acme").await;
    let (body, _) = event_with_pad("123456");
    assert_eq!(
        api.admin_raw("POST", "/v1/tenants/acme/events", &body)
            .await
            .status,
        202
    );
    let (body, _) = event_with_pad("1234567");
    api.admin_raw("POST", "/v1/tenants/acme/events", &body)
        .await
        .problem(413);
    let (body, _) = event_with_pad(&"x".repeat(100));
    let reply = api
        .admin_raw("POST", "/v1/tenants/acme/events", &body)
        .await;
    reply.problem(413);
    assert_eq!(
        reply.json()["detail"],
        "request body is larger than the limit of 100 bytes"
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_before_the_body_is_read() {
    let api = Api::new();
    api.tenant("acme").await;
    // The body that follows is small: the answer comes from the declared length alone,
    // so a client announcing 2 MB and stalling is not kept waiting for its timeout.
    let reply = api
        .send(
            "POST",
            "/v1/tenants/acme/events",
            Some(crate::support::ADMIN),
            Some(br#"{"type":"email.sent","data":{}}"#.to_vec()),
            &[("content-length", "2000000")],
        )
        .await;
    assert!(reply.problem(413).is_empty());
    assert!(api.list("/v1/tenants/acme/events").await.is_empty());
}
