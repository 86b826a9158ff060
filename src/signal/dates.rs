//! Dates in input tables, as day numbers (days since 0001-01-01), so that intervals are integers.

use chrono::Datelike;

use crate::error::Result;
use crate::table::Frame;

/// A date column (`YYYY-MM-DD`, or a DATE/TIMESTAMP column) as day numbers; missing cells are None.
pub fn days(frame: &Frame, column: &str) -> Result<Vec<Option<i32>>> {
    let texts = frame.texts(column)?;
    texts
        .iter()
        .enumerate()
        .map(|(row, text)| match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => {
                let date_part = t.split([' ', 'T']).next().unwrap_or(t);
                crate::clock::parse_ymd(date_part)
                    .map(|d| Some(d.num_days_from_ce()))
                    .map_err(|why| frame.bad_row(column, row, &why.about(&crate::withhold::cell(t))))
            }
        })
        .collect()
}

/// A date column in which every cell must be present.
pub fn required_days(frame: &Frame, column: &str) -> Result<Vec<i32>> {
    days(frame, column)?
        .into_iter()
        .enumerate()
        .map(|(row, d)| d.ok_or_else(|| frame.bad_row(column, row, "missing date")))
        .collect()
}
