//! The published layouts of the official code masters, and reading one file of them.
//!
//! Two families (../shared/spec/hospital-inputs.md §4): the MEDIS HOT master (a header row of 24
//! columns, then one row per HOT13 or HOT9 code) and the 支払基金's レセプト電算処理システム masters
//! (every value quoted, the record kind in column 2: `Y` drugs, `B` diseases, `Z` modifiers, `S`
//! procedures). Both are Shift_JIS. A file is recognised by its content, never by its name; it holds
//! one master, and every record is checked against that master's layout before anything is kept.

use std::collections::HashMap;

use serde::Serialize;

/// The masters `site masters import` reads, one table each (the two HOT files share one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MasterKind {
    Hot13,
    Hot9,
    Drug,
    Disease,
    Modifier,
    Procedure,
}

/// What a field of a master holds, and how it is checked.
#[derive(Debug, Clone, Copy)]
enum Form {
    Text,
    /// `YYYYMMDD`; empty, `0` and `99999999` (the masters' "not abolished") are no date.
    Date,
    /// A code of a fixed form: the record's key, or a code other records and tables refer to.
    Code(CodeForm),
}

#[derive(Debug, Clone, Copy)]
enum CodeForm {
    /// `n` digits, the first one of `first` when given.
    Digits { n: usize, first: Option<char> },
    /// `n` letters or digits (YJ: 12).
    Alphanumeric { n: usize },
}

impl CodeForm {
    fn holds(self, code: &str) -> bool {
        match self {
            CodeForm::Digits { n, first } => {
                code.len() == n && code.bytes().all(|b| b.is_ascii_digit()) && first.is_none_or(|f| code.starts_with(f))
            }
            CodeForm::Alphanumeric { n } => code.len() == n && code.bytes().all(|b| b.is_ascii_alphanumeric()),
        }
    }

    fn describe(self) -> String {
        match self {
            CodeForm::Digits { n, first: Some(f) } => format!("{n} digits beginning with {f}"),
            CodeForm::Digits { n, first: None } => format!("{n} digits"),
            CodeForm::Alphanumeric { n } => format!("{n} letters or digits"),
        }
    }
}

/// One column of a master's table: its name there, the field of the file it comes from (1-based).
#[derive(Debug, Clone, Copy)]
struct Field {
    column: &'static str,
    source: usize,
    form: Form,
}

const fn text(column: &'static str, source: usize) -> Field {
    Field { column, source, form: Form::Text }
}

const fn date(column: &'static str, source: usize) -> Field {
    Field { column, source, form: Form::Date }
}

/// A field holding a code of a fixed form (the record's own code is the first field: never empty).
const fn code(column: &'static str, source: usize, form: CodeForm) -> Field {
    Field { column, source, form: Form::Code(form) }
}

const YJ: CodeForm = CodeForm::Alphanumeric { n: 12 };

const HOT_FIELDS: [Field; 10] = [
    // The code is checked per file (13 or 9 digits, `hot_key`); both files share these fields.
    text("hot_code", 1),
    text("hot7", 2),
    code("price_listing_code", 7, YJ),
    code("yj_code", 8, YJ),
    code("receipt_code", 9, CodeForm::Digits { n: 9, first: Some('6') }),
    text("receipt_code_2", 10),
    text("notice_name", 11),
    text("brand_name", 12),
    text("standard_unit", 14),
    date("updated", 24),
];

const DRUG_FIELDS: [Field; 10] = [
    code("drug_code", 3, CodeForm::Digits { n: 9, first: Some('6') }),
    text("name", 5),
    text("unit_code", 8),
    text("unit_name", 10),
    text("generic", 17),
    text("dosage_form", 28),
    date("changed", 30),
    date("abolished", 31),
    code("yj_code", 32, YJ),
    text("base_name", 35),
];

const DISEASE_FIELDS: [Field; 13] = [
    code("disease_code", 3, CodeForm::Digits { n: 7, first: None }),
    code("successor_code", 4, CodeForm::Digits { n: 7, first: None }),
    text("name", 6),
    code("management_number", 11, CodeForm::Digits { n: 8, first: None }),
    text("exchange_code", 13),
    text("icd10_2003_1", 14),
    text("icd10_2003_2", 15),
    text("icd10_2013_1", 16),
    text("icd10_2013_2", 17),
    date("listed", 22),
    date("changed", 23),
    date("abolished", 24),
    text("successor_management_number", 38),
];

const MODIFIER_FIELDS: [Field; 5] = [
    code("modifier_code", 3, CodeForm::Digits { n: 4, first: None }),
    text("name", 7),
    code("management_number", 17, CodeForm::Digits { n: 8, first: None }),
    text("exchange_code", 18),
    text("modifier_kind", 19),
];

const PROCEDURE_FIELDS: [Field; 13] = [
    code("procedure_code", 3, CodeForm::Digits { n: 9, first: Some('1') }),
    text("name", 5),
    text("unit_code", 8),
    text("point_kind", 11),
    text("points", 12),
    text("table_letter", 85),
    date("changed", 87),
    date("abolished", 88),
    text("chapter", 90),
    text("part", 91),
    text("section_number", 92),
    text("branch", 93),
    text("item", 94),
];

impl MasterKind {
    pub const ALL: [MasterKind; 6] = [
        MasterKind::Hot13,
        MasterKind::Hot9,
        MasterKind::Drug,
        MasterKind::Disease,
        MasterKind::Modifier,
        MasterKind::Procedure,
    ];

    /// The kind's name in `master_file.kind` and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            MasterKind::Hot13 => "hot13",
            MasterKind::Hot9 => "hot9",
            MasterKind::Drug => "drug",
            MasterKind::Disease => "disease",
            MasterKind::Modifier => "modifier",
            MasterKind::Procedure => "procedure",
        }
    }

    /// The site table its rows go to.
    pub fn table(self) -> &'static str {
        match self {
            MasterKind::Hot13 | MasterKind::Hot9 => "master_hot",
            MasterKind::Drug => "master_drug",
            MasterKind::Disease => "master_disease",
            MasterKind::Modifier => "master_modifier",
            MasterKind::Procedure => "master_procedure",
        }
    }

    /// The published master, as people call it.
    pub fn title(self) -> &'static str {
        match self {
            MasterKind::Hot13 => "MEDIS HOT13 master",
            MasterKind::Hot9 => "MEDIS HOT9 master",
            MasterKind::Drug => "支払基金 drug master (医薬品マスター, record kind Y)",
            MasterKind::Disease => "支払基金 disease master (傷病名マスター, record kind B)",
            MasterKind::Modifier => "支払基金 modifier master (修飾語マスター, record kind Z)",
            MasterKind::Procedure => "支払基金 procedure master (医科診療行為マスター, record kind S)",
        }
    }

    /// The record kind in column 2 of a 支払基金 master; none for the HOT master.
    fn record_kind(self) -> Option<&'static str> {
        match self {
            MasterKind::Hot13 | MasterKind::Hot9 => None,
            MasterKind::Drug => Some("Y"),
            MasterKind::Disease => Some("B"),
            MasterKind::Modifier => Some("Z"),
            MasterKind::Procedure => Some("S"),
        }
    }

    fn fields(self) -> &'static [Field] {
        match self {
            MasterKind::Hot13 | MasterKind::Hot9 => &HOT_FIELDS,
            MasterKind::Drug => &DRUG_FIELDS,
            MasterKind::Disease => &DISEASE_FIELDS,
            MasterKind::Modifier => &MODIFIER_FIELDS,
            MasterKind::Procedure => &PROCEDURE_FIELDS,
        }
    }

    /// The columns of its table after `master_file_id`, in order.
    pub fn columns(self) -> Vec<&'static str> {
        self.fields().iter().map(|f| f.column).collect()
    }

    /// The fewest fields a record of the layout has: its last field used.
    fn min_fields(self) -> usize {
        match self {
            MasterKind::Hot13 | MasterKind::Hot9 => HOT_COLUMNS,
            _ => self.fields().iter().map(|f| f.source).max().expect("every layout has fields"),
        }
    }

    /// The date columns whose latest value is the file's publication date (none for the modifier
    /// master, whose date columns are not confirmed: its file's name gives the date).
    fn publication_columns(self) -> &'static [&'static str] {
        match self {
            MasterKind::Hot13 | MasterKind::Hot9 => &["updated"],
            MasterKind::Drug | MasterKind::Procedure => &["changed"],
            MasterKind::Disease => &["listed", "changed"],
            MasterKind::Modifier => &[],
        }
    }

    fn hot_key(self) -> Option<CodeForm> {
        match self {
            MasterKind::Hot13 => Some(CodeForm::Digits { n: 13, first: None }),
            MasterKind::Hot9 => Some(CodeForm::Digits { n: 9, first: None }),
            _ => None,
        }
    }
}

/// Every layout's first column is the record's code.
const KEY: usize = 0;

/// The HOT master's columns, and the first one's name in its header row.
const HOT_COLUMNS: usize = 24;
const HOT_FIRST_HEADER: &str = "基準番号";

/// The HOT master's header row as published (hospital-inputs.md §4.1).
const HOT_HEADER: [&str; HOT_COLUMNS] = [
    "基準番号（ＨＯＴコード）",
    "処方用番号（ＨＯＴ７）",
    "会社識別用番号",
    "調剤用番号",
    "物流用番号",
    "ＪＡＮコード",
    "薬価基準収載医薬品コード",
    "個別医薬品コード",
    "レセプト電算処理システムコード（１）",
    "レセプト電算処理システムコード（２）",
    "告示名称",
    "販売名",
    "レセプト電算処理システム医薬品名",
    "規格単位",
    "包装形態",
    "包装単位数",
    "包装単位単位",
    "包装総量数",
    "包装総量単位",
    "区分",
    "製造会社",
    "販売会社",
    "更新区分",
    "更新年月日",
];

/// What the layouts expected, for an error naming an unknown one.
const EXPECTED: &str = "the MEDIS HOT master (a header row of 24 columns, the first 基準番号（ＨＯＴコード）) or a 支払基金 \
     master (every value quoted, the record kind in column 2: Y drugs, B diseases, Z modifiers, S procedures)";

const EMPTY: &str = "empty: no record (a master file has at least one)";

/// One master file, read and checked: its rows as its table's columns, in file order, each code once.
#[derive(Debug)]
pub struct MasterFile {
    pub kind: MasterKind,
    /// `YYYY-MM-DD`.
    pub published: String,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Read one master file's bytes; `name` is its name, for errors and (when its content has no
/// date) its publication date. The error says what is wrong and where (`line N: …`).
pub fn read(name: &str, bytes: &[u8]) -> Result<MasterFile, String> {
    let text = decode(bytes)?;
    // A master's record is one line (no value spans lines), numbered as an editor shows it.
    let mut records = text.lines().zip(1u64..).filter(|(l, _)| !l.trim().is_empty()).map(|(l, n)| {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(l.as_bytes());
        let mut record = csv::StringRecord::new();
        reader.read_record(&mut record).map(|_| (n, record)).map_err(|e| format!("line {n}: {e}"))
    });
    let first = records.next().ok_or_else(|| EMPTY.to_string())??;
    let (kind, data_first) = recognise(first, &mut records)?;
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    let mut seen: HashMap<String, (u64, usize)> = HashMap::new();
    let mut pending = data_first;
    loop {
        let (line, record) = match pending.take() {
            Some(r) => r,
            None => match records.next() {
                None => break,
                Some(r) => r?,
            },
        };
        let row = parse_record(kind, &record).map_err(|e| format!("line {line}: {e}"))?;
        let code = row[KEY].clone().expect("the key is checked present");
        match seen.get(&code) {
            // The same record twice is kept once.
            Some(&(_, index)) if rows[index] == row => {}
            Some(&(first_line, index)) => {
                let column = first_difference(kind, &rows[index], &row);
                return Err(format!(
                    "line {line}: code {code} is on line {first_line} too, with another {column}: one code, one \
                     meaning in a master file"
                ));
            }
            None => {
                seen.insert(code, (line, rows.len()));
                rows.push(row);
            }
        }
    }
    if rows.is_empty() {
        return Err(format!("no record after the header: the {} has at least one", kind.title()));
    }
    let published = publication_date(kind, &rows, name)?;
    Ok(MasterFile { kind, published, rows })
}

/// The text of a Shift_JIS file (the masters' published encoding), without the DOS end-of-file
/// byte some carry; a byte sequence that is not Shift_JIS is refused, naming its line.
fn decode(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_suffix(b"\x1a").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EMPTY.to_string());
    }
    // LF (0x0A) is never the second byte of a Shift_JIS character, so lines can be split as bytes.
    let line_where = |bad: &dyn Fn(&[u8]) -> bool| bytes.split(|b| *b == b'\n').position(bad).map_or(0, |i| i + 1);
    // Japanese text in Shift_JIS is never valid UTF-8 (its lead bytes are UTF-8 continuation
    // bytes), while UTF-8 often decodes as Shift_JIS without an error, into other characters.
    if !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() {
        let line = line_where(&|line: &[u8]| !line.is_ascii());
        return Err(format!(
            "line {line}: bytes that are not Shift_JIS (the file is UTF-8: a master is read as published, in Shift_JIS)"
        ));
    }
    crate::site::decode::strictly(encoding_rs::SHIFT_JIS, bytes)
        .map_err(|offset| format!("line {}: bytes that are not Shift_JIS", crate::site::decode::line_of(bytes, offset)))
}

/// A record and its line.
type Numbered = (u64, csv::StringRecord);

/// The layout of a file from its first record; the first data record when that is not a header.
fn recognise(
    (line, first): Numbered,
    records: &mut impl Iterator<Item = Result<Numbered, String>>,
) -> Result<(MasterKind, Option<Numbered>), String> {
    if first.get(0).is_some_and(|f| f.trim_start_matches('\u{feff}').starts_with(HOT_FIRST_HEADER)) {
        if first.len() != HOT_COLUMNS {
            return Err(format!(
                "line {line}: a HOT master header of {} columns; the published layout has {HOT_COLUMNS}",
                first.len()
            ));
        }
        let data = match records.next() {
            None => return Err("no record after the header: the MEDIS HOT master has at least one".to_string()),
            Some(r) => r?,
        };
        let kind = if data.1.get(0).is_some_and(|c| c.len() == 9) { MasterKind::Hot9 } else { MasterKind::Hot13 };
        return Ok((kind, Some(data)));
    }
    let kind_field = first.get(1).unwrap_or("");
    match MasterKind::ALL.into_iter().find(|k| k.record_kind() == Some(kind_field)) {
        Some(kind) => Ok((kind, Some((line, first)))),
        None => {
            let shown: String = first.iter().take(3).collect::<Vec<_>>().join(",").chars().take(60).collect();
            Err(format!(
                "line {line}: not a master of a known layout: expected {EXPECTED}; found {} fields: {shown}",
                first.len()
            ))
        }
    }
}

/// One data record as its table's columns.
fn parse_record(kind: MasterKind, record: &csv::StringRecord) -> Result<Vec<Option<String>>, String> {
    if record.len() < kind.min_fields() {
        return Err(format!(
            "a truncated record: {} fields, the {} has {}",
            record.len(),
            kind.title(),
            kind.min_fields()
        ));
    }
    if let Some(expected) = kind.record_kind() {
        let found = record.get(1).unwrap_or("");
        if found != expected {
            let other = MasterKind::ALL.into_iter().find(|k| k.record_kind() == Some(found));
            let what = other
                .map_or_else(|| "an unknown record kind".to_string(), |o| format!("a record of the {}", o.title()));
            return Err(format!(
                "record kind {found:?} ({what}) in a file of the {}: a file holds one master",
                kind.title()
            ));
        }
    }
    let mut row = Vec::with_capacity(kind.fields().len());
    for (i, field) in kind.fields().iter().enumerate() {
        let value = record.get(field.source - 1).unwrap_or("").trim();
        let form = match (i == KEY, kind.hot_key()) {
            (true, Some(hot)) => Form::Code(hot),
            _ => field.form,
        };
        row.push(checked(field, form, value, i == KEY)?);
    }
    Ok(row)
}

fn checked(field: &Field, form: Form, value: &str, required: bool) -> Result<Option<String>, String> {
    let column = field.source;
    if value.is_empty() {
        return if required { Err(format!("column {column} ({}) is empty", field.column)) } else { Ok(None) };
    }
    match form {
        Form::Text => Ok(Some(value.to_string())),
        Form::Code(code) if code.holds(value) => Ok(Some(value.to_string())),
        Form::Code(code) => {
            Err(format!("column {column} ({}): {value:?} is not a code of {}", field.column, code.describe()))
        }
        Form::Date => parse_date(value)
            .map_err(|()| format!("column {column} ({}): {value:?} is not a date (YYYYMMDD)", field.column)),
    }
}

/// `YYYYMMDD` as `YYYY-MM-DD`; `0` and `99999999` are no date.
fn parse_date(value: &str) -> Result<Option<String>, ()> {
    if value == "0" || value == "99999999" {
        return Ok(None);
    }
    if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    let date = chrono::NaiveDate::parse_from_str(value, "%Y%m%d").map_err(|_| ())?;
    Ok(Some(date.format("%Y-%m-%d").to_string()))
}

/// The first column in which two records of one code differ.
fn first_difference(kind: MasterKind, a: &[Option<String>], b: &[Option<String>]) -> String {
    let fields = kind.fields();
    let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
    format!("{} (column {})", fields[i].column, fields[i].source)
}

/// The publication date: the latest change date its records carry; for a master without confirmed
/// date columns (the modifier master), the date in the file's name (`z_20240401.csv`).
fn publication_date(kind: MasterKind, rows: &[Vec<Option<String>>], name: &str) -> Result<String, String> {
    let columns = kind.columns();
    let latest = kind
        .publication_columns()
        .iter()
        .filter_map(|c| columns.iter().position(|k| k == c))
        .flat_map(|i| rows.iter().filter_map(move |r| r[i].clone()))
        .max();
    if let Some(date) = latest {
        return Ok(date);
    }
    date_in_name(name).ok_or_else(|| {
        format!(
            "no publication date: the {} carries no change date here, and its name has no YYYYMMDD; name the file \
             with the date it was published (e.g. z_20240401.csv)",
            kind.title()
        )
    })
}

/// The first run of eight digits in a file name that is a date.
fn date_in_name(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(7))
        .filter(|&i| bytes[i..i + 8].iter().all(u8::is_ascii_digit))
        .find_map(|i| parse_date(&name[i..i + 8]).ok().flatten())
}

/// One record of a 支払基金 master holding `values` (by its table's column names; the others
/// empty): the inverse of [`read`], with which the synthetic network writes its masters as published.
pub fn ssk_record(kind: MasterKind, values: &[(&str, &str)]) -> String {
    let letter = kind.record_kind().expect("a 支払基金 master");
    let mut fields = vec![String::new(); kind.min_fields()];
    fields[1] = letter.to_string();
    for (column, value) in values {
        let field = kind.fields().iter().find(|f| f.column == *column).expect("a column of the master");
        fields[field.source - 1] = match field.form {
            Form::Date => value.replace('-', ""),
            _ => value.to_string(),
        };
    }
    let quoted: Vec<String> = fields.iter().map(|v| format!("\"{}\"", v.replace('"', "\"\""))).collect();
    quoted.join(",") + "\r\n"
}

/// The MEDIS HOT master holding `records` (each by its table's column names; the others empty): its
/// header row, then one row per record; the inverse of [`read`], for the synthetic network.
pub fn hot_file(records: &[Vec<(&str, &str)>]) -> String {
    let mut text = HOT_HEADER.join(",") + "\r\n";
    for values in records {
        let mut fields = vec![String::new(); HOT_COLUMNS];
        for (column, value) in values {
            let field = HOT_FIELDS.iter().find(|f| f.column == *column).expect("a column of the HOT master");
            fields[field.source - 1] = match field.form {
                Form::Date => value.replace('-', ""),
                _ => value.to_string(),
            };
        }
        text.push_str(&(fields.join(",") + "\r\n"));
    }
    text
}

/// Text in Shift_JIS, the masters' published encoding; none if a character has no Shift_JIS form.
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    (!unmappable).then(|| bytes.into_owned())
}
