//! Which endpoints a run creates and which events go where.
//!
//! A run has `routes` (endpoints, numbered from 0, each a receiver path) and
//! `streams` (event types). Every route belongs to exactly one stream, and event
//! number `n` is of stream `n % streams`, so the harness knows, without asking Herald,
//! which routes must receive each event. Event types are the harness's own
//! (`bench.s0`, `bench.fanout`), added to Herald's catalog at set-up, so no endpoint
//! receives anything the run did not send it.

use std::collections::HashSet;

/// One event type and the routes subscribed to it.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    /// The event type name.
    pub(crate) event_type: String,
    /// The routes (endpoints) subscribed to it.
    pub(crate) routes: Vec<u32>,
}

/// Endpoints and subscriptions of a run.
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    /// Event streams; event `n` is of stream `n % streams.len()`.
    pub(crate) streams: Vec<Stream>,
    /// Routes that accept requests and never answer.
    pub(crate) hanging: HashSet<u32>,
}

impl Topology {
    /// `routes` endpoints, each with its own event type: every event goes to one endpoint.
    pub(crate) fn one_to_one(routes: u32) -> Self {
        let streams = (0..routes)
            .map(|route| Stream {
                event_type: format!("bench.s{route}"),
                routes: vec![route],
            })
            .collect();
        Topology {
            streams,
            hanging: HashSet::new(),
        }
    }

    /// `routes` endpoints subscribed to one event type: every event goes to all of them.
    pub(crate) fn fan_out(routes: u32) -> Self {
        Topology {
            streams: vec![Stream {
                event_type: "bench.fanout".to_owned(),
                routes: (0..routes).collect(),
            }],
            hanging: HashSet::new(),
        }
    }

    /// The same endpoints, where every `every`-th route (0, every, 2*every, ...) hangs.
    pub(crate) fn with_every_nth_hanging(mut self, every: u32) -> Self {
        self.hanging = (0..self.route_count())
            .filter(|route| route % every == 0)
            .collect();
        self
    }

    /// How many routes (endpoints) there are.
    pub(crate) fn route_count(&self) -> u32 {
        self.streams
            .iter()
            .map(|stream| stream.routes.len() as u32)
            .sum()
    }

    /// The stream of event `n`.
    pub(crate) fn stream_of(&self, n: u64) -> &Stream {
        &self.streams[(n % self.streams.len() as u64) as usize]
    }

    /// Healthy routes each event of stream `stream` must reach.
    pub(crate) fn healthy_routes<'a>(
        &'a self,
        stream: &'a Stream,
    ) -> impl Iterator<Item = u32> + 'a {
        stream
            .routes
            .iter()
            .copied()
            .filter(|route| !self.hanging.contains(route))
    }

    /// How many healthy routes event `n` must reach.
    pub(crate) fn healthy_deliveries_for(&self, n: u64) -> usize {
        self.healthy_routes(self.stream_of(n)).count()
    }

    /// The largest number of routes of one stream.
    pub(crate) fn max_fanout(&self) -> usize {
        self.streams
            .iter()
            .map(|stream| stream.routes.len())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_one_sends_each_event_to_one_route() {
        let topology = Topology::one_to_one(8);
        assert_eq!(topology.route_count(), 8);
        assert_eq!(topology.stream_of(11).routes, vec![3]);
        assert_eq!(topology.stream_of(11).event_type, "bench.s3");
    }

    #[test]
    fn every_tenth_route_hangs() {
        let topology = Topology::one_to_one(20).with_every_nth_hanging(10);
        let hanging: Vec<u32> = {
            let mut routes: Vec<u32> = topology.hanging.iter().copied().collect();
            routes.sort_unstable();
            routes
        };
        assert_eq!(hanging, vec![0, 10]);
        assert_eq!(topology.healthy_deliveries_for(10), 0);
        assert_eq!(topology.healthy_deliveries_for(11), 1);
    }

    #[test]
    fn fan_out_sends_each_event_everywhere() {
        let topology = Topology::fan_out(10);
        assert_eq!(topology.max_fanout(), 10);
        assert_eq!(topology.healthy_deliveries_for(123), 10);
    }
}
