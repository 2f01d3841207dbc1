//! `DeliveryError`: what stops the engine (not what fails a delivery; that is an outcome).

use herald_store::StoreError;

/// The engine could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The store failed in a way the engine cannot work around.
    #[error("delivery store failed")]
    Store(#[source] StoreError),
    /// The configuration cannot work (e.g. a zero concurrency bound).
    #[error("invalid delivery configuration: {0}")]
    Config(&'static str),
}
