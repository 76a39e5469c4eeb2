//! The job state machine: one table of legal transitions.
//!
//! ```text
//!             promote            start              complete
//!  scheduled ─────────▶ ready ─────────▶ running ─────────────▶ succeeded
//!      ▲                 ▲  ▲              │ │ │
//!      │      retry      │  │  rescue /    │ │ │ bury
//!      └─────────────────┼──┼── release ◀──┘ │ └──────────▶ dead ──┐
//!                        │  │                │                     │
//!                        │  └────── redrive ─┼─────────────────────┘ (also from cancelled, expired)
//!   scheduled, ready ──cancel──▶ cancelled ◀─┘ (running: once the worker stops)
//!   scheduled, ready ──expire──▶ expired
//!
//!   waiting ──unblock──▶ ready         (its last parent job finished; see `workflow`)
//!   waiting ──unblock later──▶ scheduled (the same, with a `run_at` still ahead)
//!   waiting ──cancel──▶ cancelled      (a parent failed under the `cancel` policy, or by hand)
//! ```
//!
//! Stores never pick a target state themselves: they ask [`Transition::target`] and guard
//! their update with [`Transition::sources`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waits for its `run_at` (a delay, or the backoff after a failed attempt).
    Scheduled,
    /// May be fetched by a worker now.
    Ready,
    /// Leased to one worker.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Failed its last attempt (or a non-retryable error): the dead-letter set.
    Dead,
    /// Cancelled before it finished.
    Cancelled,
    /// Not started before its `expires_at`; never ran.
    Expired,
    /// Part of a workflow: waits for its parent jobs to finish before it may run.
    Waiting,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 8] = [
        JobState::Scheduled,
        JobState::Ready,
        JobState::Running,
        JobState::Succeeded,
        JobState::Dead,
        JobState::Cancelled,
        JobState::Expired,
        JobState::Waiting,
    ];

    /// The name used on the wire, in SQL and in the UI.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Ready => "ready",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
            JobState::Expired => "expired",
            JobState::Waiting => "waiting",
        }
    }

    /// A job in a terminal state never changes again, except by an explicit redrive.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Dead | JobState::Cancelled | JobState::Expired
        )
    }

    /// A live job still waits or runs.
    pub const fn is_live(self) -> bool {
        !self.is_terminal()
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of [`JobState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job state {0:?}; expected one of scheduled, ready, running, succeeded, dead, cancelled, expired, waiting"
)]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// A named change of state. Each has fixed source states and one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// `scheduled → ready`: its `run_at` has come.
    Promote,
    /// `ready → running`: a worker fetched it; a lease is granted and the attempt counted.
    Start,
    /// `running → succeeded`: the worker acknowledged a result.
    Complete,
    /// `running → scheduled`: the attempt failed and attempts are left; waits out the backoff.
    Retry,
    /// `running → dead`: the last attempt failed, or the error was not retryable.
    Bury,
    /// `running → ready`: the lease was lost (worker died or timed out); the attempt counts.
    Rescue,
    /// `running → ready`: the worker gave the job back unstarted (shutdown); the attempt does
    /// not count.
    Release,
    /// `scheduled | ready | waiting → cancelled` at once; `running → cancelled` once the
    /// worker stopped.
    Cancel,
    /// `scheduled | ready → expired`: not started before `expires_at`.
    Expire,
    /// `dead | cancelled | expired → ready`: run again with a fresh set of attempts.
    Redrive,
    /// `waiting → ready`: the last of its parent jobs finished (succeeded, or failed under
    /// the `run_anyway` policy) and its `run_at` has come. Taken in the transaction that
    /// finished that parent.
    Unblock,
    /// `waiting → scheduled`: as [`Transition::Unblock`], but its `run_at` is still ahead.
    UnblockLater,
}

impl Transition {
    /// Every transition.
    pub const ALL: [Transition; 12] = [
        Transition::Promote,
        Transition::Start,
        Transition::Complete,
        Transition::Retry,
        Transition::Bury,
        Transition::Rescue,
        Transition::Release,
        Transition::Cancel,
        Transition::Expire,
        Transition::Redrive,
        Transition::Unblock,
        Transition::UnblockLater,
    ];

    /// The one table: legal source states and the target of each transition.
    pub const fn rule(self) -> (&'static [JobState], JobState) {
        use JobState::{Cancelled, Dead, Expired, Ready, Running, Scheduled, Succeeded, Waiting};
        match self {
            Transition::Promote => (&[Scheduled], Ready),
            Transition::Start => (&[Ready], Running),
            Transition::Complete => (&[Running], Succeeded),
            Transition::Retry => (&[Running], Scheduled),
            Transition::Bury => (&[Running], Dead),
            Transition::Rescue | Transition::Release => (&[Running], Ready),
            Transition::Cancel => (&[Scheduled, Ready, Running, Waiting], Cancelled),
            Transition::Expire => (&[Scheduled, Ready], Expired),
            Transition::Redrive => (&[Dead, Cancelled, Expired], Ready),
            Transition::Unblock => (&[Waiting], Ready),
            Transition::UnblockLater => (&[Waiting], Scheduled),
        }
    }

    /// The states this transition may leave.
    pub const fn sources(self) -> &'static [JobState] {
        self.rule().0
    }

    /// The state this transition enters.
    pub const fn target(self) -> JobState {
        self.rule().1
    }

    /// Whether a job in `from` may take this transition.
    pub fn allowed_from(self, from: JobState) -> bool {
        self.sources().contains(&from)
    }

    /// The target state if the transition is legal from `from`.
    pub fn apply(self, from: JobState) -> Option<JobState> {
        self.allowed_from(from).then(|| self.target())
    }
}

/// Whether any transition leads from `from` to `to`.
pub fn is_legal(from: JobState, to: JobState) -> bool {
    Transition::ALL
        .iter()
        .any(|t| t.allowed_from(from) && t.target() == to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_state() -> impl Strategy<Value = JobState> {
        proptest::sample::select(JobState::ALL.to_vec())
    }

    fn any_transition() -> impl Strategy<Value = Transition> {
        proptest::sample::select(Transition::ALL.to_vec())
    }

    #[test]
    fn state_names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert!("finished".parse::<JobState>().is_err());
    }

    #[test]
    fn terminal_states_leave_only_by_redrive() {
        for state in JobState::ALL.into_iter().filter(|s| s.is_terminal()) {
            let exits: Vec<_> = Transition::ALL
                .into_iter()
                .filter(|t| t.allowed_from(state))
                .collect();
            let expected = if state == JobState::Succeeded {
                vec![]
            } else {
                vec![Transition::Redrive]
            };
            assert_eq!(exits, expected, "exits from {state}");
        }
    }

    #[test]
    fn running_is_reached_only_by_start() {
        let into_running: Vec<_> = Transition::ALL
            .into_iter()
            .filter(|t| t.target() == JobState::Running)
            .collect();
        assert_eq!(into_running, vec![Transition::Start]);
    }

    #[test]
    fn waiting_leaves_only_when_its_parents_finished_or_by_cancel() {
        let exits: Vec<_> = Transition::ALL
            .into_iter()
            .filter(|t| t.allowed_from(JobState::Waiting))
            .collect();
        assert_eq!(
            exits,
            vec![
                Transition::Cancel,
                Transition::Unblock,
                Transition::UnblockLater
            ]
        );
        let into_waiting = Transition::ALL
            .into_iter()
            .filter(|t| t.target() == JobState::Waiting)
            .count();
        assert_eq!(into_waiting, 0, "a job is only ever inserted waiting");
    }

    proptest! {
        #[test]
        fn apply_agrees_with_the_table(from in any_state(), t in any_transition()) {
            let result = t.apply(from);
            prop_assert_eq!(result.is_some(), t.sources().contains(&from));
            if let Some(to) = result {
                prop_assert_eq!(to, t.target());
                prop_assert!(is_legal(from, to));
            }
        }

        /// Any walk through the table from `scheduled` or `ready` keeps invariants: a job
        /// reaches `succeeded` only from `running`, and `succeeded` is final.
        #[test]
        fn random_walks_respect_invariants(
            start in proptest::sample::select(vec![JobState::Scheduled, JobState::Ready]),
            steps in proptest::collection::vec(any_transition(), 0..64),
        ) {
            let mut state = start;
            for t in steps {
                let Some(next) = t.apply(state) else { continue };
                if next == JobState::Succeeded {
                    prop_assert_eq!(state, JobState::Running);
                }
                prop_assert!(state != JobState::Succeeded);
                state = next;
            }
        }
    }
}
