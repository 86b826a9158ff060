//! Primary and complementary suppression. Primary: every count of 1 to 9 is masked. Then, while
//! any masked count can be recomputed (see [`crate::export::checks::suppression::recoverable`]),
//! one more cell is masked: in a sum that exposes it, the smallest positive visible part (totals
//! last), so that as little as possible is lost. Proportions, rates and other estimates in a row
//! with a masked count are masked with it, since they would give it back.

use std::collections::BTreeSet;

use super::Change;
use crate::error::{Error, Result};
use crate::export::checks::suppression::recoverable;
use crate::export::rules::Rules;
use crate::export::structure::{At, Sum, sums};
use crate::export::table::{Cell, Table, Use};

pub fn suppress(table: &mut Table, rules: &Rules, changes: &mut Vec<Change>) -> Result<()> {
    let min = f64::from(rules.min_count);
    let counts: Vec<usize> = table.columns_used_as(Use::Count).collect();
    let mut masked: BTreeSet<At> = BTreeSet::new();
    for &col in &counts {
        for row in 0..table.rows {
            match table.columns[col].cells[row] {
                Cell::Masked => {
                    masked.insert(At { row, col });
                }
                Cell::Number(v) if v > 0.0 && v < min => {
                    masked.insert(At { row, col });
                    changes.push(Change::cell(
                        "suppressed",
                        row,
                        &table.columns[col].name,
                        format!(
                            "{} → {} (a count of 1 to {})",
                            table.columns[col].raw[row],
                            rules.mask,
                            rules.min_count - 1
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    // Rounds: each masks one complement for every exposed cell that no mask of the round already
    // touches (a sum through it got a new mask), then looks again.
    loop {
        mask_estimates_beside_counts(table, &counts, &masked, rules, changes);
        let exposed = recoverable(table, rules, &|at| masked.contains(&at));
        if exposed.is_empty() {
            break;
        }
        let all_sums = sums(table, rules, &|at| masked.contains(&at));
        let mut this_round: Vec<At> = Vec::new();
        for &target in exposed.keys() {
            let touched = all_sums.iter().any(|s| s.contains(target) && this_round.iter().any(|&m| s.contains(m)));
            if touched {
                continue;
            }
            let choice = complement(table, &all_sums, target, &masked).ok_or_else(|| {
                Error::Internal(format!(
                    "no cell left to mask that protects row {}, column {}",
                    target.row + 1,
                    target.col
                ))
            })?;
            masked.insert(choice);
            this_round.push(choice);
            changes.push(Change::cell(
                "suppressed_complementary",
                choice.row,
                &table.columns[choice.col].name,
                format!(
                    "{} → {} so that the masked cell in row {}, column `{}` cannot be recomputed from the totals",
                    table.columns[choice.col].raw[choice.row],
                    rules.mask,
                    target.row + 1,
                    table.columns[target.col].name
                ),
            ));
        }
    }
    for at in masked {
        set_masked(table, at, rules);
    }
    Ok(())
}

/// Rates, proportions and estimates recompute the count of their row: mask them when it is masked.
fn mask_estimates_beside_counts(
    table: &mut Table,
    counts: &[usize],
    masked: &BTreeSet<At>,
    rules: &Rules,
    changes: &mut Vec<Change>,
) {
    let estimates: Vec<usize> = (0..table.columns.len())
        .filter(|&c| table.columns[c].use_ == Use::Measure && !table.columns[c].is_additive())
        .collect();
    for row in 0..table.rows {
        if !counts.iter().any(|&col| masked.contains(&At { row, col })) {
            continue;
        }
        for &col in &estimates {
            if table.columns[col].cells[row] != Cell::Masked {
                changes.push(Change::cell(
                    "suppressed_estimate",
                    row,
                    &table.columns[col].name,
                    format!(
                        "{} → {} (it would give back the masked count of its row)",
                        table.columns[col].raw[row], rules.mask
                    ),
                ));
                set_masked(table, At { row, col }, rules);
            }
        }
    }
}

/// The cell to mask so that `target` is no longer determined. It is taken from the sum through the
/// target with the fewest masked cells (where the target is alone, that sum exposes it directly),
/// and among that sum's visible cells it is, in order of preference: one whose masking exposes
/// no other sum (every other sum through it already has a masked cell), non-zero, not a total, and
/// the smallest. Failing that, any visible cell of a sum that has a masked cell.
fn complement(table: &Table, all_sums: &[Sum], target: At, masked: &BTreeSet<At>) -> Option<At> {
    let cells_of = |s: &Sum| s.cells().collect::<Vec<_>>();
    let masked_in = |s: &Sum| cells_of(s).iter().filter(|(at, _)| masked.contains(at)).count();
    let through = |at: At| all_sums.iter().filter(move |s| s.contains(at));
    let pick = |candidates: Vec<(At, bool)>| {
        candidates
            .into_iter()
            .filter(|(at, _)| !masked.contains(at))
            .filter_map(|(at, is_total)| {
                let v = table.columns[at.col].number(at.row)?;
                let exposes = through(at).filter(|s| masked_in(s) == 0).count();
                Some((exposes, v == 0.0, is_total, v, at))
            })
            .min_by(|a, b| a.partial_cmp(b).expect("cell values are finite"))
            .map(|(.., at)| at)
    };
    let mut sums_through_target: Vec<&Sum> = through(target).collect();
    sums_through_target.sort_by_key(|s| masked_in(s));
    sums_through_target
        .into_iter()
        .find_map(|s| pick(cells_of(s)))
        .or_else(|| pick(all_sums.iter().filter(|s| masked_in(s) > 0).flat_map(cells_of).collect()))
}

fn set_masked(table: &mut Table, at: At, rules: &Rules) {
    let col = &mut table.columns[at.col];
    col.raw[at.row] = rules.mask.clone();
    col.cells[at.row] = Cell::Masked;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;
    use crate::export::table::Column;

    /// A crosstab with a total column and a total row, from its inner cells.
    fn crosstab(cells: &[Vec<u32>], rules: &Rules) -> Table {
        let cols = cells[0].len();
        let mut columns = vec![Column::new(
            "group".into(),
            None,
            Use::Label,
            (0..cells.len()).map(|r| format!("g{r}")).chain(["Total".to_string()]).collect(),
            rules,
        )];
        for c in 0..cols {
            let mut raw: Vec<String> = cells.iter().map(|row| row[c].to_string()).collect();
            raw.push(cells.iter().map(|row| row[c]).sum::<u32>().to_string());
            columns.push(Column::new(format!("c{c}"), None, Use::Count, raw, rules));
        }
        let mut totals: Vec<String> = cells.iter().map(|row| row.iter().sum::<u32>().to_string()).collect();
        totals.push(cells.iter().flatten().sum::<u32>().to_string());
        columns.push(Column::new("total".into(), None, Use::Count, totals, rules));
        Table { path: PathBuf::from("t.csv"), sidecar: None, lineage: None, columns, rows: cells.len() + 1 }
    }

    fn cases() -> u32 {
        std::env::var("MIDNET_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// After suppression no small count shows and no masked cell can be recomputed.
        #[test]
        fn suppression_leaves_nothing_recoverable(
            cells in (2usize..6, 2usize..5).prop_flat_map(|(r, c)| prop::collection::vec(prop::collection::vec(0u32..40, c), r))
        ) {
            let rules = Rules::default();
            let mut table = crosstab(&cells, &rules);
            let mut changes = Vec::new();
            suppress(&mut table, &rules, &mut changes).unwrap();
            for col in table.columns.iter().filter(|c| c.use_ == Use::Count) {
                for row in 0..table.rows {
                    if let Some(v) = col.number(row) {
                        prop_assert!(v == 0.0 || v >= 10.0, "{} shows {v}", col.name);
                    }
                }
            }
            let masked = |at: At| table.columns[at.col].use_ == Use::Count && table.columns[at.col].cells[at.row] == Cell::Masked;
            let exposed = recoverable(&table, &rules, &masked);
            prop_assert!(exposed.is_empty(), "{exposed:?}");
        }
    }
}
