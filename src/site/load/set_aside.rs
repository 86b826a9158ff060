//! `midnet_set_aside(rn, key, reason, raw)`: the SQL function through which the pass that inserts a
//! file's good rows hands over its bad ones. It returns false, so the row is not inserted, and keeps
//! the row's record number (0 when the file is read unnumbered), patient key, reasons and raw
//! fields for the quarantine. One read of a file thus both loads and sorts out; only the line
//! numbers of bad rows need a second read (`super::lines`), which looks only at the records with
//! their patient keys.

use std::sync::{Arc, Mutex};

use duckdb::core::{DataChunkHandle, FlatVector, LogicalTypeId};
use duckdb::ffi::duckdb_string_t;
use duckdb::types::DuckString;
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;

pub const FUNCTION: &str = "midnet_set_aside";

/// A bad row, as the inserting pass saw it.
#[derive(Debug, Clone)]
pub struct BadRow {
    pub rn: Option<i64>,
    pub key: String,
    pub reason: String,
    pub raw: String,
}

/// At most this many bad rows of a file read unnumbered are kept in memory (a few hundred bytes
/// each); a file with more (a whole export with a wrong date format, say) has its bad rows found
/// again in SQL. The rows of a file read in order (the patient file, one row a patient) are all
/// kept: found again after the insert, its good rows would look already loaded.
pub const KEPT_AT_MOST: usize = 100_000;

/// The bad rows of one file: the first `KEPT_AT_MOST`, and how many there were.
#[derive(Debug, Default)]
pub struct BadRows {
    pub kept: Vec<BadRow>,
    pub count: usize,
}

impl BadRows {
    pub fn all_kept(&self) -> bool {
        self.kept.len() == self.count
    }
}

/// The rows set aside since the last `take`; shared with DuckDB's worker threads.
#[derive(Debug, Clone, Default)]
pub struct SetAside(Arc<Mutex<BadRows>>);

impl SetAside {
    /// Register the function on the connection, collecting into this.
    pub fn register(conn: &duckdb::Connection) -> duckdb::Result<SetAside> {
        let set_aside = SetAside::default();
        conn.register_scalar_function_with_state::<SetAsideFunction>(FUNCTION, &set_aside)?;
        Ok(set_aside)
    }

    pub fn take(&self) -> BadRows {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

struct SetAsideFunction;

impl VScalar for SetAsideFunction {
    type State = SetAside;

    fn invoke(
        state: &SetAside,
        input: &mut DataChunkHandle,
        output: &mut dyn WritableVector,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let len = input.len();
        let rn = input.flat_vector(0);
        let numbers = unsafe { rn.as_slice_with_len::<i64>(len) };
        let (keys, reasons, raws) = (input.flat_vector(1), input.flat_vector(2), input.flat_vector(3));
        let mut bad = state.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        bad.count += len;
        for (i, &number) in numbers.iter().enumerate() {
            let rn = (number > 0).then_some(number);
            if rn.is_none() && bad.kept.len() >= KEPT_AT_MOST {
                break;
            }
            bad.kept.push(BadRow {
                rn,
                key: text(&keys, i, len),
                reason: text(&reasons, i, len),
                raw: text(&raws, i, len),
            });
        }
        drop(bad);
        let mut out = output.flat_vector();
        unsafe { out.as_mut_slice_with_len::<bool>(len) }.fill(false);
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        let varchar = || LogicalTypeId::Varchar.into();
        vec![ScalarFunctionSignature::exact(
            vec![LogicalTypeId::Bigint.into(), varchar(), varchar(), varchar()],
            LogicalTypeId::Boolean.into(),
        )]
    }

    /// Called once for each row, never folded or shared: every call records a row.
    fn volatile() -> bool {
        true
    }
}

/// Row `i` of a VARCHAR vector (the SQL never passes NULL).
fn text(vector: &FlatVector, i: usize, len: usize) -> String {
    let strings = unsafe { vector.as_slice_with_len::<duckdb_string_t>(len) };
    DuckString::new(&mut { strings[i] }).as_str().into_owned()
}
