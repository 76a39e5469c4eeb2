//! Property test of cron evaluation against an independent reference.
//!
//! Random expressions are built from typed fields, so the reference knows each field's
//! set of values without parsing text. The reference walks civil days, and on every day
//! whose date matches, steps minute by minute (second by second inside a matching minute,
//! for 6-field expressions) through the wall clock, resolves each matching wall-clock time
//! with jiff and applies the documented DST rules directly:
//! a time in a gap fires at the first wall-clock second after it that exists; a time that
//! occurs twice fires at the earlier instant, and also at the later one if the expression
//! is periodic. The first resulting instant after the start must be `next_fire`'s answer.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp, ToSpan};
use proptest::prelude::*;
use workhorse_core::{ScheduleError, ScheduleSpec};

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
];

/// How far the reference looks ahead, in days.
const HORIZON_DAYS: i32 = 800;

#[derive(Debug, Clone)]
enum Item {
    Value(u32),
    Range(u32, u32),
    RangeStep(u32, u32, u32),
}

#[derive(Debug, Clone)]
enum FieldGen {
    Star,
    StarStep(u32),
    List(Vec<Item>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Time,
    Month,
    Weekday,
}

#[derive(Debug, Clone)]
struct Field {
    shape: FieldGen,
    min: u32,
    max: u32,
    kind: Kind,
    /// Render months and weekdays by name (in this case).
    names: Option<bool>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Field {
    fn values(&self) -> Vec<u32> {
        let stepped = |a: u32, b: u32, n: u32| (a..=b).step_by(n as usize).collect::<Vec<_>>();
        let mut values = match &self.shape {
            FieldGen::Star => (self.min..=self.max).collect(),
            FieldGen::StarStep(n) => stepped(self.min, self.max, *n),
            FieldGen::List(items) => items
                .iter()
                .flat_map(|item| match *item {
                    Item::Value(v) => vec![v],
                    Item::Range(a, b) => (a..=b).collect(),
                    Item::RangeStep(a, b, n) => stepped(a, b, n),
                })
                .collect(),
        };
        if self.kind == Kind::Weekday {
            // 7 is Sunday, as 0 is.
            for v in &mut values {
                *v %= 7;
            }
        }
        values
    }

    fn mask(&self) -> u64 {
        self.values().into_iter().fold(0, |mask, v| mask | 1 << v)
    }

    fn is_star(&self) -> bool {
        matches!(self.shape, FieldGen::Star)
    }

    fn starts_with_star(&self) -> bool {
        matches!(self.shape, FieldGen::Star | FieldGen::StarStep(_))
    }

    fn name(&self, value: u32, range_start: bool, after_start: bool) -> String {
        let Some(lower) = self.names else {
            return value.to_string();
        };
        let name = match self.kind {
            Kind::Month => MONTHS[value as usize - 1],
            Kind::Weekday if value < 7 => DAYS[value as usize],
            // SUN ends a range as 7 only after a later start (`FRI-SUN`); `SUN-SUN` is 0-0.
            Kind::Weekday if !range_start && after_start => DAYS[0],
            _ => return value.to_string(),
        };
        if lower {
            name.to_lowercase()
        } else {
            name.to_owned()
        }
    }

    fn range(&self, a: u32, b: u32) -> String {
        format!(
            "{}-{}",
            self.name(a, true, false),
            self.name(b, false, a > 0)
        )
    }

    fn render(&self) -> String {
        match &self.shape {
            FieldGen::Star => "*".to_owned(),
            FieldGen::StarStep(n) => format!("*/{n}"),
            FieldGen::List(items) => items
                .iter()
                .map(|item| match *item {
                    Item::Value(v) => self.name(v, true, false),
                    Item::Range(a, b) => self.range(a, b),
                    Item::RangeStep(a, b, n) => format!("{}/{n}", self.range(a, b)),
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

#[derive(Debug, Clone)]
struct Expr {
    second: Option<Field>,
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
}

impl Expr {
    fn render(&self) -> String {
        let mut fields: Vec<String> = self.second.iter().map(Field::render).collect();
        for field in [&self.minute, &self.hour, &self.dom, &self.month, &self.dow] {
            fields.push(field.render());
        }
        fields.join(" ")
    }

    fn periodic(&self) -> bool {
        let second = self.second.as_ref().is_some_and(Field::starts_with_star);
        second || self.minute.starts_with_star() || self.hour.starts_with_star()
    }

    fn second_field(&self) -> u64 {
        self.second.as_ref().map_or(1, Field::mask)
    }
}

/// The reference's view of an expression: each field as a set of values (a bit mask).
struct Reference {
    second: u64,
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    dom_star: bool,
    dow_star: bool,
    periodic: bool,
}

fn has(mask: u64, value: u32) -> bool {
    mask >> value & 1 == 1
}

impl Reference {
    fn new(expr: &Expr) -> Reference {
        Reference {
            second: expr.second_field(),
            minute: expr.minute.mask(),
            hour: expr.hour.mask(),
            dom: expr.dom.mask(),
            month: expr.month.mask(),
            dow: expr.dow.mask(),
            dom_star: expr.dom.is_star(),
            dow_star: expr.dow.is_star(),
            periodic: expr.periodic(),
        }
    }

    /// Vixie cron's day rule: both day fields restricted means either may match.
    fn date_matches(&self, date: Date) -> bool {
        if !has(self.month, date.month() as u32) {
            return false;
        }
        let dom = has(self.dom, date.day() as u32);
        let dow = has(self.dow, date.weekday().to_sunday_zero_offset() as u32);
        match (self.dom_star, self.dow_star) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first fire strictly after `after`, or `None` if none within the horizon.
    ///
    /// Walks the wall clock minute by minute (second by second inside a matching minute)
    /// from an hour before `after`'s wall-clock time, skipping whole days whose date does
    /// not match. Offsets in the test zones differ by at most an hour, so no fire after
    /// `after` has an earlier wall-clock time than that, and once a fire is found, none
    /// with a wall-clock time more than an hour past its own can be earlier.
    fn next(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        let margin = 1.hour();
        let from = tz
            .to_datetime(after)
            .checked_sub(margin)
            .expect("valid in this test");
        let mut best: Option<(Timestamp, DateTime)> = None;
        // The end of the last gap met: every time before it in the gap fires at the same
        // instant, already considered.
        let mut gap_end: Option<DateTime> = None;
        let mut date = from.date();
        for _ in 0..HORIZON_DAYS {
            if best.is_some_and(|(_, until)| date > until.date()) {
                break;
            }
            if self.date_matches(date) {
                for civil in self.matching_times(date).filter(|&c| c >= from) {
                    if best.is_some_and(|(_, until)| civil > until) {
                        break;
                    }
                    if gap_end.is_some_and(|end| civil < end) {
                        continue;
                    }
                    let (fires, gap) = instants(tz, civil, self.periodic);
                    gap_end = gap.or(gap_end);
                    for fire in fires {
                        if fire > after && best.is_none_or(|(b, _)| fire < b) {
                            best = Some((
                                fire,
                                tz.to_datetime(fire)
                                    .checked_add(margin)
                                    .expect("valid in this test"),
                            ));
                        }
                    }
                }
            }
            date = date.tomorrow().expect("valid in this test");
        }
        best.map(|(fire, _)| fire)
    }

    /// The matching wall-clock times of a day, in order: minute by minute, and second by
    /// second inside a matching minute.
    fn matching_times(&self, date: Date) -> impl Iterator<Item = DateTime> + '_ {
        (0..24 * 60)
            .filter(|m| has(self.hour, m / 60) && has(self.minute, m % 60))
            .flat_map(move |m| {
                (0..60)
                    .filter(|&s| has(self.second, s))
                    .map(move |s| date.at((m / 60) as i8, (m % 60) as i8, s as i8, 0))
            })
    }
}

/// The instants a matching wall-clock time fires at, by the documented rules, and, for a
/// time in a gap, the wall-clock time that ends the gap.
fn instants(tz: &TimeZone, civil: DateTime, periodic: bool) -> (Vec<Timestamp>, Option<DateTime>) {
    match tz.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => (
            vec![offset.to_timestamp(civil).expect("valid in this test")],
            None,
        ),
        AmbiguousOffset::Gap { .. } => {
            // Step the wall clock on until it exists: the first instant after the gap.
            let mut later = civil;
            loop {
                later = later.checked_add(1.second()).expect("valid in this test");
                if let AmbiguousOffset::Unambiguous { offset } =
                    tz.to_ambiguous_timestamp(later).offset()
                {
                    return (
                        vec![offset.to_timestamp(later).expect("valid in this test")],
                        Some(later),
                    );
                }
            }
        }
        AmbiguousOffset::Fold { before, after } => {
            let first = before.to_timestamp(civil).expect("valid in this test");
            let second = after.to_timestamp(civil).expect("valid in this test");
            (
                if periodic {
                    vec![first, second]
                } else {
                    vec![first]
                },
                None,
            )
        }
    }
}

fn item(min: u32, max: u32, values: BoxedStrategy<u32>) -> impl Strategy<Value = Item> {
    prop_oneof![
        3 => values.clone().prop_map(Item::Value),
        2 => (values.clone(), values.clone()).prop_map(|(a, b)| Item::Range(a.min(b), a.max(b))),
        1 => (values.clone(), values, 1..=max - min)
            .prop_map(|(a, b, n)| Item::RangeStep(a.min(b), a.max(b), n)),
    ]
}

/// A field; `star` weighs how often it is `*` (against 4 for the other shapes).
fn field(
    min: u32,
    max: u32,
    kind: Kind,
    values: BoxedStrategy<u32>,
    star: u32,
) -> impl Strategy<Value = Field> {
    let shape = prop_oneof![
        star => Just(FieldGen::Star),
        1 => (1..=max - min).prop_map(FieldGen::StarStep),
        3 => proptest::collection::vec(item(min, max, values), 1..=3).prop_map(FieldGen::List),
    ];
    let names = if kind == Kind::Time {
        Just(None).boxed()
    } else {
        any::<Option<bool>>().boxed()
    };
    (shape, names).prop_map(move |(shape, names)| Field {
        shape,
        min,
        max,
        kind,
        names,
    })
}

fn expr() -> impl Strategy<Value = Expr> {
    let plain = |min: u32, max: u32| (min..=max).boxed();
    // Hours near the usual transition times (00:00-03:59) come up more often, and day
    // fields are often `*`, so that fixed-time expressions meet DST transitions too.
    let hours = prop_oneof![3 => 0..=3u32, 1 => 0..=23u32].boxed();
    (
        proptest::option::of(field(0, 59, Kind::Time, plain(0, 59), 2)),
        field(0, 59, Kind::Time, plain(0, 59), 2),
        field(0, 23, Kind::Time, hours, 2),
        field(1, 31, Kind::Time, plain(1, 31), 6),
        field(1, 12, Kind::Month, plain(1, 12), 6),
        field(0, 7, Kind::Weekday, plain(0, 7), 6),
    )
        .prop_map(|(second, minute, hour, dom, month, dow)| Expr {
            second,
            minute,
            hour,
            dom,
            month,
            dow,
        })
}

fn zone(index: usize) -> TimeZone {
    TimeZoneDatabase::bundled()
        .get(ZONES[index])
        .expect("a bundled zone")
}

/// Random instants in 2001-2035, half of them within three hours of a transition.
fn start(tz: &TimeZone, seconds: i64, near_transition: bool, shift: i64) -> Timestamp {
    let base = Timestamp::from_second(978_307_200 + seconds).expect("valid in this test");
    let transition = tz.following(base).next().filter(|_| near_transition);
    transition.map_or(base, |t| t.timestamp() + SignedDuration::from_secs(shift))
}

/// Compares `next_fire` with the reference for a few fires in a row from `after`, so the
/// walk passes through transitions from every side; checks `last_fire` on the way.
fn agree(expr: &Expr, zone_index: usize, mut after: Timestamp) -> Result<(), TestCaseError> {
    let text = expr.render();
    let tz = zone(zone_index);
    let spec = match ScheduleSpec::parse_cron(&text, ZONES[zone_index]) {
        Ok(spec) => spec,
        Err(ScheduleError::NeverFires(_)) => {
            // Refused as never firing: no date in a 28-year cycle may match.
            let start = jiff::civil::date(2000, 1, 1);
            let reference = Reference::new(expr);
            let any = (0..28 * 366).any(|n| {
                reference.date_matches(start.checked_add(n.days()).expect("valid in this test"))
            });
            prop_assert!(!any, "{text:?} was refused, but some date matches");
            return Ok(());
        }
        Err(err) => return Err(TestCaseError::fail(format!("{text:?}: {err}"))),
    };
    let reference = Reference::new(expr);
    for _ in 0..4 {
        let expected = reference.next(&tz, after);
        let actual = spec.next_fire(after);
        let Some(expected) = expected else {
            // Past the reference's horizon: only check that nothing came sooner.
            let horizon = after + SignedDuration::from_hours(24 * i64::from(HORIZON_DAYS - 3));
            prop_assert!(
                actual.is_none_or(|a| a > horizon),
                "{text:?} after {after}: {actual:?}"
            );
            return Ok(());
        };
        prop_assert_eq!(
            actual,
            Some(expected),
            "{:?} in {} after {}",
            text,
            ZONES[zone_index],
            after
        );
        let Some(fire) = actual else { return Ok(()) };
        // Walking back from the fire finds one at or before the start, and forward again.
        if let Some(previous) = spec.last_fire(fire) {
            prop_assert!(
                previous <= after,
                "{text:?}: last_fire({fire}) = {previous} > {after}"
            );
            prop_assert_eq!(spec.next_fire(previous), Some(fire));
        }
        after = fire;
    }
    Ok(())
}

/// Expressions that fire at night on every day: the ones DST transitions affect.
fn night_expr() -> impl Strategy<Value = Expr> {
    let plain = |min: u32, max: u32| (min..=max).boxed();
    let star = |min: u32, max: u32, kind: Kind| Field {
        shape: FieldGen::Star,
        min,
        max,
        kind,
        names: None,
    };
    (
        proptest::option::of(field(0, 59, Kind::Time, plain(0, 59), 2)),
        field(0, 59, Kind::Time, plain(0, 59), 2),
        field(0, 23, Kind::Time, plain(0, 3), 1),
    )
        .prop_map(move |(second, minute, hour)| Expr {
            second,
            minute,
            hour,
            dom: star(1, 31, Kind::Time),
            month: star(1, 12, Kind::Month),
            dow: star(0, 7, Kind::Weekday),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn next_fire_agrees_with_the_reference(
        expr in expr(),
        zone_index in 0..ZONES.len(),
        seconds in 0..1_104_537_600i64,
        near_transition in any::<bool>(),
        shift in -10_800..10_800i64,
    ) {
        let after = start(&zone(zone_index), seconds, near_transition, shift);
        agree(&expr, zone_index, after)?;
    }

    #[test]
    fn next_fire_agrees_with_the_reference_around_transitions(
        expr in night_expr(),
        // Europe/Berlin, America/New_York, Australia/Lord_Howe.
        zone_index in 1..=3usize,
        seconds in 0..1_104_537_600i64,
        shift in -14_400..3_600i64,
    ) {
        let after = start(&zone(zone_index), seconds, true, shift);
        agree(&expr, zone_index, after)?;
    }
}
