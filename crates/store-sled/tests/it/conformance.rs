//! The store conformance suite on temporary sled databases, one test per check.

herald_store::conformance_tests!(crate::support::temporary_stores());

/// The suite's own runner, as an embedder would call it (the same checks, in order).
#[tokio::test]
async fn whole_suite_in_one_run() {
    herald_store::testkit::conformance(crate::support::temporary_stores()).await;
}
