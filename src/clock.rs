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
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| crate::bad_input!("{what}: {text:?} is not a date; write it as YYYY-MM-DD, e.g. 2026-04-01"))
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
        assert!(parse_date("--start", "2026/04/01").is_err());
        assert!(parse_date("--start", "2026-02-30").is_err());
    }
}
