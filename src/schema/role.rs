//! What a column of a result table means: the role the export gate judges it by (a count of people,
//! a rate, one person's value…). Scripts declare the roles of their outputs, the SQL generator and
//! the statistics write them into sidecars, the gate reads them: so the vocabulary lives here, below
//! all of them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    PersonCount,
    EventCount,
    AtRisk,
    Denominator,
    PersonTime,
    Rate,
    Proportion,
    Ratio,
    IntervalBound,
    PValue,
    Estimate,
    Label,
    AgeBand,
    Sex,
    Site,
    Time,
    Date,
    Other,
    /// A quantile (median, quartile, percentile) of the values of the people counted in its row:
    /// its level is read from the column name (`median`, `q1`, `p90`).
    Quantile,
    /// A minimum or maximum (or any one person's value picked from a group).
    Extreme,
    /// The time at which one person's event or censoring happened: a Kaplan-Meier step time, a time
    /// to onset.
    EventTime,
}

impl ColumnRole {
    /// The roles the small-cell rule applies to.
    pub fn counts_people(self) -> bool {
        matches!(self, ColumnRole::PersonCount | ColumnRole::EventCount | ColumnRole::AtRisk | ColumnRole::Denominator)
    }

    /// The roles of one person's value inside a statistic (the export gate's `individual_value`).
    pub fn is_individual_value(self) -> bool {
        matches!(self, ColumnRole::Quantile | ColumnRole::Extreme | ColumnRole::EventTime)
    }
}
