//! Record encoding: a version byte, then postcard.
//!
//! The version byte lets a later Herald read records written by this one and migrate
//! them. Version 1 is the record alone; version 2 is the record followed by a tail, a
//! second postcard value that indexes something about it (an event's delivery ids), so
//! that one write stores both. A reader that wants only the record ignores the tail.
//! Operator event types hold free-form JSON schemas, so they are stored as JSON instead
//! (postcard cannot carry `Value`).

use herald_store::{StoreError, StoreErrorKind};
use serde::{de::DeserializeOwned, Serialize};

const VERSION_1: u8 = 1;
const VERSION_2: u8 = 2;

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VERSION_1];
    let body = postcard::to_allocvec(record).map_err(|error| {
        StoreError::with_source(StoreErrorKind::Corrupt, "encode record", error)
    })?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Encodes a record followed by `tail` (version 2).
pub(crate) fn encode_with_tail<T: Serialize, U: Serialize>(
    record: &T,
    tail: &U,
) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VERSION_2];
    let mut body = postcard::to_allocvec(record)
        .and_then(|mut body| {
            body.extend_from_slice(&postcard::to_allocvec(tail)?);
            Ok(body)
        })
        .map_err(|error| {
            StoreError::with_source(StoreErrorKind::Corrupt, "encode record", error)
        })?;
    out.append(&mut body);
    Ok(out)
}

/// Decodes a record written by `encode` or `encode_with_tail` (without its tail).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    decode_body(bytes).map(|(record, _)| record)
}

/// Decodes a record and, if it has one (version 2), its tail.
pub(crate) fn decode_with_tail<T: DeserializeOwned, U: DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, Option<U>), StoreError> {
    let (record, tail) = decode_body(bytes)?;
    let tail = tail
        .map(|tail| postcard::from_bytes(tail).map_err(corrupt))
        .transpose()?;
    Ok((record, tail))
}

/// The record, and the undecoded tail of a version 2 record.
pub(crate) fn decode_body<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, Option<&[u8]>), StoreError> {
    match bytes.split_first() {
        Some((&VERSION_1, body)) => Ok((postcard::from_bytes(body).map_err(corrupt)?, None)),
        Some((&VERSION_2, body)) => {
            let (record, tail) = postcard::take_from_bytes(body).map_err(corrupt)?;
            Ok((record, Some(tail)))
        }
        _ => Err(StoreError::new(
            StoreErrorKind::Corrupt,
            "unknown record version",
        )),
    }
}

/// Decodes a tail that borrows from the record's bytes (a list of `&str`, say).
pub(crate) fn decode_tail<'a, U: serde::Deserialize<'a>>(tail: &'a [u8]) -> Result<U, StoreError> {
    postcard::from_bytes(tail).map_err(corrupt)
}

fn corrupt(error: postcard::Error) -> StoreError {
    StoreError::with_source(StoreErrorKind::Corrupt, "decode record", error)
}

/// Maps a sled error to a store error.
pub(crate) fn unavailable(context: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |error| StoreError::with_source(StoreErrorKind::Unavailable, context, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_with_a_tail_reads_back_with_and_without_it() {
        let ids = vec!["dlv_1".to_owned(), "dlv_2".to_owned()];
        let bytes = encode_with_tail(&("event", 7u32), &ids).unwrap();
        assert_eq!(bytes[0], 2);
        assert_eq!(
            decode::<(String, u32)>(&bytes).unwrap(),
            ("event".to_owned(), 7)
        );
        let (record, tail) = decode_with_tail::<(String, u32), Vec<String>>(&bytes).unwrap();
        assert_eq!(record, ("event".to_owned(), 7));
        assert_eq!(tail, Some(ids));
        // A version 1 record has no tail.
        let plain = encode(&("event", 7u32)).unwrap();
        let (_, tail) = decode_with_tail::<(String, u32), Vec<String>>(&plain).unwrap();
        assert_eq!(tail, None);
        assert!(decode::<(String, u32)>(&[9, 1, 2]).is_err());
    }
}
