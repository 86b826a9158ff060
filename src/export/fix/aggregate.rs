//! Coarsening a table: re-banding ages and summing over sites. Both come down to one operation:
//! relabel some rows, drop some columns, and sum the rows that then share their labels.

use std::collections::HashMap;

use super::Change;
use crate::bad_input;
use crate::error::Result;
use crate::export::ageband::{parse_band, reband};
use crate::export::checks::site::{is_per_site_column, site_column_reason};
use crate::export::registry::HospitalNames;
use crate::export::rules::Rules;
use crate::export::structure::is_total_name;
use crate::export::table::{Cell, Column, Table, Use};
use crate::table::float_cell;

/// Re-band the age columns that need it and sum over sites; the table unchanged when neither applies.
pub fn coarsen(table: Table, registry: &HospitalNames, rules: &Rules, changes: &mut Vec<Change>) -> Result<Table> {
    let table = sum_site_columns(table, registry, rules, changes)?;
    let site_cols: Vec<(usize, String)> = table
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| site_column_reason(c, registry, rules).map(|r| (i, r)))
        .collect();
    let relabels: HashMap<usize, HashMap<String, String>> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.use_ == Use::Age)
        .filter_map(|(i, c)| reband_column(c, rules).map(|m| (i, m)))
        .collect();
    if site_cols.is_empty() && relabels.is_empty() {
        return Ok(table);
    }
    for (&i, map) in &relabels {
        let mut pairs: Vec<String> =
            map.iter().filter(|(a, b)| a != b).map(|(a, b)| format!("`{a}` → `{b}`")).collect();
        pairs.sort();
        changes.push(Change::column(
            "rebanded",
            &table.columns[i].name,
            format!(
                "re-banded ages to bands of at least {} years with one band from {} up: {}",
                rules.age_band_width,
                rules.top_age_band,
                pairs.join(", ")
            ),
        ));
    }
    // Rows that total over the sites already are the sum: where one exists it stands for its group.
    let site_total: Vec<bool> = (0..table.rows)
        .map(|r| site_cols.iter().any(|(c, _)| rules.is_total_label(&table.columns[*c].raw[r])))
        .collect();
    for (c, reason) in &site_cols {
        changes.push(Change::column(
            "aggregated_sites",
            &table.columns[*c].name,
            format!("summed the results over the hospitals and dropped the column ({reason})"),
        ));
    }
    let site_set: Vec<usize> = site_cols.iter().map(|(c, _)| *c).collect();
    sum_rows(&table, &site_total, &site_set, &relabels, rules, changes)
}

/// The relabelling of an age column that breaks the band rules (`None` when it meets them, or when
/// a value is not a band at all and the column cannot be re-banded safely).
fn reband_column(col: &Column, rules: &Rules) -> Option<HashMap<String, String>> {
    let values: Vec<&String> = col
        .raw
        .iter()
        .zip(&col.cells)
        .filter(|(raw, cell)| **cell != Cell::Masked && !rules.is_total_label(raw))
        .map(|(raw, _)| raw)
        .collect();
    let bands = values.iter().map(|v| parse_band(v)).collect::<Option<Vec<_>>>()?;
    if bands.iter().all(|b| b.problem(rules.age_band_width, rules.top_age_band).is_none()) {
        return None;
    }
    let new = reband(&bands, rules.age_band_width, rules.top_age_band);
    Some(values.into_iter().zip(new).map(|(v, b)| (v.clone(), b.label())).collect())
}

/// Relabel, drop `drop_cols`, and sum the rows that share their labels (in order of first
/// appearance); in a group that has a `given_sum` row, that row is the sum. Additive columns are
/// summed; other numbers survive only where no rows merged.
fn sum_rows(
    table: &Table,
    given_sum: &[bool],
    drop_cols: &[usize],
    relabels: &HashMap<usize, HashMap<String, String>>,
    rules: &Rules,
    changes: &mut Vec<Change>,
) -> Result<Table> {
    let key_cols: Vec<usize> = table.label_columns().into_iter().filter(|c| !drop_cols.contains(c)).collect();
    let label = |c: usize, r: usize| -> String {
        let raw = &table.columns[c].raw[r];
        relabels.get(&c).and_then(|m| m.get(raw)).cloned().unwrap_or_else(|| raw.clone())
    };
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for r in 0..table.rows {
        let key: Vec<String> = key_cols.iter().map(|&c| label(c, r)).collect();
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(r);
    }
    for g in &mut groups {
        if let Some(&sum) = g.iter().find(|&&r| given_sum[r]) {
            *g = vec![sum];
        }
    }
    let merged = groups.iter().any(|g| g.len() > 1);
    let mut columns = Vec::new();
    for (c, col) in table.columns.iter().enumerate() {
        if drop_cols.contains(&c) {
            continue;
        }
        let raw: Vec<String> = if key_cols.contains(&c) {
            groups.iter().map(|g| label(c, g[0])).collect()
        } else if !merged {
            groups.iter().map(|g| col.raw[g[0]].clone()).collect()
        } else if col.is_additive() {
            groups
                .iter()
                .map(
                    |g| if g.len() == 1 { Ok(col.raw[g[0]].clone()) } else { sum_of(table, g.iter().map(|&r| (c, r))) },
                )
                .collect::<Result<_>>()?
        } else {
            changes.push(Change::column(
                "dropped_column",
                &col.name,
                "dropped: its values cannot be summed over the merged rows; recompute it from the summed counts",
            ));
            continue;
        };
        columns.push(Column::new(col.name.clone(), col.role, col.use_, raw, rules));
    }
    if merged {
        changes.push(Change::table(
            "merged_rows",
            format!("{} rows became {} (rows with the same labels were summed)", table.rows, groups.len()),
        ));
    }
    Ok(Table {
        path: table.path.clone(),
        sidecar: table.sidecar.clone(),
        lineage: table.lineage.clone(),
        columns,
        rows: groups.len(),
    })
}

/// The sum of some cells, as written in the output; a masked or text cell cannot be summed.
fn sum_of(table: &Table, cells: impl Iterator<Item = (usize, usize)>) -> Result<String> {
    let mut total = 0.0;
    for (c, r) in cells {
        let col = &table.columns[c];
        match col.cells[r] {
            Cell::Number(v) => total += v,
            _ => {
                return Err(bad_input!(
                    "{}: column `{}`, row {}: `{}` cannot be summed; run `midnet export fix` on the table before \
                     any cell is masked",
                    table.path.display(),
                    col.name,
                    r + 1,
                    col.raw[r]
                ));
            }
        }
    }
    Ok(number_cell(total))
}

/// A sum as written in the output: whole numbers without a decimal point.
pub fn number_cell(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 { format!("{}", v as i64) } else { float_cell(v) }
}

/// Columns holding one hospital each (`site01`, `北山大学病院`, …) are summed into one column
/// `all_sites`, or simply dropped when the table already has a total column.
fn sum_site_columns(table: Table, registry: &HospitalNames, rules: &Rules, changes: &mut Vec<Change>) -> Result<Table> {
    let per_site: Vec<usize> =
        (0..table.columns.len()).filter(|&c| is_per_site_column(&table.columns[c], registry)).collect();
    if per_site.is_empty() {
        return Ok(table);
    }
    let names: Vec<&str> = per_site.iter().map(|&c| table.columns[c].name.as_str()).collect();
    let has_total = table.columns.iter().any(|c| c.use_ == Use::Count && is_total_name(&c.name, rules));
    let mut columns = Vec::new();
    for (c, col) in table.columns.iter().enumerate() {
        if c == per_site[0] && !has_total {
            let raw =
                (0..table.rows).map(|r| sum_of(&table, per_site.iter().map(|&c| (c, r)))).collect::<Result<_>>()?;
            columns.push(Column::new("all_sites".into(), col.role, col.use_, raw, rules));
        }
        if !per_site.contains(&c) {
            columns.push(col.clone());
        }
    }
    changes.push(Change::table(
        "aggregated_sites",
        if has_total {
            format!("dropped the per-hospital columns {} (the table's total column keeps their sum)", names.join(", "))
        } else {
            format!("summed the per-hospital columns {} into one column `all_sites`", names.join(", "))
        },
    ));
    Ok(Table { columns, ..table })
}
