//! Field-by-field checks of a cron expression's text, so a bad expression is refused with a
//! message that names the field and the value (`day-of-week 8 is out of range 0-7`) rather
//! than croner's generic "Number out of bounds.".
//!
//! The checks accept a subset of what croner accepts (croner also takes years, `0/10`,
//! empty list items and `#` on ranges); anything that passes here is handed to croner,
//! which does the matching.

use super::ScheduleError;

/// The fields of a cron expression, in the words the messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// Smallest and largest value; day-of-week 7 is Sunday, as 0 is.
    fn range(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// The value a three-letter name stands for, if the field takes names.
    fn named_value(self, token: &str) -> Option<u32> {
        let names: &[&str] = match self {
            Field::Month => &MONTHS,
            Field::DayOfWeek => &WEEKDAYS,
            _ => return None,
        };
        let position = names.iter().position(|n| n.eq_ignore_ascii_case(token))?;
        let first = u32::from(self == Field::Month);
        Some(position as u32 + first)
    }

    fn error(self, message: String) -> ScheduleError {
        ScheduleError::InvalidField {
            field: self.name(),
            message,
        }
    }
}

/// The order of fields in a 5- and a 6-field expression.
const FIVE: [Field; 5] = [
    Field::Minute,
    Field::Hour,
    Field::DayOfMonth,
    Field::Month,
    Field::DayOfWeek,
];
const SIX: [Field; 6] = [
    Field::Second,
    Field::Minute,
    Field::Hour,
    Field::DayOfMonth,
    Field::Month,
    Field::DayOfWeek,
];

/// An expression that passed the checks.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The fields as written, joined by single spaces (shortcuts expanded): what is shown
    /// and stored.
    pub text: String,
    /// The same with names turned into numbers: what croner parses. Translating here keeps
    /// croner's own name handling (which reads `SUN-SUN` as every day) out of play.
    pub numeric: String,
    /// A `*` (or `*/n`) in the second, minute or hour field: the expression repeats through
    /// the day and follows elapsed time across a fall-back overlap.
    pub periodic: bool,
}

/// Checks every field of `expr`.
pub(crate) fn check(expr: &str) -> Result<Checked, ScheduleError> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(ScheduleError::FieldCount(0));
    }
    let expanded = if trimmed.starts_with('@') {
        expand_shortcut(trimmed)?
    } else {
        trimmed
    };
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    let fields: &[Field] = match parts.len() {
        5 => &FIVE,
        6 => &SIX,
        n => return Err(ScheduleError::FieldCount(n)),
    };
    let mut periodic = false;
    let mut numeric = Vec::with_capacity(parts.len());
    for (&field, &text) in fields.iter().zip(&parts) {
        numeric.push(check_field(field, text)?);
        let time_of_day = matches!(field, Field::Second | Field::Minute | Field::Hour);
        periodic |= time_of_day && text.split(',').any(|item| item.starts_with('*'));
    }
    Ok(Checked {
        text: parts.join(" "),
        numeric: numeric.join(" "),
        periodic,
    })
}

fn expand_shortcut(text: &str) -> Result<&'static str, ScheduleError> {
    const SHORTCUTS: [(&str, &str); 7] = [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ];
    SHORTCUTS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|&(_, fields)| fields)
        .ok_or_else(|| ScheduleError::UnknownShortcut(text.to_owned()))
}

/// Checks one field; returns it with names turned into numbers.
fn check_field(field: Field, text: &str) -> Result<String, ScheduleError> {
    let day_field = matches!(field, Field::DayOfMonth | Field::DayOfWeek);
    if day_field && text == "?" {
        return Ok("*".to_owned());
    }
    let list = text.contains(',');
    let mut items = Vec::new();
    for item in text.split(',') {
        if list && (item == "*" || item == "?") {
            return Err(field.error(format!(
                "{} {item:?} cannot be combined with other values in {text:?}",
                field.name()
            )));
        }
        if item.is_empty() {
            return Err(field.error(format!("{} has an empty item in {text:?}", field.name())));
        }
        items.push(check_item(field, item)?);
    }
    Ok(items.join(","))
}

/// One list item: `*`, `*/n`, `v`, `a-b`, `a-b/n`, or a day field's `L`, `LW`, `nW`, `dL`,
/// `d#n`.
fn check_item(field: Field, item: &str) -> Result<String, ScheduleError> {
    if let Some(special) = check_special_day(field, item)? {
        return Ok(special);
    }
    let name = field.name();
    let (base, step) = match item.split_once('/') {
        None => (item, None),
        Some((_, step)) if step.contains('/') => {
            return Err(field.error(format!("{name} {item:?} has more than one \"/\"")));
        }
        Some((base, step)) => (base, Some(check_step(field, step)?)),
    };
    let base = match base.split_once('-') {
        _ if base == "*" => "*".to_owned(),
        Some((start, end)) => check_range(field, start, end)?,
        None => {
            let single = value(field, base)?;
            if let Some(step) = step {
                let (_, max) = field.range();
                return Err(field.error(format!(
                    "{name} {item:?}: a step needs \"*\" or a range before it, \
                     as in \"*/{step}\" or \"{base}-{max}/{step}\""
                )));
            }
            single.to_string()
        }
    };
    Ok(match step {
        Some(step) => format!("{base}/{step}"),
        None => base,
    })
}

/// `L`, `LW` and `nW` in day-of-month; `dL` and `d#n` in day-of-week. `None`: not one.
fn check_special_day(field: Field, item: &str) -> Result<Option<String>, ScheduleError> {
    let upper = item.to_ascii_uppercase();
    match field {
        Field::DayOfMonth if upper == "L" || upper == "LW" => Ok(Some(upper)),
        Field::DayOfMonth => match upper.strip_suffix('W') {
            Some(day) => value(field, day).map(|day| Some(format!("{day}W"))),
            None => Ok(None),
        },
        Field::DayOfWeek => {
            if let Some((day, nth)) = upper.split_once('#') {
                let day = value(field, day)?;
                let in_range = nth.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n));
                if !in_range {
                    return Err(field.error(format!(
                        "day-of-week {item:?}: the week after \"#\" must be 1-5, got {nth:?}"
                    )));
                }
                return Ok(Some(format!("{day}#{nth}")));
            }
            // A trailing L means "the last <weekday> of the month"; day names never end in L.
            match upper.strip_suffix('L') {
                Some(day) if !day.is_empty() => {
                    value(field, day).map(|day| Some(format!("{day}L")))
                }
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn check_step(field: Field, step: &str) -> Result<u32, ScheduleError> {
    let name = field.name();
    let (min, max) = field.range();
    let Ok(step) = step.parse::<u32>() else {
        return Err(field.error(format!("{name} step {step:?} is not a number")));
    };
    if step == 0 {
        return Err(field.error(format!("{name} step 0 must be at least 1")));
    }
    if step > max - min {
        return Err(field.error(format!(
            "{name} step {step} is too large; steps run from 1 to {}",
            max - min
        )));
    }
    Ok(step)
}

/// `a-b`, returned as numbers.
fn check_range(field: Field, start: &str, end: &str) -> Result<String, ScheduleError> {
    let first = value(field, start)?;
    let mut last = value(field, end)?;
    // `FRI-SUN` runs to the Sunday at the end of the week; `SUN-SUN` is just Sunday.
    if field == Field::DayOfWeek && last == 0 && first > 0 && field.named_value(end).is_some() {
        last = 7;
    }
    if first > last {
        return Err(field.error(format!(
            "{} range {start}-{end} runs backwards; write the smaller value first",
            field.name()
        )));
    }
    Ok(format!("{first}-{last}"))
}

/// A number or a name within the field's range.
fn value(field: Field, token: &str) -> Result<u32, ScheduleError> {
    let name = field.name();
    let (min, max) = field.range();
    if let Some(named) = field.named_value(token) {
        return Ok(named);
    }
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        let hint = match field {
            Field::Month => " or a month name (JAN-DEC)",
            Field::DayOfWeek => " or a day name (SUN-SAT)",
            _ => "",
        };
        return Err(field.error(format!("{name} {token:?} is not a number{hint}")));
    }
    match token.parse::<u32>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(field.error(format!("{name} {token} is out of range {min}-{max}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(expr: &str) -> String {
        check(expr).expect_err("an invalid expression").to_string()
    }

    #[test]
    fn accepts_the_usual_forms() {
        for expr in [
            "0 8 * * *",
            "*/15 * * * *",
            "0 9-17/2 * * MON-FRI",
            "30 0 0 1,15 JAN,jul *",
            "0 0 L * *",
            "0 0 LW * *",
            "0 0 15W * *",
            "0 0 * * 5L",
            "0 0 * * FRI#2",
            "0 0 ? * 1",
            "0 22 * * FRI-SUN",
            "@daily",
            "@HOURLY",
        ] {
            assert!(check(expr).is_ok(), "{expr}: {:?}", check(expr));
        }
    }

    #[test]
    fn messages_name_the_field_and_value() {
        assert_eq!(message("0 0 * * 8"), "day-of-week 8 is out of range 0-7");
        assert_eq!(message("60 * * * *"), "minute 60 is out of range 0-59");
        assert_eq!(message("0 24 * * *"), "hour 24 is out of range 0-23");
        assert_eq!(message("0 0 0 * *"), "day-of-month 0 is out of range 1-31");
        assert_eq!(message("0 0 * 13 *"), "month 13 is out of range 1-12");
        assert_eq!(message("61 0 0 * * *"), "second 61 is out of range 0-59");
        assert_eq!(message("0 0 * * 1-9"), "day-of-week 9 is out of range 0-7");
        assert_eq!(
            message("0 99999999999 * * *"),
            "hour 99999999999 is out of range 0-23"
        );
    }

    #[test]
    fn messages_for_field_counts_and_shortcuts() {
        assert_eq!(
            message("* * * *"),
            "cron expression needs 5 or 6 fields, got 4"
        );
        assert_eq!(
            message("0 0 0 1 1 * 2030"),
            "cron expression needs 5 or 6 fields, got 7"
        );
        assert_eq!(message("   "), "cron expression needs 5 or 6 fields, got 0");
        assert!(message("@fortnightly").contains("unknown cron shortcut \"@fortnightly\""));
    }

    #[test]
    fn messages_for_ranges_steps_and_syntax() {
        assert_eq!(
            message("0 17-9 * * *"),
            "hour range 17-9 runs backwards; write the smaller value first"
        );
        assert_eq!(message("*/0 * * * *"), "minute step 0 must be at least 1");
        assert_eq!(
            message("*/60 * * * *"),
            "minute step 60 is too large; steps run from 1 to 59"
        );
        assert_eq!(message("*/x * * * *"), "minute step \"x\" is not a number");
        assert_eq!(
            message("0/10 * * * *"),
            "minute \"0/10\": a step needs \"*\" or a range before it, as in \"*/10\" or \"0-59/10\""
        );
        assert_eq!(
            message("1,,2 * * * *"),
            "minute has an empty item in \"1,,2\""
        );
        assert_eq!(
            message("0 0 * FOO *"),
            "month \"FOO\" is not a number or a month name (JAN-DEC)"
        );
        assert_eq!(
            message("0 0 * * MON#6"),
            "day-of-week \"MON#6\": the week after \"#\" must be 1-5, got \"6\""
        );
        assert_eq!(message("0 L * * *"), "hour \"L\" is not a number");
        assert_eq!(
            message("*/5/2 * * * *"),
            "minute \"*/5/2\" has more than one \"/\""
        );
        assert_eq!(
            message("*,5 * * * *"),
            "minute \"*\" cannot be combined with other values in \"*,5\""
        );
        assert!(check("*/5,7 * * * *").is_ok());
    }

    #[test]
    fn periodic_means_a_star_in_a_time_of_day_field() {
        let periodic = |e: &str| check(e).map(|c| c.periodic).expect("valid in this test");
        assert!(periodic("0 * * * *"));
        assert!(periodic("*/15 * * * *"));
        assert!(periodic("* 2 * * *"));
        assert!(periodic("*/10 30 2 * * *"));
        assert!(periodic("5,*/20 2 * * *"));
        assert!(!periodic("30 2 * * *"));
        assert!(!periodic("0,30 2,3 * * *"));
        assert!(!periodic("0 0-23 * * *"));
        assert!(!periodic("0 30 2 * * *"));
    }

    #[test]
    fn text_is_normalised() {
        assert_eq!(
            check("  0   8 * *\t*  ").expect("valid in this test").text,
            "0 8 * * *"
        );
        assert_eq!(
            check("@weekly").expect("valid in this test").text,
            "0 0 * * 0"
        );
    }

    #[test]
    fn names_become_numbers_for_croner() {
        let numeric = |e: &str| check(e).expect("valid in this test").numeric;
        assert_eq!(numeric("0 22 * jan,Jul FRI-SUN"), "0 22 * 1,7 5-7");
        assert_eq!(numeric("0 22 * * SUN-SUN"), "0 22 * * 0-0");
        assert_eq!(numeric("0 22 * * sun-sat/2"), "0 22 * * 0-6/2");
        assert_eq!(numeric("0 22 ? * fri#2"), "0 22 * * 5#2");
        assert_eq!(numeric("0 22 lw * friL"), "0 22 LW * 5L");
        assert_eq!(numeric("0 0 15w * ?"), "0 0 15W * *");
    }
}
