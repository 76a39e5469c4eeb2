//! The background services. Each has `run(shutdown)`, its loop, and `run_once(now)`, one
//! pass that tests call directly with a manual clock.
//!
//! All of them are leader-only: in a cluster, only the elected node runs them (see
//! `crate::leader`). [`LEADER_ONLY`] lists them; a new leader-only service is one line there.

mod cleaner;
mod rescuer;
mod scheduler;
mod schedules;

pub use cleaner::Cleaner;
pub use rescuer::Rescuer;
pub use scheduler::Scheduler;
pub use schedules::{FIRER_MAX_SLEEP, ScheduleFirer};

use crate::Engine;
use futures_util::future::BoxFuture;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Starts one service's `run` loop; it ends when the token is cancelled.
pub(crate) type StartService = fn(&Engine, CancellationToken) -> BoxFuture<'static, ()>;

/// The services only the leader runs, by name, started on gaining leadership and stopped
/// on losing it. A new leader-only service is one more line.
pub(crate) const LEADER_ONLY: &[(&str, StartService)] = &[
    ("scheduler", |engine, stop| {
        Box::pin(engine.scheduler().run(stop))
    }),
    ("rescuer", |engine, stop| {
        Box::pin(engine.rescuer().run(stop))
    }),
    ("cleaner", |engine, stop| {
        Box::pin(engine.cleaner().run(stop))
    }),
    ("schedules", |engine, stop| {
        Box::pin(engine.schedule_firer().run(stop))
    }),
];

/// Sleeps `period`; `false` if `shutdown` came first.
async fn pause(shutdown: &CancellationToken, period: Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(period) => true,
    }
}
