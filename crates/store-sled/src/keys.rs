//! Key layout of the single sled tree.
//!
//! Everything lives in one tree so that one `apply_batch` is one atomic unit (sled
//! batches are atomic within a tree). Each key starts with a one-letter tag; lowercase
//! tags hold records, uppercase tags are indexes whose values are empty or an id.
//! Tenant and other ids never contain a NUL byte (they are validated `[A-Za-z0-9_.-]`),
//! so NUL separates variable-length parts. Times are 8-byte big-endian milliseconds,
//! so byte order is time order.
//!
//! | key | value |
//! |---|---|
//! | `s/{name}` | setting bytes |
//! | `t/{tenant}` | tenant; `T/{created_ms}{tenant}` list index (ids are client-chosen) |
//! | `k/{key_hash}` | API key; `K/{tenant}\0{key_id}` -> key_hash |
//! | `y/{type}` | operator event type (JSON) |
//! | `e/{tenant}\0{endpoint}` | endpoint |
//! | `v/{tenant}\0{event}` | event, followed by the ids of up to 64 deliveries made at its ingest (codec version 2); `V/{tenant}\0{received_ms}{event}` list index |
//! | `d/{tenant}\0{delivery}` | delivery, followed by the ids of its attempts once it has any (codec version 2; newest first per tenant); `P/{tenant}\0{endpoint}\0{delivery}`, and `E/{tenant}\0{event}\0{delivery}` for a delivery its event's record does not list (added later, or past 64) |
//! | `q/{due_ms}{tenant}\0{delivery}` | due queue: next attempt of a pending delivery not leased |
//! | `r/{lease_ms}{tenant}\0{delivery}` | lease queue: lease expiry of a leased delivery (released at start-up) |
//! | `a/{tenant}\0{attempt}` | attempt; its delivery's record lists its id (codec version 2). `A/{delivery}\0{attempt_no}` -> attempt id is the index earlier versions wrote: read, no longer written |

/// Builds a key from a tag and parts separated by NUL.
pub(crate) fn key(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let length: usize = parts.iter().map(|part| part.len() + 1).sum();
    let mut out = Vec::with_capacity(2 + length);
    out.push(tag);
    out.push(b'/');
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            out.push(0);
        }
        out.extend_from_slice(part);
    }
    out
}

/// A prefix covering every key `key(tag, parts ++ [anything])`.
pub(crate) fn prefix(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = key(tag, parts);
    if !parts.is_empty() {
        out.push(0);
    }
    out
}

/// The due queue's prefix.
pub(crate) const DUE: &[u8; 2] = b"q/";
/// The lease queue's prefix.
pub(crate) const LEASED: &[u8; 2] = b"r/";

/// A delivery record's key.
pub(crate) fn delivery(tenant: &str, id: &str) -> Vec<u8> {
    key(b'd', &[tenant.as_bytes(), id.as_bytes()])
}

/// A due-queue key: time, then tenant and delivery id.
pub(crate) fn due(time_ms: u64, tenant: &str, delivery: &str) -> Vec<u8> {
    queue_key(DUE, time_ms, tenant, delivery)
}

/// A lease-queue key: lease expiry, then tenant and delivery id.
pub(crate) fn leased(time_ms: u64, tenant: &str, delivery: &str) -> Vec<u8> {
    queue_key(LEASED, time_ms, tenant, delivery)
}

/// The first key of the queue `prefix` at `time_ms`: a range bound.
pub(crate) fn queue_at(prefix: &[u8; 2], time_ms: u64) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.extend_from_slice(&time_ms.to_be_bytes());
    out
}

fn queue_key(prefix: &[u8; 2], time_ms: u64, tenant: &str, delivery: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(11 + tenant.len() + delivery.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&time_ms.to_be_bytes());
    out.extend_from_slice(tenant.as_bytes());
    out.push(0);
    out.extend_from_slice(delivery.as_bytes());
    out
}

/// Splits a queue key (due or lease) into its time, tenant and delivery id.
pub(crate) fn parse_due(key: &[u8]) -> Option<(u64, &str, &str)> {
    let time: [u8; 8] = key.get(2..10)?.try_into().ok()?;
    let rest = std::str::from_utf8(key.get(10..)?).ok()?;
    let (tenant, delivery) = rest.split_once('\0')?;
    Some((u64::from_be_bytes(time), tenant, delivery))
}

/// The tenant list index key: creation time then tenant id.
pub(crate) fn tenant_index(created_ms: u64, tenant: &str) -> Vec<u8> {
    let mut out = key(b'T', &[]);
    out.extend_from_slice(&created_ms.to_be_bytes());
    out.extend_from_slice(tenant.as_bytes());
    out
}

/// The event list index key: received time then event id.
pub(crate) fn event_index(tenant: &str, received_ms: u64, event: &str) -> Vec<u8> {
    let mut out = prefix(b'V', &[tenant.as_bytes()]);
    out.extend_from_slice(&received_ms.to_be_bytes());
    out.extend_from_slice(event.as_bytes());
    out
}

/// Hex digits of a cursor's check.
const CHECK_DIGITS: usize = 8;

/// The part of `key` after `prefix`, hex encoded, then a check (the CRC-32 of the whole
/// key, 8 hex digits): an opaque, ordered list cursor that only a list over the same
/// prefix accepts back, so a cursor from another list, or an altered one, is refused
/// instead of read as a position.
pub(crate) fn cursor_of(key: &[u8], prefix: &[u8]) -> String {
    let mut cursor: String = key[prefix.len().min(key.len())..]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    cursor.push_str(&format!("{:08x}", crc32fast::hash(key)));
    cursor
}

/// Decodes a cursor back into the key it was made from; `None` if malformed or made
/// by a list over another prefix.
pub(crate) fn key_of_cursor(cursor: &str, prefix: &[u8]) -> Option<Vec<u8>> {
    if cursor.len() % 2 != 0 || !cursor.is_ascii() || cursor.len() < CHECK_DIGITS {
        return None;
    }
    let (position, check) = cursor.split_at(cursor.len() - CHECK_DIGITS);
    let mut out = prefix.to_vec();
    for index in (0..position.len()).step_by(2) {
        out.push(u8::from_str_radix(&position[index..index + 2], 16).ok()?);
    }
    let check = u32::from_str_radix(check, 16).ok()?;
    (check == crc32fast::hash(&out)).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_cursors_round_trip() {
        assert_eq!(key(b'e', &[b"acme", b"ep_1"]), b"e/acme\0ep_1".to_vec());
        assert_eq!(prefix(b'e', &[b"acme"]), b"e/acme\0".to_vec());
        let due_key = due(0x0102, "acme", "dlv_x");
        assert_eq!(due_key, b"q/\0\0\0\0\0\0\x01\x02acme\0dlv_x".to_vec());
        assert_eq!(parse_due(&due_key), Some((0x0102, "acme", "dlv_x")));
        let lease_key = leased(0x0102, "acme", "dlv_x");
        assert_eq!(&lease_key[..2], b"r/");
        assert_eq!(parse_due(&lease_key), Some((0x0102, "acme", "dlv_x")));
        assert!(queue_at(DUE, 0x0103) > due_key);
        assert!(queue_at(DUE, 0x0102) < due_key);
        assert_eq!(delivery("acme", "dlv_x"), b"d/acme\0dlv_x".to_vec());
        let pre = prefix(b'D', &[b"acme"]);
        let full = key(b'D', &[b"acme", b"dlv_9"]);
        let cursor = cursor_of(&full, &pre);
        assert_eq!(cursor, "646c765f39bb6771b1");
        assert_eq!(key_of_cursor(&cursor, &pre), Some(full));
        assert_eq!(key_of_cursor("zz", &pre), None);
        assert_eq!(key_of_cursor("abc", &pre), None);
        // Only a list over the same prefix takes it back, and not altered.
        assert_eq!(key_of_cursor(&cursor, b"E/acme\0"), None);
        let mut altered = cursor.clone().into_bytes();
        altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            key_of_cursor(&String::from_utf8(altered).unwrap(), &pre),
            None
        );
        assert_eq!(key_of_cursor("", &pre), None);
    }
}
