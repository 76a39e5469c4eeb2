//! A checked cron expression and the search for matching wall-clock times.
//!
//! Croner walks the civil (zone-less) calendar here: it never sees a time zone, so its own
//! DST handling plays no part. Mapping wall-clock times to instants, with the DST rules, is
//! [`super::zone`]'s job.

use super::{ScheduleError, cron_text};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil::DateTime;
use std::fmt;

/// A cron expression (5 fields, or 6 with leading seconds) that passed every check and is
/// known to match at least one date.
#[derive(Clone)]
pub struct CronExpr {
    text: String,
    /// Boxed: croner's pattern is a few hundred bytes, and specs are moved around.
    cron: Box<Cron>,
    periodic: bool,
}

impl CronExpr {
    /// Checks `expr` field by field, then parses it.
    pub fn parse(expr: &str) -> Result<CronExpr, ScheduleError> {
        let checked = cron_text::check(expr)?;
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = parser
            .parse(&checked.numeric)
            .map_err(|err| ScheduleError::Cron {
                expr: checked.text.clone(),
                message: err.to_string(),
            })?;
        let parsed = CronExpr {
            text: checked.text,
            cron: Box::new(cron),
            periodic: checked.periodic,
        };
        // A pattern either never matches or matches within every 400-year Gregorian cycle,
        // so one search from any start tells which.
        if parsed
            .next_after(DateTime::constant(2000, 1, 1, 0, 0, 0, 0))
            .is_none()
        {
            return Err(ScheduleError::NeverFires(parsed.text));
        }
        Ok(parsed)
    }

    /// The expression, fields separated by single spaces.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a `*` in the second, minute or hour field makes the expression repeat
    /// through the day, so that it follows elapsed time in a fall-back overlap.
    pub fn is_periodic(&self) -> bool {
        self.periodic
    }

    /// Whether the wall-clock time `at` (whole seconds) matches.
    pub fn matches(&self, at: DateTime) -> bool {
        self.cron.is_time_matching(&at).unwrap_or(false)
    }

    /// The first matching wall-clock time strictly after `after`.
    pub(crate) fn next_after(&self, after: DateTime) -> Option<DateTime> {
        // Croner drops sub-seconds and steps one second on, which is exactly "strictly
        // after" for matches that are whole seconds.
        self.cron.find_next_occurrence(&after, false).ok()
    }

    /// The first matching wall-clock time at or after `from`, which is a whole second.
    pub(crate) fn next_from(&self, from: DateTime) -> Option<DateTime> {
        self.cron.find_next_occurrence(&from, true).ok()
    }

    /// The last matching wall-clock time strictly before `before`.
    pub(crate) fn last_before(&self, before: DateTime) -> Option<DateTime> {
        // Croner drops sub-seconds: with some, the whole second itself is before `before`.
        let inclusive = before.subsec_nanosecond() != 0;
        self.cron.find_previous_occurrence(&before, inclusive).ok()
    }

    /// Whether some wall-clock time in `[from, until)` matches (`from` a whole second).
    pub(crate) fn matches_within(&self, from: DateTime, until: DateTime) -> bool {
        self.next_from(from).is_some_and(|at| at < until)
    }
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronExpr").field(&self.text).finish()
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Two expressions are equal when their (normalised) text is.
impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for CronExpr {}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn expr(text: &str) -> CronExpr {
        CronExpr::parse(text).expect("a valid expression")
    }

    #[test]
    fn never_matching_dates_are_refused() {
        let err = CronExpr::parse("0 0 30 2 *").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "cron expression \"0 0 30 2 *\" never fires: no date matches its day-of-month, \
             month and day-of-week fields"
        );
        assert!(CronExpr::parse("0 0 31 4,6,9,11 *").is_err());
        // 29 February exists in leap years; with OR semantics Mondays match too.
        assert!(CronExpr::parse("0 0 29 2 *").is_ok());
        assert!(CronExpr::parse("0 0 30 2 1").is_ok());
    }

    #[test]
    fn searches_the_civil_calendar() {
        let daily = expr("30 2 * * *");
        let at = date(2024, 3, 31).at(1, 0, 0, 0);
        assert_eq!(
            daily.next_after(at),
            Some(date(2024, 3, 31).at(2, 30, 0, 0))
        );
        let half_past = date(2024, 3, 31).at(2, 30, 0, 500_000_000);
        assert_eq!(
            daily.next_after(half_past),
            Some(date(2024, 4, 1).at(2, 30, 0, 0))
        );
        assert_eq!(
            daily.last_before(half_past),
            Some(date(2024, 3, 31).at(2, 30, 0, 0))
        );
        let whole = date(2024, 3, 31).at(2, 30, 0, 0);
        assert_eq!(
            daily.last_before(whole),
            Some(date(2024, 3, 30).at(2, 30, 0, 0))
        );
        assert_eq!(daily.next_from(whole), Some(whole));
    }

    #[test]
    fn day_specials_match_as_documented() {
        let last_day = expr("0 0 L * *");
        let from = date(2024, 2, 10).at(0, 0, 0, 0);
        assert_eq!(
            last_day.next_after(from),
            Some(date(2024, 2, 29).at(0, 0, 0, 0))
        );
        let second_friday = expr("0 0 * * FRI#2");
        assert_eq!(
            second_friday.next_after(from),
            Some(date(2024, 3, 8).at(0, 0, 0, 0))
        );
        let last_sunday = expr("0 0 * * 0L");
        assert_eq!(
            last_sunday.next_after(from),
            Some(date(2024, 2, 25).at(0, 0, 0, 0))
        );
    }

    #[test]
    fn day_of_month_and_week_both_restricted_match_either() {
        // 1 June 2024 is a Saturday; Mondays in June are 3, 10, 17, 24.
        let either = expr("0 0 1 6 MON");
        let from = date(2024, 5, 31).at(12, 0, 0, 0);
        assert_eq!(
            either.next_after(from),
            Some(date(2024, 6, 1).at(0, 0, 0, 0))
        );
        let next = either.next_after(date(2024, 6, 1).at(0, 0, 0, 0));
        assert_eq!(next, Some(date(2024, 6, 3).at(0, 0, 0, 0)));
    }
}
