//! What the commands show on a terminal: aligned text tables, JSON, and the dates they read.

use std::fmt::Write as _;

use crate::error::{Error, Result};

/// Every column of a [`text_table`] is text (left-aligned).
pub const ALL_TEXT: usize = usize::MAX;

/// Columns padded to their widest cell for a terminal: the first `text_columns` are text,
/// left-aligned; the rest are numbers, right-aligned.
pub fn text_table(header: &[&str], rows: &[Vec<String>], text_columns: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| if i < text_columns { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// Print `value` as pretty JSON on stdout (`--json`).
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Internal(format!("JSON output: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A command's result: with `--json`, `value` as pretty JSON; otherwise the text `text` makes of it.
pub fn print_result<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> Result<()> {
    if json {
        return print_json(value);
    }
    println!("{}", text(value));
    Ok(())
}

/// A `YYYY-MM-DD` command-line value.
pub fn date_arg(text: &str) -> std::result::Result<chrono::NaiveDate, String> {
    crate::clock::parse_ymd(text).map_err(|why| why.about(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_table() {
        let rows = [vec!["a".into(), "10".into()], vec!["bb".into(), "2".into()]];
        assert_eq!(text_table(&["g", "n"], &rows, 1), "g    n\na   10\nbb   2\n");
        assert_eq!(text_table(&["g", "n"], &rows, ALL_TEXT), "g   n\na   10\nbb  2\n");
    }
}
