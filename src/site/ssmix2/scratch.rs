//! Where an import stages its rows: Parquet files in a scratch folder of the site, written batch by
//! batch outside the site's transaction, and read once, at the end, by one insert per table.
//!
//! Rows staged in tables of the site's own database stay in memory until the commit (DuckDB frees
//! neither deleted nor dropped rows of an open transaction), and bringing them in batch by batch
//! pays each table's checks once a batch. Here each batch's rows go through an in-memory database
//! of their own (freed after each batch) into one Parquet file per table, and the load reads them
//! all in one statement per table, which DuckDB writes out as it goes, as it does `site load`'s.
//!
//! The files hold what the import stages: patient keys, never a hospital's patient id or a name.
//! The folder is removed when the import ends, whatever way, and by the next import after a kill.

use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::site::SiteDir;
use crate::sql::duckdb::{ident, string};

/// The folder, in the site's directory.
const FOLDER: &str = ".ssmix2-staging";

/// The scratch folder of one import, and the files each staging table has so far.
pub struct Scratch {
    dir: PathBuf,
    db: duckdb::Connection,
    /// Per staging table (by name), its files in the order written.
    files: Vec<(String, Vec<PathBuf>)>,
}

impl Scratch {
    /// An empty scratch folder for the import into `site`: what a killed import left is removed.
    pub fn create(site: &SiteDir) -> Result<Scratch> {
        let dir = site.root().join(FOLDER);
        remove(&dir)?;
        std::fs::create_dir(&dir).at(&dir)?;
        Ok(Scratch { dir, db: duckdb::Connection::open_in_memory()?, files: Vec::new() })
    }

    /// The in-memory database a batch's rows are appended to: a table made with `create_sql`.
    pub fn db(&self) -> &duckdb::Connection {
        &self.db
    }

    /// Write the rows of the scratch database's table `staging` to a file of their own and drop
    /// the table. A table with no rows is written only if it has no file yet, so that every
    /// staging has a file to read (its columns) once one batch was staged.
    pub fn write(&mut self, staging: &str) -> Result<()> {
        let index = match self.files.iter().position(|(name, _)| name == staging) {
            Some(index) => index,
            None => {
                self.files.push((staging.to_string(), Vec::new()));
                self.files.len() - 1
            }
        };
        let rows: i64 = self.db.query_row(&format!("SELECT count(*) FROM {}", ident(staging)), [], |r| r.get(0))?;
        let files = &mut self.files[index].1;
        if rows > 0 || files.is_empty() {
            let file = self.dir.join(format!("{staging}-{}.parquet", files.len() + 1));
            self.db.execute_batch(&format!(
                "COPY {} TO {} (FORMAT parquet)",
                ident(staging),
                string(&file.to_string_lossy())
            ))?;
            files.push(file);
        }
        self.db.execute_batch(&format!("DROP TABLE {}", ident(staging)))?;
        Ok(())
    }

    /// On `conn`, a temporary view of each staging's name over all its files.
    pub fn create_views(&self, conn: &duckdb::Connection) -> Result<()> {
        for (staging, files) in &self.files {
            let files: Vec<String> = files.iter().map(|f| string(&f.to_string_lossy())).collect();
            conn.execute_batch(&format!(
                "CREATE OR REPLACE TEMP VIEW {} AS SELECT * FROM read_parquet([{}])",
                ident(staging),
                files.join(", ")
            ))?;
        }
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Nothing more can be done about a folder that will not go: the next import tries again.
        let _ = remove(&self.dir);
    }
}

fn remove(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(dir),
        _ => Ok(()),
    }
}
