//! Waiting, injected like the clock: throttled Graph requests and the bulk token service wait
//! through a [`Sleeper`], so tests of retries record the waits instead of waiting.

use std::time::Duration;

use crate::directory::BoxFuture;

/// Waits; injected so tests of retries do not actually wait.
pub trait Sleeper: Send + Sync {
    /// Returns after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()>;
}

/// The real sleeper: tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
