//! How the engine's services are timed and sized.

use std::time::Duration;

/// Timing and batch sizes of the engine. [`EngineConfig::default`] is what `workhorse
/// serve` runs with; tests shorten intervals or stretch them to prove a wake-up came from a
/// signal rather than a timer.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a lease lasts without a heartbeat (default 8 s, so a silent worker's jobs run again within 10 s).
    pub lease: Duration,
    /// How often workers are told to heartbeat (default a third of the lease).
    pub heartbeat: Duration,
    /// How often the rescuer looks for expired leases (default 1 s).
    pub rescue_interval: Duration,
    /// How long finished jobs are kept (default 7 days).
    pub retention: Duration,
    /// How often the cleaner deletes finished jobs past retention (default 1 min).
    pub cleaner_interval: Duration,
    /// Longest the scheduler sleeps between looks at due jobs (default 1 s).
    pub scheduler_max_sleep: Duration,
    /// Fallback re-check of a waiting fetch or result wait (default 1 s). Signals wake waiters
    /// at once; this only covers what no signal announces, such as a rate-limit window
    /// opening or a change made by another server node.
    pub recheck: Duration,
    /// Jobs promoted or expired per store call (default 1,000).
    pub promote_batch: u32,
    /// Leases rescued per store call (default 1,000).
    pub rescue_batch: u32,
    /// Finished jobs deleted per store call (default 1,000).
    pub cleaner_batch: u32,
    /// Capacity of the job event channel (default 16,384); slow subscribers lag behind.
    pub event_capacity: usize,
}

impl EngineConfig {
    /// The defaults with another lease length; the heartbeat hint follows it.
    pub fn with_lease(lease: Duration) -> Self {
        EngineConfig {
            lease,
            heartbeat: lease / 3,
            ..Self::default()
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        let lease = Duration::from_secs(8);
        EngineConfig {
            lease,
            heartbeat: lease / 3,
            rescue_interval: Duration::from_secs(1),
            retention: Duration::from_hours(7 * 24),
            cleaner_interval: Duration::from_mins(1),
            scheduler_max_sleep: Duration::from_secs(1),
            recheck: Duration::from_secs(1),
            promote_batch: 1_000,
            rescue_batch: 1_000,
            cleaner_batch: 1_000,
            event_capacity: 16_384,
        }
    }
}
