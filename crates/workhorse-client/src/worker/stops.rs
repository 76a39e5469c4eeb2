//! The phases of a graceful shutdown, as tokens: asked for, grace period over (stop the
//! remaining tasks), and answers awaited long enough (give up and close).

use std::time::Duration;
use tokio_util::sync::{CancellationToken, DropGuard};

/// After the grace period, how long the server may take to answer the last acks.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The shutdown phases of one [`crate::Worker::run`].
pub(crate) struct Stops {
    /// Shutdown was asked for: take no new job, let running ones finish.
    pub shutdown: CancellationToken,
    /// The grace period is over: stop the remaining tasks.
    pub hard_stop: CancellationToken,
    /// The last answers took too long: close without them.
    pub give_up: CancellationToken,
}

impl Stops {
    /// Phases following `shutdown`: `grace` after it the hard stop, `answer_timeout` after
    /// that the give-up. They stop advancing when the guard is dropped.
    pub(crate) fn follow(
        shutdown: CancellationToken,
        grace: Duration,
        answer_timeout: Duration,
    ) -> (Stops, DropGuard) {
        let stops = Stops {
            shutdown,
            hard_stop: CancellationToken::new(),
            give_up: CancellationToken::new(),
        };
        let done = CancellationToken::new();
        let (shutdown, hard_stop, give_up) = (
            stops.shutdown.clone(),
            stops.hard_stop.clone(),
            stops.give_up.clone(),
        );
        let finished = done.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = finished.cancelled() => {}
                () = async {
                    shutdown.cancelled().await;
                    tokio::time::sleep(grace).await;
                    hard_stop.cancel();
                    tokio::time::sleep(answer_timeout).await;
                    give_up.cancel();
                } => {}
            }
        });
        (stops, done.drop_guard())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_follow_the_shutdown_in_order() {
        let shutdown = CancellationToken::new();
        let short = Duration::from_millis(5);
        let (stops, _guard) = Stops::follow(shutdown.clone(), short, short);
        tokio::task::yield_now().await;
        assert!(!stops.hard_stop.is_cancelled());
        shutdown.cancel();
        stops.hard_stop.cancelled().await;
        assert!(!stops.give_up.is_cancelled());
        stops.give_up.cancelled().await;
    }
}
