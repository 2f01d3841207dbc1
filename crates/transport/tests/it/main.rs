//! Integration tests of `herald-transport` against real sockets on loopback: what is
//! captured from answers (responses), how failures are classified (failures), and that
//! the destination guard holds at connect time (destinations). No external network.

mod destinations;
mod failures;
mod responses;
mod support;
