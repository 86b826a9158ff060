//! What makes a column usable for the statistics, stated once. Each check returns the first bad
//! row and what is wrong with it; the library turns that into an error naming the argument, the
//! command line into one naming the file, column and line.

use crate::bad_input;
use crate::error::{Error, Result};

/// A problem with one value: its row (from 0) and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct BadValue {
    pub row: usize,
    pub what: String,
}

impl BadValue {
    /// The library's error for a bad value of argument `argument`.
    pub fn into_error(self, argument: &str) -> Error {
        bad_input!("`{argument}`, row {}: {}", self.row + 1, self.what)
    }
}

/// The first time that is not a finite number ≥ 0.
pub fn bad_time(time: &[f64]) -> Option<BadValue> {
    let row = time.iter().position(|t| !(t.is_finite() && *t >= 0.0))?;
    let t = time[row];
    let what = if t.is_nan() {
        "missing time".to_string()
    } else if t < 0.0 {
        format!(
            "negative time {} (follow-up time cannot be negative; check the start and end dates)",
            crate::withhold::cell(t)
        )
    } else {
        format!("time {} is not a finite number", crate::withhold::cell(t))
    };
    Some(BadValue { row, what })
}

/// The first value that is not a whole number ≥ 0 (an event count).
pub fn bad_count(values: &[f64]) -> Option<BadValue> {
    let row = values.iter().position(|v| !(v.is_finite() && *v >= 0.0 && v.fract() == 0.0 && *v <= u32::MAX as f64))?;
    Some(BadValue {
        row,
        what: format!("{} is not an event count (a whole number ≥ 0)", crate::withhold::cell(values[row])),
    })
}

/// 0/1 values as flags; the first other value is an error.
pub fn flags(values: &[f64]) -> Result<Vec<bool>, BadValue> {
    values
        .iter()
        .enumerate()
        .map(|(row, &v)| {
            if v == 1.0 {
                Ok(true)
            } else if v == 0.0 {
                Ok(false)
            } else {
                Err(BadValue {
                    row,
                    what: format!("value {} is not 0 or 1 (1 marks an event, 0 censoring)", crate::withhold::cell(v)),
                })
            }
        })
        .collect()
}

/// Two row-aligned arguments have the same length.
pub fn same_length(a: (&str, usize), b: (&str, usize)) -> Result<()> {
    if a.1 == b.1 {
        Ok(())
    } else {
        Err(bad_input!("`{}` has {} rows but `{}` has {}; give one value per patient in each", a.0, a.1, b.0, b.1))
    }
}

/// Times checked for the library: the error names the argument and row.
pub fn times(time: &[f64]) -> Result<()> {
    match bad_time(time) {
        Some(bad) => Err(bad.into_error("time")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bad_time_is_found() {
        assert_eq!(bad_time(&[1.0, 0.0, 2.5]), None);
        assert_eq!(bad_time(&[1.0, -2.0, f64::NAN]).unwrap().row, 1);
        assert!(bad_time(&[f64::NAN]).unwrap().what.contains("missing"));
        assert!(bad_time(&[f64::INFINITY]).unwrap().what.contains("finite"));
    }

    #[test]
    fn flags_accept_only_zero_and_one() {
        assert_eq!(flags(&[0.0, 1.0]).unwrap(), [false, true]);
        let bad = flags(&[0.0, 1.0, 2.0]).unwrap_err();
        assert_eq!(bad.row, 2);
        assert!(bad.what.contains("not 0 or 1"));
    }

    #[test]
    fn counts_are_whole_and_non_negative() {
        assert_eq!(bad_count(&[0.0, 3.0]), None);
        assert_eq!(bad_count(&[0.0, 1.5]).unwrap().row, 1);
        assert_eq!(bad_count(&[-1.0]).unwrap().row, 0);
    }
}
