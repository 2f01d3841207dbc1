//! From raw records to delivery facts: what arrived, how late, what is missing.
//!
//! Inputs are the load generator's records (event number, send instant, accepted) and
//! the receiver's arrivals (event number, route, arrival instant). For every accepted
//! event and every healthy route of its stream, exactly one delivery is expected; the
//! first arrival counts for latency, later ones are duplicates (at-least-once
//! delivery allows them; they are counted, not failed). Arrivals for events that were
//! not accepted, or on a route the event's stream does not have, are "unexpected".
//!
//! This module computes; it neither prints nor decides pass or fail.

use crate::load::LoadOutcome;
use crate::receiver::Arrival;
use crate::topology::Topology;

/// What happened to the accepted events.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// Events accepted by the system under test.
    pub(crate) accepted: u64,
    /// Deliveries expected to healthy routes.
    pub(crate) expected: u64,
    /// Expected deliveries that arrived (once counted).
    pub(crate) delivered: u64,
    /// Expected deliveries that did not arrive.
    pub(crate) missing: u64,
    /// A few missing (event number, route) pairs, for the error message.
    pub(crate) missing_examples: Vec<(u64, u32)>,
    /// Arrivals beyond the first of a delivery.
    pub(crate) duplicates: u64,
    /// Arrivals nobody expected.
    pub(crate) unexpected: u64,
    /// Arrival minus send start of each delivered delivery, sorted, in nanoseconds.
    pub(crate) latencies_ns: Vec<u64>,
    /// First-arrival instants of delivered deliveries, sorted, since the epoch.
    pub(crate) arrivals_ns: Vec<u64>,
}

/// Matches arrivals against accepted events.
pub(crate) fn analyse(topology: &Topology, load: &LoadOutcome, arrivals: &[Arrival]) -> Analysis {
    let route_count = topology.route_count() as usize;
    let stream_count = topology.streams.len() as u64;
    // For each route: its stream and its position within that stream.
    let mut route_stream = vec![u64::MAX; route_count];
    let mut route_position = vec![0usize; route_count];
    for (stream_index, stream) in topology.streams.iter().enumerate() {
        for (position, route) in stream.routes.iter().enumerate() {
            route_stream[*route as usize] = stream_index as u64;
            route_position[*route as usize] = position;
        }
    }
    let width = topology.max_fanout().max(1);
    let numbers = load.numbers as usize;
    let mut sent_ns = vec![u64::MAX; numbers];
    let mut analysis = Analysis::default();
    for record in load.records.iter().filter(|record| record.accepted) {
        if let Some(slot) = sent_ns.get_mut(record.n as usize) {
            *slot = record.sent_ns;
            analysis.accepted += 1;
        }
    }
    let mut first_arrival = vec![u64::MAX; numbers * width];
    for arrival in arrivals {
        let route = arrival.route as usize;
        let known = arrival.n < load.numbers
            && route < route_count
            && route_stream[route] == arrival.n % stream_count
            && sent_ns[arrival.n as usize] != u64::MAX;
        if !known {
            analysis.unexpected += 1;
            continue;
        }
        let slot = &mut first_arrival[arrival.n as usize * width + route_position[route]];
        if *slot != u64::MAX {
            analysis.duplicates += 1;
        }
        *slot = (*slot).min(arrival.at_ns);
    }
    for (n, sent) in sent_ns.iter().enumerate() {
        if *sent == u64::MAX {
            continue;
        }
        let stream = topology.stream_of(n as u64);
        for route in topology.healthy_routes(stream) {
            analysis.expected += 1;
            let arrived = first_arrival[n * width + route_position[route as usize]];
            if arrived == u64::MAX {
                analysis.missing += 1;
                if analysis.missing_examples.len() < 5 {
                    analysis.missing_examples.push((n as u64, route));
                }
            } else {
                analysis.delivered += 1;
                analysis.latencies_ns.push(arrived.saturating_sub(*sent));
                analysis.arrivals_ns.push(arrived);
            }
        }
    }
    analysis.latencies_ns.sort_unstable();
    analysis.arrivals_ns.sort_unstable();
    analysis
}

/// The `p`-th percentile (0..=100) of sorted values, nearest rank.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// How many sorted values lie in `[from, to)`.
pub(crate) fn count_between(sorted: &[u64], from: u64, to: u64) -> usize {
    sorted
        .partition_point(|value| *value < to)
        .saturating_sub(sorted.partition_point(|value| *value < from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::IngestRecord;

    fn outcome(accepted: &[(u64, u64)], numbers: u64) -> LoadOutcome {
        LoadOutcome {
            records: accepted
                .iter()
                .map(|(n, sent_ns)| IngestRecord {
                    n: *n,
                    sent_ns: *sent_ns,
                    accepted: true,
                })
                .collect(),
            numbers,
            started_ns: 0,
            ended_ns: 100,
            first_problem: None,
        }
    }

    fn arrival(n: u64, route: u32, at_ns: u64) -> Arrival {
        Arrival { n, route, at_ns }
    }

    #[test]
    fn matches_first_arrivals_and_counts_the_rest() {
        let topology = Topology::one_to_one(2);
        let load = outcome(&[(0, 10), (1, 20), (2, 30)], 4);
        let arrivals = [
            arrival(0, 0, 15),
            arrival(0, 0, 40), // duplicate
            arrival(1, 1, 26),
            arrival(1, 0, 26), // wrong route for event 1
            arrival(3, 1, 50), // event 3 was never accepted
        ];
        let analysis = analyse(&topology, &load, &arrivals);
        assert_eq!(analysis.accepted, 3);
        assert_eq!(analysis.expected, 3);
        assert_eq!(analysis.delivered, 2);
        assert_eq!(analysis.missing, 1);
        assert_eq!(analysis.missing_examples, vec![(2, 0)]);
        assert_eq!(analysis.duplicates, 1);
        assert_eq!(analysis.unexpected, 2);
        assert_eq!(analysis.latencies_ns, vec![5, 6]);
    }

    #[test]
    fn hanging_routes_are_not_expected() {
        let topology = Topology::one_to_one(10).with_every_nth_hanging(10);
        let load = outcome(&[(0, 0), (1, 0)], 2);
        let analysis = analyse(&topology, &load, &[arrival(1, 1, 9)]);
        assert_eq!(
            (analysis.expected, analysis.delivered, analysis.missing),
            (1, 1, 0)
        );
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(count_between(&values, 10, 20), 10);
    }
}
