//! `herald-event`: the data model every other Herald crate speaks.
//!
//! Ids, timestamps, the event envelope, the event-type catalog, endpoints with their
//! subscriptions, deliveries and the attempt log. This crate is plain data and pure
//! functions: it does no I/O, reads no clock (callers pass `now`) and knows nothing of
//! HTTP or storage. It is the wire contract, so its types derive serde.
#![warn(missing_docs)]

mod catalog;
mod envelope;
mod error;
mod ids;
mod model;
mod time;

pub use catalog::{builtin_catalog, validate_event_type_name, EventTypeDef};
pub use envelope::{build_envelope, Event};
pub use error::EventError;
pub use ids::{validate_client_id, ApiKeyId, AttemptId, DeliveryId, EndpointId, EventId, TenantId};
pub use model::{
    subscription_matches, validate_subscription, ApiKey, Attempt, AttemptError, AttemptOutcome,
    Delivery, DeliveryStatus, Endpoint, EndpointSecret, ErrorKind, HttpRecord, NextAction, Tenant,
    Unreachable,
};
pub use time::Timestamp;
