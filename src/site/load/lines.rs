//! The line numbers of a CSV file's bad rows. The read that inserts a file's rows runs in parallel
//! and cannot tell where in the file a row was; the few bad rows are found again by a second read
//! in Rust (the `csv` crate, in the dialect DuckDB's sniffer chose), which looks at the fields of
//! a record only when its patient key is that of a bad row. A record's line is the physical line
//! it starts on, as an editor shows it: the header is line 1, and blank lines, comment lines and
//! line breaks inside quoted fields count.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::set_aside::BadRow;
use crate::error::{Error, Result};
use crate::sql::duckdb::string;

/// How DuckDB splits a CSV file into records and fields, in terms the `csv` crate reads.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    delimiter: u8,
    quote: Option<u8>,
    escape: Option<u8>,
    /// Lines that begin with it are skipped (DuckDB also ends a line's fields at it, which the
    /// `csv` crate does not: such a row is not found, and the load falls back, see `at_lines`).
    comment: Option<u8>,
    /// Lines before the header that DuckDB skips.
    skip_rows: u64,
}

impl Dialect {
    /// The dialect DuckDB reads `path` in (the options are those of the load's reads), or None if
    /// the `csv` crate cannot read it the same way: a delimiter, quote, escape or comment mark of
    /// several bytes.
    pub fn sniff(conn: &duckdb::Connection, path: &Path) -> duckdb::Result<Option<Dialect>> {
        let sql = format!(
            "SELECT Delimiter, Quote, Escape, Comment, SkipRows \
             FROM sniff_csv({}, header = true, all_varchar = true, ignore_errors = true)",
            string(&path.to_string_lossy())
        );
        let (delimiter, quote, escape, comment, skip_rows): (String, String, String, String, i64) =
            conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
        Ok(Self::of(&delimiter, &quote, &escape, &comment, skip_rows))
    }

    fn of(delimiter: &str, quote: &str, escape: &str, comment: &str, skip_rows: i64) -> Option<Dialect> {
        // The sniffer shows a character it did not find as "(empty)".
        let byte = |s: &str| match s {
            "(empty)" => Some(None),
            s if s.len() == 1 => Some(Some(s.as_bytes()[0])),
            _ => None,
        };
        Some(Dialect {
            delimiter: byte(delimiter)??,
            quote: byte(quote)?,
            escape: byte(escape)?,
            comment: byte(comment)?,
            skip_rows: u64::try_from(skip_rows).ok()?,
        })
    }

    fn reader(&self, file: std::fs::File) -> csv::Reader<std::fs::File> {
        let quote = self.quote.unwrap_or(b'"');
        // An escape equal to the quote is the doubled quote of RFC 4180.
        let escape = self.escape.filter(|&e| e != quote);
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .quoting(self.quote.is_some())
            .quote(quote)
            .double_quote(escape.is_none())
            .escape(escape)
            .comment(self.comment)
            .buffer_capacity(1 << 20)
            .from_reader(file)
    }
}

/// A record of the file with the fields of a bad row.
#[derive(Debug)]
pub struct Record {
    /// Its number among the file's well-formed data records, as DuckDB numbers them (`rn`).
    pub ordinal: i64,
    pub line: i64,
    pub raw: String,
}

/// The records of the CSV file at `path` (columns `header`) whose patient key and raw fields are
/// those of one of `bad`. `fields` are the table's columns in the order the raw fields join them.
pub fn find(path: &Path, dialect: &Dialect, header: &[String], fields: &[&str], bad: &[BadRow]) -> Result<Vec<Record>> {
    let keys: HashSet<&[u8]> = bad.iter().map(|row| row.key.as_bytes()).collect();
    let raws: HashSet<&str> = bad.iter().map(|row| row.raw.as_str()).collect();
    let at_field: Vec<Option<usize>> = fields.iter().map(|f| header.iter().position(|h| h == f)).collect();
    let key_at = header.iter().position(|h| h == "patient_key");
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut starts =
        StartLines { file: std::fs::File::open(path).map_err(|e| Error::io(path, e))?, comment: dialect.comment };
    let mut reader = dialect.reader(file);
    let mut record = csv::ByteRecord::new();
    let (mut header_seen, mut ordinal, mut found) = (false, 0, Vec::new());
    while reader.read_byte_record(&mut record).map_err(|e| unreadable(path, e))? {
        let at = record.position().expect("the csv crate gives each record its position");
        if !header_seen {
            header_seen =
                dialect.skip_rows == 0 || starts.line_of(at).map_err(|e| Error::io(path, e))? > dialect.skip_rows;
            continue;
        }
        // A record with another number of fields is a malformed line, which DuckDB rejects.
        if record.len() != header.len() {
            continue;
        }
        ordinal += 1;
        if !keys.contains(key_at.map_or(&b""[..], |k| &record[k])) {
            continue;
        }
        let raw = raw_of(&record, &at_field);
        if raws.contains(raw.as_str()) {
            let line = starts.line_of(at).map_err(|e| Error::io(path, e))?;
            found.push(Record { ordinal, line: line as i64, raw });
        }
    }
    Ok(found)
}

/// The line a record starts on. The `csv` crate places a record where the one before it ended:
/// before the blank and comment lines between them, and before the `\n` of a `\r\n`. Those are
/// skipped here, in the file itself (for the few records whose lines are wanted).
struct StartLines {
    file: std::fs::File,
    comment: Option<u8>,
}

impl StartLines {
    fn line_of(&mut self, at: &csv::Position) -> std::io::Result<u64> {
        use std::io::{Read, Seek};
        let from = at.byte().saturating_sub(1);
        self.file.seek(std::io::SeekFrom::Start(from))?;
        let mut bytes = std::io::BufReader::with_capacity(4096, &mut self.file).bytes();
        // Whether the byte before is a line's end (or there is none).
        let mut line_start = at.byte() == 0 || bytes.next().transpose()? == Some(b'\n');
        let (mut line, mut in_comment) = (at.line(), false);
        for byte in bytes {
            match byte? {
                b'\n' => (line, in_comment, line_start) = (line + 1, false, true),
                b'\r' => {}
                _ if in_comment => {}
                b if line_start && Some(b) == self.comment => in_comment = true,
                _ => return Ok(line),
            }
        }
        Ok(line)
    }
}

/// The fields as the quarantine shows them (`stage::raw_sql`): joined by `|`, missing ones empty.
fn raw_of(record: &csv::ByteRecord, at_field: &[Option<usize>]) -> String {
    let fields: Vec<std::borrow::Cow<str>> =
        at_field.iter().map(|i| i.map_or("".into(), |i| String::from_utf8_lossy(&record[i]))).collect();
    fields.join("|")
}

fn unreadable(path: &Path, e: csv::Error) -> Error {
    Error::BadInput(format!("{}: cannot be read again for the lines of its bad rows: {e}", path.display()))
}

/// A bad row at its line: line, reason, raw fields.
pub type AtLine = (i64, String, String);

/// Each bad row at the line of the record found for it, or None when the two reads of the file do
/// not agree. A row with a record number is the record with that number; a row without is one of
/// the records with its raw fields, which are bad all alike (the checks of a row depend on the
/// row alone, the patient file's being read in order and numbered).
pub fn at_lines(bad: &[BadRow], found: &[Record]) -> Option<Vec<AtLine>> {
    let by_number: HashMap<i64, &BadRow> = bad.iter().filter_map(|row| row.rn.map(|rn| (rn, row))).collect();
    let mut unnumbered: HashMap<&str, (&str, usize)> = HashMap::new();
    for row in bad.iter().filter(|row| row.rn.is_none()) {
        unnumbered.entry(&row.raw).or_insert((&row.reason, 0)).1 += 1;
    }
    let mut lines = Vec::with_capacity(bad.len());
    for record in found {
        if let Some(row) = by_number.get(&record.ordinal).filter(|row| row.raw == record.raw) {
            lines.push((record.line, row.reason.clone(), record.raw.clone()));
        } else if let Some((reason, left)) = unnumbered.get_mut(record.raw.as_str()) {
            *left = left.checked_sub(1)?;
            lines.push((record.line, reason.to_string(), record.raw.clone()));
        }
    }
    (lines.len() == bad.len() && unnumbered.values().all(|(_, left)| *left == 0)).then_some(lines)
}

/// The first physical line of `path` longer than `max` bytes (its line break not counted): its
/// number (from 1) and length. For the message of a file the CSV reader's sniffer cannot read,
/// which names the line wrongly (DuckDB counts from where its sample begins).
pub fn first_longer_than(path: &Path, max: u64) -> std::io::Result<Option<(u64, u64)>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 16];
    let (mut line, mut length) = (1u64, 0u64);
    let mut long: Option<u64> = None;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(long.map(|at| (at, length)));
        }
        for &byte in &buffer[..n] {
            if byte != b'\n' {
                length += 1;
                if length > max && long.is_none() {
                    long = Some(line);
                }
                continue;
            }
            if let Some(at) = long {
                return Ok(Some((at, length)));
            }
            line += 1;
            length = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rn: Option<i64>, raw: &str) -> BadRow {
        BadRow { rn, key: "K1".into(), reason: format!("bad {raw}"), raw: raw.into() }
    }

    fn record(ordinal: i64, line: i64, raw: &str) -> Record {
        Record { ordinal, line, raw: raw.into() }
    }

    #[test]
    fn the_sniffers_dialect_in_csv_terms() {
        let d = Dialect::of(";", "\"", "\\", "#", 2).unwrap();
        assert_eq!(
            (d.delimiter, d.quote, d.escape, d.comment, d.skip_rows),
            (b';', Some(b'"'), Some(b'\\'), Some(b'#'), 2)
        );
        let d = Dialect::of(",", "(empty)", "(empty)", "(empty)", 0).unwrap();
        assert_eq!((d.quote, d.escape, d.comment), (None, None, None));
        assert!(Dialect::of("||", "\"", "(empty)", "(empty)", 0).is_none(), "a delimiter of two bytes");
        assert!(Dialect::of(",", "\"", "(empty)", "//", 0).is_none(), "a comment mark of two bytes");
    }

    #[test]
    fn identical_bad_rows_take_every_record_with_their_fields() {
        let bad = [row(None, "a"), row(None, "a"), row(None, "b")];
        let found = [record(3, 4, "a"), record(7, 9, "b"), record(8, 10, "a")];
        let lines = at_lines(&bad, &found).unwrap();
        let mut lines: Vec<(i64, &str)> = lines.iter().map(|(l, _, raw)| (*l, raw.as_str())).collect();
        lines.sort();
        assert_eq!(lines, [(4, "a"), (9, "b"), (10, "a")]);
    }

    #[test]
    fn reads_that_disagree_give_no_lines() {
        let bad = [row(None, "a"), row(None, "b")];
        assert!(at_lines(&bad, &[record(1, 2, "a")]).is_none(), "a row not found");
        assert!(
            at_lines(&bad, &[record(1, 2, "a"), record(2, 3, "a"), record(3, 4, "b")]).is_none(),
            "a record too many"
        );
    }

    #[test]
    fn a_numbered_row_is_the_record_with_its_number() {
        // Two identical patient rows: the first is good, the second a duplicate.
        let bad = [row(Some(5), "p")];
        let lines = at_lines(&bad, &[record(2, 3, "p"), record(5, 7, "p")]).unwrap();
        assert_eq!(lines.iter().map(|l| l.0).collect::<Vec<_>>(), [7]);
        assert!(at_lines(&bad, &[record(4, 6, "p")]).is_none());
    }
}
