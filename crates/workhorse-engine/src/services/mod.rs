//! The background services. Each has `run(shutdown)`, its loop, and `run_once(now)`, one
//! pass that tests call directly with a manual clock.

mod cleaner;
mod rescuer;
mod scheduler;

pub use cleaner::Cleaner;
pub use rescuer::Rescuer;
pub use scheduler::Scheduler;

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Sleeps `period`; `false` if `shutdown` came first.
async fn pause(shutdown: &CancellationToken, period: Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(period) => true,
    }
}
