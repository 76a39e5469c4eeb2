//! Tests of [`ScheduleSpec`]: construction, errors, interval and one-off evaluation, serde.

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a valid timestamp")
}

#[test]
fn parse_cron_reports_the_bad_part() {
    let err = ScheduleSpec::parse_cron("0 8 * * *", "Europe/Berlinn").expect_err("refused");
    assert_eq!(err.to_string(), "unknown time zone \"Europe/Berlinn\"");
    assert_eq!(err.input(), "timezone");
    let err = ScheduleSpec::parse_cron("0 8 * * 8", "Europe/Berlin").expect_err("refused");
    assert_eq!(err.to_string(), "day-of-week 8 is out of range 0-7");
    assert_eq!(err.input(), "cron");
    assert_eq!(
        err,
        ScheduleError::InvalidField {
            field: "day-of-week",
            message: "day-of-week 8 is out of range 0-7".to_owned()
        }
    );
    let err = ScheduleSpec::parse_cron("0 8 * *", "UTC").expect_err("refused");
    assert_eq!(
        err.to_string(),
        "cron expression needs 5 or 6 fields, got 4"
    );
}

#[test]
fn zones_resolve_case_insensitively_to_canonical_names() {
    assert_eq!(
        Zone::parse("europe/berlin")
            .expect("valid in this test")
            .name(),
        "Europe/Berlin"
    );
    assert_eq!(Zone::parse("UTC").expect("valid in this test"), Zone::utc());
    assert!(Zone::parse("Mars/Olympus_Mons").is_err());
    assert!(Zone::parse("").is_err());
}

#[test]
fn cron_in_utc_and_kolkata() {
    let utc = ScheduleSpec::parse_cron("0 8 * * *", "UTC").expect("valid in this test");
    assert_eq!(
        utc.next_fire(ts("2024-05-01T08:00:00Z")),
        Some(ts("2024-05-02T08:00:00Z"))
    );
    assert_eq!(
        utc.next_fire(ts("2024-05-01T07:59:59.999Z")),
        Some(ts("2024-05-01T08:00:00Z"))
    );
    let kolkata =
        ScheduleSpec::parse_cron("0 8 * * *", "Asia/Kolkata").expect("valid in this test");
    assert_eq!(
        kolkata.next_fire(ts("2024-05-01T00:00:00Z")),
        Some(ts("2024-05-01T02:30:00Z"))
    );
    let seconds = ScheduleSpec::parse_cron("*/20 * * * * *", "UTC").expect("valid in this test");
    assert_eq!(
        seconds.fires_between(ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:01:00Z"), 10),
        ["00:20", "00:40", "01:00"].map(|ms| ts(&format!("2024-05-01T00:{ms}Z")))
    );
}

#[test]
fn interval_fires_at_anchor_plus_multiples() {
    let anchor = ts("2024-05-01T00:00:00Z");
    let spec = ScheduleSpec::every(Duration::from_secs(90), anchor).expect("valid in this test");
    assert_eq!(spec.next_fire(ts("2020-01-01T00:00:00Z")), Some(anchor));
    assert_eq!(spec.next_fire(anchor), Some(ts("2024-05-01T00:01:30Z")));
    assert_eq!(
        spec.next_fire(ts("2024-05-01T00:02:59.5Z")),
        Some(ts("2024-05-01T00:03:00Z"))
    );
    assert_eq!(spec.last_fire(anchor), None);
    assert_eq!(
        spec.last_fire(ts("2024-05-01T00:03:00Z")),
        Some(ts("2024-05-01T00:01:30Z"))
    );
    assert_eq!(
        spec.last_fire(ts("2024-05-01T00:03:00.001Z")),
        Some(ts("2024-05-01T00:03:00Z"))
    );
    // Elapsed time: a DST change anywhere makes no difference.
    assert_eq!(
        spec.fires_between(anchor, ts("2024-05-01T00:06:00Z"), 100)
            .len(),
        4
    );
}

#[test]
fn interval_must_be_whole_positive_milliseconds() {
    let anchor = ts("2024-05-01T00:00:00Z");
    let err = ScheduleSpec::every(Duration::ZERO, anchor).expect_err("refused");
    assert_eq!(err.input(), "every_ms");
    assert!(
        err.to_string()
            .starts_with("interval must be a whole number of milliseconds")
    );
    assert!(ScheduleSpec::every(Duration::from_micros(1_500), anchor).is_err());
    assert!(ScheduleSpec::every(Duration::from_millis(1), anchor).is_ok());
    // A zero interval built by hand fires once, never loops.
    let zero = ScheduleSpec::Every {
        interval: Duration::ZERO,
        anchor,
    };
    assert_eq!(
        zero.fires_between(ts("2020-01-01T00:00:00Z"), Timestamp::MAX, 10),
        [anchor]
    );
}

#[test]
fn one_off_fires_once() {
    let at = ts("2024-05-01T12:00:00Z");
    let spec = ScheduleSpec::At { at };
    assert_eq!(spec.next_fire(ts("2024-05-01T11:59:59Z")), Some(at));
    assert_eq!(spec.next_fire(at), None);
    assert_eq!(spec.last_fire(at), None);
    assert_eq!(spec.last_fire(ts("2024-05-01T12:00:01Z")), Some(at));
    assert_eq!(spec.fires_between(ts("2024-01-01T00:00:00Z"), at, 5), [at]);
    assert!(
        spec.fires_between(ts("2024-01-01T00:00:00Z"), ts("2024-05-01T11:00:00Z"), 5)
            .is_empty()
    );
}

#[test]
fn fires_between_respects_until_and_max() {
    let spec = ScheduleSpec::parse_cron("0 * * * *", "UTC").expect("valid in this test");
    let fires = spec.fires_between(ts("2024-05-01T00:00:00Z"), ts("2024-05-01T03:00:00Z"), 10);
    assert_eq!(fires.len(), 3, "after is exclusive, until inclusive");
    assert_eq!(fires.last(), Some(&ts("2024-05-01T03:00:00Z")));
    let fires = spec.fires_between(ts("2024-05-01T00:00:00Z"), Timestamp::MAX, 2);
    assert_eq!(
        fires,
        [ts("2024-05-01T01:00:00Z"), ts("2024-05-01T02:00:00Z")]
    );
}

#[test]
fn stores_as_tagged_json_and_checks_on_load() {
    let cron =
        ScheduleSpec::parse_cron("0  8 * * MON-FRI", "europe/berlin").expect("valid in this test");
    let json = serde_json::to_string(&cron).expect("valid in this test");
    assert_eq!(
        json,
        r#"{"kind":"cron","expr":"0 8 * * MON-FRI","timezone":"Europe/Berlin"}"#
    );
    assert_eq!(
        serde_json::from_str::<ScheduleSpec>(&json).expect("valid in this test"),
        cron
    );

    let every = ScheduleSpec::every(Duration::from_secs(90), ts("2024-01-01T00:00:00Z"))
        .expect("valid in this test");
    let json = serde_json::to_string(&every).expect("valid in this test");
    assert_eq!(
        json,
        r#"{"kind":"every","interval_ms":90000,"anchor":"2024-01-01T00:00:00Z"}"#
    );
    assert_eq!(
        serde_json::from_str::<ScheduleSpec>(&json).expect("valid in this test"),
        every
    );

    let at = ScheduleSpec::At {
        at: ts("2024-01-01T00:00:00.25Z"),
    };
    let json = serde_json::to_string(&at).expect("valid in this test");
    assert_eq!(json, r#"{"kind":"at","at":"2024-01-01T00:00:00.25Z"}"#);
    assert_eq!(
        serde_json::from_str::<ScheduleSpec>(&json).expect("valid in this test"),
        at
    );

    let bad = r#"{"kind":"cron","expr":"0 8 * * *","timezone":"Nowhere/Land"}"#;
    let err = serde_json::from_str::<ScheduleSpec>(bad).expect_err("refused");
    assert!(err.to_string().contains("unknown time zone"), "{err}");
    let bad = r#"{"kind":"every","interval_ms":0,"anchor":"2024-01-01T00:00:00Z"}"#;
    assert!(serde_json::from_str::<ScheduleSpec>(bad).is_err());
}
