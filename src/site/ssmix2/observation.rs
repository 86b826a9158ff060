//! The EHR observation period of a patient the storage holds: from the first to the last day of
//! care (診療日, the date folder of the file's path) of their current files, whatever their data
//! kind and whatever became of their rows. SS-MIX2 has no enrolment to read: a day of care is the
//! evidence that the hospital saw the patient. Taking it from the files rather than from the rows
//! keeps the period the same whether a row waits for the mapping, was quarantined or comes from a
//! kind the import skips (docs/ss-mix2.md, "Observation periods").

use crate::error::Result;

/// Replace the EHR observation periods of every patient the storage has held by those of their
/// current files; a patient with no current dated file has none. Runs inside the import's
/// transaction, after its files are recorded.
pub fn derive(conn: &duckdb::Connection) -> Result<()> {
    conn.execute(
        "DELETE FROM observation_period WHERE source = 'EHR' \
         AND patient_key IN (SELECT patient_key FROM ssmix2_file)",
        [],
    )?;
    // source_file: <key[0:3]>/<key[3:6]>/<key>/<date or ->/<kind>/<name>
    conn.execute(
        "INSERT INTO observation_period (patient_key, source, start_date, end_date) \
         SELECT patient_key, 'EHR', min(day), max(day) FROM ( \
             SELECT patient_key, try_strptime(split_part(source_file, '/', 4), '%Y%m%d')::DATE AS day \
             FROM ssmix2_file WHERE withdrawn IS NULL) \
         WHERE day IS NOT NULL GROUP BY patient_key",
        [],
    )?;
    Ok(())
}
