//! The date the rules use on a home.
//!
//! A production home takes its dates from the system clock, and nothing moves them. A home made
//! for tests or the demo with `center init --simulated-clock DATE` keeps its date in
//! `HOME/clock.json`; only its reviewer moves it (`midnet center clock set DATE`, audited), and
//! every audit record written on it carries the simulated date. The time of day, audit timestamps,
//! session expiry and login locks are wall-clock time on every home.

use chrono::{Local, NaiveDate};
use serde::{Deserialize, Serialize};

use super::home::Home;
use crate::error::{Error, Result};
use crate::store;

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
