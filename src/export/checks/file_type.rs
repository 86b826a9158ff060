//! `file_type`: only tables (CSV, Parquet), plain text, and figures (PNG, SVG) with the table behind
//! them may leave. The content must be what the name says: a spreadsheet renamed `.csv` or an SVG
//! carrying a script or an embedded raster image is refused.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// What a file is, for the gate.
#[derive(Debug, Clone)]
pub enum FileKind {
    Table,
    /// Plain text (`.txt`, `.md`), with its content for the name check.
    Text(String),
    /// A figure; `data` is the table behind it, `text` the content of an SVG.
    Figure {
        data: Option<PathBuf>,
        text: Option<String>,
    },
    /// Not exportable, and why (a sentence that says what to do instead).
    Refused(String),
}

const TEXT_EXTENSIONS: [&str; 2] = ["txt", "md"];

pub fn classify(path: &Path) -> Result<FileKind> {
    if path.is_dir() {
        return Err(crate::bad_input!("{}: is a directory; list the files in it", path.display()));
    }
    if !path.is_file() {
        return Err(Error::NotFound(format!("{}: no such file", path.display())));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    if name.ends_with(".meta.json") {
        return Ok(FileKind::Refused(
            "a sidecar travels with its table: list the table (NAME.csv or NAME.parquet) instead".into(),
        ));
    }
    let kind = match ext.as_str() {
        "csv" => match plain_text(path, 64 * 1024)? {
            Ok(_) => FileKind::Table,
            Err(why) => FileKind::Refused(format!("named .csv but {why}; save the table as UTF-8 CSV")),
        },
        "parquet" => {
            if has_parquet_magic(path)? {
                FileKind::Table
            } else {
                FileKind::Refused("named .parquet but it is not a Parquet file".into())
            }
        }
        e if TEXT_EXTENSIONS.contains(&e) => match plain_text(path, usize::MAX)? {
            Ok(text) => FileKind::Text(text),
            Err(why) => FileKind::Refused(format!("named .{e} but {why}")),
        },
        "png" => {
            let mut head = [0u8; 8];
            let n = std::fs::File::open(path).at(path)?.read(&mut head).at(path)?;
            if n == 8 && head == *b"\x89PNG\r\n\x1a\n" {
                FileKind::Figure { data: data_table(path), text: None }
            } else {
                FileKind::Refused("named .png but it is not a PNG image".into())
            }
        }
        "svg" => match plain_text(path, usize::MAX)? {
            Ok(text) => svg(path, text),
            Err(why) => FileKind::Refused(format!("named .svg but {why}")),
        },
        _ => FileKind::Refused(format!(
            "`.{ext}` files cannot be exported: export tables as CSV or Parquet, figures as PNG or SVG \
             with the table behind them (same name, .csv), notes as plain text"
        )),
    };
    Ok(kind)
}

fn svg(path: &Path, text: String) -> FileKind {
    let lower = text.to_lowercase();
    if !lower.contains("<svg") {
        return FileKind::Refused("named .svg but it is not an SVG image".into());
    }
    if lower.contains("<script") || lower.contains("<foreignobject") {
        return FileKind::Refused("the SVG carries a script or foreign content; export the plain drawing".into());
    }
    if lower.contains("<image") {
        return FileKind::Refused(
            "the SVG embeds an image, which the gate cannot check; draw it as vectors or export a PNG with its table"
                .into(),
        );
    }
    FileKind::Figure { data: data_table(path), text: Some(text) }
}

/// The table a figure was drawn from: `fig.csv` or `fig.parquet` beside `fig.png`.
fn data_table(figure: &Path) -> Option<PathBuf> {
    ["csv", "parquet"].iter().map(|e| figure.with_extension(e)).find(|p| p.is_file())
}

/// The file's text if it is UTF-8 without NUL bytes (checking at most `limit` bytes), or why not.
fn plain_text(path: &Path, limit: usize) -> Result<std::result::Result<String, &'static str>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path).at(path)?.take(limit as u64).read_to_end(&mut bytes).at(path)?;
    if bytes.contains(&0) {
        return Ok(Err("it is a binary file"));
    }
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Ok(s.trim_start_matches('\u{feff}').to_string())),
        // Cut in the middle of a character by the limit: the part read is valid.
        Err(e) if e.error_len().is_none() && bytes.len() == limit => {
            Ok(Ok(String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()))
        }
        Err(_) => Ok(Err("it is not UTF-8 text (Shift_JIS? re-save it as UTF-8)")),
    }
}

/// Parquet files begin and end with `PAR1`.
fn has_parquet_magic(path: &Path) -> Result<bool> {
    let mut file = std::fs::File::open(path).at(path)?;
    if file.metadata().at(path)?.len() < 8 {
        return Ok(false);
    }
    let (mut head, mut tail) = ([0u8; 4], [0u8; 4]);
    file.read_exact(&mut head).at(path)?;
    file.seek(SeekFrom::End(-4)).at(path)?;
    file.read_exact(&mut tail).at(path)?;
    Ok(&head == b"PAR1" && &tail == b"PAR1")
}
