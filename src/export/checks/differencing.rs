//! `differencing`: a count of 1 to 9 that appears when one table is subtracted from another, such
//! as the whole cohort minus a subgroup, or analysis k+1 minus analysis k of the same table.
//!
//! Tables are matched by what they contain, never by their column names (a count renamed from `n`
//! to `patients`, a label column from `group` to `arm`, changes nothing):
//!
//! - rows: each label column of one table is paired with the label column of the other that shares
//!   most of its values, and rows are matched on those values; when the labels share no value at all
//!   (relabelled) but the tables have as many rows, label columns and levels in each, rows are
//!   matched in order;
//! - counts: each count column of one table is paired with the count column of the other whose
//!   values, over the matched rows, are closest;
//! - the two tables must be nested: every paired count of one is at least that of the other (a
//!   subgroup, or an earlier cut of a growing cohort). Unrelated tables with the same layout (two
//!   drugs' cohorts) are rarely nested, so their differences are not reported.
//!
//! The operands are the tables under check and, as further operands never reported on, tables
//! already released (`CheckOptions::released`).

use std::collections::{BTreeSet, HashMap};

use crate::export::findings::{Place, Raw};
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
                    let other_table = operands[other].table;
                    let other_name = other_table.path.display();
                    let other_column = &other_table.columns[d.col_in(me != i)].name;
                    let released = if operands[other].checked { "" } else { "released " };
                    out[me].push(Raw::new(
                        Rule::Differencing,
                        Place::cell(my_row, t.line_of(my_row), &t.columns[d.col_in(me == i)].name),
                        format!(
                            "{mine} here and {theirs} in the {released}table {other_name} (row {}, column \
                             `{other_column}`) differ by {}: subtracting one table from the other reveals a group of \
                             1 to {} people; coarsen or suppress so that no difference is that small, or release \
                             only one of them",
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

/// A table's label columns (with their folded values) and count columns.
struct Keyed<'a> {
    table: &'a Table,
    labels: Vec<usize>,
    /// The folded distinct values of each label column.
    values: Vec<BTreeSet<String>>,
    counts: Vec<usize>,
}

impl<'a> Keyed<'a> {
    fn of(table: &'a Table) -> Keyed<'a> {
        let labels = table.label_columns();
        let values = labels.iter().map(|&c| table.columns[c].raw.iter().map(|v| fold(v)).collect()).collect();
        Keyed { table, labels, values, counts: table.columns_used_as(Use::Count).collect() }
    }

    fn key(&self, row: usize, order: &[usize]) -> Vec<String> {
        order.iter().map(|&l| fold(&self.table.columns[self.labels[l]].raw[row])).collect()
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
    let Some(rows) = matched_rows(a, b) else { return Vec::new() };
    let pairs: Vec<Difference> = paired_counts(a, b, &rows)
        .into_iter()
        .flat_map(|(col_a, col_b)| {
            rows.iter().filter_map(move |&(row_a, row_b)| {
                let va = a.table.columns[col_a].number(row_a)?;
                let vb = b.table.columns[col_b].number(row_b)?;
                Some(Difference { row_a, row_b, col_a, col_b, a: va, b: vb })
            })
        })
        .collect();
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

/// The rows of `a` and `b` that describe the same group, paired.
fn matched_rows(a: &Keyed, b: &Keyed) -> Option<Vec<(usize, usize)>> {
    if a.labels.len() != b.labels.len() {
        return None;
    }
    let in_order = || (a.table.rows == b.table.rows).then(|| (0..a.table.rows).map(|r| (r, r)).collect());
    if a.labels.is_empty() {
        return in_order();
    }
    let Some(order) = label_pairing(a, b) else {
        // Relabelled: no value in common, but as many rows and as many levels in each label column.
        let shared = a.values.iter().any(|va| b.values.iter().any(|vb| !va.is_disjoint(vb)));
        let levels = |k: &Keyed| {
            let mut n: Vec<usize> = k.values.iter().map(BTreeSet::len).collect();
            n.sort();
            n
        };
        return if shared || levels(a) != levels(b) { None } else { in_order() };
    };
    let identity: Vec<usize> = (0..a.labels.len()).collect();
    let mut first_in_b: HashMap<Vec<String>, usize> = HashMap::new();
    for row in 0..b.table.rows {
        first_in_b.entry(b.key(row, &order)).or_insert(row);
    }
    let mut seen = BTreeSet::new();
    let rows: Vec<(usize, usize)> = (0..a.table.rows)
        .filter_map(|row| {
            let key = a.key(row, &identity);
            let other = *first_in_b.get(&key)?;
            seen.insert(key).then_some((row, other))
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

/// For each label column of `a`, the label column of `b` sharing most of its values (each used
/// once); none when some column of `a` shares no value with any column of `b` left.
fn label_pairing(a: &Keyed, b: &Keyed) -> Option<Vec<usize>> {
    let overlap = |i: usize, j: usize| {
        let shared = a.values[i].intersection(&b.values[j]).count();
        shared as f64 / a.values[i].len().min(b.values[j].len()).max(1) as f64
    };
    let mut candidates: Vec<(f64, usize, usize)> = (0..a.labels.len())
        .flat_map(|i| (0..b.labels.len()).map(move |j| (i, j)))
        .map(|(i, j)| (overlap(i, j), i, j))
        .filter(|(o, _, _)| *o > 0.0)
        .collect();
    candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let mut order: Vec<Option<usize>> = vec![None; a.labels.len()];
    let mut used = vec![false; b.labels.len()];
    for (_, i, j) in candidates {
        if order[i].is_none() && !used[j] {
            order[i] = Some(j);
            used[j] = true;
        }
    }
    order.into_iter().collect()
}

/// Count columns of `a` and `b` paired by content: closest values over the matched rows first,
/// each column used once.
fn paired_counts(a: &Keyed, b: &Keyed, rows: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let distance = |ca: usize, cb: usize| {
        let (mut apart, mut scale, mut shared) = (0.0, 0.0, 0);
        for &(ra, rb) in rows {
            if let (Some(x), Some(y)) = (a.table.columns[ca].number(ra), b.table.columns[cb].number(rb)) {
                apart += (x - y).abs();
                scale += x.abs().max(y.abs());
                shared += 1;
            }
        }
        (shared > 0).then(|| if scale > 0.0 { apart / scale } else { 0.0 })
    };
    let mut candidates: Vec<(f64, usize, usize)> = a
        .counts
        .iter()
        .flat_map(|&ca| b.counts.iter().map(move |&cb| (ca, cb)))
        .filter_map(|(ca, cb)| distance(ca, cb).map(|d| (d, ca, cb)))
        .collect();
    candidates.sort_by(|x, y| x.0.total_cmp(&y.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let (mut used_a, mut used_b, mut pairs) = (BTreeSet::new(), BTreeSet::new(), Vec::new());
    for (_, ca, cb) in candidates {
        if !used_a.contains(&ca) && !used_b.contains(&cb) {
            used_a.insert(ca);
            used_b.insert(cb);
            pairs.push((ca, cb));
        }
    }
    pairs
}
