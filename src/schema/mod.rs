//! The standardized clinical schema of a site's integrated data source (`sql/schema.sql`), the
//! masters the data center distributes (`sql/masters/`), and the code systems the schema's codes
//! belong to. The data dictionary for users is `docs/schema.md`.

pub mod codes;
mod masters;
mod role;

pub use codes::CodeSystem;
pub use masters::{MASTERS, load_masters};
pub use role::ColumnRole;

/// The DDL of a site database.
pub const SCHEMA_SQL: &str = include_str!("../../sql/schema.sql");

/// The version of the schema `SCHEMA_SQL` creates (its `schema_version` row). A site database of
/// an older version is migrated (`site::migrate`); one of a newer version is refused.
pub const SCHEMA_VERSION: i64 = 8;

/// The clinical tables a site loads from its hospital's files, in load order. Masters and
/// bookkeeping tables are not among them.
pub const CLINICAL_TABLES: [&str; 8] = [
    "patient",
    "observation_period",
    "encounter",
    "diagnosis",
    "drug_order",
    "drug_administration",
    "lab_result",
    "procedure",
];

/// Create every table of the schema and load the masters into a fresh database.
pub fn create_site_tables(conn: &duckdb::Connection) -> crate::Result<()> {
    conn.execute_batch(SCHEMA_SQL)?;
    load_masters(conn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_records_its_own_version() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch(super::SCHEMA_SQL).unwrap();
        let version: i64 = conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, super::SCHEMA_VERSION);
    }
}
