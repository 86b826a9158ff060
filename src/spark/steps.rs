//! A query run as its steps. Spark has no materialised CTE and plans a CTE again at each of its
//! references, so a query whose ~45 CTEs read each other (the active-comparator cohort) grows a
//! plan of ~18,700 operators, which ran a `local[2]` server with 2 GB out of memory. Run step by
//! step instead, each step that later ones read more than once is computed once, and every plan
//! stays the size of one step.

use std::path::Path;

use duckdb::arrow::record_batch::RecordBatch;

use super::{Session, ident, string};
use crate::error::{Error, Result};

impl Session {
    /// Run a query given as named steps (each a SELECT that reads the tables and the earlier steps
    /// by name) and its final SELECT. A step that the later ones read more than once is computed
    /// once: written as Parquet into a directory of its own under `scratch` (a directory that the
    /// server writes and reads: on loopback, this machine's) and read back as a temporary view; any
    /// other step is a temporary view, computed where it is read. The views are dropped and the
    /// files removed afterwards, whether the query ran or not.
    pub fn query_in_steps(
        &mut self,
        steps: &[(String, String)],
        select: &str,
        scratch: &Path,
    ) -> Result<Vec<RecordBatch>> {
        let result = self.run_steps(steps, select, scratch);
        for (name, _) in steps {
            // The session's release drops them too: a failure here leaves nothing behind.
            let _ = self.sql(&format!("DROP VIEW IF EXISTS {}", ident(name)));
        }
        for i in 0..steps.len() {
            let dir = step_dir(scratch, i);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
        }
        result
    }

    fn run_steps(&mut self, steps: &[(String, String)], select: &str, scratch: &Path) -> Result<Vec<RecordBatch>> {
        for (i, (name, body)) in steps.iter().enumerate() {
            let later = steps[i + 1..].iter().map(|(_, body)| body.as_str()).chain([select]);
            let readers: usize = later.map(|text| occurrences(text, name)).sum();
            let view = if readers > 1 {
                let dir = string(&step_dir(scratch, i).display().to_string());
                self.sql(&format!("INSERT OVERWRITE DIRECTORY {dir} USING parquet\n{body}"))?;
                format!("SELECT * FROM parquet.{}", ident(&step_dir(scratch, i).display().to_string()))
            } else {
                body.clone()
            };
            self.sql(&format!("CREATE OR REPLACE TEMPORARY VIEW {} AS\n{view}", ident(name)))?;
        }
        self.sql(select)
    }
}

fn step_dir(scratch: &Path, step: usize) -> std::path::PathBuf {
    scratch.join(format!("step-{step}"))
}

/// How many times `name` occurs in `text` as a whole name (not inside a longer one), quoted or not.
/// A column of the same name counts too: a step is then staged that need not be, which costs time
/// but changes no row.
fn occurrences(text: &str, name: &str) -> usize {
    let part_of_a_name = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name)
        .filter(|(at, _)| {
            let before = text[..*at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            !before.is_some_and(part_of_a_name) && !after.is_some_and(part_of_a_name)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_names_are_counted() {
        let text = "FROM cohort c JOIN `cohort` x WHERE y IN (SELECT patient_key FROM cohort_base) AND cohort2";
        assert_eq!(occurrences(text, "cohort"), 2);
        assert_eq!(occurrences(text, "cohort_base"), 1);
        assert_eq!(occurrences(text, "base"), 0);
    }
}
