//! `differencing`: a count of 1 to 9 that appears when one table is subtracted from another, such
//! as the whole cohort minus a subgroup, or analysis k+1 minus analysis k of the same table.
//!
//! Two tables are compared when they have the same label columns (matched by name), share count
//! columns, and one is nested in the other: every count of one is at least the matching count of
//! the other (a subgroup, or an earlier cut of a growing cohort). Unrelated tables with the same
//! layout (two drugs' cohorts) are rarely nested, so their differences are not reported. The
//! operands are the tables under check and, as further operands never reported on, tables already
//! released (`CheckOptions::released`).

use std::collections::HashMap;

use crate::export::report::{Place, Raw};
use crate::export::rules::{Rule, Rules};
use crate::export::table::{Table, Use};
use crate::export::text::fold;

/// A table as a differencing operand: `checked` tables get findings, released ones only serve.
pub struct Operand<'a> {
    pub table: &'a Table,
    pub checked: bool,
}

/// Findings for each operand, in the order given (released operands always get none).
pub fn check(operands: &[Operand], rules: &Rules) -> Vec<Vec<Raw>> {
    let keyed: Vec<Keyed> = operands.iter().map(|o| Keyed::of(o.table)).collect();
    let mut out: Vec<Vec<Raw>> = operands.iter().map(|_| Vec::new()).collect();
    for i in 0..operands.len() {
        for j in i + 1..operands.len() {
            if !operands[i].checked && !operands[j].checked {
                continue;
            }
            for d in differences(&keyed[i], &keyed[j], rules) {
                for (me, other, my_row, other_row, mine, theirs) in
                    [(i, j, d.row_a, d.row_b, d.a, d.b), (j, i, d.row_b, d.row_a, d.b, d.a)]
                {
                    if !operands[me].checked {
                        continue;
                    }
                    let t = operands[me].table;
                    let other_name = operands[other].table.path.display();
                    let released = if operands[other].checked { "" } else { "released " };
                    out[me].push(Raw::new(
                        Rule::Differencing,
                        Place::cell(my_row, t.line_of(my_row), &t.columns[d.col_in(me == i)].name),
                        format!(
                            "{mine} here and {theirs} in the {released}table {other_name} (row {}) differ by {}: \
                             subtracting one table from the other reveals a group of 1 to {} people; coarsen or \
                             suppress so that no difference is that small, or release only one of them",
                            other_row + 1,
                            (mine - theirs).abs(),
                            rules.min_count - 1
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// A table's counts addressed by (row labels, count column name).
struct Keyed<'a> {
    table: &'a Table,
    /// Folded names of the label columns, sorted: tables compare only with the same set.
    label_names: Vec<String>,
    /// Row of each label combination (its first row).
    rows: HashMap<Vec<String>, usize>,
    /// Folded name → column index, for the count columns.
    counts: HashMap<String, usize>,
}

impl<'a> Keyed<'a> {
    fn of(table: &'a Table) -> Keyed<'a> {
        let mut labels: Vec<(String, usize)> =
            table.label_columns().into_iter().map(|c| (fold(&table.columns[c].name), c)).collect();
        labels.sort();
        let mut rows = HashMap::new();
        for row in 0..table.rows {
            let key: Vec<String> = if labels.is_empty() {
                vec![row.to_string()]
            } else {
                labels.iter().map(|&(_, c)| fold(&table.columns[c].raw[row])).collect()
            };
            rows.entry(key).or_insert(row);
        }
        let counts = table.columns_used_as(Use::Count).map(|c| (fold(&table.columns[c].name), c)).collect();
        Keyed { table, label_names: labels.into_iter().map(|(n, _)| n).collect(), rows, counts }
    }
}

struct Difference {
    row_a: usize,
    row_b: usize,
    col_a: usize,
    col_b: usize,
    a: f64,
    b: f64,
}

impl Difference {
    fn col_in(&self, first: bool) -> usize {
        if first { self.col_a } else { self.col_b }
    }
}

/// The small differences between two nested tables (none when they are not comparable or nested).
fn differences(a: &Keyed, b: &Keyed, rules: &Rules) -> Vec<Difference> {
    if a.label_names != b.label_names || (a.label_names.is_empty() && a.table.rows != b.table.rows) {
        return Vec::new();
    }
    let mut pairs = Vec::new();
    for (key, &row_a) in &a.rows {
        let Some(&row_b) = b.rows.get(key) else { continue };
        for (name, &col_a) in &a.counts {
            let Some(&col_b) = b.counts.get(name) else { continue };
            if let (Some(va), Some(vb)) = (a.table.columns[col_a].number(row_a), b.table.columns[col_b].number(row_b)) {
                pairs.push(Difference { row_a, row_b, col_a, col_b, a: va, b: vb });
            }
        }
    }
    let a_over_b = pairs.iter().all(|d| d.a >= d.b);
    let b_over_a = pairs.iter().all(|d| d.b >= d.a);
    if pairs.is_empty() || a_over_b == b_over_a {
        return Vec::new(); // nothing shared, identical, or not nested
    }
    let min = f64::from(rules.min_count);
    let mut small: Vec<Difference> =
        pairs.into_iter().filter(|d| (d.a - d.b).abs() >= 1.0 && (d.a - d.b).abs() < min).collect();
    small.sort_by_key(|d| (d.row_a, d.col_a));
    small
}
