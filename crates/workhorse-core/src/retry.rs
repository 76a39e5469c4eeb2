//! What happens after a failed attempt or a lost lease: retry after a backoff, bury in the
//! dead-letter set, or cancel. Stores apply these decisions; they never make their own.

use crate::job::{InvalidJob, Job};
use crate::state::Transition;
use crate::{Timestamp, clock};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Exponential backoff with a cap and full jitter: the wait before retry `n` (after the
/// `n`-th failed attempt) is a [`Jitter`] fraction of `min(max, base · 2^(n-1))`, uniform in
/// that range when the jitter is drawn uniformly (as the engine does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    pub base_ms: u64,
    pub max_ms: u64,
}

impl Default for Backoff {
    /// 1 s doubling up to 1 hour.
    fn default() -> Self {
        Backoff {
            base_ms: 1_000,
            max_ms: 3_600_000,
        }
    }
}

/// The longest backoff cap accepted: 7 days.
pub const MAX_BACKOFF_MS: u64 = 7 * 24 * 3_600_000;

impl Backoff {
    /// `base_ms ≤ max_ms ≤ 7 days`.
    pub fn validate(&self) -> Result<(), InvalidJob> {
        if self.base_ms > self.max_ms || self.max_ms > MAX_BACKOFF_MS {
            return Err(InvalidJob {
                field: "backoff",
                message: format!(
                    "backoff needs base_ms <= max_ms <= {MAX_BACKOFF_MS} (got base_ms {}, max_ms {})",
                    self.base_ms, self.max_ms
                ),
            });
        }
        Ok(())
    }

    /// The upper bound of the wait after the `failed_attempt`-th failure (1-based).
    pub fn ceiling(&self, failed_attempt: u32) -> Duration {
        let exponent = failed_attempt.saturating_sub(1).min(63);
        let grown = self.base_ms.saturating_mul(1u64 << exponent);
        Duration::from_millis(grown.min(self.max_ms))
    }

    /// The wait after the `failed_attempt`-th failure: the `jitter` fraction of its ceiling,
    /// rounded down to a millisecond.
    pub fn delay(&self, failed_attempt: u32, jitter: Jitter) -> Duration {
        let ceiling = u128::from(self.ceiling_ms(failed_attempt));
        let wait = ceiling * u128::from(jitter.0) / u128::from(u32::MAX);
        Duration::from_millis(u64::try_from(wait).unwrap_or(u64::MAX))
    }

    fn ceiling_ms(&self, failed_attempt: u32) -> u64 {
        u64::try_from(self.ceiling(failed_attempt).as_millis()).unwrap_or(u64::MAX)
    }
}

/// Where in its backoff range a retry falls: the fraction `n / u32::MAX` (in `[0, 1]`) of
/// the backoff's ceiling, so [`Jitter::NONE`] retries at once and [`Jitter::FULL`] after the
/// whole ceiling. The engine draws it uniformly for each failure (full jitter) and passes it
/// in, as it passes `now`; tests pass a fixed one and know the exact `run_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Jitter(pub u32);

impl Jitter {
    /// No wait: the retry is due at once.
    pub const NONE: Jitter = Jitter(0);
    /// The whole ceiling.
    pub const FULL: Jitter = Jitter(u32::MAX);
}

/// What a worker says about a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureReport {
    pub kind: String,
    pub message: String,
    pub traceback: Option<String>,
    /// The worker asks for a retry after exactly this long (instead of the backoff).
    pub retry_in: Option<Duration>,
    /// `false`: go to the dead-letter set now, whatever attempts are left.
    pub retryable: bool,
}

/// Why a lease was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseLoss {
    /// No heartbeat came in time: the worker died or hangs.
    Expired,
    /// The attempt ran past its time limit.
    TimedOut,
    /// The worker's session closed with the job in hand.
    WorkerGone,
}

impl LeaseLoss {
    /// The error type recorded for the attempt.
    pub const fn kind(self) -> &'static str {
        match self {
            LeaseLoss::Expired => "LeaseExpired",
            LeaseLoss::TimedOut => "TimeLimitExceeded",
            LeaseLoss::WorkerGone => "WorkerLost",
        }
    }

    /// Why a lease of `job`, held past its deadline at `now`, was lost.
    pub fn of_expired(job: &Job, now: Timestamp) -> LeaseLoss {
        match (job.timeout, job.started_at) {
            (Some(limit), Some(started)) if clock::add(started, limit) <= now => {
                LeaseLoss::TimedOut
            }
            _ => LeaseLoss::Expired,
        }
    }

    /// A message for people.
    pub fn message(self, job: &Job) -> String {
        match self {
            LeaseLoss::Expired => "the worker stopped heartbeating; its lease expired".to_owned(),
            LeaseLoss::TimedOut => format!(
                "the attempt ran past its time limit of {} ms",
                job.timeout.map_or(0, |t| t.as_millis())
            ),
            LeaseLoss::WorkerGone => "the worker disconnected while running the job".to_owned(),
        }
    }
}

/// The decision for a running job that stopped running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Back to `scheduled` until `run_at`.
    Retry { run_at: Timestamp },
    /// Back to `ready` at once (a lost lease with attempts left).
    Rescue,
    /// Into the dead-letter set.
    Bury,
    /// Cancelled, as was requested while it ran.
    Cancel,
}

impl Outcome {
    /// The state-machine transition that carries out this outcome.
    pub const fn transition(self) -> Transition {
        match self {
            Outcome::Retry { .. } => Transition::Retry,
            Outcome::Rescue => Transition::Rescue,
            Outcome::Bury => Transition::Bury,
            Outcome::Cancel => Transition::Cancel,
        }
    }
}

fn attempts_left(job: &Job) -> bool {
    job.attempt < job.max_attempts
}

/// Decides what follows a failed attempt of the running `job`.
/// A retry after the backoff waits the `jitter` fraction of its ceiling.
pub fn on_failure(job: &Job, report: &FailureReport, now: Timestamp, jitter: Jitter) -> Outcome {
    if job.cancel_requested {
        return Outcome::Cancel;
    }
    if !report.retryable || !attempts_left(job) {
        return Outcome::Bury;
    }
    let wait = report
        .retry_in
        .unwrap_or_else(|| job.backoff.delay(job.attempt, jitter));
    Outcome::Retry {
        run_at: clock::add(now, wait),
    }
}

/// Decides what follows a lost lease: run again at once while attempts are left.
pub fn on_lease_lost(job: &Job) -> Outcome {
    if job.cancel_requested {
        Outcome::Cancel
    } else if attempts_left(job) {
        Outcome::Rescue
    } else {
        Outcome::Bury
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::NewJob;
    use proptest::prelude::*;

    fn running(attempt: u32, max_attempts: u32) -> Job {
        let mut job = NewJob::new("t").into_job(Timestamp::UNIX_EPOCH);
        job.state = crate::JobState::Running;
        job.attempt = attempt;
        job.max_attempts = max_attempts;
        job
    }

    fn report(retryable: bool, retry_in: Option<Duration>) -> FailureReport {
        FailureReport {
            kind: "ValueError".into(),
            message: "bad".into(),
            traceback: None,
            retry_in,
            retryable,
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff {
            base_ms: 100,
            max_ms: 1_000,
        };
        let ceilings: Vec<_> = (1..=6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(b.ceiling(10_000).as_millis(), 1_000);
    }

    #[test]
    fn last_attempt_buries_earlier_retries() {
        let now = Timestamp::UNIX_EPOCH;
        assert_eq!(
            on_failure(&running(3, 3), &report(true, None), now, Jitter::FULL),
            Outcome::Bury
        );
        assert!(matches!(
            on_failure(&running(2, 3), &report(true, None), now, Jitter::FULL),
            Outcome::Retry { .. }
        ));
        assert_eq!(
            on_failure(&running(1, 3), &report(false, None), now, Jitter::FULL),
            Outcome::Bury
        );
    }

    #[test]
    fn requested_delay_wins_over_backoff() {
        let now = Timestamp::UNIX_EPOCH;
        let outcome = on_failure(
            &running(1, 3),
            &report(true, Some(Duration::from_secs(10))),
            now,
            Jitter::FULL,
        );
        assert_eq!(
            outcome,
            Outcome::Retry {
                run_at: clock::add(now, Duration::from_secs(10))
            }
        );
    }

    #[test]
    fn cancel_requested_wins() {
        let mut job = running(1, 3);
        job.cancel_requested = true;
        assert_eq!(
            on_failure(
                &job,
                &report(true, None),
                Timestamp::UNIX_EPOCH,
                Jitter::NONE
            ),
            Outcome::Cancel
        );
        assert_eq!(on_lease_lost(&job), Outcome::Cancel);
    }

    #[test]
    fn the_backoff_retry_waits_the_jitter_of_its_ceiling() {
        let mut job = running(2, 3);
        job.backoff = Backoff {
            base_ms: 1_000,
            max_ms: 60_000,
        };
        let now = Timestamp::UNIX_EPOCH;
        let at = |jitter| on_failure(&job, &report(true, None), now, jitter);
        let after = |ms| Outcome::Retry {
            run_at: clock::add(now, Duration::from_millis(ms)),
        };
        assert_eq!(at(Jitter::NONE), after(0));
        assert_eq!(at(Jitter::FULL), after(2_000));
        assert_eq!(at(Jitter(u32::MAX / 2)), after(999));
    }

    #[test]
    fn lost_lease_rescues_until_attempts_run_out() {
        assert_eq!(on_lease_lost(&running(1, 2)), Outcome::Rescue);
        assert_eq!(on_lease_lost(&running(2, 2)), Outcome::Bury);
    }

    proptest! {
        #[test]
        fn delay_is_within_full_jitter_bounds(
            base in 0u64..10_000, extra in 0u64..10_000_000, attempt in 1u32..200, jitter: u32,
        ) {
            let b = Backoff { base_ms: base, max_ms: base + extra };
            let d = b.delay(attempt, Jitter(jitter));
            prop_assert!(d <= b.ceiling(attempt));
            prop_assert!(b.ceiling(attempt).as_millis() as u64 <= b.max_ms);
            prop_assert!(b.ceiling(attempt) >= b.ceiling(attempt.saturating_sub(1).max(1)));
        }

        #[test]
        fn jitter_ends_span_the_range(
            base in 0u64..10_000, extra in 0u64..10_000_000, attempt in 1u32..200,
        ) {
            let b = Backoff { base_ms: base, max_ms: base + extra };
            prop_assert_eq!(b.delay(attempt, Jitter::NONE), Duration::ZERO);
            prop_assert_eq!(b.delay(attempt, Jitter::FULL), b.ceiling(attempt));
        }

        #[test]
        fn delay_grows_with_the_jitter(attempt in 1u32..200, a: u32, b: u32) {
            let backoff = Backoff::default();
            let (low, high) = (a.min(b), a.max(b));
            prop_assert!(backoff.delay(attempt, Jitter(low)) <= backoff.delay(attempt, Jitter(high)));
        }
    }
}
