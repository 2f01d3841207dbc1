//! `StoreError`: kind + source, so callers branch on the kind and backends keep their cause.

use std::fmt;

/// What class of failure a store operation hit; callers branch on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The record does not exist.
    NotFound,
    /// The record exists already, or a lease no longer matches.
    Conflict,
    /// The backend cannot be reached or failed to read or write.
    Unavailable,
    /// Stored bytes could not be decoded.
    Corrupt,
    /// A list cursor that this store did not hand out.
    InvalidCursor,
}

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[error("store operation failed ({kind:?}){}", context_suffix(.context))]
pub struct StoreError {
    kind: StoreErrorKind,
    context: &'static str,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn context_suffix(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!(": {context}")
    }
}

impl StoreError {
    /// An error of `kind`, with a short static description of what was being done.
    pub fn new(kind: StoreErrorKind, context: &'static str) -> Self {
        StoreError {
            kind,
            context,
            source: None,
        }
    }

    /// An error of `kind` caused by a backend error.
    pub fn with_source(
        kind: StoreErrorKind,
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError {
            kind,
            context,
            source: Some(source.into()),
        }
    }

    /// The class of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
