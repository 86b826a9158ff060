//! A site's clinical data in memory, grouped by patient: the input of the reference evaluator.

use std::collections::{BTreeMap, HashMap};

use crate::error::Result;
use crate::query::tables::Table;
use crate::query::value::Value;

/// One patient: the patient table's row and the patient's events of every table, each event's
/// values in the order of [`Table::columns`].
#[derive(Debug, Clone)]
pub struct PatientData {
    pub key: String,
    pub sex: Value,
    /// As the site holds it; scripts see it through [`PatientData::patient_column`].
    pub birth_date: Value,
    pub death_date: Value,
    pub events: BTreeMap<Table, Vec<Vec<Value>>>,
}

impl PatientData {
    /// A patient-level value as scripts see it: the birth date is the first day of its month, so
    /// that nothing a script computes depends on the day of birth.
    pub fn patient_column(&self, name: &str) -> Value {
        match name {
            "sex" => self.sex.clone(),
            "birth_date" => match self.birth_date {
                Value::Date(days) => Value::Date(crate::query::value::first_of_month(days)),
                ref other => other.clone(),
            },
            "death_date" => self.death_date.clone(),
            other => panic!("the patient table has no column {other}"),
        }
    }

    pub fn events(&self, table: Table) -> &[Vec<Value>] {
        self.events.get(&table).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The patients of a site, in patient-key order.
#[derive(Debug, Clone, Default)]
pub struct SiteData {
    pub patients: Vec<PatientData>,
}

impl SiteData {
    /// Read every clinical table of a site database. Events of a patient key the patient table
    /// does not hold are left out, as the compiled queries leave them out.
    pub fn read(conn: &duckdb::Connection) -> Result<SiteData> {
        let mut patients = Vec::new();
        let mut stmt =
            conn.prepare("SELECT patient_key, sex, birth_date, death_date FROM patient ORDER BY patient_key")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            patients.push(PatientData {
                key: row.get(0)?,
                sex: Value::from_duckdb(row.get(1)?)?,
                birth_date: Value::from_duckdb(row.get(2)?)?,
                death_date: Value::from_duckdb(row.get(3)?)?,
                events: BTreeMap::new(),
            });
        }
        let index: HashMap<String, usize> = patients.iter().enumerate().map(|(i, p)| (p.key.clone(), i)).collect();
        for table in Table::ALL {
            // The schema's own names, plain lowercase words that are no keyword of DuckDB's (a test
            // holds them so), need no quoting.
            let cols: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
            let sql = format!("SELECT patient_key, {} FROM {}", cols.join(", "), table.name());
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let key: String = row.get(0)?;
                let Some(&i) = index.get(&key) else { continue };
                let values = (1..=cols.len()).map(|c| Value::from_duckdb(row.get(c)?)).collect::<Result<Vec<_>>>()?;
                patients[i].events.entry(table).or_default().push(values);
            }
        }
        Ok(SiteData { patients })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SiteData::read` names the schema's tables and columns without quotes: each must be a plain
    /// lowercase word that DuckDB reads as a name, never as a keyword.
    #[test]
    fn the_schema_names_read_without_quotes_are_plain_words() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let mut keyword = conn
            .prepare(
                "SELECT count(*) FROM duckdb_keywords() WHERE keyword_name = ? AND keyword_category <> 'unreserved'",
            )
            .unwrap();
        let names = Table::ALL.iter().flat_map(|t| std::iter::once(t.name()).chain(t.columns().iter().map(|c| c.name)));
        for name in names.chain(["patient", "patient_key", "sex", "birth_date", "death_date"]) {
            let plain = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            assert!(plain, "{name} is not a plain lowercase word");
            let reserved: i64 = keyword.query_row([name], |r| r.get(0)).unwrap();
            assert_eq!(reserved, 0, "{name} is a keyword of DuckDB's");
        }
    }
}
