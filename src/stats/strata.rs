//! Strata formed by crossing categorical columns (age band × sex × group): each row's stratum as
//! a code, and each stratum's labels, one per column. Only combinations present in the data are
//! strata; they are ordered by the columns' level order, first column slowest.

use crate::table::Categories;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strata {
    /// Each row's stratum, an index into `keys`.
    pub codes: Vec<u32>,
    /// The labels of each stratum, one per crossed column.
    pub keys: Vec<Vec<String>>,
}

impl Strata {
    /// Cross `columns` (each with one code per row, `rows` rows). No columns: one stratum of
    /// every row, with an empty key.
    pub fn cross(columns: &[&Categories], rows: usize) -> Strata {
        // Mixed-radix combined code: Σ code_c · Π_{c' > c} levels_c'.
        let mut combined = vec![0u64; rows];
        for col in columns {
            let radix = col.levels() as u64;
            for (c, &code) in combined.iter_mut().zip(&col.codes) {
                *c = *c * radix + code as u64;
            }
        }
        let present = present_values(&combined, columns);
        let codes = recode(&combined, &present);
        let keys = present
            .iter()
            .map(|&c| {
                let mut rest = c;
                let mut key: Vec<String> = columns
                    .iter()
                    .rev()
                    .map(|col| {
                        let radix = col.levels() as u64;
                        let label = col.labels[(rest % radix) as usize].clone();
                        rest /= radix;
                        label
                    })
                    .collect();
                key.reverse();
                key
            })
            .collect();
        Strata { codes, keys }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Combinations small enough to index directly are looked up in a table, so that millions of rows
/// cost one pass; otherwise the distinct values come from sorting a copy.
const DENSE_LIMIT: u64 = 1 << 22;

fn combinations(columns: &[&Categories]) -> u64 {
    columns.iter().fold(1u64, |p, c| p.saturating_mul(c.levels() as u64))
}

/// The distinct combined codes, ascending.
fn present_values(combined: &[u64], columns: &[&Categories]) -> Vec<u64> {
    let size = combinations(columns);
    if size <= DENSE_LIMIT {
        let mut seen = vec![false; size as usize];
        for &c in combined {
            seen[c as usize] = true;
        }
        (0..size).filter(|&c| seen[c as usize]).collect()
    } else {
        let mut present = combined.to_vec();
        present.sort_unstable();
        present.dedup();
        present
    }
}

/// Each combined code's index among the present values.
fn recode(combined: &[u64], present: &[u64]) -> Vec<u32> {
    let size = present.last().map_or(0, |&c| c + 1);
    if size <= DENSE_LIMIT {
        let mut index = vec![0u32; size as usize];
        for (i, &c) in present.iter().enumerate() {
            index[c as usize] = i as u32;
        }
        combined.iter().map(|&c| index[c as usize]).collect()
    } else {
        combined.iter().map(|c| present.binary_search(c).expect("present") as u32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crosses_only_present_combinations_in_level_order() {
        let sex = Categories::from_labels(&["M", "F", "M", "F"]);
        let group = Categories::from_labels(&["b", "a", "a", "a"]);
        let s = Strata::cross(&[&sex, &group], 4);
        assert_eq!(s.keys, vec![vec!["F", "a"], vec!["M", "a"], vec!["M", "b"]]);
        assert_eq!(s.codes, [2, 0, 1, 0]);
    }

    #[test]
    fn no_columns_is_one_stratum() {
        let s = Strata::cross(&[], 3);
        assert_eq!(s.codes, [0, 0, 0]);
        assert_eq!(s.keys, vec![Vec::<String>::new()]);
    }
}
