//! Driving golfers to completion outside the browser (CLI, tests).

use std::future::Future;
use std::task::{Context, Poll, Waker};

use crate::contract::{GolfError, Golfer, Span};

/// Runs a future whose awaits never wait (native golfers: gzip, and ONNX Runtime's synchronous run).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Scores a whole text, step by step, and returns all its spans.
pub async fn score_to_end<G: Golfer>(golfer: &G, run: &mut G::ScoreRun) -> Result<Vec<Span>, GolfError> {
    let mut spans = Vec::new();
    loop {
        let step = golfer.score_step(run).await?;
        spans.extend(step.spans);
        if step.finished {
            return Ok(spans);
        }
    }
}
