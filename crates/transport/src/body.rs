//! Reading a response body up to a cap, and no further.
//!
//! The log keeps a prefix of each response body (64 KiB by default, DESIGN.md section
//! 8). A receiver can answer with 50 MB or with an endless chunked stream (field case
//! 17), so the body is read frame by frame and reading stops as soon as the cap is
//! reached: memory stays flat, and the rest is dropped with the connection. This module
//! only reads; deciding whether the body may be kept at all is the transport's job.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;

/// A body prefix and what is known about the whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CappedBody {
    /// At most `cap` bytes from the start of the body.
    pub(crate) bytes: Vec<u8>,
    /// More bytes existed after `bytes`.
    pub(crate) truncated: bool,
    /// The whole body's length when it was read to the end, `None` when reading stopped
    /// at the cap.
    pub(crate) complete_len: Option<u64>,
}

/// The most memory reserved up front: a body announcing 50 MB does not get 50 MB.
const INITIAL_CAPACITY: usize = 16 * 1024;

/// Reads `body` until it ends or `cap` bytes are kept and one more byte was seen.
pub(crate) async fn read_capped<B>(body: B, cap: usize) -> Result<CappedBody, B::Error>
where
    B: Body<Data = Bytes>,
{
    let mut body = std::pin::pin!(body);
    let mut bytes = Vec::with_capacity(cap.min(INITIAL_CAPACITY));
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        // Trailers and other non-data frames carry nothing for the log.
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len() as u64);
        let room = cap - bytes.len();
        if data.len() > room {
            // In bounds: `room` is smaller than `data.len()` on this branch.
            bytes.extend_from_slice(&data[..room]);
            return Ok(CappedBody {
                bytes,
                truncated: true,
                complete_len: None,
            });
        }
        bytes.extend_from_slice(&data);
    }
    Ok(CappedBody {
        bytes,
        truncated: false,
        complete_len: Some(seen),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::Frame;

    /// A body made of the given chunks, then endless `x` chunks when `endless`.
    struct Chunks {
        chunks: VecDeque<&'static [u8]>,
        endless: bool,
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            let next = match self.chunks.pop_front() {
                Some(chunk) => Some(Bytes::from_static(chunk)),
                None if self.endless => Some(Bytes::from_static(&[b'x'; 1024])),
                None => None,
            };
            Poll::Ready(next.map(|data| Ok(Frame::data(data))))
        }
    }

    #[track_caller]
    fn check(
        chunks: &[&'static [u8]],
        endless: bool,
        cap: usize,
        expect: (&[u8], bool, Option<u64>),
    ) {
        let body = Chunks {
            chunks: chunks.iter().copied().collect(),
            endless,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime without drivers always builds");
        let Ok(capped) = runtime.block_on(read_capped(body, cap));
        let (bytes, truncated, complete_len) = expect;
        assert_eq!(
            (
                capped.bytes.as_slice(),
                capped.truncated,
                capped.complete_len
            ),
            (bytes, truncated, complete_len)
        );
    }

    #[test]
    fn short_body_is_kept_whole() {
        check(
            &[b"hello ", b"world"],
            false,
            64,
            (b"hello world", false, Some(11)),
        );
    }

    #[test]
    fn body_of_exactly_the_cap_is_not_truncated() {
        check(&[b"abcd", b"efgh"], false, 8, (b"abcdefgh", false, Some(8)));
    }

    #[test]
    fn one_byte_over_the_cap_is_truncated() {
        check(
            &[b"abcd", b"efgh", b"i"],
            false,
            8,
            (b"abcdefgh", true, None),
        );
    }

    #[test]
    fn endless_body_stops_at_the_cap() {
        check(&[], true, 4096, (&[b'x'; 4096], true, None));
    }

    #[test]
    fn zero_cap_keeps_nothing() {
        check(&[b"a"], false, 0, (b"", true, None));
        check(&[], false, 0, (b"", false, Some(0)));
    }

    #[test]
    fn empty_chunks_are_fine() {
        check(&[b"", b"ab", b""], false, 2, (b"ab", false, Some(2)));
    }
}
