//! Record encoding: a version byte, then postcard.
//!
//! The version byte lets a later Herald read records written by this one and migrate
//! them; today every record is version 1. Operator event types hold free-form JSON
//! schemas, so they are stored as JSON instead (postcard cannot carry `Value`).

use herald_store::{StoreError, StoreErrorKind};
use serde::{de::DeserializeOwned, Serialize};

const VERSION_1: u8 = 1;

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VERSION_1];
    let body = postcard::to_allocvec(record).map_err(|error| {
        StoreError::with_source(StoreErrorKind::Corrupt, "encode record", error)
    })?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a record written by `encode`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&VERSION_1, body)) => postcard::from_bytes(body).map_err(|error| {
            StoreError::with_source(StoreErrorKind::Corrupt, "decode record", error)
        }),
        _ => Err(StoreError::new(
            StoreErrorKind::Corrupt,
            "unknown record version",
        )),
    }
}

/// Maps a sled error to a store error.
pub(crate) fn unavailable(context: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |error| StoreError::with_source(StoreErrorKind::Unavailable, context, error)
}
