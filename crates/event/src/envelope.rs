//! The event envelope: the exact bytes every endpoint receives for an event.
//!
//! DESIGN section 2: `{"id","type","timestamp","data"}`, where `data` is embedded
//! byte-for-byte as the client sent it. The envelope is built once at ingest and
//! stored; attempts, retries and replays send the stored bytes and never re-serialize.

use crate::{EventId, TenantId, Timestamp};

/// An accepted event with its envelope, as stored.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// Unique per event; the `id` in the envelope and the `webhook-id` header.
    pub id: EventId,
    /// The tenant that published it.
    pub tenant: TenantId,
    /// Its catalog type, e.g. `email.replied`.
    pub event_type: String,
    /// When the event happened (the envelope's `timestamp`).
    pub timestamp: Timestamp,
    /// When Herald accepted it.
    pub received_at: Timestamp,
    /// The serialized envelope: the body of every attempt.
    pub payload: Vec<u8>,
    /// Created by test mode rather than published by the application.
    pub test: bool,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("event_type", &self.event_type)
            .field("timestamp", &self.timestamp)
            .field("payload_len", &self.payload.len())
            .field("test", &self.test)
            .finish()
    }
}

/// Serializes the envelope around `data_json`, which must already be valid JSON text.
///
/// `data_json` is copied verbatim (key order, spacing and escapes kept), so the bytes a
/// client signed or logged are the bytes its receivers see inside `data`.
pub fn build_envelope(
    id: &EventId,
    event_type: &str,
    timestamp: Timestamp,
    data_json: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(data_json.len() + 96);
    out.extend_from_slice(b"{\"id\":");
    write_json_string(&mut out, id.as_str());
    out.extend_from_slice(b",\"type\":");
    write_json_string(&mut out, event_type);
    out.extend_from_slice(b",\"timestamp\":\"");
    out.extend_from_slice(timestamp.to_rfc3339().as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    out.extend_from_slice(data_json.as_bytes());
    out.push(b'}');
    out
}

fn write_json_string(out: &mut Vec<u8>, text: &str) {
    // serde_json's string escaping is the reference; a `&str` always serializes.
    serde_json::to_writer(&mut *out, text).expect("writing a JSON string into a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_embedded_byte_for_byte() {
        let id = EventId::new("evt_1");
        let data = "{\"b\":2, \"a\":1,\"s\":\"\\u00e9\"}";
        let body = build_envelope(
            &id,
            "email.sent",
            Timestamp::from_millis(1_796_310_245_123),
            data,
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"id\":\"evt_1\",\"type\":\"email.sent\",\"timestamp\":\"2026-12-03T15:04:05.123Z\",\
             \"data\":{\"b\":2, \"a\":1,\"s\":\"\\u00e9\"}}"
        );
    }
}
