//! A requester's written exception to a finding: why a cell, column or file should leave although
//! a rule flags it, for the reviewer to consider. Written `[FILE:]RULE:ROW:COLUMN:TEXT`:
//!
//! - `FILE` (optional) names one file of the request as it is named in `work/`; without it the
//!   exception covers the findings of every file of the request;
//! - `RULE` is a rule code (`small_cell`, `age_band`, …);
//! - `ROW` is a data row (from 1), empty for a finding about a whole column or file, or `*` for any;
//! - `COLUMN` is a column name, empty for a finding about a whole file or row, or `*` for any;
//! - `TEXT` is the reason, in the requester's words (it may contain `:`).
//!
//! An exception records an argument; only the reviewer's approval accepts it, and findings of
//! `patient_level` and `file_type` are never accepted.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::findings::Finding;
use super::rules::Rule;
use crate::bad_input;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub rule: Rule,
    pub row: Spec<usize>,
    pub column: Spec<String>,
    pub text: String,
}

/// Which rows or columns an exception covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spec<T> {
    /// `*`: any.
    Any,
    /// Empty: findings that have none (about a whole file, or a whole column).
    Whole,
    One(T),
}

impl<T: PartialEq> Spec<T> {
    fn covers(&self, value: Option<&T>) -> bool {
        match self {
            Spec::Any => true,
            Spec::Whole => value.is_none(),
            Spec::One(v) => value == Some(v),
        }
    }
}

impl Exception {
    /// Parse `[FILE:]RULE:ROW:COLUMN:TEXT`.
    pub fn parse(text: &str) -> Result<Exception> {
        let usage = "write an exception as [FILE:]RULE:ROW:COLUMN:TEXT, e.g. `small_cell:3:events:a count of \
                     adverse events, not people` (ROW and COLUMN empty for a whole file or column, `*` for any)";
        let (first, rest) = text.split_once(':').ok_or_else(|| bad_input!("--exception {text:?}: {usage}"))?;
        let (file, rest) = match Rule::from_code(first.trim()) {
            Some(_) => (None, text),
            None => (Some(first.trim().to_string()), rest),
        };
        let mut fields = rest.splitn(4, ':');
        let (Some(rule), Some(row), Some(column), Some(reason)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad_input!("--exception {text:?}: {usage}"));
        };
        let rule = Rule::from_code(rule.trim()).ok_or_else(|| {
            let codes: Vec<&str> = Rule::ALL.iter().map(|r| r.code()).collect();
            bad_input!("--exception {text:?}: `{}` is not a rule; the rules are {}", rule.trim(), codes.join(", "))
        })?;
        let row = match row.trim() {
            "*" => Spec::Any,
            "" => Spec::Whole,
            r => match r.parse::<usize>() {
                Ok(n) if n >= 1 => Spec::One(n),
                _ => {
                    return Err(bad_input!(
                        "--exception {text:?}: row `{r}` is not a data row (1, 2, …), `*` or empty"
                    ));
                }
            },
        };
        let column = match column.trim() {
            "*" => Spec::Any,
            "" => Spec::Whole,
            c => Spec::One(c.to_string()),
        };
        if reason.trim().is_empty() {
            return Err(bad_input!(
                "--exception {text:?}: the reason is empty; say why the finding should be accepted"
            ));
        }
        if file.as_deref() == Some("") {
            return Err(bad_input!("--exception {text:?}: the file name is empty; {usage}"));
        }
        Ok(Exception { file, rule, row, column, text: reason.trim().to_string() })
    }

    /// Whether this exception covers `finding` of the file named `file`.
    pub fn covers(&self, file: &str, finding: &Finding) -> bool {
        self.file.as_deref().is_none_or(|f| f == file)
            && self.rule == finding.rule
            && self.row.covers(finding.row.as_ref())
            && self.column.covers(finding.column.as_ref())
    }
}

impl<T: fmt::Display> fmt::Display for Spec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Any => f.write_str("*"),
            Spec::Whole => Ok(()),
            Spec::One(v) => v.fmt(f),
        }
    }
}

/// The exception as written, without its reason: `[FILE:]RULE:ROW:COLUMN`.
impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
        }
        write!(f, "{}:{}:{}", self.rule, self.row, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Verdict;

    fn finding(rule: Rule, row: Option<usize>, column: Option<&str>) -> Finding {
        Finding {
            rule,
            verdict: Verdict::Review,
            row,
            line: None,
            column: column.map(str::to_string),
            message: String::new(),
        }
    }

    #[test]
    fn parses_with_and_without_a_file() {
        let e = Exception::parse("small_cell:3:events:counts of events: not people").unwrap();
        assert_eq!(e.file, None);
        assert_eq!((e.rule, &e.row, &e.column), (Rule::SmallCell, &Spec::One(3), &Spec::One("events".to_string())));
        assert_eq!(e.text, "counts of events: not people");
        assert_eq!(e.to_string(), "small_cell:3:events");

        let e = Exception::parse("sub/t1.csv:site_name:::the word is a drug name").unwrap();
        assert_eq!(e.file.as_deref(), Some("sub/t1.csv"));
        assert_eq!((&e.row, &e.column), (&Spec::Whole, &Spec::Whole));
        assert_eq!(e.to_string(), "sub/t1.csv:site_name::");

        let e = Exception::parse("differencing:*:*:the subgroup is published elsewhere").unwrap();
        assert_eq!((&e.row, &e.column), (&Spec::Any, &Spec::Any));
    }

    #[test]
    fn bad_exceptions_say_how_to_write_them() {
        for (text, needle) in [
            ("small_cell:3:events", "[FILE:]RULE:ROW:COLUMN:TEXT"),
            ("t.csv:smallcell:3:events:x", "`smallcell` is not a rule"),
            ("small_cell:0:events:x", "row `0`"),
            ("small_cell:x:events:x", "row `x`"),
            ("small_cell:3:events:  ", "the reason is empty"),
            ("nothing", "[FILE:]RULE:ROW:COLUMN:TEXT"),
        ] {
            let err = Exception::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn covers_by_file_rule_row_and_column() {
        let cell = finding(Rule::SmallCell, Some(3), Some("events"));
        let column = finding(Rule::SiteBreakdown, None, Some("site"));
        let e = Exception::parse("small_cell:3:events:x").unwrap();
        assert!(e.covers("a.csv", &cell) && e.covers("b.csv", &cell));
        assert!(!e.covers("a.csv", &finding(Rule::SmallCell, Some(4), Some("events"))));
        assert!(!e.covers("a.csv", &finding(Rule::AgeBand, Some(3), Some("events"))));
        let e = Exception::parse("a.csv:small_cell:*:events:x").unwrap();
        assert!(e.covers("a.csv", &cell) && !e.covers("b.csv", &cell));
        let e = Exception::parse("site_breakdown::site:x").unwrap();
        assert!(e.covers("a.csv", &column));
        assert!(!e.covers("a.csv", &finding(Rule::SiteBreakdown, Some(1), Some("site"))));
    }
}
