//! The sums a table shows: which cells are totals of which others. Total rows are rows labelled
//! `Total`, `合計`, … (in long tables, `Total` in one label column sums the rows that agree on the
//! other labels, so nested subtotals work); total columns are count columns named as totals, summing
//! the run of count columns beside them. A supposed sum that a fully visible row contradicts is not
//! a sum and is dropped. The recoverable-suppression check and `export fix` share this.

use super::rules::Rules;
use super::table::{Cell, Table, Use};
use super::text::{fold, name_says};

/// A cell of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    pub row: usize,
    pub col: usize,
}

/// `total = sum(parts)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sum {
    pub total: At,
    pub parts: Vec<At>,
}

/// Every sum the table shows, given the cells currently masked (`masked(at)`); a sum whose cells
/// are all visible must hold or it is not taken as a sum.
pub fn sums(table: &Table, rules: &Rules, masked: &dyn Fn(At) -> bool) -> Vec<Sum> {
    let value = |at: At| if masked(at) { None } else { table.columns[at.col].number(at.row) };
    let holds = |s: &Sum| {
        let total = value(s.total);
        let parts: Option<Vec<f64>> = s.parts.iter().map(|&p| value(p)).collect();
        match (total, parts) {
            (Some(t), Some(ps)) => (ps.iter().sum::<f64>() - t).abs() <= 1e-6 * t.abs().max(1.0),
            _ => true,
        }
    };
    let mut out = Vec::new();
    for family in row_sums(table, rules).into_iter().chain(column_sums(table, rules)) {
        if family.iter().all(&holds) {
            out.extend(family);
        }
    }
    out
}

/// Sums down the columns, one family per total row and count column.
///
/// Members of a total row agree with it on every label it does not total over, and are not totals
/// in any label it totals over. A total row whose other labels are blank (`All,,230` under a
/// "Table 1" of `characteristic, level, n` blocks) is the sum of each block of rows that share
/// their value in the totalled column (each characteristic's levels add up to everyone).
fn row_sums(table: &Table, rules: &Rules) -> Vec<Vec<Sum>> {
    let labels = table.label_columns();
    let keys = label_keys(table, &labels);
    let totals_in: Vec<Vec<bool>> = keys.iter().map(|k| k.iter().map(|v| rules.is_total_label(v)).collect()).collect();
    let counts: Vec<usize> = table.columns_used_as(Use::Count).collect();
    let mut out = Vec::new();
    for t in 0..table.rows {
        if !totals_in[t].iter().any(|&b| b) {
            continue;
        }
        let blank: Vec<bool> = (0..labels.len()).map(|l| !totals_in[t][l] && keys[t][l].is_empty()).collect();
        let members = (0..table.rows).filter(|&r| {
            (0..labels.len()).all(|l| {
                if totals_in[t][l] {
                    !totals_in[r][l]
                } else if blank[l] {
                    !totals_in[r][l] && !keys[r][l].is_empty()
                } else {
                    keys[r][l] == keys[t][l]
                }
            })
        });
        // Blocks: one when nothing is blank; else one per value of the totalled columns.
        let mut blocks: Vec<(Vec<&str>, Vec<usize>)> = Vec::new();
        for r in members {
            let block_key: Vec<&str> = if blank.iter().any(|&b| b) {
                (0..labels.len()).filter(|&l| totals_in[t][l]).map(|l| keys[r][l].as_str()).collect()
            } else {
                Vec::new()
            };
            match blocks.iter_mut().find(|(k, _)| *k == block_key) {
                Some((_, rows)) => rows.push(r),
                None => blocks.push((block_key, vec![r])),
            }
        }
        if blocks.is_empty() {
            continue;
        }
        for &col in &counts {
            out.push(
                blocks
                    .iter()
                    .map(|(_, rows)| Sum {
                        total: At { row: t, col },
                        parts: rows.iter().map(|&row| At { row, col }).collect(),
                    })
                    .collect(),
            );
        }
    }
    out
}

/// The label cells of each row, folded. With two or more label columns, a blank in the first one
/// continues the value above (the layout of a "Table 1": `Sex, Male` then `, Female`).
fn label_keys(table: &Table, labels: &[usize]) -> Vec<Vec<String>> {
    let mut keys: Vec<Vec<String>> =
        (0..table.rows).map(|r| labels.iter().map(|&c| fold(&table.columns[c].raw[r])).collect()).collect();
    if labels.len() >= 2 {
        for r in 1..keys.len() {
            if keys[r][0].is_empty() {
                keys[r][0] = keys[r - 1][0].clone();
            }
        }
    }
    keys
}

/// Sums across the columns, one family per total column (a total column either sums its run in
/// every row or is not a total).
fn column_sums(table: &Table, rules: &Rules) -> Vec<Vec<Sum>> {
    let n = table.columns.len();
    let is_count = |c: usize| table.columns[c].use_ == Use::Count;
    let is_total = |c: usize| is_count(c) && is_total_name(&table.columns[c].name, rules);
    let run = |range: &mut dyn Iterator<Item = usize>| -> Vec<usize> {
        range.take_while(|&c| is_count(c) && !is_total(c)).collect()
    };
    let mut out = Vec::new();
    for t in (0..n).filter(|&c| is_total(c)) {
        let mut parts = run(&mut (0..t).rev());
        if parts.is_empty() {
            parts = run(&mut (t + 1..n));
        }
        if parts.is_empty() {
            continue;
        }
        parts.sort();
        out.push(
            (0..table.rows)
                .map(|row| Sum { total: At { row, col: t }, parts: parts.iter().map(|&col| At { row, col }).collect() })
                .collect(),
        );
    }
    out
}

/// `total`, `Total patients`, `n_total`, `合計`, `患者数合計`.
pub fn is_total_name(name: &str, rules: &Rules) -> bool {
    rules.is_total_label(name) || name_says(name, &["total", "totals", "overall", "all"], &["合計", "総数", "総計"])
}

/// Whether a cell of a count column is masked as written.
pub fn written_masked(table: &Table, at: At) -> bool {
    table.columns[at.col].use_ == Use::Count && table.columns[at.col].cells[at.row] == Cell::Masked
}
