//! Which fires a scheduler runs when it finds a schedule due, possibly long after its fire
//! time (the server was down, the schedule paused, the leader failing over).
//!
//! A due fire late by no more than the grace period is *on time* and runs under every
//! policy. Older ones are *missed*, and the [`Misfire`] policy decides:
//! - `coalesce`: the missed fires collapse into one run, for the latest of them — or into
//!   the on-time run, when there is one;
//! - `all`: each missed fire runs, the latest `max` of them;
//! - `skip`: none runs.

use super::ScheduleSpec;
use crate::Timestamp;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Most fires one [`due_fires`] call returns; later calls never see the dropped ones again.
pub const MAX_CATCH_UP: u32 = 1_000;

/// What to do with fires missed by more than the grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// One run for all missed fires (none if an on-time fire runs anyway).
    #[default]
    Coalesce,
    /// A run for each missed fire, at most the latest `max` (itself at most
    /// [`MAX_CATCH_UP`]).
    All { max: u32 },
    /// No run for missed fires.
    Skip,
}

/// Whether a fire makes a job while the job of the schedule's previous fire is still
/// waiting or running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Always make the job.
    #[default]
    Allow,
    /// Skip the fire while the previous fire's job is waiting or running.
    Skip,
}

impl Overlap {
    /// Whether a fire makes its job, given whether the previous fire's job is still waiting
    /// or running.
    pub fn permits(self, previous_active: bool) -> bool {
        match self {
            Overlap::Allow => true,
            Overlap::Skip => !previous_active,
        }
    }
}

/// What [`due_fires`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueFires {
    /// The fire times to make jobs for now, earliest first.
    pub fire: Vec<Timestamp>,
    /// The schedule's next fire time after this decision; `None`: it never fires again.
    pub next_fire_at: Option<Timestamp>,
}

/// Decides which fires of `spec` to run at `now`, for a schedule whose stored next fire time
/// is `next_fire_at`.
///
/// The due fires are `next_fire_at` (if it is not after `now`; it counts even if `spec` was
/// changed since) and every fire of `spec` after it up to and including `now`. A fire late
/// by at most `grace` runs whatever the policy; `misfire` decides about older ones. The new
/// next fire time is the first fire strictly after `now`: every due fire is dealt with,
/// run or dropped. At most [`MAX_CATCH_UP`] fires are returned, the latest ones.
pub fn due_fires(
    spec: &ScheduleSpec,
    next_fire_at: Timestamp,
    now: Timestamp,
    misfire: Misfire,
    grace: Duration,
) -> DueFires {
    if next_fire_at > now {
        return DueFires {
            fire: Vec::new(),
            next_fire_at: Some(next_fire_at),
        };
    }
    let due = Due {
        spec,
        first: next_fire_at,
    };
    let cap = MAX_CATCH_UP as usize;
    let cut = SignedDuration::try_from(grace)
        .ok()
        .and_then(|grace| now.checked_sub(grace).ok())
        .unwrap_or(Timestamp::MIN);
    let just_after_now = now
        .checked_add(SignedDuration::from_nanos(1))
        .unwrap_or(now);

    // Latest first; reversed at the end.
    let mut fire = due.latest(just_after_now, |f| f >= cut, cap);
    let missed = match misfire {
        Misfire::Coalesce if fire.is_empty() => 1,
        Misfire::Coalesce | Misfire::Skip => 0,
        Misfire::All { max } => max as usize,
    };
    let below = fire.last().copied().unwrap_or(just_after_now).min(cut);
    let room = cap - fire.len();
    fire.extend(due.latest(below, |_| true, missed.min(room)));
    fire.reverse();
    DueFires {
        fire,
        next_fire_at: spec.next_fire(now),
    }
}

/// The due fires of one schedule: `first` and the fires of `spec` after it.
struct Due<'a> {
    spec: &'a ScheduleSpec,
    first: Timestamp,
}

impl Due<'_> {
    /// The latest due fire strictly before `below`.
    fn before(&self, below: Timestamp) -> Option<Timestamp> {
        match self.spec.last_fire(below) {
            Some(fire) if fire > self.first => Some(fire),
            _ => (self.first < below).then_some(self.first),
        }
    }

    /// Up to `count` due fires strictly before `below`, latest first, while `keep` holds.
    fn latest(
        &self,
        below: Timestamp,
        keep: impl Fn(Timestamp) -> bool,
        count: usize,
    ) -> Vec<Timestamp> {
        let mut fires = Vec::new();
        let mut below = below;
        while fires.len() < count {
            match self.before(below) {
                Some(fire) if keep(fire) => {
                    fires.push(fire);
                    below = fire;
                }
                _ => break,
            }
        }
        fires
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("a valid timestamp")
    }

    fn hourly() -> ScheduleSpec {
        ScheduleSpec::parse_cron("0 * * * *", "UTC").expect("valid in this test")
    }

    const GRACE: Duration = Duration::from_secs(30);

    fn decide(next: &str, now: &str, misfire: Misfire) -> DueFires {
        due_fires(&hourly(), ts(next), ts(now), misfire, GRACE)
    }

    #[test]
    fn nothing_is_due_before_the_next_fire() {
        let d = decide(
            "2024-05-01T10:00:00Z",
            "2024-05-01T09:59:59Z",
            Misfire::Skip,
        );
        assert!(d.fire.is_empty());
        assert_eq!(d.next_fire_at, Some(ts("2024-05-01T10:00:00Z")));
    }

    #[test]
    fn an_on_time_fire_runs_under_every_policy() {
        for policy in [Misfire::Coalesce, Misfire::All { max: 5 }, Misfire::Skip] {
            let d = decide("2024-05-01T10:00:00Z", "2024-05-01T10:00:15Z", policy);
            assert_eq!(d.fire, vec![ts("2024-05-01T10:00:00Z")], "{policy:?}");
            assert_eq!(d.next_fire_at, Some(ts("2024-05-01T11:00:00Z")));
            // Late by exactly the grace period still counts as on time.
            let d = decide("2024-05-01T10:00:00Z", "2024-05-01T10:00:30Z", policy);
            assert_eq!(d.fire, vec![ts("2024-05-01T10:00:00Z")], "{policy:?}");
        }
    }

    #[test]
    fn coalesce_runs_once_for_the_latest_missed_fire() {
        let d = decide(
            "2024-05-01T06:00:00Z",
            "2024-05-01T10:30:00Z",
            Misfire::Coalesce,
        );
        assert_eq!(d.fire, vec![ts("2024-05-01T10:00:00Z")]);
        assert_eq!(d.next_fire_at, Some(ts("2024-05-01T11:00:00Z")));
        // With an on-time fire, the missed ones fold into it.
        let d = decide(
            "2024-05-01T06:00:00Z",
            "2024-05-01T10:00:10Z",
            Misfire::Coalesce,
        );
        assert_eq!(d.fire, vec![ts("2024-05-01T10:00:00Z")]);
    }

    #[test]
    fn all_runs_each_missed_fire_up_to_max() {
        let d = decide(
            "2024-05-01T06:00:00Z",
            "2024-05-01T10:30:00Z",
            Misfire::All { max: 10 },
        );
        let hours = ["06", "07", "08", "09", "10"];
        let expected: Vec<_> = hours
            .iter()
            .map(|h| ts(&format!("2024-05-01T{h}:00:00Z")))
            .collect();
        assert_eq!(d.fire, expected);
        let d = decide(
            "2024-05-01T06:00:00Z",
            "2024-05-01T10:30:00Z",
            Misfire::All { max: 2 },
        );
        assert_eq!(
            d.fire,
            vec![ts("2024-05-01T09:00:00Z"), ts("2024-05-01T10:00:00Z")]
        );
        // On-time fires come on top of the missed ones.
        let d = decide(
            "2024-05-01T06:00:00Z",
            "2024-05-01T10:00:10Z",
            Misfire::All { max: 2 },
        );
        let expected = ["08", "09", "10"].map(|h| ts(&format!("2024-05-01T{h}:00:00Z")));
        assert_eq!(d.fire, expected);
    }

    #[test]
    fn skip_drops_missed_fires_and_advances() {
        let d = decide(
            "2024-05-01T06:00:00Z",
            "2024-05-01T10:30:00Z",
            Misfire::Skip,
        );
        assert!(d.fire.is_empty());
        assert_eq!(d.next_fire_at, Some(ts("2024-05-01T11:00:00Z")));
        let d = decide(
            "2024-05-01T06:00:00Z",
            "2024-05-01T10:00:10Z",
            Misfire::Skip,
        );
        assert_eq!(d.fire, vec![ts("2024-05-01T10:00:00Z")]);
    }

    #[test]
    fn a_long_outage_of_a_per_second_schedule_is_bounded() {
        let every_second = ScheduleSpec::every(Duration::from_secs(1), ts("2020-01-01T00:00:00Z"))
            .expect("valid in this test");
        let now = ts("2024-01-01T00:00:00Z");
        let all = Misfire::All { max: u32::MAX };
        let d = due_fires(&every_second, ts("2020-01-01T00:00:00Z"), now, all, GRACE);
        assert_eq!(d.fire.len(), MAX_CATCH_UP as usize);
        assert_eq!(d.fire.last(), Some(&now));
        assert_eq!(d.next_fire_at, Some(ts("2024-01-01T00:00:01Z")));
        let d = due_fires(
            &every_second,
            ts("2020-01-01T00:00:00Z"),
            now,
            Misfire::Coalesce,
            GRACE,
        );
        assert_eq!(d.fire.len(), 31, "the on-time fires of the last 30 s");
    }

    #[test]
    fn a_one_off_runs_once_then_never_again() {
        let at = ScheduleSpec::At {
            at: ts("2024-05-01T10:00:00Z"),
        };
        let late = ts("2024-05-02T00:00:00Z");
        let d = due_fires(
            &at,
            ts("2024-05-01T10:00:00Z"),
            late,
            Misfire::Coalesce,
            GRACE,
        );
        assert_eq!(
            d,
            DueFires {
                fire: vec![ts("2024-05-01T10:00:00Z")],
                next_fire_at: None
            }
        );
        let d = due_fires(&at, ts("2024-05-01T10:00:00Z"), late, Misfire::Skip, GRACE);
        assert_eq!(
            d,
            DueFires {
                fire: vec![],
                next_fire_at: None
            }
        );
    }

    #[test]
    fn policies_serialize_in_snake_case() {
        let json =
            serde_json::to_string(&[Misfire::Coalesce, Misfire::All { max: 3 }, Misfire::Skip])
                .expect("valid in this test");
        assert_eq!(json, r#"["coalesce",{"all":{"max":3}},"skip"]"#);
        let back: Vec<Misfire> = serde_json::from_str(&json).expect("valid in this test");
        assert_eq!(back[1], Misfire::All { max: 3 });
        assert_eq!(
            serde_json::to_string(&Overlap::Skip).expect("valid in this test"),
            r#""skip""#
        );
        assert_eq!(Misfire::default(), Misfire::Coalesce);
        assert!(Overlap::Allow.permits(true));
        assert!(!Overlap::Skip.permits(true));
        assert!(Overlap::Skip.permits(false));
    }
}
