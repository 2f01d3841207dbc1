//! `herald-store`: the storage seam of Herald.
//!
//! [`Store`] is the one trait every backend implements (sled by default, PostgreSQL for
//! many processes, or an embedder's own). It is deliberately coarse: each method is one
//! atomic unit of work that a backend can do in a single transaction or batch, so the
//! engine never needs cross-call transactions. The crate holds no backend and does no
//! I/O of its own. With the `testkit` feature it also carries the conformance suite
//! that every backend must pass ([`testkit::conformance`]).
//!
//! ```
//! use herald_store::{PageRequest, Page};
//! let first = PageRequest::first(50);
//! assert_eq!(first.limit, 50);
//! let page: Page<u32> = Page { items: vec![1, 2], next_cursor: None };
//! assert!(page.next_cursor.is_none());
//! ```
#![warn(missing_docs)]

mod error;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{StoreError, StoreErrorKind};
pub use store::{
    AttemptFilter, Claim, DeliveryFilter, EventFilter, InsertOutcome, Page, PageRequest, Store,
};
