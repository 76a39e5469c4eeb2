//! Schedules: when a schedule fires. Pure evaluation, no I/O.
//!
//! A schedule is a cron expression in an IANA time zone, a fixed interval from an anchor,
//! or a single instant ([`ScheduleSpec`]). [`ScheduleSpec::next_fire`] gives the first fire
//! strictly after an instant; [`due_fires`] decides, with a [`Misfire`] policy, which fires
//! a scheduler runs now after it was down or paused.
//!
//! # Cron expressions
//!
//! Five fields (`minute hour day-of-month month day-of-week`), or six with a leading
//! `second` field. Each field takes `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`,
//! and comma-separated lists of those. Months take `JAN`–`DEC`, weekdays `SUN`–`SAT`
//! (0 and 7 are both Sunday). Day-of-month also takes `L` (last day), `LW` and `15W`
//! (nearest weekday); day-of-week takes `5L` (last Friday) and `FRI#2` (second Friday); both
//! take `?` for "any". When both day fields are restricted (neither is exactly `*` or `?`),
//! a day matches if either field matches, as in Vixie cron. The shortcuts `@yearly`,
//! `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly` stand for their
//! usual five fields. An expression that matches no date at all (`0 0 30 2 *`) is refused.
//!
//! # Daylight saving time
//!
//! A cron expression is matched against the wall clock of its time zone. Where the wall
//! clock jumps, these rules apply:
//!
//! 1. **Spring forward (a gap).** A matching wall-clock time that does not exist that day
//!    fires once, at the first instant after the gap. In Europe/Berlin, `30 2 * * *` fires
//!    at 03:00 CEST on the last Sunday of March. However many matching times fall in the
//!    gap, that instant fires once; if 03:00 itself also matches, still once.
//! 2. **Fall back (an overlap).** A matching wall-clock time that occurs twice fires once,
//!    at its first occurrence. In Europe/Berlin, `30 2 * * *` fires at 02:30 CEST on the
//!    last Sunday of October, not again at 02:30 CET.
//! 3. **Periodic expressions follow elapsed time.** An expression with `*` or `*/n` in its
//!    second, minute or hour field (`0 * * * *`, `*/15 * * * *`, `* 2 * * *`) repeats
//!    through the day: in an overlap it fires at both occurrences of each matching time,
//!    since they are different instants (an hourly job runs 25 times on the fall-back day).
//!    Rule 1 applies to it unchanged. No instant ever fires twice.
//!
//! Expressions whose time of day is given by values (`30 2`, `0 9-17`, `15,45 2`) are not
//! periodic. The rules hold for any offset change, including `Australia/Lord_Howe`'s
//! 30-minute one. Fires are whole seconds.
//!
//! # Intervals and one-off schedules
//!
//! `Every { interval, anchor }` fires at `anchor + k·interval` for k = 0, 1, 2, … in
//! elapsed time, unaffected by time zones. `At { at }` fires once, at `at`.

mod cron;
mod cron_text;
#[cfg(test)]
mod dst_tests;
mod misfire;
mod zone;

pub use cron::CronExpr;
pub use misfire::{DueFires, MAX_CATCH_UP, Misfire, Overlap, due_fires};
pub use zone::Zone;

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A schedule definition is refused; the message points at the bad part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("cron expression needs 5 or 6 fields, got {0}")]
    FieldCount(usize),
    #[error(
        "unknown cron shortcut {0:?}; use @yearly, @annually, @monthly, @weekly, @daily, \
         @midnight or @hourly"
    )]
    UnknownShortcut(String),
    /// One field is wrong; `field` is `minute`, `day-of-week`, ….
    #[error("{message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    #[error(
        "cron expression {0:?} never fires: no date matches its day-of-month, month and \
         day-of-week fields"
    )]
    NeverFires(String),
    /// Croner refused an expression the field checks let through.
    #[error("invalid cron expression {expr:?}: {message}")]
    Cron { expr: String, message: String },
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    #[error("interval must be a whole number of milliseconds, at least 1 ms (got {0:?})")]
    InvalidInterval(Duration),
}

impl ScheduleError {
    /// The input the error is about, as the HTTP API names it: `cron`, `timezone` or
    /// `every_ms`.
    pub fn input(&self) -> &'static str {
        match self {
            ScheduleError::UnknownTimeZone(_) => "timezone",
            ScheduleError::InvalidInterval(_) => "every_ms",
            _ => "cron",
        }
    }
}

/// When a schedule fires. Serialized as tagged JSON for stores:
/// `{"kind":"cron","expr":"0 8 * * *","timezone":"Europe/Berlin"}`,
/// `{"kind":"every","interval_ms":60000,"anchor":"2024-01-01T00:00:00Z"}`,
/// `{"kind":"at","at":"2024-01-01T00:00:00Z"}`. Loading checks it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Stored", into = "Stored")]
pub enum ScheduleSpec {
    /// A cron expression evaluated on the wall clock of `timezone`, with the DST rules of
    /// the [module docs](self).
    Cron { expr: CronExpr, timezone: Zone },
    /// Fires at `anchor + k·interval`, k ≥ 0. Build it with [`ScheduleSpec::every`]; a zero
    /// interval fires only at `anchor`.
    Every {
        interval: Duration,
        anchor: Timestamp,
    },
    /// Fires once.
    At { at: Timestamp },
}

impl ScheduleSpec {
    /// A cron schedule; checks the expression and the time zone now.
    pub fn parse_cron(expr: &str, timezone: &str) -> Result<ScheduleSpec, ScheduleError> {
        Ok(ScheduleSpec::Cron {
            expr: CronExpr::parse(expr)?,
            timezone: Zone::parse(timezone)?,
        })
    }

    /// An interval schedule: a whole number of milliseconds, at least one.
    pub fn every(interval: Duration, anchor: Timestamp) -> Result<ScheduleSpec, ScheduleError> {
        let whole_ms = Duration::from_millis(interval.as_millis() as u64) == interval;
        if interval < Duration::from_millis(1) || !whole_ms {
            return Err(ScheduleError::InvalidInterval(interval));
        }
        Ok(ScheduleSpec::Every { interval, anchor })
    }

    /// The first fire strictly after `after`; `None` when there is none (a one-off that
    /// has passed, or beyond the last representable time).
    pub fn next_fire(&self, after: Timestamp) -> Option<Timestamp> {
        match self {
            ScheduleSpec::Cron { expr, timezone } => timezone.next_fire(expr, after),
            ScheduleSpec::Every { interval, anchor } => {
                let step = interval.as_nanos() as i128;
                let since = after.as_nanosecond() - anchor.as_nanosecond();
                if since < 0 || step == 0 {
                    return (*anchor > after).then_some(*anchor);
                }
                Timestamp::from_nanosecond(anchor.as_nanosecond() + (since / step + 1) * step).ok()
            }
            ScheduleSpec::At { at } => (*at > after).then_some(*at),
        }
    }

    /// The last fire strictly before `before`.
    pub fn last_fire(&self, before: Timestamp) -> Option<Timestamp> {
        match self {
            ScheduleSpec::Cron { expr, timezone } => timezone.last_fire(expr, before),
            ScheduleSpec::Every { interval, anchor } => {
                let step = interval.as_nanos() as i128;
                let since = before.as_nanosecond() - anchor.as_nanosecond();
                if since <= 0 {
                    return None;
                }
                let k = if step == 0 { 0 } else { (since - 1) / step };
                Timestamp::from_nanosecond(anchor.as_nanosecond() + k * step).ok()
            }
            ScheduleSpec::At { at } => (*at < before).then_some(*at),
        }
    }

    /// Fires `f` with `after < f ≤ until`, earliest first, at most `max` of them.
    pub fn fires_between(&self, after: Timestamp, until: Timestamp, max: usize) -> Vec<Timestamp> {
        let mut fires = Vec::new();
        let mut cursor = after;
        while fires.len() < max {
            match self.next_fire(cursor) {
                Some(fire) if fire <= until => {
                    fires.push(fire);
                    cursor = fire;
                }
                _ => break,
            }
        }
        fires
    }
}

/// The stored form of [`ScheduleSpec`]: plain strings and numbers, checked on the way in.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Stored {
    Cron { expr: String, timezone: String },
    Every { interval_ms: u64, anchor: Timestamp },
    At { at: Timestamp },
}

impl TryFrom<Stored> for ScheduleSpec {
    type Error = ScheduleError;

    fn try_from(stored: Stored) -> Result<Self, Self::Error> {
        match stored {
            Stored::Cron { expr, timezone } => ScheduleSpec::parse_cron(&expr, &timezone),
            Stored::Every {
                interval_ms,
                anchor,
            } => ScheduleSpec::every(Duration::from_millis(interval_ms), anchor),
            Stored::At { at } => Ok(ScheduleSpec::At { at }),
        }
    }
}

impl From<ScheduleSpec> for Stored {
    fn from(spec: ScheduleSpec) -> Self {
        match spec {
            ScheduleSpec::Cron { expr, timezone } => Stored::Cron {
                expr: expr.as_str().to_owned(),
                timezone: timezone.name().to_owned(),
            },
            ScheduleSpec::Every { interval, anchor } => Stored::Every {
                interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
                anchor,
            },
            ScheduleSpec::At { at } => Stored::At { at },
        }
    }
}

#[cfg(test)]
mod tests;
