//! The date the rules use, and the UTC time audit records carry.
//!
//! A production home takes its dates from the system clock, and nothing moves them. A home made
//! for tests or the demo with `center init --simulated-clock DATE` keeps its date in
//! `HOME/clock.json`; only its reviewer moves it (`midnet center clock set DATE`, audited), and
//! every audit record written on it carries the simulated date. The time of day, audit timestamps,
//! session expiry and login locks are wall-clock time on every home.

use chrono::{DateTime, Local, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::home::Home;
use super::store;
use crate::error::{Error, Result};

/// Today's date for the rules, and whether it is a simulated clock's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Today {
    pub date: NaiveDate,
    pub simulated: bool,
}

impl Today {
    /// Today on `home`: its simulated clock's date, or the system's local date.
    pub fn of(home: &Home) -> Result<Today> {
        match home.settings().simulated_clock {
            Some(_) => Ok(Today { date: SimulatedClock::load(home)?.today, simulated: true }),
            None => Ok(Today { date: Local::now().date_naive(), simulated: false }),
        }
    }

    /// The date an audit record carries: the simulated one, none on a production home.
    pub fn audited(&self) -> Option<NaiveDate> {
        self.simulated.then_some(self.date)
    }
}

/// `clock.json` of a home made with `--simulated-clock`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimulatedClock {
    pub today: NaiveDate,
}

impl SimulatedClock {
    fn load(home: &Home) -> Result<SimulatedClock> {
        store::read_json(&home.clock_path())
    }

    pub(crate) fn save(&self, home: &Home) -> Result<()> {
        store::write_json(&home.clock_path(), self)
    }
}

/// Move a simulated home's clock to `date` (its reviewer); returns the date it read before.
/// Refused (rule `clock`) on a production home, whose dates are the system's.
pub fn set(actor: &super::Actor, date: NaiveDate) -> Result<NaiveDate> {
    actor.require_reviewer("moving the clock")?;
    let home = actor.home();
    if home.settings().simulated_clock.is_none() {
        return Err(Error::refused(
            "clock",
            format!(
                "{} takes its dates from the system clock; only a home made with `center init --simulated-clock DATE` \
                 (tests, demonstrations) has a clock that can be set",
                home.root().display()
            ),
        ));
    }
    let _lock = home.lock_documents()?;
    let before = SimulatedClock::load(home)?.today;
    SimulatedClock { today: date }.save(home)?;
    Ok(before)
}

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
