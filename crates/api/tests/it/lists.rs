//! Lists: newest first, `limit` and `cursor`, filters and their validation.

use serde_json::json;

use crate::support::{strings, Api};

#[tokio::test]
async fn pages_through_three_events_two_at_a_time() {
    let api = Api::new();
    api.tenant("acme").await;
    for id in ["evt_1", "evt_2", "evt_3"] {
        let body = json!({"type": "email.sent", "id": id, "data": {}});
        assert_eq!(
            api.admin("POST", "/v1/tenants/acme/events", Some(body))
                .await
                .status,
            202
        );
    }
    let first = api
        .admin("GET", "/v1/tenants/acme/events?limit=2", None)
        .await
        .json();
    assert_eq!(
        strings(first["data"].as_array().unwrap(), "id"),
        ["evt_3", "evt_2"]
    );
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = api
        .admin(
            "GET",
            &format!("/v1/tenants/acme/events?limit=2&cursor={cursor}"),
            None,
        )
        .await
        .json();
    assert_eq!(strings(second["data"].as_array().unwrap(), "id"), ["evt_1"]);
    assert_eq!(second["next_cursor"], serde_json::Value::Null);

    let whole = api
        .admin("GET", "/v1/tenants/acme/events", None)
        .await
        .json();
    assert_eq!(whole["data"].as_array().unwrap().len(), 3);
    assert_eq!(whole["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn pages_through_endpoints_and_tenants() {
    let api = Api::new();
    for tenant in ["t1", "t2", "t3"] {
        api.tenant(tenant).await;
    }
    let first = api.admin("GET", "/v1/tenants?limit=2", None).await.json();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = api
        .admin("GET", &format!("/v1/tenants?limit=2&cursor={cursor}"), None)
        .await
        .json();
    let mut all = strings(first["data"].as_array().unwrap(), "id");
    all.extend(strings(second["data"].as_array().unwrap(), "id"));
    all.sort();
    assert_eq!(all, ["t1", "t2", "t3"]);

    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(
            api.endpoint("t1", &["*"], true).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let first = api
        .admin("GET", "/v1/tenants/t1/endpoints?limit=2", None)
        .await
        .json();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = api
        .admin(
            "GET",
            &format!("/v1/tenants/t1/endpoints?limit=2&cursor={cursor}"),
            None,
        )
        .await
        .json();
    let mut listed = strings(first["data"].as_array().unwrap(), "id");
    listed.extend(strings(second["data"].as_array().unwrap(), "id"));
    created.reverse();
    assert_eq!(listed, created, "newest first");
}

#[tokio::test]
async fn refuses_bad_limits_cursors_and_unknown_parameters() {
    let api = Api::new();
    api.tenant("acme").await;
    for query in ["limit=0", "limit=1001", "limit=abc", "limit=-1"] {
        api.admin("GET", &format!("/v1/tenants/acme/events?{query}"), None)
            .await
            .invalid("limit");
    }
    assert_eq!(
        api.admin("GET", "/v1/tenants/acme/events?limit=1000", None)
            .await
            .status,
        200
    );
    api.admin("GET", "/v1/tenants/acme/events?cursor=zz", None)
        .await
        .invalid("cursor");
    api.admin("GET", "/v1/tenants/acme/events?event_type=email.sent", None)
        .await
        .invalid("event_type");
    api.admin("GET", "/v1/tenants/acme/events?type=a&type=b", None)
        .await
        .invalid("type");
    api.admin("GET", "/v1/tenants/acme/events?since=yesterday", None)
        .await
        .invalid("since");
    api.admin("GET", "/v1/tenants/acme/deliveries?status=done", None)
        .await
        .invalid("status");
    api.admin("GET", "/v1/tenants/acme/attempts?outcome=maybe", None)
        .await
        .invalid("outcome");
    api.admin("GET", "/v1/tenants/acme/attempts?status_code=99", None)
        .await
        .invalid("status_code");
    // An id filter that no id could match is a mistake, not an empty list.
    let long = "e".repeat(129);
    for (list, field, value) in [
        ("deliveries", "event_id", ""),
        ("deliveries", "endpoint_id", long.as_str()),
        ("attempts", "delivery_id", "dlv%201"),
        ("attempts", "event_id", ".."),
    ] {
        api.admin(
            "GET",
            &format!("/v1/tenants/acme/{list}?{field}={value}"),
            None,
        )
        .await
        .invalid(field);
    }
    // A broken percent-escape is a malformed query, not a literal `%`.
    for query in ["event_id=%zz", "event_id=evt%2", "%"] {
        api.admin("GET", &format!("/v1/tenants/acme/deliveries?{query}"), None)
            .await
            .problem(400);
    }
    let unknown = api
        .admin(
            "GET",
            "/v1/tenants/acme/deliveries?event_id=evt_unknown",
            None,
        )
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.json()["data"], json!([]));
    api.admin("GET", "/v1/tenants?limit=0", None)
        .await
        .invalid("limit");
    // Unpaginated lists refuse parameters too, rather than silently ignore them.
    api.admin("GET", "/v1/tenants/acme/keys?limit=0", None)
        .await
        .invalid("limit");
    api.admin("GET", "/v1/event-types?foo=bar", None)
        .await
        .invalid("foo");
}

#[tokio::test]
async fn filters_events_by_type_and_time() {
    let api = Api::new();
    api.tenant("acme").await;
    api.ingest("acme", "email.sent", json!({})).await;
    let opened = api.ingest("acme", "email.opened", json!({})).await;
    let only_opened = api.list("/v1/tenants/acme/events?type=email.opened").await;
    assert_eq!(
        strings(&only_opened, "id"),
        [opened["id"].as_str().unwrap()]
    );
    assert_eq!(
        api.list("/v1/tenants/acme/events?since=2000-01-01T00:00:00Z")
            .await
            .len(),
        2
    );
    assert!(api
        .list("/v1/tenants/acme/events?since=2999-01-01T00:00:00Z")
        .await
        .is_empty());
    assert!(api
        .list("/v1/tenants/acme/events?until=2000-01-01T00:00:00Z")
        .await
        .is_empty());
    let encoded = "/v1/tenants/acme/events?since=2000-01-01T01%3A00%3A00%2B01%3A00";
    assert_eq!(api.list(encoded).await.len(), 2);
}

#[tokio::test]
async fn filters_deliveries_by_endpoint_event_and_status() {
    let api = Api::new();
    api.tenant("acme").await;
    let sent = api.endpoint("acme", &["email.sent"], true).await;
    let off = api.endpoint("acme", &["*"], false).await;
    let first = api.ingest("acme", "email.sent", json!({})).await;
    api.ingest("acme", "email.opened", json!({})).await;
    assert_eq!(api.list("/v1/tenants/acme/deliveries").await.len(), 3);
    let by_endpoint = api
        .list(&format!(
            "/v1/tenants/acme/deliveries?endpoint_id={}",
            off["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_endpoint.len(), 2);
    let skipped = api.list("/v1/tenants/acme/deliveries?status=skipped").await;
    assert_eq!(skipped.len(), 2);
    let pending = api.list("/v1/tenants/acme/deliveries?status=pending").await;
    assert_eq!(
        strings(&pending, "endpoint_id"),
        [sent["id"].as_str().unwrap()]
    );
    assert_eq!(pending[0]["event_id"], first["id"]);
    let path = format!(
        "/v1/tenants/acme/deliveries?event_id={}&status=skipped",
        first["id"].as_str().unwrap()
    );
    assert_eq!(api.list(&path).await.len(), 1);
    api.admin("GET", "/v1/tenants/acme/deliveries/dlv_nope", None)
        .await
        .problem(404);
    api.admin("GET", "/v1/tenants/acme/events/evt_nope", None)
        .await
        .problem(404);
}
