//! Values and their types, shared by the query model, both engines and the output readers.
//!
//! Dates are calendar dates without time zone, held as days since 1970-01-01 (DuckDB's `DATE`
//! holds the same number). Numbers are IEEE doubles; whole numbers are `i64`. `Missing` is SQL's
//! NULL: a missing value never satisfies a condition.

use std::cmp::Ordering;
use std::fmt;

use chrono::{Datelike, NaiveDate};

/// The type of a value in the language and the query model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int,
    Float,
    Text,
    Date,
}

impl Type {
    /// The name used in scripts and messages.
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "condition (true/false)",
            Type::Int => "whole number",
            Type::Float => "number",
            Type::Text => "text",
            Type::Date => "date",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }
}

/// One value. `Timestamp` (microseconds since 1970-01-01 00:00, no time zone) only appears in
/// the rows of `lab_result`, where it orders same-day results; scripts see its `date`.
#[derive(Debug, Clone)]
pub enum Value {
    Missing,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Date(i32),
    Timestamp(i64),
}

impl Value {
    pub fn is_missing(&self) -> bool {
        matches!(self, Value::Missing)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Whole numbers widen to doubles, as in SQL.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<i32> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The order events are sorted in: ascending, missing last. Numbers compare as doubles (an
    /// integer column never meets a double column here; both sides have one column's type).
    pub fn order(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Missing, Missing) => Ordering::Equal,
            (Missing, _) => Ordering::Greater,
            (_, Missing) => Ordering::Less,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Date(a), Date(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (a, b) => match (a.as_float(), b.as_float()) {
                (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                _ => Ordering::Equal,
            },
        }
    }

    /// Equality for comparing results of two engines: same type and value, doubles bit for bit
    /// (so that `0.1 + 0.2` computed two ways must agree exactly), whole numbers across widths.
    pub fn same(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Missing, Missing) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits() || (a == b),
            (Text(a), Text(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (Timestamp(a), Timestamp(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => f.write_str(""),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
            Value::Date(d) => f.write_str(&format_date(*d)),
            Value::Timestamp(t) => {
                let dt = chrono::DateTime::from_timestamp_micros(*t).map(|d| d.naive_utc());
                match dt {
                    Some(dt) => write!(f, "{}", dt.format("%Y-%m-%d %H:%M:%S")),
                    None => write!(f, "{t}"),
                }
            }
        }
    }
}

impl Value {
    /// A value read from DuckDB. Integers of every width become `Int`; a type the schema and the
    /// compiled queries never produce is an internal error.
    pub fn from_duckdb(value: duckdb::types::Value) -> crate::Result<Value> {
        use duckdb::types::{TimeUnit, Value as D};
        Ok(match value {
            D::Null => Value::Missing,
            D::Boolean(b) => Value::Bool(b),
            D::TinyInt(i) => Value::Int(i as i64),
            D::SmallInt(i) => Value::Int(i as i64),
            D::Int(i) => Value::Int(i as i64),
            D::BigInt(i) => Value::Int(i),
            D::HugeInt(i) => Value::Int(i as i64),
            D::UTinyInt(i) => Value::Int(i as i64),
            D::USmallInt(i) => Value::Int(i as i64),
            D::UInt(i) => Value::Int(i as i64),
            D::UBigInt(i) => Value::Int(i as i64),
            D::Float(f) => Value::Float(f as f64),
            D::Double(f) => Value::Float(f),
            D::Text(s) => Value::Text(s),
            D::Date32(d) => Value::Date(d),
            D::Timestamp(unit, t) => Value::Timestamp(match unit {
                TimeUnit::Second => t * 1_000_000,
                TimeUnit::Millisecond => t * 1_000,
                TimeUnit::Microsecond => t,
                TimeUnit::Nanosecond => t / 1_000,
            }),
            other => return Err(crate::Error::Internal(format!("unexpected value type from DuckDB: {other:?}"))),
        })
    }
}

const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The calendar date of a day number.
pub fn naive_date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_FROM_CE).unwrap_or(NaiveDate::MIN)
}

pub fn day_number(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    naive_date(days).format("%Y-%m-%d").to_string()
}

/// Parse `YYYY-MM-DD` as a day number; `Err` says why the text is not a date (`2023-02-30`:
/// February 2023 has 28 days).
pub fn parse_date(text: &str) -> Result<i32, String> {
    crate::clock::parse_ymd(text).map(day_number).map_err(|why| why.about(text))
}

/// Completed years from `birth` to `at`: the birthday counts as reached on its month and day (a
/// 29 February birthday is reached on 1 March in common years).
pub fn completed_years(birth: i32, at: i32) -> i64 {
    let (b, a) = (naive_date(birth), naive_date(at));
    let before_birthday = (a.month(), a.day()) < (b.month(), b.day());
    (a.year() - b.year()) as i64 - before_birthday as i64
}

/// The first day of the date's month.
pub fn first_of_month(days: i32) -> i32 {
    let date = naive_date(days);
    days - (date.day() as i32 - 1)
}

/// `YYYY-MM` of a date.
pub fn year_month(days: i32) -> String {
    naive_date(days).format("%Y-%m").to_string()
}

pub fn year(days: i32) -> i64 {
    naive_date(days).year() as i64
}

/// The date of a timestamp (microseconds since the epoch), as DuckDB's `CAST(ts AS DATE)`.
pub fn timestamp_date(micros: i64) -> i32 {
    micros.div_euclid(86_400_000_000) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_explain_themselves() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
        assert_eq!(parse_date("2023-02-30").unwrap_err(), "`2023-02-30` is not a date: February 2023 has 28 days");
        assert!(parse_date("2023-13-01").unwrap_err().contains("no month 13"));
        assert!(parse_date("2023/01/01").unwrap_err().contains("YYYY-MM-DD"));
    }

    #[test]
    fn completed_years_count_birthdays() {
        let d = |s| parse_date(s).unwrap();
        assert_eq!(completed_years(d("1960-05-10"), d("2020-05-09")), 59);
        assert_eq!(completed_years(d("1960-05-10"), d("2020-05-10")), 60);
        assert_eq!(completed_years(d("2000-02-29"), d("2021-02-28")), 20);
        assert_eq!(completed_years(d("2000-02-29"), d("2021-03-01")), 21);
        assert_eq!(timestamp_date(-1), -1);
    }

    #[test]
    fn first_of_month_keeps_year_and_month() {
        let d = |s| parse_date(s).unwrap();
        for (date, first) in [("1960-05-31", "1960-05-01"), ("1960-05-01", "1960-05-01"), ("1900-02-28", "1900-02-01")]
        {
            assert_eq!(first_of_month(d(date)), d(first), "{date}");
        }
        assert_eq!(first_of_month(d("1969-12-31")), d("1969-12-01"), "before the epoch");
    }
}
