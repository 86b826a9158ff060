//! Dates and times as midnet writes and reads them: UTC timestamps of audit records, `YYYY-MM-DD`
//! dates, calendar-month arithmetic. Which date is *today* on a home is the home's business
//! (`center::today`).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::error::Result;

/// The current time in UTC, as audit records write it (RFC 3339, milliseconds, `Z`).
pub fn now_utc() -> DateTime<Utc> {
    Utc::now()
}

pub fn format_utc(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse a `YYYY-MM-DD` date given as `what` (an option or variable name, for the message).
pub fn parse_date(what: &str, text: &str) -> Result<NaiveDate> {
    let text = text.trim();
    parse_ymd(text).map_err(|why| crate::bad_input!("{what}: {}", why.about(text)))
}

/// Why a text is not a `YYYY-MM-DD` date. It does not hold the text, which may be a cell of a
/// dataset: the caller shows it, or withholds it, in [`NotADate::about`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotADate {
    /// Not four digits, two and two, joined by `-`.
    Form,
    Month(u32),
    /// A day past the end of its month (`month` as `February 2023`).
    Day {
        month: String,
        days: u32,
    },
}

impl NotADate {
    /// The message about the text shown as `shown`.
    pub fn about(&self, shown: &str) -> String {
        match self {
            NotADate::Form => format!("`{shown}` is not a date; write dates as YYYY-MM-DD"),
            NotADate::Month(m) => format!("`{shown}` is not a date: there is no month {m}"),
            NotADate::Day { month, days } => format!("`{shown}` is not a date: {month} has {days} days"),
        }
    }
}

/// The one reader of `YYYY-MM-DD` dates: exactly four digits, two and two, naming a real day.
pub fn parse_ymd(text: &str) -> std::result::Result<NaiveDate, NotADate> {
    let parts: Vec<&str> = text.split('-').collect();
    let well_formed = parts.len() == 3
        && [4, 2, 2].iter().zip(&parts).all(|(&n, p)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(NotADate::Form);
    }
    let number = |p: &str| p.parse::<u32>().expect("digits");
    let (y, m, d) = (number(parts[0]) as i32, number(parts[1]), number(parts[2]));
    if !(1..=12).contains(&m) {
        return Err(NotADate::Month(m));
    }
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| {
        let days = (28..=31).rev().find(|&n| NaiveDate::from_ymd_opt(y, m, n).is_some()).unwrap_or(28);
        let month = NaiveDate::from_ymd_opt(y, m, 1).map(|d| d.format("%B %Y").to_string()).unwrap_or_default();
        NotADate::Day { month, days }
    })
}

/// `date` plus `months` calendar months (clamped to the end of a shorter month).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(chrono::Months::new(months)).unwrap_or(NaiveDate::MAX)
}

/// `date` minus `months` calendar months.
pub fn sub_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_sub_months(chrono::Months::new(months)).unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date("test", s).unwrap()
    }

    #[test]
    fn month_arithmetic_clamps_to_month_end() {
        assert_eq!(add_months(d("2024-02-29"), 24), d("2026-02-28"));
        assert_eq!(sub_months(d("2026-06-30"), 4), d("2026-02-28"));
        assert_eq!(add_months(d("2026-01-31"), 3), d("2026-04-30"));
    }

    #[test]
    fn dates_must_be_iso() {
        assert_eq!(parse_ymd("2024-02-29"), Ok(d("2024-02-29")));
        assert_eq!(parse_ymd("2023-02-30").unwrap_err().about("x"), "`x` is not a date: February 2023 has 28 days");
        assert_eq!(parse_ymd("2023-13-01"), Err(NotADate::Month(13)));
        for bad in ["2023-1-01", "2023/01/01", "23-01-01", "2023-01-01T00:00", "", "２０２３-01-01"] {
            assert_eq!(parse_ymd(bad), Err(NotADate::Form), "{bad}");
        }
        assert!(parse_date("--start", "2026/04/01").is_err());
        assert!(parse_date("--start", "2026-02-30").is_err());
    }
}
