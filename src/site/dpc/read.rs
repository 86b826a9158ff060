//! One DPC data file (hospital-inputs.md §3): Shift_JIS (CP932) text, CR LF between lines, TAB
//! between fields, an optional header line (column 2 `データ識別番号`). Its kind is told by its first
//! line's field count: 17 a 様式1 (FF1, long format: one line per record code and 連番), 31 an EF統合
//! ファイル (one line per item given on one day); an EF file is the outpatient one (EFg) when its first
//! line's columns 3-4 are an outpatient's (see [`outpatient_line`]), else the inpatient one (EFn).
//!
//! What a study uses is read. Of 様式1, each parent 様式1's (統括診療情報番号 0) stay: A000010 sex and
//! birth date, A000020 admission date and route, A000030 discharge date, destination and outcome,
//! A000040 department, and the diagnoses by role (A006010 主傷病 … A006050 入院後発症: ICD-10, 傷病名
//! コード, の疑い among the 修飾語). Of EF, each detail line (行為明細番号 other than `000`): its
//! データ区分, code, 使用量, 行為回数 and 実施年月日. Never read: the postcode (A000010 payload 3), names
//! and free text (payload 9, EF-11), the 保険者番号 (EF-22), doctor codes (EF-27). A line that
//! cannot be read is a [`Problem`] naming its line and column, never its value.
//!
//! EF-17 (行為明細区分情報) has the layout of the line's survey year (年度, April to March, of its
//! 実施年月日): one character up to 2015, twelve digits from 2016; so do EFg's columns 3-4: 退院・入院
//! 年月日, `00000000`, up to 2017, 生年月日 and 外来受診年月日 from 2018. A line of the other layout is a
//! problem. An EFg line's visit is its 外来受診年月日, or up to 2017 its 実施年月日・診療開始日.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use crate::site::load::reasons::dpc as problems;

/// A 様式1 line's fields; an EF line's.
const FF1_FIELDS: usize = 17;
const EF_FIELDS: usize = 31;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Kind {
    /// 様式1.
    #[serde(rename = "様式1")]
    Ff1,
    /// EF統合ファイル of inpatients (EFn).
    #[serde(rename = "EF")]
    Ef,
    /// EF統合ファイル of outpatients (EFg).
    #[serde(rename = "EFg")]
    EfOutpatient,
}

impl Kind {
    fn place(self) -> &'static str {
        match self {
            Kind::Ff1 => "FF",
            Kind::Ef | Kind::EfOutpatient => "EF",
        }
    }
}

/// Why a file is not a DPC file this reader can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// A byte sequence Shift_JIS cannot decode, at this byte offset.
    Undecodable { offset: usize },
    /// No line but a header.
    Empty,
    /// The first line's field count is neither 様式1's nor EF's.
    UnknownKind { line: usize, fields: usize },
    /// The first line's 施設コード is not one.
    NoFacility { line: usize },
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::Undecodable { offset } => {
                write!(f, "byte {offset} is not Shift_JIS text (the encoding of DPC files)")
            }
            Unreadable::Empty => write!(f, "no line of data"),
            Unreadable::UnknownKind { line, fields } => write!(
                f,
                "line {line} has {fields} TAB-separated fields: neither a 様式1 line ({FF1_FIELDS}) nor an EF統合ファイル \
                 line ({EF_FIELDS})"
            ),
            Unreadable::NoFacility { line } => write!(f, "line {line}: column 1 is {}", problems::NOT_A_FACILITY),
        }
    }
}

/// A line or field that could not be read: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    /// `FF-<column>` or `EF-<column>`.
    pub place: String,
    /// The table the line would have fed.
    pub table: &'static str,
    pub reason: String,
}

/// What a file says.
#[derive(Debug, Clone, PartialEq)]
pub struct DpcFile {
    pub kind: Kind,
    /// Column 1 of its first line: identifying the hospital, for the importer to hash.
    pub facility: String,
    /// The latest month of its lines (様式1: of discharge; EF: of 実施), when any was read.
    pub month: Option<(i32, u32)>,
    pub stays: Vec<Stay>,
    pub items: Vec<Item>,
    /// EFg: each patient's visits, (データ識別番号, day) with the first line of each.
    pub visits: Vec<(String, NaiveDate, usize)>,
    pub problems: Vec<Problem>,
    /// Lines read and not taken: child 様式1, records of no table, EF parent rows, materials,
    /// comments.
    pub not_taken: u64,
}

/// One admission as its parent 様式1 gives it; the records missing are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stay {
    /// Its first line.
    pub line: usize,
    /// データ識別番号: identifying, for the importer to hash.
    pub data_id: String,
    pub admitted: NaiveDate,
    /// A000010: sex (`M`, `F`) and birth date, with its line.
    pub patient: Option<(char, NaiveDate, usize)>,
    /// A000020: the route, in the schema's words.
    pub route: Option<&'static str>,
    pub has_admission: bool,
    /// A000030: discharge date, destination and outcome, in the schema's words.
    pub discharge: Option<(NaiveDate, &'static str, &'static str)>,
    /// A000040 payload 2, in the schema's words when it has them.
    pub department: Option<String>,
    pub diagnoses: Vec<StayDiagnosis>,
    pub surgeries: Vec<Surgery>,
    /// One of its A000010, A000020, A000030 lines could not be read (and is a problem).
    pub unread: bool,
}

/// One diagnosis of a stay (A006010 … A006050).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayDiagnosis {
    pub line: usize,
    /// The schema's `diagnosis_kind`.
    pub role: &'static str,
    pub icd10: String,
    pub disease_code: Option<String>,
    pub suspected: bool,
}

/// One surgery of a stay (A007010): its day and its 点数表コード (`K0821`: the section of the
/// 診療報酬点数表 it was billed under). 回数, 側数, 麻酔 and the name (payload 9) are not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surgery {
    pub line: usize,
    pub day: NaiveDate,
    pub table_code: String,
}

/// One EF detail line.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub line: usize,
    pub data_id: String,
    /// データ区分 (診療識別).
    pub category: String,
    /// レセプト電算処理システム用コード: 1… a procedure, 6… a drug.
    pub code: String,
    /// 使用量.
    pub amount: Option<f64>,
    /// 行為回数.
    pub times: u64,
    /// 実施年月日.
    pub day: NaiveDate,
}

impl Item {
    pub fn is_drug(&self) -> bool {
        self.code.starts_with('6')
    }

    /// The route of a drug from its データ区分 (the claims' 診療識別): none for a drug used in a
    /// procedure.
    pub fn route(&self) -> Option<&'static str> {
        crate::site::receipt::uke::route(&self.category)
    }
}

/// Read a DPC file.
pub fn read(bytes: &[u8]) -> Result<DpcFile, Unreadable> {
    let text = crate::site::decode::strictly(encoding_rs::SHIFT_JIS, bytes)
        .map_err(|offset| Unreadable::Undecodable { offset })?;
    let lines: Vec<(usize, Vec<&str>)> = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| (n, line.split('\t').collect::<Vec<&str>>()))
        .filter(|(_, fields)| fields.get(1) != Some(&"データ識別番号"))
        .collect();
    let (first_line, first) = lines.first().ok_or(Unreadable::Empty)?;
    let kind = match first.len() {
        FF1_FIELDS => Kind::Ff1,
        EF_FIELDS if outpatient_line(first) => Kind::EfOutpatient,
        EF_FIELDS => Kind::Ef,
        fields => return Err(Unreadable::UnknownKind { line: *first_line, fields }),
    };
    let facility = first[0].to_string();
    if !digits(&facility, 9) {
        return Err(Unreadable::NoFacility { line: *first_line });
    }
    let mut reader = Reader {
        file: DpcFile {
            kind,
            facility,
            month: None,
            stays: Vec::new(),
            items: Vec::new(),
            visits: Vec::new(),
            problems: Vec::new(),
            not_taken: 0,
        },
        stays: BTreeMap::new(),
        visits: BTreeMap::new(),
    };
    for (line, fields) in &lines {
        reader.line(*line, fields);
    }
    Ok(reader.finish())
}

/// An EF line's columns 3-4 are an outpatient's: `00000000` for the 入院年月日 (layouts up to
/// 2017), or a 生年月日 before the 外来受診年月日 (from 2018), where an inpatient's 退院年月日 is never
/// before their 入院年月日. (An outpatient seen on the day of their birth reads as an inpatient: the
/// first line of an EFg file is not such a visit.)
fn outpatient_line(f: &[&str]) -> bool {
    f[3] == "00000000" || matches!((date(f[2]), date(f[3])), (Some(born), Some(visit)) if born < visit)
}

/// The file as read so far, its stays by (データ識別番号, 入院年月日, 回数管理番号), its visits by
/// (データ識別番号, day) with their first line.
struct Reader {
    file: DpcFile,
    stays: BTreeMap<(String, NaiveDate, String), Stay>,
    visits: BTreeMap<(String, NaiveDate), usize>,
}

/// Why a line is not read: its column, the table it feeds, the reason.
type Bad = (usize, &'static str, String);

impl Reader {
    fn line(&mut self, line: usize, fields: &[&str]) {
        let (expected, table) = match self.file.kind {
            Kind::Ff1 => (FF1_FIELDS, "encounter"),
            Kind::Ef | Kind::EfOutpatient => (EF_FIELDS, "drug_administration"),
        };
        let read = if fields.len() != expected {
            Err((1, table, problems::FIELD_COUNT.with(&[fields.len() as u64, expected as u64])))
        } else if fields[0] != self.file.facility {
            Err((1, table, problems::OTHER_FACILITY.to_string()))
        } else if !data_id(fields[1]) {
            Err((2, table, problems::NOT_A_DATA_ID.to_string()))
        } else {
            match self.file.kind {
                Kind::Ff1 => self.ff1(line, fields),
                Kind::Ef | Kind::EfOutpatient => self.ef(line, fields),
            }
        };
        if let Err((column, table, reason)) = read {
            let place = format!("{}-{column}", self.file.kind.place());
            self.file.problems.push(Problem { line, place, table, reason });
        }
    }

    /// A 様式1 line: its record's payloads into its stay.
    fn ff1(&mut self, line: usize, f: &[&str]) -> Result<(), Bad> {
        let admitted = date(f[2]).ok_or((3, "encounter", problems::NOT_A_DATE.to_string()))?;
        let code = f[5];
        if !record_code(code) {
            return Err((6, "encounter", problems::NOT_A_RECORD_CODE.to_string()));
        }
        if f[4] != "0" {
            // A child 様式1 (a ward group's part of the stay): the parent says the stay.
            self.file.not_taken += 1;
            return Ok(());
        }
        let payload = |n: usize| f[7 + n];
        let key = (f[1].to_string(), admitted, f[3].to_string());
        let stay = self.stays.entry(key).or_insert_with(|| Stay {
            line,
            data_id: f[1].to_string(),
            admitted,
            patient: None,
            route: None,
            has_admission: false,
            discharge: None,
            department: None,
            diagnoses: Vec::new(),
            surgeries: Vec::new(),
            unread: false,
        });
        let read = match code {
            "A000010" => patient(payload(1), payload(2)).map(|p| stay.patient = Some((p.0, p.1, line))),
            "A000020" => admission(admitted, payload(1), payload(2)).map(|route| {
                stay.route = Some(route);
                stay.has_admission = true;
            }),
            "A000030" => discharge(admitted, payload(1), payload(2), payload(3)).map(|d| {
                self.file.month = self.file.month.max(Some(month_of(d.0)));
                stay.discharge = Some(d);
            }),
            "A000040" => {
                stay.department = Some(department(payload(2)));
                Ok(())
            }
            "A007010" => surgery(line, payload(1), payload(2)).map(|s| stay.surgeries.push(s)),
            _ => match role(code) {
                Some(role) => diagnosis(line, role, payload).map(|d| stay.diagnoses.push(d)),
                None => {
                    self.file.not_taken += 1;
                    Ok(())
                }
            },
        };
        // A record of the stay's own that could not be read is its problem; the stay is not
        // reported again for lacking it.
        if read.is_err() && ["A000010", "A000020", "A000030"].contains(&code) {
            stay.unread = true;
        }
        read.map_err(|(payload, table, reason)| (8 + payload, table, reason))
    }

    /// An EF line: a detail line is an item given on its day.
    fn ef(&mut self, line: usize, f: &[&str]) -> Result<(), Bad> {
        let code = f[8];
        let table = if code.starts_with('1') { "procedure" } else { "drug_administration" };
        let category = f[4];
        if !(category == "SY" || digits(category, 2)) {
            return Err((5, table, problems::NOT_A_DATA_CATEGORY.to_string()));
        }
        let day = date(f[23]).ok_or((24, table, problems::NOT_A_DATE.to_string()))?;
        let survey_year = if day.month() >= 4 { day.year() } else { day.year() - 1 };
        let layout = if survey_year <= 2015 { 1 } else { 12 };
        let ef17 = f[16].chars().count();
        if ef17 != layout {
            let numbers = [ef17 as u64, survey_year as u64, layout as u64];
            return Err((17, table, problems::WRONG_SURVEY_YEAR.with(&numbers)));
        }
        if self.file.kind == Kind::EfOutpatient {
            let visit = outpatient_visit(f, day, survey_year).ok_or((
                4,
                table,
                problems::WRONG_OUTPATIENT_LAYOUT.with(&[survey_year as u64]),
            ))?;
            self.visits.entry((f[1].to_string(), visit)).or_insert(line);
        }
        if category == "SY" || f[6] == "000" {
            self.file.not_taken += 1;
            return Ok(());
        }
        if !(digits(code, 9) && matches!(code.as_bytes()[0], b'1' | b'6' | b'7' | b'8')) {
            return Err((9, table, problems::NOT_A_CODE.to_string()));
        }
        let amount = match f[11].trim() {
            "" => None,
            text => Some(text.parse::<f64>().ok().filter(|a| a.is_finite() && *a >= 0.0).ok_or((
                12,
                table,
                problems::NOT_AN_AMOUNT.to_string(),
            ))?),
        };
        let times = match f[20].trim() {
            "" => 1,
            text => text.parse::<u64>().map_err(|_| (21, table, problems::NOT_A_NUMBER.to_string()))?,
        };
        self.file.month = self.file.month.max(Some(month_of(day)));
        if matches!(code.as_bytes()[0], b'7' | b'8') {
            self.file.not_taken += 1;
            return Ok(());
        }
        let item = Item {
            line,
            data_id: f[1].to_string(),
            category: category.to_string(),
            code: code.to_string(),
            amount: amount.filter(|a| *a > 0.0),
            times,
            day,
        };
        self.file.items.push(item);
        Ok(())
    }

    fn finish(mut self) -> DpcFile {
        self.file.visits = self.visits.into_iter().map(|((id, day), line)| (id, day, line)).collect();
        self.file.visits.sort_by_key(|v| v.2);
        self.file.stays = self.stays.into_values().collect();
        self.file.stays.sort_by_key(|s| s.line);
        self.file
    }
}

/// An EFg line's visit, when its columns 3-4 have the layout of its survey year: up to 2017 退院・
/// 入院年月日, not applicable (`00000000`), the visit its 実施年月日・診療開始日; from 2018 a 生年月日
/// and the 外来受診年月日.
fn outpatient_visit(f: &[&str], day: NaiveDate, survey_year: i32) -> Option<NaiveDate> {
    if survey_year <= 2017 {
        (f[2] == "00000000" && f[3] == "00000000").then_some(day)
    } else {
        date(f[2]).and(date(f[3]))
    }
}

fn month_of(day: NaiveDate) -> (i32, u32) {
    (day.year(), day.month())
}

/// Why a payload is not read: its payload number, the table it feeds, the reason.
type BadPayload = (usize, &'static str, String);

fn bad<T>(payload: usize, table: &'static str, reason: &str) -> Result<T, BadPayload> {
    Err((payload, table, reason.to_string()))
}

/// A000010: sex and birth date.
fn patient(birth: &str, sex: &str) -> Result<(char, NaiveDate), BadPayload> {
    let Some(birth) = date(birth) else { return bad(1, "patient", problems::NOT_A_DATE) };
    match sex {
        "1" => Ok(('M', birth)),
        "2" => Ok(('F', birth)),
        _ => bad(2, "patient", problems::NOT_A_SEX),
    }
}

/// A000020: the route, its 入院年月日 that of the line.
fn admission(admitted: NaiveDate, day: &str, route: &str) -> Result<&'static str, BadPayload> {
    match date(day) {
        None => return bad(1, "encounter", problems::NOT_A_DATE),
        Some(day) if day != admitted => return bad(1, "encounter", problems::ADMISSION_DIFFERS),
        Some(_) => {}
    }
    Ok(match route {
        "1" => "home",
        "4" => "other_hospital",
        "5" => "care_facility",
        "0" => "ward_transfer",
        "8" | "9" => "other",
        _ => return bad(2, "encounter", problems::NOT_A_ROUTE),
    })
}

/// A000030: discharge date, destination and outcome.
fn discharge(
    admitted: NaiveDate,
    day: &str,
    destination_code: &str,
    outcome_code: &str,
) -> Result<(NaiveDate, &'static str, &'static str), BadPayload> {
    let Some(discharged) = date(day) else { return bad(1, "encounter", problems::NOT_A_DATE) };
    if discharged < admitted {
        return bad(1, "encounter", problems::DISCHARGE_BEFORE_ADMISSION);
    }
    let Some(destination) = destination(destination_code) else {
        return bad(2, "encounter", problems::NOT_A_DESTINATION);
    };
    let Some(outcome) = outcome(outcome_code) else { return bad(3, "encounter", problems::NOT_AN_OUTCOME) };
    Ok((discharged, destination, outcome))
}

/// A006010 … A006050: ICD-10 (payload 2), 傷病名コード (4), 修飾語 (5-8).
fn diagnosis<'a>(
    line: usize,
    role: &'static str,
    payload: impl Fn(usize) -> &'a str,
) -> Result<StayDiagnosis, BadPayload> {
    let icd10 = payload(2);
    if !icd10_shape(icd10) {
        return bad(2, "diagnosis", problems::NOT_AN_ICD10);
    }
    let disease_code = Some(payload(4)).filter(|c| !c.is_empty());
    if disease_code.is_some_and(|c| !digits(c, 7)) {
        return bad(4, "diagnosis", problems::NOT_A_DISEASE_CODE);
    }
    Ok(StayDiagnosis {
        line,
        role,
        icd10: icd10.to_string(),
        disease_code: disease_code.map(str::to_string),
        suspected: (5..=8).any(|n| payload(n) == "8002"),
    })
}

/// A007010: the 手術日 (payload 1) and the 点数表コード (payload 2).
fn surgery(line: usize, day: &str, table_code: &str) -> Result<Surgery, BadPayload> {
    let Some(day) = date(day) else { return bad(1, "procedure", problems::NOT_A_DATE) };
    if !table_code_shape(table_code) {
        return bad(2, "procedure", problems::NOT_A_TABLE_CODE);
    }
    Ok(Surgery { line, day, table_code: table_code.to_string() })
}

/// A 点数表コード as 様式1 writes it: the 点数表's letter, its 3-digit 区分番号, then what names the
/// item within it (`-` and 枝番, 項番, a 細目 in half-width kana, a bracketed number): `K0821`,
/// `K426-23`, `K9203ｲ(1)`.
fn table_code_shape(text: &str) -> bool {
    let b = text.as_bytes();
    let rest_ok = text
        .chars()
        .skip(4)
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '(' | ')') || ('\u{FF66}'..='\u{FF9F}').contains(&c));
    b.len() >= 4
        && text.chars().count() <= 16
        && b[0].is_ascii_uppercase()
        && b[1..4].iter().all(u8::is_ascii_digit)
        && rest_ok
}

/// YYYYMMDD; `00000000` (not applicable) and anything else is none.
fn date(text: &str) -> Option<NaiveDate> {
    if !digits(text, 8) {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y%m%d").ok()
}

fn digits(text: &str, n: usize) -> bool {
    text.len() == n && text.bytes().all(|b| b.is_ascii_digit())
}

fn data_id(text: &str) -> bool {
    (1..=10).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// A 様式1 コード: a capital letter, then capitals or digits, seven in all (A000010, JCS0010).
fn record_code(text: &str) -> bool {
    text.len() == 7
        && text.as_bytes()[0].is_ascii_uppercase()
        && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// An ICD-10 code without its dot: a letter, two digits, and up to two more characters.
fn icd10_shape(text: &str) -> bool {
    let b = text.as_bytes();
    (3..=5).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3..].iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// The diagnosis role of a 様式1 code.
fn role(code: &str) -> Option<&'static str> {
    Some(match code {
        "A006010" => "principal",
        "A006020" => "admission_trigger",
        "A006030" => "most_resources",
        "A006031" => "second_most_resources",
        "A006040" => "comorbidity_at_admission",
        "A006050" => "onset_after_admission",
        _ => return None,
    })
}

/// 退院先 in the schema's words (values decided, docs/claims.md).
fn destination(code: &str) -> Option<&'static str> {
    Some(match code {
        "1" | "2" | "3" => "home",
        "4" => "other_hospital",
        "5" | "6" | "7" | "a" => "care_facility",
        "8" => "died",
        "0" | "9" => "other",
        _ => return None,
    })
}

/// 退院時転帰 in the schema's words.
fn outcome(code: &str) -> Option<&'static str> {
    Some(match code {
        "1" => "improving",
        "3" => "remission",
        "4" => "unchanged",
        "5" => "worsening",
        "6" | "7" => "died",
        "9" => "unknown",
        _ => return None,
    })
}

/// 様式1's 診療科コード in the schema's words where it has them; any other code as given.
fn department(code: &str) -> String {
    match code {
        "010" => "internal_medicine".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sjis(text: &str) -> Vec<u8> {
        encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
    }

    fn ff1(lines: &[&str]) -> DpcFile {
        read(&sjis(&lines.iter().map(|l| format!("{l}\r\n")).collect::<String>())).unwrap()
    }

    const STAY: [&str; 6] = [
        "131234567\t0000012345\t20240415\t0\t0\tA000010\t20140401\t0\t19800101\t2\t1000000\t\t\t\t\t\t",
        "131234567\t0000012345\t20240415\t0\t0\tA000020\t20140401\t0\t20240415\t1\t\t\t\t\t\t\t",
        "131234567\t0000012345\t20240415\t0\t0\tA000030\t20140401\t0\t20240425\t1\t1\t0\t\t\t\t\t",
        "131234567\t0000012345\t20240415\t0\t0\tA006010\t20140401\t0\t\tE119\t\t2500015\t\t\t\t\t２型糖尿病",
        "131234567\t0000012345\t20240415\t0\t0\tA006040\t20140401\t0\t\tI10\t\t\t8002\t\t\t\t",
        "131234567\t0000012345\t20240415\t0\t0\tA007010\t20140401\t0\t20240416\tK9203ｲ(1)\t\t1\t0\t1\t\t\t手術名",
    ];

    #[test]
    fn a_stay_is_its_records_by_role() {
        let file = ff1(&STAY);
        assert_eq!(file.kind, Kind::Ff1);
        assert_eq!(file.problems, []);
        assert_eq!(file.month, Some((2024, 4)));
        let stay = &file.stays[0];
        assert_eq!(stay.patient, Some(('F', NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(), 1)));
        assert_eq!(stay.route, Some("home"));
        assert_eq!(stay.discharge, Some((NaiveDate::from_ymd_opt(2024, 4, 25).unwrap(), "home", "improving")));
        let roles: Vec<_> = stay.diagnoses.iter().map(|d| (d.role, d.icd10.as_str(), d.suspected)).collect();
        assert_eq!(roles, [("principal", "E119", false), ("comorbidity_at_admission", "I10", true)]);
        let surgery =
            Surgery { line: 6, day: NaiveDate::from_ymd_opt(2024, 4, 16).unwrap(), table_code: "K9203ｲ(1)".into() };
        assert_eq!(stay.surgeries, [surgery]);
    }

    #[test]
    fn bad_lines_are_problems_at_their_column() {
        let mut lines = STAY.to_vec();
        let short = "131234567\t0000012345\t20240415\t0\t0\tA000030";
        let unknown = STAY[1].replace("A000020", "a00002x");
        let impossible = STAY[2].replace("20240425", "20240431");
        let route = STAY[1].replace("\t1\t\t", "\t7\t\t");
        let table_code = STAY[5].replace("K9203ｲ(1)", "9203");
        lines.extend([short, unknown.as_str(), impossible.as_str(), route.as_str(), table_code.as_str()]);
        let places: Vec<_> = ff1(&lines).problems.into_iter().map(|p| (p.line, p.place)).collect();
        let expected = [(7, "FF-1"), (8, "FF-6"), (9, "FF-9"), (10, "FF-10"), (11, "FF-10")];
        assert_eq!(places, expected.map(|(line, place)| (line, place.to_string())));
    }

    #[test]
    fn ef17_has_the_layout_of_the_survey_year() {
        let line = |day: &str, ef17: &str| {
            let mut f = vec![""; 31];
            f[..9].copy_from_slice(&[
                "131234567",
                "12345",
                "20240425",
                "20240415",
                "33",
                "0001",
                "001",
                "L1",
                "620000001",
            ]);
            f[11] = "1.000";
            f[16] = ef17;
            f[20] = "1";
            f[23] = day;
            f.join("\t") + "\r\n"
        };
        let text = [line("20240416", "000000000000"), line("20240416", "0"), line("20150331", "0")].concat();
        let file = read(&sjis(&text)).unwrap();
        assert_eq!(file.kind, Kind::Ef);
        assert_eq!(file.items.len(), 2);
        let problem = &file.problems[0];
        assert_eq!((problem.line, problem.place.as_str()), (2, "EF-17"));
        assert!(problem.reason.contains("survey year 2024 has 12"), "{}", problem.reason);
    }

    #[test]
    fn a_file_of_neither_kind_or_not_shift_jis_is_refused() {
        assert_eq!(read(b"a\tb\tc\r\n"), Err(Unreadable::UnknownKind { line: 1, fields: 3 }));
        assert_eq!(read(b"\xff\r\n"), Err(Unreadable::Undecodable { offset: 0 }));
        assert_eq!(read(b""), Err(Unreadable::Empty));
    }
}
