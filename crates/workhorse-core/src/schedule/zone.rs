//! Time zones, and the mapping from matching wall-clock times to fire instants with the DST
//! rules of [`super`].
//!
//! The time line is cut at the zone's transitions into segments of constant UTC offset. In
//! a segment, wall-clock times and instants correspond one to one, so a match in the
//! segment's wall-clock range is one fire. At a transition:
//! - forward (a gap): if any wall-clock time in the skipped range matches, the transition
//!   instant itself fires, once;
//! - backward (an overlap): the segment after it starts by repeating wall-clock times the
//!   segment before already had. A non-periodic expression skips those repeats (it fired
//!   at their first occurrence); a periodic one fires on them again.

use super::{CronExpr, ScheduleError};
use crate::Timestamp;
use jiff::SignedDuration;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone, TimeZoneDatabase};
use std::fmt;

/// An IANA time zone, resolved from the time zone database bundled into the binary (so a
/// schedule fires at the same instants on every machine, whatever its `/usr/share/zoneinfo`).
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// Looks `name` up (case-insensitively), e.g. `Europe/Berlin` or `UTC`.
    pub fn parse(name: &str) -> Result<Zone, ScheduleError> {
        let tz = TimeZoneDatabase::bundled()
            .get(name)
            .map_err(|_| ScheduleError::UnknownTimeZone(name.to_owned()))?;
        let name = tz.iana_name().unwrap_or(name).to_owned();
        Ok(Zone { name, tz })
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// The canonical IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The jiff time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The segment of constant offset that holds `at`.
    fn segment_at(&self, at: Timestamp) -> Segment {
        let just_after = at.checked_add(SignedDuration::from_nanos(1)).unwrap_or(at);
        let start = self.tz.preceding(just_after).next().map(|t| t.timestamp());
        Segment {
            start,
            end: self.tz.following(at).next().map(|t| t.timestamp()),
            offset: self.tz.to_offset(at),
            before: start.map(|s| self.offset_before(s)),
        }
    }

    /// The segment that starts at the transition `start`.
    fn segment_from(&self, start: Timestamp, before: Offset) -> Segment {
        Segment {
            start: Some(start),
            end: self.tz.following(start).next().map(|t| t.timestamp()),
            offset: self.tz.to_offset(start),
            before: Some(before),
        }
    }

    /// The segment that ends at the transition `end`.
    fn segment_until(&self, end: Timestamp) -> Segment {
        let start = self.tz.preceding(end).next().map(|t| t.timestamp());
        Segment {
            start,
            end: Some(end),
            offset: self.offset_before(end),
            before: start.map(|s| self.offset_before(s)),
        }
    }

    fn offset_before(&self, at: Timestamp) -> Offset {
        let earlier = at.checked_sub(SignedDuration::from_nanos(1)).unwrap_or(at);
        self.tz.to_offset(earlier)
    }

    /// The first fire of `expr` strictly after `after`.
    pub(crate) fn next_fire(&self, expr: &CronExpr, after: Timestamp) -> Option<Timestamp> {
        let mut segment = self.segment_at(after);
        let local = segment.offset.to_datetime(after);
        let first = segment.first_wall_time(expr);
        let mut found = if first.is_some_and(|first| local < first) {
            first.and_then(|first| expr.next_from(first))
        } else {
            expr.next_after(local)
        };
        loop {
            let candidate = found?;
            if segment.end_wall_time().is_none_or(|end| candidate < end) {
                return segment.offset.to_timestamp(candidate).ok();
            }
            let end = segment.end?;
            let next = self.segment_from(end, segment.offset);
            if next.gap_matches(expr) {
                return Some(end);
            }
            segment = next;
            found = segment
                .first_wall_time(expr)
                .and_then(|w| expr.next_from(w));
        }
    }

    /// The last fire of `expr` strictly before `before`.
    pub(crate) fn last_fire(&self, expr: &CronExpr, before: Timestamp) -> Option<Timestamp> {
        let mut segment = self.segment_at(before);
        let mut found = expr.last_before(segment.offset.to_datetime(before));
        loop {
            let candidate = found?;
            if segment
                .first_wall_time(expr)
                .is_none_or(|first| candidate >= first)
            {
                return segment.offset.to_timestamp(candidate).ok();
            }
            let start = segment.start?;
            if start < before && segment.gap_matches(expr) {
                return Some(start);
            }
            segment = self.segment_until(start);
            found = segment
                .end_wall_time()
                .and_then(|end| expr.last_before(end));
        }
    }
}

/// A stretch of time with one UTC offset, between two transitions (`None`: unbounded).
struct Segment {
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    offset: Offset,
    /// The offset before `start`.
    before: Option<Offset>,
}

impl Segment {
    /// The first wall-clock time at which `expr` may fire in this segment: its start, or,
    /// after an overlap, the end of the repeated range unless `expr` is periodic.
    /// `None`: the segment has no start.
    fn first_wall_time(&self, expr: &CronExpr) -> Option<DateTime> {
        let start = self.start?;
        let own = self.offset.to_datetime(start);
        match self.before {
            Some(before) if before > self.offset && !expr.is_periodic() => {
                Some(before.to_datetime(start))
            }
            _ => Some(own),
        }
    }

    /// The wall-clock time at which the segment ends (exclusive).
    fn end_wall_time(&self) -> Option<DateTime> {
        self.end.map(|end| self.offset.to_datetime(end))
    }

    /// Whether this segment starts with a gap in which `expr` matches.
    fn gap_matches(&self, expr: &CronExpr) -> bool {
        match (self.start, self.before) {
            (Some(start), Some(before)) if before < self.offset => {
                expr.matches_within(before.to_datetime(start), self.offset.to_datetime(start))
            }
            _ => false,
        }
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Zone").field(&self.name).finish()
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Two zones are equal when their canonical names are.
impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}
