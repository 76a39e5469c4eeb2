//! Hand-written DST cases: `Europe/Berlin`, `America/New_York` and `Australia/Lord_Howe` (whose
//! clock moves by 30 minutes), around both of each year's transitions.

use super::ScheduleSpec;
use crate::Timestamp;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a valid timestamp")
}

fn cron(expr: &str, zone: &str) -> ScheduleSpec {
    ScheduleSpec::parse_cron(expr, zone).expect("a valid schedule")
}

/// Fires in `(after, until]`, as RFC 3339 instants in UTC, checking that walking back with
/// `last_fire` finds the same ones.
fn fires(spec: &ScheduleSpec, after: &str, until: &str) -> Vec<String> {
    let fires = spec.fires_between(ts(after), ts(until), 1_000);
    for pair in fires.windows(2) {
        assert_eq!(
            spec.last_fire(pair[1]),
            Some(pair[0]),
            "walking back from {}",
            pair[1]
        );
    }
    fires.iter().map(ToString::to_string).collect()
}

#[test]
fn berlin_spring_forward_gap_fires_once_right_after() {
    // 2024-03-31: 02:00 CET (01:00Z) becomes 03:00 CEST.
    let spec = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&spec, "2024-03-29T12:00:00Z", "2024-04-01T12:00:00Z"),
        [
            "2024-03-30T01:30:00Z", // 02:30 CET
            "2024-03-31T01:00:00Z", // 03:00 CEST, the first instant after the gap
            "2024-04-01T00:30:00Z", // 02:30 CEST
        ]
    );
    // Several matching times in the gap, and 03:00 too: still one fire.
    let spec = cron("0,30 2,3 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&spec, "2024-03-30T23:00:00Z", "2024-03-31T02:00:00Z"),
        ["2024-03-31T01:00:00Z", "2024-03-31T01:30:00Z"]
    );
}

#[test]
fn berlin_fall_back_overlap_fires_at_the_first_occurrence() {
    // 2024-10-27: 03:00 CEST (01:00Z) becomes 02:00 CET; 02:00-02:59 happen twice.
    let spec = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&spec, "2024-10-25T12:00:00Z", "2024-10-28T12:00:00Z"),
        [
            "2024-10-26T00:30:00Z", // 02:30 CEST
            "2024-10-27T00:30:00Z", // 02:30 CEST, the first occurrence only
            "2024-10-28T01:30:00Z", // 02:30 CET
        ]
    );
    // Asked from inside the second pass, the repeat is still not a fire.
    assert_eq!(
        spec.next_fire(ts("2024-10-27T01:10:00Z")),
        Some(ts("2024-10-28T01:30:00Z"))
    );
}

#[test]
fn berlin_eight_am_stays_eight_am_across_both_transitions() {
    let spec = cron("0 8 * * *", "Europe/Berlin");
    for (after, until) in [
        ("2024-03-25T00:00:00Z", "2024-04-05T00:00:00Z"),
        ("2024-10-20T00:00:00Z", "2024-11-02T00:00:00Z"),
    ] {
        let fires = spec.fires_between(ts(after), ts(until), 100);
        assert!(fires.len() >= 10);
        let mut previous_day = None;
        for fire in fires {
            let local = fire.in_tz("Europe/Berlin").expect("valid in this test");
            assert_eq!(
                (local.hour(), local.minute(), local.second()),
                (8, 0, 0),
                "{local}"
            );
            if let Some(day) = previous_day {
                assert_eq!(local.date(), day + jiff::Span::new().days(1));
            }
            previous_day = Some(local.date());
        }
    }
}

#[test]
fn berlin_hourly_and_quarter_hourly_follow_elapsed_time() {
    let hourly = cron("0 * * * *", "Europe/Berlin");
    assert_eq!(
        fires(&hourly, "2024-03-30T22:30:00Z", "2024-03-31T02:30:00Z"),
        [
            "2024-03-30T23:00:00Z", // 00:00 CET
            "2024-03-31T00:00:00Z", // 01:00 CET
            "2024-03-31T01:00:00Z", // 02:00 is skipped: 03:00 CEST, once
            "2024-03-31T02:00:00Z", // 04:00 CEST
        ]
    );
    // The fall-back day has 25 hours, and an hourly schedule fires 25 times.
    let day = fires(&hourly, "2024-10-26T21:59:59Z", "2024-10-27T22:59:59Z");
    assert_eq!(day.len(), 25);
    assert_eq!(&day[2..4], ["2024-10-27T00:00:00Z", "2024-10-27T01:00:00Z"]);

    let quarter = cron("*/15 * * * *", "Europe/Berlin");
    let fall = fires(&quarter, "2024-10-27T00:00:00Z", "2024-10-27T02:00:00Z");
    assert_eq!(
        fall.len(),
        8,
        "every 15 real minutes through the repeated hour: {fall:?}"
    );
    let spring = fires(&quarter, "2024-03-31T00:30:00Z", "2024-03-31T01:30:00Z");
    assert_eq!(
        spring,
        [
            "2024-03-31T00:45:00Z",
            "2024-03-31T01:00:00Z",
            "2024-03-31T01:15:00Z",
            "2024-03-31T01:30:00Z"
        ]
    );
}

#[test]
fn new_york_spring_forward_and_fall_back() {
    // 2024-03-10: 02:00 EST (07:00Z) becomes 03:00 EDT.
    let spec = cron("30 2 * * *", "America/New_York");
    assert_eq!(
        fires(&spec, "2024-03-09T12:00:00Z", "2024-03-11T12:00:00Z"),
        ["2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z"]
    );
    // 2024-11-03: 02:00 EDT (06:00Z) becomes 01:00 EST; 01:00-01:59 happen twice.
    let spec = cron("30 1 * * *", "America/New_York");
    assert_eq!(
        fires(&spec, "2024-11-02T12:00:00Z", "2024-11-04T12:00:00Z"),
        ["2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"]
    );
    let fixed = cron("0,30 1 * * *", "America/New_York");
    assert_eq!(
        fires(&fixed, "2024-11-03T04:00:00Z", "2024-11-03T08:00:00Z").len(),
        2
    );
    let periodic = cron("*/30 1 * * *", "America/New_York");
    assert_eq!(
        fires(&periodic, "2024-11-03T04:00:00Z", "2024-11-03T08:00:00Z"),
        [
            "2024-11-03T05:00:00Z",
            "2024-11-03T05:30:00Z",
            "2024-11-03T06:00:00Z",
            "2024-11-03T06:30:00Z"
        ]
    );
}

#[test]
fn lord_howe_half_hour_shifts() {
    // 2024-10-06: 02:00 LHST (+10:30, 15:30Z on the 5th) becomes 02:30 LHDT (+11).
    let spec = cron("15 2 * * *", "Australia/Lord_Howe");
    assert_eq!(
        fires(&spec, "2024-10-04T12:00:00Z", "2024-10-06T18:00:00Z"),
        [
            "2024-10-04T15:45:00Z", // 02:15 LHST
            "2024-10-05T15:30:00Z", // 02:30 LHDT, right after the gap
            "2024-10-06T15:15:00Z", // 02:15 LHDT
        ]
    );
    let hourly = cron("0 * * * *", "Australia/Lord_Howe");
    assert_eq!(
        fires(&hourly, "2024-10-05T14:00:00Z", "2024-10-05T17:00:00Z"),
        [
            "2024-10-05T14:30:00Z", // 01:00 LHST
            "2024-10-05T15:30:00Z", // 02:00 is skipped: 02:30 LHDT
            "2024-10-05T16:00:00Z", // 03:00 LHDT
            "2024-10-05T17:00:00Z",
        ]
    );
    // 2024-04-07: 02:00 LHDT (15:00Z on the 6th) becomes 01:30 LHST; 01:30-01:59 twice.
    let spec = cron("45 1 * * *", "Australia/Lord_Howe");
    assert_eq!(
        fires(&spec, "2024-04-06T00:00:00Z", "2024-04-07T18:00:00Z"),
        ["2024-04-06T14:45:00Z", "2024-04-07T15:15:00Z"]
    );
    let quarter = cron("*/15 * * * *", "Australia/Lord_Howe");
    assert_eq!(
        fires(&quarter, "2024-04-06T14:20:00Z", "2024-04-06T15:30:00Z"),
        [
            "2024-04-06T14:30:00Z", // 01:30 LHDT
            "2024-04-06T14:45:00Z", // 01:45 LHDT
            "2024-04-06T15:00:00Z", // 01:30 LHST
            "2024-04-06T15:15:00Z", // 01:45 LHST
            "2024-04-06T15:30:00Z", // 02:00 LHST
        ]
    );
}

#[test]
fn last_fire_from_inside_an_overlap() {
    let spec = cron("30 2 * * *", "Europe/Berlin");
    // 02:45 CET, in the second pass: the last fire is the first pass's 02:30 CEST.
    assert_eq!(
        spec.last_fire(ts("2024-10-27T01:45:00Z")),
        Some(ts("2024-10-27T00:30:00Z"))
    );
    let periodic = cron("*/30 2 * * *", "Europe/Berlin");
    assert_eq!(
        periodic.last_fire(ts("2024-10-27T01:45:00Z")),
        Some(ts("2024-10-27T01:30:00Z"))
    );
    assert_eq!(
        periodic.last_fire(ts("2024-10-27T01:00:00Z")),
        Some(ts("2024-10-27T00:30:00Z"))
    );
    // Exactly at the spring-forward instant: the gap fire is not strictly before it.
    assert_eq!(
        spec.last_fire(ts("2024-03-31T01:00:00Z")),
        Some(ts("2024-03-30T01:30:00Z"))
    );
    assert_eq!(
        spec.last_fire(ts("2024-03-31T01:00:00.000001Z")),
        Some(ts("2024-03-31T01:00:00Z"))
    );
}
