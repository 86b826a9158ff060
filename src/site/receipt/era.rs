//! Dates as claim files write them (hospital-inputs.md §0.1): the current specification
//! (令和4年4月版) writes `YYYYMMDD` and `YYYYMM`; older files `GYYMMDD` and `GYYMM`, `G` the era
//! (1 明治, 2 大正, 3 昭和, 4 平成, 5 令和). Real archives hold both, so the form is told by the
//! length, as the specification's reference reader does. An era date past the era's end
//! (平成31年5月) is converted arithmetically, as systems kept printing the old era after 改元.

use chrono::NaiveDate;

use crate::site::load::reasons::receipt as problems;

/// A claim month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// The `day`th of the month, if the month has it.
    pub fn day(self, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, day)
    }

    /// The month's last day.
    pub fn last_day(self) -> NaiveDate {
        (28..=31).rev().find_map(|day| self.day(day)).expect("a month has its 28th")
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The Gregorian year of year `yy` of era `g`.
fn era_year(g: u8, yy: i32) -> Option<i32> {
    let offset = match g {
        1 => 1867,
        2 => 1911,
        3 => 1925,
        4 => 1988,
        5 => 2018,
        _ => return None,
    };
    (yy >= 1).then_some(offset + yy)
}

fn number(digits: &str) -> Option<u32> {
    digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok()).flatten()
}

/// A date field: `Ok(None)` when empty or `0`, `Err` when it is not a date of either form.
pub fn date(text: &str) -> Result<Option<NaiveDate>, String> {
    let text = text.trim();
    if text.is_empty() || text == "0" {
        return Ok(None);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problems::NOT_DATE_DIGITS.to_string());
    }
    let parsed = match text.len() {
        8 => number(&text[..4])
            .zip(number(&text[4..6]))
            .zip(number(&text[6..]))
            .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y as i32, m, d)),
        7 => number(text).and_then(|_| {
            let year = era_year(text.as_bytes()[0] - b'0', text[1..3].parse().ok()?)?;
            NaiveDate::from_ymd_opt(year, text[3..5].parse().ok()?, text[5..].parse().ok()?)
        }),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| problems::NOT_A_DATE.to_string())
}

/// A month field: `Ok(None)` when empty or `0`, `Err` when it is not a month of either form.
pub fn month(text: &str) -> Result<Option<Month>, String> {
    let text = text.trim();
    if text.is_empty() || text == "0" {
        return Ok(None);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problems::NOT_MONTH_DIGITS.to_string());
    }
    let parsed = match text.len() {
        6 => number(&text[..4]).zip(number(&text[4..])).map(|(y, m)| (y as i32, m)),
        5 => number(text).and_then(|_| {
            Some((era_year(text.as_bytes()[0] - b'0', text[1..3].parse().ok()?)?, text[3..].parse().ok()?))
        }),
        _ => None,
    };
    match parsed {
        Some((year, month)) if (1..=12).contains(&month) => Ok(Some(Month { year, month })),
        _ => Err(problems::NOT_A_MONTH.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    /// The specification's examples (§0.1).
    #[test]
    fn both_forms_are_read_by_length() {
        assert_eq!(date("3240522"), Ok(ymd(1949, 5, 22)));
        assert_eq!(date("4310109"), Ok(ymd(2019, 1, 9)));
        assert_eq!(date("5060401"), Ok(ymd(2024, 4, 1)));
        assert_eq!(date("20240401"), Ok(ymd(2024, 4, 1)));
        assert_eq!(month("42203"), Ok(Some(Month { year: 2010, month: 3 })));
        assert_eq!(month("202403"), Ok(Some(Month { year: 2024, month: 3 })));
        // 平成31年5月: after 改元, converted arithmetically.
        assert_eq!(date("4310501"), Ok(ymd(2019, 5, 1)));
        assert_eq!(date(""), Ok(None));
        assert_eq!(date("0"), Ok(None));
    }

    #[test]
    fn a_month_knows_its_last_day() {
        assert_eq!(Some(Month { year: 2024, month: 2 }.last_day()), ymd(2024, 2, 29));
        assert_eq!(Some(Month { year: 2023, month: 2 }.last_day()), ymd(2023, 2, 28));
        assert_eq!(Some(Month { year: 2024, month: 4 }.last_day()), ymd(2024, 4, 30));
        assert_eq!(Some(Month { year: 2024, month: 12 }.last_day()), ymd(2024, 12, 31));
    }

    #[test]
    fn what_is_not_a_date_is_refused() {
        for bad in ["6240101", "20230230", "2024041", "R060401", "202413", "4000101", "２０２４0401"] {
            assert!(date(bad).is_err() || month(bad).is_err(), "{bad}");
        }
        assert!(date("20230230").is_err());
        assert!(month("202413").is_err());
        assert!(date("6240101").is_err(), "no era 6");
        assert!(date("4000101").is_err(), "no year 0 of an era");
    }
}
