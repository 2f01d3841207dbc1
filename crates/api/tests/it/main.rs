//! Integration tests of `herald-api`: the router in memory over a temporary sled store
//! (see `support`), plus one smoke test of `serve` on 127.0.0.1:0.

mod auth;
mod batch;
mod endpoints;
mod ingest;
mod limits;
mod lists;
mod logs;
mod operations;
mod routes;
mod smoke;
mod support;
mod tenants;
