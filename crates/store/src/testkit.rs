//! The store conformance suite: the trait's contract as executable checks.
//!
//! Every backend (sled, PostgreSQL, in-memory, an embedder's own) runs this suite in
//! its integration tests; passing it is what "implements `Store`" means (STYLE 2.4).
//! Each check is a `pub async fn(&dyn Store)` that needs a fresh, empty store, because
//! `claim_due` and `next_due_at` see every tenant's deliveries. Checks use fixed
//! timestamps from the `fixtures` module, never a clock, and compare exact values.
//!
//! Two ways to run it:
//!
//! - [`conformance`] runs every check in order, each on a store from your factory, and
//!   names each check on stderr before running it (the test harness shows that output
//!   for a failing test, so the last name printed is the check that failed).
//! - [`conformance_tests!`](crate::conformance_tests) expands to one `#[tokio::test]`
//!   per check, so a failure names its check and `cargo test claim_due` runs a few.
//!
//! Both read the one list of checks in `__store_conformance_checks!`, so a new check
//! is picked up by every backend. The suite does not test durability across restarts
//! or concurrency, which depend on how a backend is opened; backends test those
//! themselves (see `herald-store-sled`'s `tests/it`).
//!
//! This module is not a fake store and holds no backend; it only calls the trait.

use std::future::Future;

use crate::Store;

mod attempts;
mod events;
mod fixtures;
mod queue;
mod records;

pub use attempts::{
    attempt_log_survives_every_change_to_its_delivery, list_attempts_filters_and_pages,
    record_after_endpoint_deleted_stays_cancelled, record_attempt_conflicts_without_lease,
    record_attempt_schedules_next, terminal_status_is_never_claimed,
};
pub use events::{
    get_delivery_is_scoped_by_tenant, insert_deliveries_adds_to_event,
    insert_event_duplicate_writes_nothing, insert_event_stores_event_and_deliveries,
    list_deliveries_filters_and_pages, list_events_newest_first_with_filters,
};
pub use queue::{
    claim_due_retakes_expired_lease, claim_due_takes_due_oldest_first, next_due_at_is_earliest,
    recover_deliveries_resets_failed_and_skipped,
};
pub use records::{
    api_keys_create_find_list_delete, delete_endpoint_cancels_pending, endpoints_put_get_list,
    event_types_put_and_list, malformed_cursors_are_refused, settings_round_trip,
    tenant_create_get_conflict, tenant_endpoints_follow_changes,
    tenant_list_newest_first_with_pages,
};

/// Runs every conformance check against stores made by `make`, panicking on the first
/// violation.
///
/// `make` is called once per check and must return a fresh, empty store; the store is
/// dropped when its check ends, before the next one is made. It is async so that a
/// backend can create a schema or a directory first. A backend whose stores open
/// synchronously wraps them in a ready future:
///
/// ```
/// use herald_store::Store;
///
/// async fn check_my_backend<S: Store>(open_empty_store: impl Fn() -> S) {
///     herald_store::testkit::conformance(|| std::future::ready(open_empty_store())).await;
/// }
/// ```
///
/// `herald-store-sled`'s `tests/it/support.rs` has a factory that gives each store its
/// own directory under one temporary directory.
pub async fn conformance<S, F, Fut>(mut make: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    macro_rules! run_each {
        (() $($check:ident)*) => {$(
            eprintln!("store conformance: {}", stringify!($check));
            let store = make().await;
            $check(&store).await;
            drop(store);
        )*};
    }
    crate::__store_conformance_checks!([run_each]());
}

/// Expands to one `#[tokio::test]` per conformance check, each running on a store
/// made by `$make` (an expression evaluating to the same kind of factory that
/// [`conformance`] takes). Use it inside a test module;
/// the calling crate needs tokio with the `macros` and `rt` features.
///
/// A backend's `tests/it/conformance.rs` can be this one line, where
/// `temporary_stores()` returns a factory of fresh stores:
///
/// ```text
/// herald_store::conformance_tests!(crate::support::temporary_stores());
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::__store_conformance_checks!([$crate::__store_conformance_test]($make));
    };
}

/// Defines one test per check name; the expansion of `conformance_tests!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_test {
    (($make:expr) $($check:ident)*) => {$(
        #[tokio::test]
        async fn $check() {
            // `mut` because factories are `FnMut`; one that is only `Fn` must not warn.
            #[allow(unused_mut)]
            let mut make = $make;
            let store = make().await;
            $crate::testkit::$check(&store).await;
        }
    )*};
}

/// The list of checks, in suite order: calls `$callback! { $args check check ... }`.
///
/// Records first, then ingest and lists, then the queue, so that a backend being
/// written fails on the simplest broken thing first.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_checks {
    ([$($callback:tt)*] $args:tt) => {
        $($callback)*! { $args
            settings_round_trip
            tenant_create_get_conflict
            tenant_list_newest_first_with_pages
            api_keys_create_find_list_delete
            event_types_put_and_list
            endpoints_put_get_list
            tenant_endpoints_follow_changes
            malformed_cursors_are_refused
            insert_event_stores_event_and_deliveries
            insert_event_duplicate_writes_nothing
            list_events_newest_first_with_filters
            insert_deliveries_adds_to_event
            get_delivery_is_scoped_by_tenant
            list_deliveries_filters_and_pages
            delete_endpoint_cancels_pending
            claim_due_takes_due_oldest_first
            claim_due_retakes_expired_lease
            record_attempt_schedules_next
            terminal_status_is_never_claimed
            record_attempt_conflicts_without_lease
            record_after_endpoint_deleted_stays_cancelled
            next_due_at_is_earliest
            list_attempts_filters_and_pages
            recover_deliveries_resets_failed_and_skipped
            attempt_log_survives_every_change_to_its_delivery
        }
    };
}
