//! The sums a table shows: which cells are totals of which others. Total rows are rows labelled
//! `Total`, `合計`, … (in long tables, `Total` in one label column sums the rows that agree on the
//! other labels, so nested subtotals work); total columns are count columns named as totals, summing
//! the run of count columns beside them; and where counts are shown with their percentages
//! (`22 (11.0%)`), the denominator is a total the reader knows even when no cell shows it. A
//! supposed sum that the visible cells contradict is not a sum and is dropped. The
//! recoverable-suppression check and `export fix` share this.

use super::rules::Rules;
use super::table::{Cell, Table, Use};
use super::text::{fold, name_says};

/// A cell of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    pub row: usize,
    pub col: usize,
}

/// What a sum adds up to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Total {
    Cell(At),
    /// Known without a cell: the denominator that the percentages shown give, between `lo` and `hi`.
    Implied {
        lo: f64,
        hi: f64,
    },
}

impl Total {
    pub fn cell(self) -> Option<At> {
        match self {
            Total::Cell(at) => Some(at),
            Total::Implied { .. } => None,
        }
    }
}

/// `total = sum(parts)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sum {
    pub total: Total,
    pub parts: Vec<At>,
}

impl Sum {
    /// The cells of the sum, each with whether it is the total.
    pub fn cells(&self) -> impl Iterator<Item = (At, bool)> + '_ {
        self.total.cell().map(|t| (t, true)).into_iter().chain(self.parts.iter().map(|&p| (p, false)))
    }

    pub fn contains(&self, at: At) -> bool {
        self.total.cell() == Some(at) || self.parts.contains(&at)
    }
}

/// Every sum the table shows, given the cells currently masked (`masked(at)`). Counts are not
/// negative, so a sum holds only if its visible parts do not exceed its total and, when all are
/// visible, add up to it; a family of sums of which one does not hold is not taken.
pub fn sums(table: &Table, rules: &Rules, masked: &dyn Fn(At) -> bool) -> Vec<Sum> {
    let value = |at: At| if masked(at) { None } else { table.columns[at.col].number(at.row) };
    let holds = |s: &Sum| {
        let (lo, hi) = match s.total {
            Total::Cell(at) => match value(at) {
                Some(v) => (v, v),
                None => return true,
            },
            Total::Implied { lo, hi } => (lo, hi),
        };
        let tolerance = 1e-6 * hi.abs().max(1.0);
        let visible: f64 = s.parts.iter().filter_map(|&p| value(p)).sum();
        let all_visible = s.parts.iter().all(|&p| value(p).is_some());
        visible <= hi + tolerance && (!all_visible || visible >= lo - tolerance)
    };
    let mut out = Vec::new();
    let families = row_sums(table, rules).into_iter().chain(column_sums(table, rules));
    for family in families.chain(implied_sums(table, rules, masked)) {
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
                        total: Total::Cell(At { row: t, col }),
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
                .map(|row| Sum {
                    total: Total::Cell(At { row, col: t }),
                    parts: parts.iter().map(|&col| At { row, col }).collect(),
                })
                .collect(),
        );
    }
    out
}

/// Sums whose total the percentages give away: in a count column with visible `n (p%)` cells, the
/// denominator is known (to within the rounding of p), and every block of rows adds up to it: each
/// characteristic's levels in a "Table 1" layout, or all the rows of a table by age band or sex.
/// One family per block (a block that is not a partition of everyone is contradicted alone).
fn implied_sums(table: &Table, rules: &Rules, masked: &dyn Fn(At) -> bool) -> Vec<Vec<Sum>> {
    let labels = table.label_columns();
    let partitions = match labels.as_slice() {
        [] => false,
        [only] => {
            let col = &table.columns[*only];
            col.use_ == Use::Age || name_says(&col.name, &["sex", "gender"], &["性別"])
        }
        _ => true,
    };
    if !partitions {
        return Vec::new();
    }
    let keys = label_keys(table, &labels);
    let mut blocks: Vec<(&str, Vec<usize>)> = Vec::new();
    for r in (0..table.rows).filter(|&r| !keys[r].iter().any(|k| rules.is_total_label(k))) {
        let key = if labels.len() >= 2 { keys[r][0].as_str() } else { "" };
        match blocks.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(r),
            None => blocks.push((key, vec![r])),
        }
    }
    let mut out = Vec::new();
    for col in table.columns_used_as(Use::Count) {
        let (mut lo, mut hi, mut any) = (0.0_f64, f64::INFINITY, false);
        for row in (0..table.rows).filter(|&row| !masked(At { row, col })) {
            if let Some((a, b)) = denominator(&table.columns[col].raw[row]) {
                (lo, hi, any) = (lo.max(a), hi.min(b), true);
            }
        }
        if !any || lo > hi {
            continue;
        }
        for (_, rows) in blocks.iter().filter(|(_, rows)| rows.len() >= 2) {
            out.push(vec![Sum {
                total: Total::Implied { lo, hi },
                parts: rows.iter().map(|&row| At { row, col }).collect(),
            }]);
        }
    }
    out
}

/// The range of denominators a `n (p%)` cell allows, given that p was rounded to its decimals.
fn denominator(raw: &str) -> Option<(f64, f64)> {
    let (head, tail) = raw.trim().split_once('(')?;
    let n: f64 = head.trim().parse::<u64>().ok()? as f64;
    let p_text = tail.trim().strip_suffix(')')?.trim().strip_suffix('%')?.trim();
    let p: f64 = p_text.parse().ok()?;
    let decimals = p_text.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
    let half = 0.5 * 10f64.powi(-decimals);
    if p <= 0.0 || n == 0.0 {
        return None;
    }
    let hi = if p - half > 0.0 { n * 100.0 / (p - half) } else { f64::INFINITY };
    Some((n * 100.0 / (p + half), hi))
}

/// `total`, `Total patients`, `n_total`, `合計`, `患者数合計`.
pub fn is_total_name(name: &str, rules: &Rules) -> bool {
    rules.is_total_label(name) || name_says(name, &["total", "totals", "overall", "all"], &["合計", "総数", "総計"])
}

/// Whether a cell of a count column is masked as written.
pub fn written_masked(table: &Table, at: At) -> bool {
    table.columns[at.col].use_ == Use::Count && table.columns[at.col].cells[at.row] == Cell::Masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denominators_from_percentages() {
        let (lo, hi) = denominator("22 (11.0%)").unwrap();
        assert!(lo < 200.0 && 200.0 < hi && hi - lo < 2.0, "{lo} {hi}");
        assert_eq!(denominator("22"), None);
        assert_eq!(denominator("0 (0.0%)"), None);
        assert!(denominator("3 (1%)").unwrap().1 < 601.0);
    }
}
