//! `individual_value`: one person's value inside a statistic. A minimum or maximum is one person's
//! value; a quantile is one or two people's; a Kaplan-Meier curve steps at the times people's
//! events happened. Each is shown only with at least `min_count` people on each side of it
//! ([`crate::stats::individual`], the rule the statistics commands and the protocol apply to what
//! they write), or coarsened (bands, a grid of times chosen in advance).
//!
//! Which columns hold such values: the sidecar's roles (`quantile`, `extreme`, `event_time`) where
//! it describes the column; for a `work sql` result, the functions its lineage records (`min`,
//! `median`, `quantile_cont(x, 0.9)`, `first_value`, `list`); otherwise the column's name
//! (`median_days`, `q1`, `p90`, `max`, `最大値`, `time_to_onset`, the time column of a table with
//! numbers at risk and events). The people on each side come from the table: a quantile's row must
//! show how many people it was computed over (the smallest count of the row is taken), a step's
//! row the number at risk and those leaving at the step (or the next step's number at risk).

use std::collections::HashMap;

use crate::export::findings::{Place, Raw};
use crate::export::rules::{Rule, Rules};
use crate::export::table::{Cell, Column, Table, Use};
use crate::export::text::{compact, name_says, words};
use crate::schema::ColumnRole;
use crate::stats::individual::{around_quantile, around_step};

/// What kind of individual value a column holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A quantile at this level.
    Quantile(f64),
    /// A minimum, maximum, or any one person's value picked out (also a quantile whose level the
    /// gate cannot read).
    Extreme,
    /// A time at which a person's event or censoring happened.
    EventTime,
}

pub fn check(table: &Table, rules: &Rules) -> Vec<Raw> {
    let min = u64::from(rules.min_count);
    let kinds: Vec<Option<Kind>> = table.columns.iter().map(|col| kind_of(table, col)).collect();
    // The people a row's statistics are computed over: its counts that are not themselves
    // individual values (a `max_days` of whole numbers reads as a count).
    let counts: Vec<usize> = table.columns_used_as(Use::Count).filter(|&c| kinds[c].is_none()).collect();
    let mut out = Vec::new();
    for (c, kind) in kinds.iter().enumerate() {
        match *kind {
            Some(Kind::Quantile(p)) => out.extend(quantiles(table, c, p, &counts, min)),
            Some(Kind::Extreme) => out.extend(extremes(table, c)),
            Some(Kind::EventTime) => out.extend(event_times(table, c, &counts, min)),
            None => {}
        }
    }
    out
}

/// The sidecar role of a column that holds individual values (for `export fix`, which writes the
/// roles of the columns it judged: a fixed table keeps its individual values flagged).
pub fn individual_role(table: &Table, col: &Column) -> Option<ColumnRole> {
    kind_of(table, col).map(|kind| match kind {
        Kind::Quantile(_) => ColumnRole::Quantile,
        Kind::Extreme => ColumnRole::Extreme,
        Kind::EventTime => ColumnRole::EventTime,
    })
}

fn kind_of(table: &Table, col: &Column) -> Option<Kind> {
    if let Some(role) = col.role {
        return match role {
            ColumnRole::Quantile => Some(level_in_name(&col.name).map_or(Kind::Extreme, Kind::Quantile)),
            ColumnRole::Extreme => Some(Kind::Extreme),
            ColumnRole::EventTime => Some(Kind::EventTime),
            _ => None,
        };
    }
    if let Some(lineage) = &col.lineage
        && let Some(kind) = kind_of_functions(&lineage.functions, &lineage.levels)
    {
        return Some(kind);
    }
    kind_of_name(table, col)
}

/// The kind of value the functions of a `work sql` column give.
fn kind_of_functions(functions: &[String], levels: &[f64]) -> Option<Kind> {
    const PICKS: [&str; 24] = [
        "min",
        "max",
        "arg_min",
        "arg_max",
        "argmin",
        "argmax",
        "min_by",
        "max_by",
        "first",
        "last",
        "any_value",
        "arbitrary",
        "mode",
        "list",
        "array_agg",
        "string_agg",
        "group_concat",
        "listagg",
        "histogram",
        "first_value",
        "last_value",
        "nth_value",
        "lag",
        "lead",
    ];
    const QUANTILES: [&str; 7] = [
        "quantile",
        "quantile_cont",
        "quantile_disc",
        "percentile_cont",
        "percentile_disc",
        "approx_quantile",
        "reservoir_quantile",
    ];
    if functions.iter().any(|f| PICKS.contains(&f.as_str())) {
        return Some(Kind::Extreme);
    }
    if functions.iter().any(|f| QUANTILES.contains(&f.as_str())) {
        return Some(match levels {
            [p] if *p > 0.0 && *p < 1.0 => Kind::Quantile(*p),
            _ => Kind::Extreme,
        });
    }
    functions.iter().any(|f| f == "median").then_some(Kind::Quantile(0.5))
}

/// The kind of value a column's name says it holds.
fn kind_of_name(table: &Table, col: &Column) -> Option<Kind> {
    if let Some(p) = level_in_name(&col.name) {
        return Some(Kind::Quantile(p));
    }
    let ws = words(&col.name);
    let said = |list: &[&str]| ws.iter().any(|w| list.contains(&w.as_str()));
    if said(&["min", "max", "minimum", "maximum", "range", "quantile", "percentile", "quartile"])
        || name_says(&col.name, &[], &["最小", "最大", "範囲", "四分位", "パーセンタイル"])
    {
        return Some(Kind::Extreme);
    }
    let event_time = name_says(&col.name, &["onset"], &["発現", "発症"])
        || (said(&["event", "events"]) && said(&["time", "day", "days"]))
        || compact(&col.name).contains("timeto");
    let curve_time = said(&["time", "day", "days", "t"])
        && table.columns.iter().any(is_at_risk)
        && table.columns.iter().any(|c| words(&c.name).iter().any(|w| matches!(w.as_str(), "events" | "event")));
    (event_time || curve_time).then_some(Kind::EventTime)
}

/// The level of a quantile named `median`, `q1`, `q3`, `p90`, `中央値`, `第1四分位`.
fn level_in_name(name: &str) -> Option<f64> {
    let c = compact(name);
    if c.contains("中央値") {
        return Some(0.5);
    }
    if c.contains("第1四分位") {
        return Some(0.25);
    }
    if c.contains("第3四分位") {
        return Some(0.75);
    }
    words(name).iter().find_map(|w| match w.as_str() {
        "median" => Some(0.5),
        "q1" | "lq" => Some(0.25),
        "q2" => Some(0.5),
        "q3" | "uq" => Some(0.75),
        // `p90`, `p5`, and DuckDB's SUMMARIZE `q25`, `q50`, `q75`.
        w => w
            .strip_prefix('p')
            .or_else(|| w.strip_prefix('q').filter(|d| d.len() == 2))
            .filter(|d| (1..=2).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<f64>().ok())
            .filter(|&v| v > 0.0)
            .map(|v| v / 100.0),
    })
}

fn is_at_risk(col: &Column) -> bool {
    col.role == Some(ColumnRole::AtRisk)
        || (col.role.is_none() && (compact(&col.name).contains("atrisk") || name_says(&col.name, &[], &["リスク集合"])))
}

/// Each quantile needs `min` people below and above the values it is computed from.
fn quantiles(table: &Table, c: usize, p: f64, counts: &[usize], min: u64) -> Vec<Raw> {
    let col = &table.columns[c];
    let mut out = Vec::new();
    for row in 0..table.rows {
        let Some(value) = col.number(row) else { continue };
        let message = match people_in_row(table, row, counts) {
            None => format!(
                "{value} is a quantile (level {p}) of people's values, and the row shows no count of the people it \
                 was computed over: show that count beside it, so that at least {min} people lie on each side"
            ),
            Some(n) => {
                let (below, above) = around_quantile(n, p);
                if below >= min && above >= min {
                    continue;
                }
                format!(
                    "{value} is a quantile (level {p}) of {n} people's values: {below} lie below the values it is \
                     computed from and {above} above, fewer than {min} on a side, so it is close to one person's \
                     value; leave it out or report coarser bands"
                )
            }
        };
        out.push(Raw::new(Rule::IndividualValue, Place::cell(row, table.line_of(row), &col.name), message));
    }
    out
}

/// The smallest of `counts` shown in a row: the people a quantile of the row is computed over (or
/// fewer).
fn people_in_row(table: &Table, row: usize, counts: &[usize]) -> Option<u64> {
    counts.iter().filter_map(|&c| table.columns[c].number(row)).map(|v| v.max(0.0) as u64).min()
}

/// A minimum or maximum is one person's value, however many people there are.
fn extremes(table: &Table, c: usize) -> Vec<Raw> {
    let col = &table.columns[c];
    (0..table.rows)
        .filter(|&row| match col.cells[row] {
            Cell::Number(_) => true,
            Cell::Text => col.raw[row].chars().any(|ch| ch.is_ascii_digit()),
            Cell::Masked => false,
        })
        .map(|row| {
            Raw::new(
                Rule::IndividualValue,
                Place::cell(row, table.line_of(row), &col.name),
                format!(
                    "`{}` is one person's value (a minimum, a maximum or a value picked from a group): leave it out, \
                     or report a quantile with enough people on each side, or coarse bands",
                    col.raw[row]
                ),
            )
        })
        .collect()
}

/// A time of a curve's step needs `min` people with earlier times and `min` with later times. The
/// rows of one curve share their other labels; its size is the largest number at risk shown (the
/// row at time 0), the people after a step are those at risk less those leaving at it (the other
/// counts of the row), or, when the row shows none, the next step's number at risk.
fn event_times(table: &Table, c: usize, counts: &[usize], min: u64) -> Vec<Raw> {
    let col = &table.columns[c];
    let place = |row: usize| Place::cell(row, table.line_of(row), &col.name);
    let Some(at_risk) = (0..table.columns.len()).find(|&i| i != c && is_at_risk(&table.columns[i])) else {
        return (0..table.rows)
            .filter(|&row| col.number(row).is_some_and(|t| t > 0.0))
            .map(|row| {
                Raw::new(
                    Rule::IndividualValue,
                    place(row),
                    format!(
                        "{} is the time of a person's event and the table does not show how many people are at risk \
                         around it: show the number at risk, keep only times with at least {min} people on each \
                         side, or report the curve on a grid of times chosen in advance",
                        col.raw[row]
                    ),
                )
            })
            .collect();
    };
    let leaving: Vec<usize> = counts.iter().copied().filter(|&i| i != c && i != at_risk).collect();
    let labels: Vec<usize> = table.label_columns().into_iter().filter(|&i| i != c).collect();
    let mut curves: HashMap<Vec<&str>, Vec<usize>> = HashMap::new();
    for row in 0..table.rows {
        curves.entry(labels.iter().map(|&l| table.columns[l].raw[row].as_str()).collect()).or_default().push(row);
    }
    let count = |i: usize, row: usize, masked_as: u64| match table.columns[i].cells[row] {
        Cell::Number(v) => v.max(0.0) as u64,
        _ => masked_as,
    };
    let mut out = Vec::new();
    for rows in curves.values() {
        let size = rows.iter().map(|&r| count(at_risk, r, 0)).max().unwrap_or(0);
        for (k, &row) in rows.iter().enumerate() {
            let Some(time) = col.number(row).filter(|&t| t > 0.0) else { continue };
            let risk = count(at_risk, row, 0);
            let after = if leaving.is_empty() {
                rows[k + 1..]
                    .iter()
                    .find(|&&r| col.number(r).is_some_and(|t| t > time))
                    .map_or(0, |&r| count(at_risk, r, 0))
            } else {
                // A masked count may hide up to min - 1 people leaving.
                around_step(size, risk, leaving.iter().map(|&i| count(i, row, min.saturating_sub(1))).sum()).1
            };
            let before = size.saturating_sub(risk);
            if before >= min && after >= min {
                continue;
            }
            out.push(Raw::new(
                Rule::IndividualValue,
                place(row),
                format!(
                    "{time} is the time of a person's event or censoring with {before} people before it and {after} \
                     after it, fewer than {min} on a side: leave the step out (`midnet stats km` writes only the \
                     steps that have enough) or report the curve on a grid of times chosen in advance"
                ),
            ));
        }
    }
    out.sort_by_key(|r| r.place.row);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_from_names() {
        assert_eq!(level_in_name("onset_days_median"), Some(0.5));
        assert_eq!(level_in_name("onset_days_q1"), Some(0.25));
        assert_eq!(level_in_name("Q3"), Some(0.75));
        assert_eq!(level_in_name("p90"), Some(0.9));
        assert_eq!(level_in_name("q25"), Some(0.25));
        assert_eq!(level_in_name("中央値（日）"), Some(0.5));
        assert_eq!(level_in_name("patients"), None);
        assert_eq!(level_in_name("p"), None);
        assert_eq!(level_in_name("pct"), None);
    }

    #[test]
    fn functions_of_a_query_column() {
        let f = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(kind_of_functions(&f(&["min"]), &[]), Some(Kind::Extreme));
        assert_eq!(kind_of_functions(&f(&["median"]), &[]), Some(Kind::Quantile(0.5)));
        assert_eq!(kind_of_functions(&f(&["quantile_cont"]), &[0.9]), Some(Kind::Quantile(0.9)));
        assert_eq!(kind_of_functions(&f(&["quantile_cont"]), &[0.1, 0.9]), Some(Kind::Extreme));
        assert_eq!(kind_of_functions(&f(&["count_star"]), &[]), None);
    }
}
