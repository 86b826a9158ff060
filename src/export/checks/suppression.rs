//! `recoverable_suppression`: a masked count that can be recomputed from what the table shows,
//! either from its totals (the masked cells are unknowns of the linear system the totals make; see
//! [`crate::export::solve`]) or from a proportion or rate shown beside it in the same row.

use std::collections::BTreeMap;

use crate::export::findings::{Place, Raw};
use crate::export::rules::{Rule, Rules};
use crate::export::solve::{Equation, determined};
use crate::export::structure::{At, Sum, Total, sums, written_masked};
use crate::export::table::{Cell, Table, Use};

/// The masked cells of `table` that a reader can recompute, given which cells are masked, with the
/// reason for each. `export fix` uses this to choose complementary suppressions.
pub fn recoverable(table: &Table, rules: &Rules, masked: &dyn Fn(At) -> bool) -> BTreeMap<At, String> {
    let mut out = BTreeMap::new();
    let all_sums = sums(table, rules, masked);
    for (at, sum) in recoverable_from_sums(&all_sums, masked) {
        let reason = match sum {
            Some(s) if s.total == Total::Cell(at) => "it is the total of cells that are all shown".to_string(),
            Some(Sum { total: Total::Cell(t), .. }) => format!(
                "it is the only masked cell of a sum whose total is shown (the total in row {}, column `{}`, minus \
                 the other cells)",
                t.row + 1,
                table.columns[t.col].name
            ),
            Some(Sum { total: Total::Implied { lo, hi }, .. }) => format!(
                "the percentages shown in its column give the denominator ({}) and the other cells of its block \
                 are shown",
                if hi - lo < 1.0 { format!("{}", ((lo + hi) / 2.0).round()) } else { format!("{lo:.0} to {hi:.0}") }
            ),
            None => "the row and column totals shown, taken together, determine it".to_string(),
        };
        out.insert(at, reason);
    }
    for (at, share_col) in revealed_by_shares(table, masked) {
        out.entry(at).or_insert_with(|| {
            format!(
                "the value in column `{}` of the same row is shown and recomputes it",
                table.columns[share_col].name
            )
        });
    }
    out
}

pub fn check(table: &Table, rules: &Rules) -> Vec<Raw> {
    let masked = |at: At| written_masked(table, at);
    recoverable(table, rules, &masked)
        .into_iter()
        .map(|(at, reason)| {
            Raw::new(
                Rule::RecoverableSuppression,
                Place::cell(at.row, table.line_of(at.row), &table.columns[at.col].name),
                format!(
                    "this masked cell can be recomputed: {reason}; mask more cells (complementary suppression, \
                     `midnet export fix` does)"
                ),
            )
        })
        .collect()
}

/// Masked cells determined by the sums, each with the sum that gives it directly (when one does).
fn recoverable_from_sums<'a>(all_sums: &'a [Sum], masked: &dyn Fn(At) -> bool) -> Vec<(At, Option<&'a Sum>)> {
    let mut unknowns: Vec<At> =
        all_sums.iter().flat_map(|s| s.cells().map(|(at, _)| at)).filter(|&at| masked(at)).collect();
    unknowns.sort();
    unknowns.dedup();
    let index = |at: At| unknowns.binary_search(&at).ok();
    let equations: Vec<Equation> = all_sums
        .iter()
        .map(|s| {
            let mut eq: Equation = s.parts.iter().filter_map(|&p| index(p).map(|i| (i, 1.0))).collect();
            if let Some(i) = s.total.cell().and_then(index) {
                eq.push((i, -1.0));
            }
            eq
        })
        .collect();
    determined(unknowns.len(), &equations)
        .into_iter()
        .enumerate()
        .filter(|(_, d)| *d)
        .map(|(i, _)| {
            let at = unknowns[i];
            let direct = all_sums.iter().zip(&equations).find(|(_, eq)| eq.len() == 1 && eq[0].0 == i).map(|(s, _)| s);
            (at, direct)
        })
        .collect()
}

/// Masked counts in rows that show a proportion or rate (a count = share × its denominator).
fn revealed_by_shares(table: &Table, masked: &dyn Fn(At) -> bool) -> Vec<(At, usize)> {
    let shares: Vec<usize> = (0..table.columns.len()).filter(|&c| table.columns[c].is_share()).collect();
    let counts: Vec<usize> = table.columns_used_as(Use::Count).collect();
    let mut out = Vec::new();
    for row in 0..table.rows {
        let shown =
            shares.iter().find(|&&c| !masked(At { row, col: c }) && table.columns[c].cells[row] != Cell::Masked);
        let Some(&share_col) = shown else { continue };
        for &col in &counts {
            if masked(At { row, col }) {
                out.push((At { row, col }, share_col));
            }
        }
    }
    out
}
