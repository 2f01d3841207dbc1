//! The headers of a delivery request (DESIGN section 3).
//!
//! Signatures are computed over the stored envelope bytes exactly as they are sent;
//! `webhook-timestamp` is the attempt's own time in Unix seconds, so every retry is
//! signed afresh while `webhook-id` (the event id) stays the same.

use http::{HeaderName, HeaderValue};

use herald_event::Timestamp;
use herald_signing::{sign_all, Secret};

/// Header names derived once from the configured prefix.
#[derive(Debug, Clone)]
pub(crate) struct HeaderNames {
    signature: HeaderName,
    event: HeaderName,
    user_agent: HeaderValue,
}

impl HeaderNames {
    /// Names for `X-{prefix}-Signature` and `X-{prefix}-Event`.
    pub(crate) fn new(prefix: &str, user_agent: &str) -> Result<Self, &'static str> {
        let signature =
            HeaderName::try_from(format!("x-{}-signature", prefix.to_ascii_lowercase()))
                .map_err(|_| "header prefix is not a valid header name part")?;
        let event = HeaderName::try_from(format!("x-{}-event", prefix.to_ascii_lowercase()))
            .map_err(|_| "header prefix is not a valid header name part")?;
        let user_agent = HeaderValue::try_from(user_agent)
            .map_err(|_| "user agent is not a valid header value")?;
        Ok(HeaderNames {
            signature,
            event,
            user_agent,
        })
    }
}

/// Every header of one attempt, in the order they are sent.
pub(crate) fn delivery_headers(
    names: &HeaderNames,
    secrets: &[Secret],
    event_id: &str,
    event_type: &str,
    attempt_time: Timestamp,
    body: &[u8],
) -> Vec<(HeaderName, HeaderValue)> {
    let timestamp = attempt_time.as_secs();
    let signatures = sign_all(secrets, event_id, timestamp, body);
    let mut headers = vec![
        (
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (http::header::USER_AGENT, names.user_agent.clone()),
    ];
    // Ids, type names, hex and base64 are ASCII by construction; an id that somehow is
    // not a valid header value is sent without that header rather than failing.
    let mut push = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.push((name, value));
        }
    };
    push(names.signature.clone(), &signatures.hex);
    push(names.event.clone(), event_type);
    push(HeaderName::from_static("webhook-id"), event_id);
    push(
        HeaderName::from_static("webhook-timestamp"),
        &timestamp.to_string(),
    );
    push(
        HeaderName::from_static("webhook-signature"),
        &signatures.standard,
    );
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_the_design_contract() {
        let names = HeaderNames::new("Supapitch", "Supapitch-Webhooks/0.1.0").unwrap();
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let headers = delivery_headers(
            &names,
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "email.sent",
            Timestamp::from_millis(1_614_265_330_000),
            br#"{"test": 2432232314}"#,
        );
        let rendered: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        let expected = [
            ("content-type", "application/json"),
            ("user-agent", "Supapitch-Webhooks/0.1.0"),
            (
                "x-supapitch-signature",
                "e2cb4f5251572539d458bfb8a7adb533b08801e6a794467e06f771debbb0818b",
            ),
            ("x-supapitch-event", "email.sent"),
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        assert_eq!(rendered, expected);
    }
}
