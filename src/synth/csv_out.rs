//! Fast CSV output for synthesis: rows are formatted straight into a byte buffer (integers with
//! `itoa`, fixed decimals by integer arithmetic, dates from a precomputed table) and written in
//! large blocks. Synthesis writes tens of millions of rows, so this is its hot path.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{IoContext, Result};

use super::network::DateStyle;

/// The first and last day the date table covers (days since 1970-01-01).
const FIRST_DAY: i32 = -25567; // 1900-01-01
const LAST_DAY: i32 = 29220; // 2050-01-01

fn date_table() -> &'static Vec<[u8; 10]> {
    static TABLE: OnceLock<Vec<[u8; 10]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        (FIRST_DAY..LAST_DAY)
            .map(|d| {
                let date = epoch + chrono::Duration::days(d as i64);
                let s = date.format("%Y-%m-%d").to_string();
                let mut out = [0u8; 10];
                out.copy_from_slice(s.as_bytes());
                out
            })
            .collect()
    })
}

/// One output table: a file and the row being built.
pub struct CsvOut {
    file: File,
    path: std::path::PathBuf,
    buf: Vec<u8>,
    first_field: bool,
    pub rows: u64,
    date_style: DateStyle,
}

const FLUSH_AT: usize = 1 << 20;

impl CsvOut {
    pub fn create(path: &Path, header: &[&str], date_style: DateStyle) -> Result<CsvOut> {
        let file = File::create(path).at(path)?;
        let mut out = CsvOut {
            file,
            path: path.to_path_buf(),
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            first_field: true,
            rows: 0,
            date_style,
        };
        for h in header {
            out.str(h);
        }
        out.buf.push(b'\n');
        out.first_field = true;
        Ok(out)
    }

    fn sep(&mut self) {
        if !self.first_field {
            self.buf.push(b',');
        }
        self.first_field = false;
    }

    /// A text field; the caller guarantees it holds no comma, quote or newline.
    pub fn str(&mut self, s: &str) {
        self.sep();
        self.buf.extend_from_slice(s.as_bytes());
    }

    pub fn empty(&mut self) {
        self.sep();
    }

    pub fn int(&mut self, v: i64) {
        self.sep();
        self.buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// A value rounded to `decimals` places, written without exponent.
    pub fn fixed(&mut self, v: f64, decimals: u32) {
        self.sep();
        let scale = 10i64.pow(decimals);
        let scaled = (v * scale as f64).round() as i64;
        if scaled < 0 {
            self.buf.push(b'-');
        }
        let abs = scaled.unsigned_abs();
        let mut ib = itoa::Buffer::new();
        self.buf.extend_from_slice(ib.format(abs / scale as u64).as_bytes());
        if decimals > 0 {
            self.buf.push(b'.');
            let frac = ib.format(abs % scale as u64);
            for _ in frac.len()..decimals as usize {
                self.buf.push(b'0');
            }
            self.buf.extend_from_slice(frac.as_bytes());
        }
    }

    /// A date (days since 1970-01-01) in the site's style.
    pub fn date(&mut self, day: i32) {
        self.sep();
        let text = date_table()[(day.clamp(FIRST_DAY, LAST_DAY - 1) - FIRST_DAY) as usize];
        match self.date_style {
            DateStyle::Iso => self.buf.extend_from_slice(&text),
            DateStyle::Slashes => self.buf.extend(text.iter().map(|&b| if b == b'-' { b'/' } else { b })),
        }
    }

    /// A date and a time of day given in minutes.
    pub fn date_time(&mut self, day: i32, minutes: u32) {
        self.date(day);
        let (h, m) = (minutes / 60, minutes % 60);
        self.buf.extend_from_slice(&[
            b' ',
            b'0' + (h / 10) as u8,
            b'0' + (h % 10) as u8,
            b':',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b':',
            b'0',
            b'0',
        ]);
    }

    pub fn end_row(&mut self) -> Result<()> {
        self.buf.push(b'\n');
        self.first_field = true;
        self.rows += 1;
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.file.write_all(&self.buf).at(&self.path)?;
        self.buf.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut out = CsvOut::create(&path, &["a", "b", "c", "d"], DateStyle::Iso).unwrap();
        out.fixed(12.345, 2);
        out.fixed(-0.05, 1);
        out.date(0);
        out.date_time(19000, 8 * 60 + 5);
        out.end_row().unwrap();
        out.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "a,b,c,d\n12.35,-0.1,1970-01-01,2022-01-08 08:05:00\n");
    }
}
