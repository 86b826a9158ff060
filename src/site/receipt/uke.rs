//! One `RECEIPTC.UKE` file (医科; hospital-inputs.md §2): Shift_JIS text, CR LF between records,
//! commas between fields (never quoted), the EOF byte 0x1A after the last record. A facility record
//! (IR), then per receipt its common record (RE), insurer and public-payer records (HO, KO…), its
//! diagnoses (SY) and what was billed (SI procedures, IY drugs, TO materials, CO comments), and the
//! file's totals last (GO).
//!
//! A DPC hospital's inpatient receipts are of the DPC form (記録条件仕様 DPC用; docs/claims.md, "The
//! DPC form"): a レセプト種別 4xxx (別表5 (DPC)), its RE, HO and KO a little longer, and after them
//! the records of the DPC form (BU, SB, KK, SK, GA, HH, GT, CD). Those are recognised and their
//! field counts checked, then counted as read but not taken: the schema has no table for the DPC
//! code, its coefficient or the bundled payment, and SB's diagnoses have no start (SY-3's role).
//!
//! What a study uses is read: the receipt's kind, month, the patient's sex and birth date, the
//! admission date, the hospital's chart number (RE-14: identifying, for the importer to hash), each
//! diagnosis's code, start, outcome, modifiers, and each billed item's code, amount, points, count
//! and days of the month. Names (RE-5, RE-37), insurance and public-payer numbers (HO-2..4,
//! KO-2..3), the facility's name and phone, and free text (SY-6, SY-8, CO, SJ, RE-21) are never
//! read. A record that cannot be read is a [`Problem`] naming its line and field, never its value.
//!
//! The totals are checked: each receipt's points (Σ 点数 × 回数 over the records that close a 算定
//! 単位) against its insurer's (or first public payer's) 合計点数, each record's 回数 against the sum of
//! its day columns, and the file's receipts and points against GO.

use chrono::NaiveDate;

use super::era::{self, Month};
use crate::site::load::reasons::receipt as problems;

/// Why a file is not a claim file this reader can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// A byte sequence Shift_JIS cannot decode, at this byte offset of the file.
    Undecodable { offset: usize },
    /// The first record is not the facility record (IR).
    NoFacilityRecord,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::Undecodable { offset } => {
                write!(f, "byte {offset} is not Shift_JIS text (the encoding of レセプト電算 files)")
            }
            Unreadable::NoFacilityRecord => {
                write!(f, "it does not begin with a facility record (IR,…): not a RECEIPTC.UKE file")
            }
        }
    }
}

/// A record or field that could not be read, or totals that do not add up: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The record's line in the file (1 = IR).
    pub line: usize,
    /// The record's id (`SY`, `IY`…).
    pub record: String,
    /// The field (1 = the record id), when one field is at fault.
    pub field: Option<usize>,
    pub reason: String,
}

/// What a file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// IR-2, the 審査支払機関 billed: `1` 社会保険診療報酬支払基金, `2` 国民健康保険団体連合会.
    pub payer: Option<String>,
    /// IR-8, the month billed.
    pub billing_month: Option<Month>,
    pub receipts: Vec<Receipt>,
    pub problems: Vec<Problem>,
}

/// One receipt: one patient, one month of care, one combination of payers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Receipt {
    pub line: usize,
    /// RE-3, レセプト種別 (4 digits, 別表5).
    pub kind: String,
    /// The form its records follow, from its kind.
    pub form: Form,
    /// The last digit of the kind is odd, or the receipt is of the DPC form (inpatient only).
    pub inpatient: bool,
    /// RE-4, 診療年月.
    pub month: Option<Month>,
    /// RE-6: `M` (1) or `F` (2).
    pub sex: Option<char>,
    /// RE-7.
    pub birth_date: Option<NaiveDate>,
    /// RE-9 of an inpatient receipt (within or before its month of care).
    pub admitted: Option<NaiveDate>,
    /// RE-14 カルテ番号等, the hospital's patient number when given: identifying, to be hashed.
    pub chart_number: Option<String>,
    /// For a receipt without a カルテ番号 only, the insurance numbers that identify the patient, for
    /// the hospital's link (identifying: for the importer to look up hashed, never stored): the
    /// insurer's HO-2/HO-3/HO-4, else the first public payer's KO-2/KO-3, joined by `/`.
    pub insurance: Option<String>,
    pub diagnoses: Vec<Diagnosis>,
    pub items: Vec<Item>,
    /// The records of the DPC form read (BU, SB, KK, SK, GA, HH, GT, CD): none is taken.
    pub dpc_records: u64,
}

/// Which 記録条件仕様 a receipt's records follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Form {
    /// 医科用.
    #[default]
    Medical,
    /// DPC用: a レセプト種別 starting with 4 (別表5 (DPC): 4112…4456, every one of them).
    Dpc,
}

impl Form {
    /// The form of a receipt of the kind `kind` (RE-3).
    fn of_kind(kind: &str) -> Form {
        if kind.len() == 4 && kind.starts_with('4') { Form::Dpc } else { Form::Medical }
    }
}

/// The records only the DPC form has.
const DPC_RECORDS: [&str; 8] = ["BU", "SB", "KK", "SK", "GA", "HH", "GT", "CD"];

/// An SY record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub line: usize,
    /// SY-2, the 7-digit 傷病名コード (`0000999`: not coded).
    pub code: String,
    /// SY-3, the start of insured care.
    pub start: Option<NaiveDate>,
    /// SY-4 (別表18) in the schema's words: `continuing`, `cured`, `died`, `discontinued`.
    pub outcome: &'static str,
    /// SY-5, the 4-digit 修飾語 codes.
    pub modifiers: Vec<String>,
    /// A modifier `8002` (の疑い).
    pub suspected: bool,
    /// SY-7 = `01`.
    pub main: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// SI, a 診療行為 (9 digits, starting with 1).
    Procedure,
    /// IY, a drug (9 digits, starting with 6).
    Drug,
    /// TO, a 特定器材 (starting with 7).
    Material,
}

/// An SI, IY or TO record.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub line: usize,
    pub kind: ItemKind,
    /// 診療識別 (別表20), carried forward from the record before when left empty.
    pub category: String,
    pub code: String,
    /// The amount (a drug's 使用量: for 内服 the daily amount).
    pub amount: Option<f64>,
    /// 点数: only on the record that closes its 算定単位.
    pub points: Option<u64>,
    /// 回数.
    pub times: Option<u64>,
    /// (day of the month, count) of each day it was given; for 内服 the count on the prescribing
    /// day is the days supplied.
    pub days: Vec<(u32, u64)>,
}

impl Item {
    /// The route of a drug from its 診療識別.
    pub fn route(&self) -> Option<&'static str> {
        route(&self.category)
    }
}

/// The route of a drug billed under the 診療識別 `category` (別表20; DPC's EF データ区分 are the
/// same codes): 内服 and 屯服 oral, 外用 topical, 注射 injection; none for a drug used in a
/// procedure.
pub fn route(category: &str) -> Option<&'static str> {
    match category {
        "21" | "22" => Some("oral"),
        "23" => Some("topical"),
        "31" | "32" | "33" => Some("injection"),
        _ => None,
    }
}

/// The number of fields of each record the 記録条件仕様 defines (医科用 令和4年4月版; the DPC
/// form's from docs/claims.md, "The DPC form"), in a receipt of the form `form`; the records read
/// and those only counted.
fn field_count(record: &str, form: Form) -> Option<usize> {
    Some(match (record, form) {
        // The DPC form's RE has no second and third 診療科 (10 fields) but レセプト総括区分 and
        // 明細情報数 (2); its HO and KO end with 標準負担額.
        ("RE", Form::Dpc) => 30,
        ("HO", Form::Dpc) => 16,
        ("KO", Form::Dpc) => 13,
        ("IR", _) => 10,
        ("RE", _) => 38,
        ("HO", _) => 15,
        ("KO", _) => 12,
        ("SY", _) => 8,
        ("SI" | "IY", _) => 44,
        ("TO", _) => 48,
        ("CO", _) => 5,
        ("GO", _) => 4,
        // The DPC form's: 診断群分類, 傷病, 患者基礎, 診療関連, 外泊, 包括評価, 合計調整, コーディングデータ.
        ("BU", _) => 6,
        ("SB", _) => 8,
        ("KK", _) => 14,
        ("SK" | "GA", _) => 7,
        ("HH", _) => 9,
        ("GT", _) => 13,
        ("CD", _) => 11,
        // Known, not read: 資格確認, 受診日等, 窓口負担額, 包括評価, 症状詳記, organ donation.
        ("SN" | "JD" | "MF" | "GR" | "SJ" | "TI" | "TR" | "TS", _) => return Some(0),
        _ => return None,
    })
}

/// Read a `RECEIPTC.UKE` file.
pub fn read(bytes: &[u8]) -> Result<Claims, Unreadable> {
    let text = decode(bytes)?;
    let end = text.find('\u{1a}');
    let body = &text[..end.unwrap_or(text.len())];
    let mut reader = Reader::default();
    for (i, line) in body.split('\n').enumerate() {
        let line_number = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if line_number == 1 && fields[0] != "IR" {
            return Err(Unreadable::NoFacilityRecord);
        }
        reader.record(line_number, &fields);
    }
    if end.is_some_and(|at| !text[at + 1..].trim().is_empty()) {
        reader.problem(0, "EOF", None, problems::TEXT_AFTER_EOF);
    }
    Ok(reader.finish())
}

fn decode(bytes: &[u8]) -> Result<String, Unreadable> {
    crate::site::decode::strictly(encoding_rs::SHIFT_JIS, bytes).map_err(|offset| Unreadable::Undecodable { offset })
}

/// The file as read so far.
#[derive(Default)]
struct Reader {
    claims: Claims,
    /// The current receipt's declared 合計点数 (HO-6, else the first KO-6), its line and record.
    declared: Option<(u64, usize, &'static str)>,
    /// The line of a receipt (RE) that could not be read: its records are not anyone's.
    unreadable_receipt: Option<usize>,
    /// The 診療識別 the next SI/IY/TO record without one belongs to.
    category: String,
    /// The form of the receipt being read: its HO and KO records' field counts follow it.
    form: Form,
    /// GO: receipts and points, with its line.
    totals: Option<(u64, u64, usize)>,
    /// Σ declared points of the receipts.
    points: u64,
}

impl Reader {
    fn problem(&mut self, line: usize, record: &str, field: Option<usize>, reason: impl Into<String>) {
        let problem = Problem { line, record: record.to_string(), field, reason: reason.into() };
        self.claims.problems.push(problem);
    }

    fn record(&mut self, line: usize, fields: &[&str]) {
        let id = fields[0];
        if id == "RE" {
            self.form = Form::of_kind(fields.get(2).copied().unwrap_or_default());
        }
        let Some(count) = field_count(id, self.form) else {
            return self.problem(line, id, Some(1), problems::NOT_A_RECORD);
        };
        if count > 0 && fields.len() != count {
            if id == "RE" {
                self.close_receipt();
                self.unreadable_receipt = Some(line);
            }
            let reason = problems::FIELD_COUNT.with(&[fields.len() as u64, count as u64]);
            return self.problem(line, id, None, reason);
        }
        let in_receipt = !self.claims.receipts.is_empty();
        if let Some(receipt) = self.unreadable_receipt
            && !matches!(id, "IR" | "RE" | "GO")
        {
            if matches!(id, "HO" | "KO" | "SY" | "SI" | "IY" | "TO") {
                self.problem(line, id, None, problems::OF_UNREADABLE_RECEIPT.with(&[receipt as u64]));
            }
            return;
        }
        match id {
            "IR" => {
                match fields[1] {
                    "1" | "2" => self.claims.payer = Some(fields[1].to_string()),
                    _ => self.problem(line, id, Some(2), problems::NOT_A_PAYER),
                }
                match era::month(fields[7]) {
                    Ok(month) => self.claims.billing_month = month,
                    Err(why) => self.problem(line, id, Some(8), why),
                }
            }
            "RE" => self.receipt(line, fields),
            "GO" => self.totals_record(line, fields),
            _ if !in_receipt => self.problem(line, id, None, problems::BEFORE_FIRST_RECEIPT),
            "HO" | "KO" => self.payer(line, fields),
            "SY" => self.diagnosis(line, fields),
            "SI" | "IY" | "TO" => self.item(line, fields),
            _ if DPC_RECORDS.contains(&id) => self.dpc_record(line, id),
            _ => {}
        }
    }

    fn receipt(&mut self, line: usize, f: &[&str]) {
        self.close_receipt();
        self.unreadable_receipt = None;
        let mut receipt = Receipt { line, kind: f[2].to_string(), form: self.form, ..Receipt::default() };
        match f[2].as_bytes() {
            [a, b, c, d] if [a, b, c, d].iter().all(|x| x.is_ascii_digit()) => {
                // The DPC form's kinds end in the digits of the 医科 outpatient kinds (4112 本人…),
                // yet the DPC bills stays only.
                receipt.inpatient = receipt.form == Form::Dpc || (d - b'0') % 2 == 1;
            }
            _ => self.problem(line, "RE", Some(3), problems::NOT_A_KIND),
        }
        match era::month(f[3]) {
            Ok(Some(month)) => receipt.month = Some(month),
            Ok(None) => self.problem(line, "RE", Some(4), problems::NO_CARE_MONTH),
            Err(why) => self.problem(line, "RE", Some(4), why),
        }
        receipt.sex = match f[5] {
            "1" => Some('M'),
            "2" => Some('F'),
            _ => {
                self.problem(line, "RE", Some(6), problems::NOT_A_SEX);
                None
            }
        };
        receipt.birth_date = self.date(line, "RE", 7, f[6]);
        receipt.admitted = self.admission(line, &receipt, f[8]);
        receipt.chart_number = Some(f[13].trim().to_string()).filter(|n| !n.is_empty());
        self.category.clear();
        self.claims.receipts.push(receipt);
    }

    /// RE-9 of an inpatient receipt: the day its stay began, within or before its month of care. An
    /// outpatient receipt has none (one given is not read).
    fn admission(&mut self, line: usize, receipt: &Receipt, text: &str) -> Option<NaiveDate> {
        if !receipt.inpatient {
            return None;
        }
        let admitted = self.date(line, "RE", 9, text);
        match (admitted, receipt.month) {
            (None, _) if text.trim().is_empty() => self.problem(line, "RE", Some(9), problems::NO_ADMISSION),
            (Some(day), Some(month)) if day > month.last_day() => {
                self.problem(line, "RE", Some(9), problems::ADMITTED_AFTER_CARE_MONTH);
                return None;
            }
            _ => {}
        }
        admitted
    }

    fn date(&mut self, line: usize, record: &str, field: usize, text: &str) -> Option<NaiveDate> {
        era::date(text).unwrap_or_else(|why| {
            self.problem(line, record, Some(field), why);
            None
        })
    }

    fn number(&mut self, line: usize, record: &str, field: usize, text: &str) -> Option<u64> {
        if text.is_empty() {
            return None;
        }
        let parsed = text.parse::<u64>().ok().filter(|_| text.bytes().all(|b| b.is_ascii_digit()));
        if parsed.is_none() {
            self.problem(line, record, Some(field), problems::NOT_A_NUMBER);
        }
        parsed
    }

    /// HO-6 or KO-6, the receipt's 合計点数: the insurer's if there is one, else the first payer's.
    fn payer(&mut self, line: usize, f: &[&str]) {
        let numbers = match f[0] {
            "HO" => &f[1..4],
            _ => &f[1..3],
        };
        // Read only where they are the link: a receipt with a カルテ番号 leaves them unread.
        if let Some(receipt) = self.claims.receipts.last_mut()
            && receipt.chart_number.is_none()
            && (receipt.insurance.is_none() || f[0] == "HO")
            && numbers.iter().skip(1).any(|n| !n.trim().is_empty())
        {
            receipt.insurance = Some(numbers.join("/"));
        }
        let points = self.number(line, f[0], 6, f[5]);
        match (f[0], points, self.declared) {
            ("HO", Some(points), _) => self.declared = Some((points, line, "HO")),
            ("KO", Some(points), None) => self.declared = Some((points, line, "KO")),
            _ => {}
        }
    }

    fn diagnosis(&mut self, line: usize, f: &[&str]) {
        let code = f[1].trim();
        if code.len() != 7 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return self.problem(line, "SY", Some(2), problems::NOT_A_DISEASE_CODE);
        }
        let start = self.date(line, "SY", 3, f[2]);
        let outcome = match f[3] {
            "1" | "" => "continuing",
            "2" => "cured",
            "3" => "died",
            "4" => "discontinued",
            _ => return self.problem(line, "SY", Some(4), problems::NOT_AN_OUTCOME),
        };
        let modifiers = f[4].trim();
        if !modifiers.len().is_multiple_of(4) || !modifiers.bytes().all(|b| b.is_ascii_digit()) {
            return self.problem(line, "SY", Some(5), problems::NOT_MODIFIERS);
        }
        let modifiers: Vec<String> =
            (0..modifiers.len() / 4).map(|i| modifiers[i * 4..i * 4 + 4].to_string()).collect();
        let diagnosis = Diagnosis {
            line,
            code: code.to_string(),
            start,
            outcome,
            suspected: modifiers.iter().any(|m| m == "8002"),
            modifiers,
            main: f[6] == "01",
        };
        self.claims.receipts.last_mut().expect("inside a receipt").diagnoses.push(diagnosis);
    }

    fn item(&mut self, line: usize, f: &[&str]) {
        let id = f[0];
        let (kind, first_day, code_start, not_a_code) = match id {
            "SI" => (ItemKind::Procedure, 14, '1', problems::NOT_A_PROCEDURE_CODE),
            "IY" => (ItemKind::Drug, 14, '6', problems::NOT_A_DRUG_CODE),
            _ => (ItemKind::Material, 18, '7', problems::NOT_A_MATERIAL_CODE),
        };
        if !f[1].is_empty() {
            self.category = f[1].to_string();
        }
        let code = f[3].trim();
        if code.len() != 9 || !code.bytes().all(|b| b.is_ascii_digit()) || !code.starts_with(code_start) {
            return self.problem(line, id, Some(4), not_a_code);
        }
        let amount = match f[4] {
            "" => None,
            text => match text.parse::<f64>() {
                Ok(amount) if amount.is_finite() && amount >= 0.0 && !text.contains(['e', 'E']) => Some(amount),
                _ => return self.problem(line, id, Some(5), problems::NOT_AN_AMOUNT),
            },
        };
        let points = self.number(line, id, 6, f[5]);
        let times = self.number(line, id, 7, f[6]);
        let month = self.claims.receipts.last().and_then(|r| r.month);
        let mut days = Vec::new();
        // Every count adds to the sum 回数 is checked against, a day the month has not included, so
        // that such a day is reported once, as itself.
        let mut counted = 0u64;
        for (i, text) in f[first_day - 1..first_day + 30].iter().enumerate() {
            let day = i as u32 + 1;
            let Some(count) = self.number(line, id, first_day + i, text).filter(|n| *n > 0) else { continue };
            counted += count;
            if month.is_some_and(|m| m.day(day).is_none()) {
                self.problem(line, id, Some(first_day + i), problems::DAY_NOT_IN_MONTH.with(&[day as u64]));
            } else {
                days.push((day, count));
            }
        }
        if let Some(times) = times
            && times != counted
        {
            self.problem(line, id, Some(7), format!("回数 {times} is not the sum of the day columns ({counted})"));
        }
        let category = self.category.clone();
        let item = Item { line, kind, category, code: code.to_string(), amount, points, times, days };
        self.claims.receipts.last_mut().expect("inside a receipt").items.push(item);
    }

    /// A record of the DPC form (its field count checked already): counted, in a receipt of that form.
    fn dpc_record(&mut self, line: usize, id: &str) {
        let receipt = self.claims.receipts.last_mut().expect("inside a receipt");
        match receipt.form {
            Form::Dpc => receipt.dpc_records += 1,
            Form::Medical => self.problem(line, id, None, problems::DPC_RECORD_OF_MEDICAL_RECEIPT),
        }
    }

    fn totals_record(&mut self, line: usize, f: &[&str]) {
        self.close_receipt();
        if let (Some(receipts), Some(points)) = (self.number(line, "GO", 2, f[1]), self.number(line, "GO", 3, f[2])) {
            self.totals = Some((receipts, points, line));
        }
    }

    /// Check the receipt just read: its records' points against its payer's 合計点数.
    fn close_receipt(&mut self) {
        let Some(receipt) = self.claims.receipts.last() else { return };
        let Some((declared, declared_line, record)) = self.declared.take() else {
            if receipt.items.iter().any(|i| i.points.is_some()) {
                let line = receipt.line;
                self.problem(line, "RE", None, "the receipt has no insurer (HO) or public payer (KO) record");
            }
            return;
        };
        self.points += declared;
        // A DPC-form receipt's 合計点数 holds its bundled payment (GT) beside its billed records, in
        // a sum not confirmed (docs/claims.md, "The DPC form"): it is not checked.
        if receipt.form == Form::Dpc {
            return;
        }
        let billed: u64 = receipt.items.iter().filter_map(|i| Some(i.points? * i.times.unwrap_or(1))).sum();
        if billed != declared {
            let reason = format!("合計点数 {declared}, but the receipt's records add up to {billed} points");
            self.problem(declared_line, record, Some(6), reason);
        }
    }

    fn finish(mut self) -> Claims {
        match self.totals {
            None => self.problem(0, "GO", None, "no totals record (GO): the file may be cut short"),
            Some((receipts, points, line)) => {
                let read = self.claims.receipts.len() as u64;
                if receipts != read {
                    self.problem(line, "GO", Some(2), format!("総件数 {receipts}, but the file holds {read} receipts"));
                }
                if points != self.points {
                    let reason = format!("総合計点数 {points}, but the receipts' 合計点数 add up to {}", self.points);
                    self.problem(line, "GO", Some(3), reason);
                }
            }
        }
        self.claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with its fields, padded with empty ones to the record's length (医科用).
    fn record(fields: &[&str]) -> String {
        of_form(Form::Medical, fields)
    }

    /// A record of a receipt of the form `form`, as `record`.
    fn of_form(form: Form, fields: &[&str]) -> String {
        let count = field_count(fields[0], form).unwrap();
        let mut all: Vec<&str> = fields.to_vec();
        all.resize(count.max(fields.len()), "");
        all.join(",")
    }

    /// An SI or IY record: fields 2-7, then a count on each given day.
    fn billed(fields: &[&str], days: &[(usize, &str)]) -> String {
        let mut all: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        all.resize(44, String::new());
        for (day, count) in days {
            all[12 + day] = count.to_string();
        }
        all.join(",")
    }

    fn file(records: &[String]) -> Vec<u8> {
        let text = records.join("\r\n") + "\r\n\u{1a}";
        encoding_rs::SHIFT_JIS.encode(&text).0.into_owned()
    }

    /// The specification's example (§2.3), its points made to add up: one outpatient receipt of
    /// March 2024 with three diagnoses (one suspected), a revisit on two days and a drug for 14 days.
    fn example() -> Vec<String> {
        vec![
            record(&["IR", "1", "13", "1", "1234567", "", "テスト記念病院", "202404", "00", "03-0000-0000"]),
            record(&["RE", "1", "1112", "202403", "試験　花子", "2", "19800101", "", "", "", "", "", "", "A0012345"]),
            record(&["HO", "06139999", "１２３", "４５６７", "2", "276"]),
            record(&["SY", "2500015", "20230613", "1", "", "", "01"]),
            record(&["SY", "5319009", "20240305", "1", "8002"]),
            record(&["SY", "0000999", "20240305", "1", "", "架空症候群"]),
            billed(&["SI", "12", "1", "112007410", "", "75", "2"], &[(5, "1"), (19, "1")]),
            billed(&["IY", "21", "1", "610406079", "1", "9", "14"], &[(5, "14")]),
            record(&["CO", "", "1", "810000001", "食後に服用"]),
            record(&["GO", "1", "276", "99"]),
        ]
    }

    #[test]
    fn the_specification_example_is_read() {
        let claims = read(&file(&example())).unwrap();
        assert_eq!(claims.problems, vec![]);
        assert_eq!(claims.billing_month, Some(Month { year: 2024, month: 4 }));
        let r = &claims.receipts[0];
        assert_eq!((r.kind.as_str(), r.inpatient, r.sex), ("1112", false, Some('F')));
        assert_eq!(r.month, Some(Month { year: 2024, month: 3 }));
        assert_eq!(r.birth_date, NaiveDate::from_ymd_opt(1980, 1, 1));
        assert_eq!(r.chart_number.as_deref(), Some("A0012345"));
        let codes: Vec<(&str, bool, bool)> =
            r.diagnoses.iter().map(|d| (d.code.as_str(), d.suspected, d.main)).collect();
        assert_eq!(codes, [("2500015", false, true), ("5319009", true, false), ("0000999", false, false)]);
        let drug = &r.items[1];
        assert_eq!(
            (drug.kind, drug.route(), drug.amount, drug.days.clone()),
            (ItemKind::Drug, Some("oral"), Some(1.0), vec![(5, 14)])
        );
        assert_eq!(r.items[0].days, vec![(5, 1), (19, 1)]);
    }

    #[test]
    fn nothing_identifying_is_read() {
        let claims = format!("{:?}", read(&file(&example())).unwrap());
        for value in
            ["試験", "花子", "テスト記念病院", "03-0000-0000", "06139999", "１２３", "４５６７", "架空症候群", "食後"]
        {
            assert!(!claims.contains(value), "{value} was read");
        }
    }

    #[test]
    fn a_receipt_without_a_chart_number_gives_its_insurance_numbers_for_the_link() {
        let mut records = example();
        records[1] = record(&["RE", "1", "1112", "202403", "試験　花子", "2", "19800101"]);
        records.insert(3, record(&["KO", "12345678", "7654321", "", "2", "276"]));
        let claims = read(&file(&records)).unwrap();
        assert_eq!(claims.receipts[0].insurance.as_deref(), Some("06139999/１２３/４５６７"));
        records.remove(2);
        let claims = read(&file(&records)).unwrap();
        assert_eq!(claims.receipts[0].insurance.as_deref(), Some("12345678/7654321"), "without HO, the first KO's");
    }

    #[test]
    fn the_old_era_coded_form_is_read() {
        let records = vec![
            record(&["IR", "1", "13", "1", "1234567", "", "病院", "42204", "00", ""]),
            record(&["RE", "3", "1318", "42203", "試験　太郎", "1", "3240522", "70"]),
            record(&["HO", "39131234", "", "", "1", "0"]),
            record(&["SY", "2500015", "3520613", "2", "", "", "01"]),
            record(&["GO", "1", "0", "99"]),
        ];
        let claims = read(&file(&records)).unwrap();
        assert_eq!(claims.problems, vec![]);
        let r = &claims.receipts[0];
        assert_eq!(
            (r.month, r.birth_date),
            (Some(Month { year: 2010, month: 3 }), NaiveDate::from_ymd_opt(1949, 5, 22))
        );
        assert_eq!((r.diagnoses[0].start, r.diagnoses[0].outcome), (NaiveDate::from_ymd_opt(1977, 6, 13), "cured"));
    }

    #[test]
    fn a_category_left_empty_is_carried_forward() {
        let mut records = example();
        records[7] = billed(&["IY", "21", "1", "610406079", "1", "", ""], &[(5, "14")]);
        records.insert(8, billed(&["IY", "", "1", "620000001", "2", "9", "14"], &[(5, "14")]));
        let claims = read(&file(&records)).unwrap();
        assert_eq!(claims.problems, vec![]);
        assert_eq!(claims.receipts[0].items[2].category, "21");
    }

    fn problems(records: &[String]) -> Vec<(usize, String, Option<usize>)> {
        read(&file(records)).unwrap().problems.into_iter().map(|p| (p.line, p.record, p.field)).collect()
    }

    #[test]
    fn each_bad_record_is_named_by_line_and_field() {
        let mut records = example();
        records[3] = "SY,2500015,20230613,1,,,01".into(); // 7 fields
        assert_eq!(problems(&records), [(4, "SY".into(), None)]);

        let mut records = example();
        records[4] = record(&["SY", "5319009", "20230230", "1"]);
        assert_eq!(problems(&records), [(5, "SY".into(), Some(3))]);

        let mut records = example();
        records.insert(8, "XX,1".into());
        assert_eq!(problems(&records), [(9, "XX".into(), Some(1))]);

        let mut records = example();
        records[7] = billed(&["IY", "21", "1", "610406079", "1", "9", "14"], &[(31, "14")]); // March has 31 days
        assert_eq!(problems(&records), []);
        records[1] = record(&["RE", "1", "1112", "202402", "試験　花子", "2", "19800101"]);
        assert_eq!(problems(&records), [(8, "IY".into(), Some(44))], "February has no 31st");
    }

    #[test]
    fn the_records_of_a_receipt_that_cannot_be_read_are_no_one_s() {
        let mut records = example();
        records[1] = "RE,1,1112,202403".into();
        let found = problems(&records);
        assert_eq!(&found[..2], [(2, "RE".into(), None), (3, "HO".into(), None)]);
        assert!(read(&file(&records)).unwrap().receipts.is_empty());
    }

    #[test]
    fn totals_that_do_not_add_up_are_reported() {
        let mut records = example();
        records[2] = record(&["HO", "06139999", "１２３", "４５６７", "2", "1058"]);
        let found = problems(&records);
        assert!(found.contains(&(3, "HO".into(), Some(6))), "{found:?}");
        assert!(found.contains(&(10, "GO".into(), Some(3))), "{found:?}");

        let mut records = example();
        records[9] = record(&["GO", "2", "276", "99"]);
        assert_eq!(problems(&records), [(10, "GO".into(), Some(2))]);

        let mut records = example();
        records.pop();
        assert_eq!(problems(&records), [(0, "GO".into(), None)], "a file cut short has no GO");
    }

    /// A DPC-form receipt (記録条件仕様 DPC用) of March 2024, a stay from 1 March: its RE, HO, one
    /// record of each of the DPC form's kinds, and a visit billed 出来高 on the 5th.
    fn dpc_example() -> Vec<String> {
        let dpc = |fields: &[&str]| of_form(Form::Dpc, fields);
        vec![
            record(&["IR", "1", "13", "1", "1234567", "", "テスト記念病院", "202404", "00", ""]),
            dpc(&[
                "RE",
                "1",
                "4112",
                "202403",
                "試験　花子",
                "2",
                "19800101",
                "",
                "20240301",
                "",
                "",
                "",
                "",
                "A0012345",
            ]),
            dpc(&["HO", "06139999", "１２３", "４５６７", "10", "30937"]),
            dpc(&["BU", "040080xx99x0xx", "20240301", "20240310", "1"]),
            dpc(&["SB", "8800001", "", "", "J189", "01"]),
            dpc(&["KK", "", "", "1"]),
            dpc(&["SK", "", "", "20240302"]),
            dpc(&["GA", "202403", "2", "", "", "1.2345"]),
            dpc(&["HH", "202403", "2", "1", "1", "1", "2500", "10", "25000"]),
            dpc(&["GT", "202403", "2", "1", "1", "25000", "30862", "", "30862", "93"]),
            dpc(&["CD", "20240305", "12", "1", "1", "112007410", "", "", "", "1"]),
            billed(&["SI", "12", "1", "112007410", "", "75", "1"], &[(5, "1")]),
            record(&["GO", "1", "30937", "99"]),
        ]
    }

    #[test]
    fn a_receipt_of_the_dpc_form_is_read_its_dpc_records_counted() {
        let claims = read(&file(&dpc_example())).unwrap();
        assert_eq!(claims.problems, vec![]);
        let r = &claims.receipts[0];
        assert_eq!((r.form, r.inpatient, r.dpc_records), (Form::Dpc, true, 8));
        assert_eq!((r.admitted, r.chart_number.as_deref()), (NaiveDate::from_ymd_opt(2024, 3, 1), Some("A0012345")));
        assert_eq!((r.items.len(), r.diagnoses.len()), (1, 0), "the 出来高 visit; SB is not a diagnosis");
    }

    #[test]
    fn a_dpc_record_of_the_wrong_length_or_in_a_medical_receipt_is_named_by_line() {
        let mut records = dpc_example();
        records[3] = "BU,040080xx99x0xx,20240301,20240310,1".into(); // 5 fields
        assert_eq!(problems(&records), [(4, "BU".into(), None)]);
        assert_eq!(read(&file(&records)).unwrap().receipts[0].dpc_records, 7);

        let mut records = dpc_example();
        records[2] = record(&["HO", "06139999", "１２３", "４５６７", "10", "30937"]); // the 医科 form's 15
        assert!(problems(&records).contains(&(3, "HO".into(), None)));

        let mut records = example();
        records.insert(3, of_form(Form::Dpc, &["BU", "040080xx99x0xx", "20240301"]));
        assert_eq!(problems(&records), [(4, "BU".into(), None)]);
    }

    #[test]
    fn an_undecodable_byte_is_named_by_offset() {
        let mut bytes = file(&example());
        bytes.insert(10, 0xFF);
        assert_eq!(read(&bytes), Err(Unreadable::Undecodable { offset: 10 }));
        assert_eq!(read(b"RE,1\r\n"), Err(Unreadable::NoFacilityRecord));
    }
}
