//! Categorical columns as small integer codes: a group, a stratum, a sex, a site pseudonym.
//! Statistics group millions of rows by a handful of levels; coding each row once keeps the per-row
//! work to an array index and leaves the labels for the output.

use std::collections::HashMap;

use duckdb::arrow::array::{Array, AsArray};

use super::Frame;
use crate::error::Result;

/// The levels of a categorical column and each row's level as an index into them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Categories {
    /// Each row's level, an index into `labels`.
    pub codes: Vec<u32>,
    /// The distinct values, in ascending order (numeric order for a numeric column).
    pub labels: Vec<String>,
}

impl Categories {
    /// Every one of `rows` rows in one level named `label`.
    pub fn single(label: &str, rows: usize) -> Categories {
        Categories { codes: vec![0; rows], labels: vec![label.to_string()] }
    }

    /// Code in-memory labels; the levels are sorted as strings.
    pub fn from_labels<S: AsRef<str>>(values: &[S]) -> Categories {
        let (codes, labels) = code_in_order_seen(values.iter().map(|v| v.as_ref()));
        let mut cats = Categories { codes, labels };
        cats.sort_levels(|a, b| a.cmp(b));
        cats
    }

    /// The number of levels.
    pub fn levels(&self) -> usize {
        self.labels.len()
    }

    /// The code of a level, if the column has it.
    pub fn code_of(&self, label: &str) -> Option<u32> {
        self.labels.iter().position(|l| l == label).map(|i| i as u32)
    }

    /// Reorder the levels by `cmp` and recode the rows to match.
    fn sort_levels(&mut self, cmp: impl Fn(&str, &str) -> std::cmp::Ordering) {
        let mut order: Vec<u32> = (0..self.labels.len() as u32).collect();
        order.sort_by(|&a, &b| cmp(&self.labels[a as usize], &self.labels[b as usize]));
        let mut new_code = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_code[old as usize] = new as u32;
        }
        for code in &mut self.codes {
            *code = new_code[*code as usize];
        }
        self.labels = order.iter().map(|&old| std::mem::take(&mut self.labels[old as usize])).collect();
    }
}

impl Frame {
    /// A column as categories. A missing value is an error naming its row. Numeric columns keep
    /// numeric order (2 before 10); text columns sort as strings.
    pub fn categories(&self, name: &str) -> Result<Categories> {
        let numeric = self.data_type(name)?.is_numeric();
        let chunks = self.text_chunks(name)?;
        let texts: Vec<_> = chunks.iter().map(|c| c.as_string::<i32>()).collect();
        let mut offset = 0;
        for text in &texts {
            if let Some(row) = (0..text.len()).find(|&i| text.is_null(i)) {
                return Err(self.bad_row(
                    name,
                    offset + row,
                    "missing value (a grouping column needs a value on every row)",
                ));
            }
            offset += text.len();
        }
        let (codes, labels) = code_in_order_seen(texts.iter().flat_map(|t| t.iter().map(|v| v.unwrap_or_default())));
        let mut cats = Categories { codes, labels };
        if numeric {
            cats.sort_levels(|a, b| {
                let (x, y) = (a.parse::<f64>().unwrap_or(f64::NAN), b.parse::<f64>().unwrap_or(f64::NAN));
                x.total_cmp(&y)
            });
        } else {
            cats.sort_levels(|a, b| a.cmp(b));
        }
        Ok(cats)
    }
}

/// Codes in order of first appearance. Consecutive rows often share a level, so the previous
/// row's level is tried before the hash map.
fn code_in_order_seen<'a>(values: impl Iterator<Item = &'a str>) -> (Vec<u32>, Vec<String>) {
    let mut index: HashMap<&'a str, u32> = HashMap::new();
    let mut labels: Vec<String> = Vec::new();
    let mut codes = Vec::with_capacity(values.size_hint().0);
    let mut last: Option<(&str, u32)> = None;
    for v in values {
        let code = match last {
            Some((prev, code)) if prev == v => code,
            _ => *index.entry(v).or_insert_with(|| {
                labels.push(v.to_string());
                (labels.len() - 1) as u32
            }),
        };
        last = Some((v, code));
        codes.push(code);
    }
    (codes, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_and_codes_follow() {
        let c = Categories::from_labels(&["b", "a", "b", "c", "a"]);
        assert_eq!(c.labels, ["a", "b", "c"]);
        assert_eq!(c.codes, [1, 0, 1, 2, 0]);
        assert_eq!(c.code_of("c"), Some(2));
        assert_eq!(c.code_of("z"), None);
    }
}
