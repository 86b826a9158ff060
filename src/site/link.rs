//! The hospital's link between the numbers its claims and DPC files give a patient and its EHR
//! patient id (`midnet site link --site DIR FILE`; docs/claims.md, "One patient across sources").
//!
//! A hospital decides how its sources number a patient: the same number as the EHR (no link
//! needed: the site's keyed hash of the number is the patient key whatever the source), or another
//! numbering with a link table it provides. The table is registered once per site and replaced
//! whole when the hospital updates it; the imports read it. It holds identifying numbers, so the
//! site keeps only keyed hashes (`SITE/keys/patient-link.json`, owner-only): each source number as
//! the keyed hash of (source, number), each EHR id as its patient key. A bad file is refused,
//! naming its line, and the link registered before stays.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SiteDir;
use super::keys::PatientKey;
use crate::error::{Error, IoContext, Result};

const FILE: &str = "patient-link.json";
const FORMAT: &str = "midnet-patient-link/1";
/// The header a link file begins with.
pub const HEADER: &str = "source,source_id,patient_id";

/// What a number of a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A claim's RE-14 カルテ番号.
    Receipt,
    /// A claim's insurance numbers, for a receipt without a カルテ番号: its insurer's (HO-2 保険者番号,
    /// HO-3 記号, HO-4 番号) or, without an insurer, its first public payer's (KO-2 公費負担者番号, KO-3
    /// 受給者番号), each part written as the receipt gives it, joined by `/`.
    Insurance,
    /// DPC's データ識別番号.
    Dpc,
}

impl Source {
    const ALL: [Source; 3] = [Source::Receipt, Source::Insurance, Source::Dpc];

    pub fn name(self) -> &'static str {
        match self {
            Source::Receipt => "receipt",
            Source::Insurance => "insurance",
            Source::Dpc => "dpc",
        }
    }
}

/// The registered link as the site keeps it: keyed hashes only.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    format: String,
    registered_at: String,
    /// The sources the hospital numbers apart from its EHR (those with a line in the link).
    sources: BTreeSet<Source>,
    /// The keyed hash of (source, number) to the patient key of the EHR id.
    links: BTreeMap<String, String>,
}

/// What `site link` registered.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub file: PathBuf,
    /// Lines linked, per source.
    pub linked: BTreeMap<&'static str, u64>,
    /// Whether it replaced a link registered before.
    pub replaced: bool,
}

fn path(site: &SiteDir) -> PathBuf {
    super::keys::dir(site).join(FILE)
}

/// Register the link file `file` for `site`, replacing the one registered before; a file that is
/// not the link's CSV (UTF-8, the header `HEADER`, three fields a line, a known source, no empty
/// number, no number linked to two patients) is refused, naming the line, and nothing changes.
pub fn register(site: &SiteDir, file: &Path) -> Result<Registered> {
    site.require()?;
    let bytes = std::fs::read(file).at(file)?;
    let key = PatientKey::of(site)?;
    let lines =
        parse(&bytes).map_err(|why| Error::BadInput(format!("{}: {why}; no link was registered", file.display())))?;
    let mut stored = Stored {
        format: FORMAT.to_string(),
        registered_at: crate::clock::format_utc(&crate::clock::now_utc()),
        ..Stored::default()
    };
    let mut linked: BTreeMap<&'static str, u64> = BTreeMap::new();
    for line in &lines {
        stored.sources.insert(line.source);
        stored.links.insert(lookup(&key, line.source, &line.source_id), key.hash(&line.patient_id));
        *linked.entry(line.source.name()).or_default() += 1;
    }
    let target = path(site);
    let replaced = target.exists();
    crate::store::write_json(&target, &stored)?;
    Ok(Registered { file: file.to_path_buf(), linked, replaced })
}

/// One line of a link file.
struct Line {
    source: Source,
    source_id: String,
    patient_id: String,
}

/// The lines of a link file, or why it is not one (naming the line).
fn parse(bytes: &[u8]) -> std::result::Result<Vec<Line>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        format!("line {line}: not UTF-8 (byte {}); save the link as UTF-8 CSV", e.valid_up_to())
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut lines: Vec<Line> = Vec::new();
    // (source, number) to the line that linked it and its patient id.
    let mut seen: HashMap<(Source, String), (u64, String)> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("line {}: {e}", i + 1))?;
        let at = record.position().map_or(i as u64 + 1, |p| p.line());
        let fields: Vec<&str> = record.iter().map(str::trim).collect();
        if i == 0 {
            if fields.join(",") != HEADER {
                return Err(format!("line {at}: the header is not `{HEADER}`"));
            }
            continue;
        }
        if fields.len() != 3 {
            return Err(format!("line {at}: {} fields, where the header has 3", fields.len()));
        }
        let Some(source) = Source::ALL.into_iter().find(|s| s.name() == fields[0]) else {
            return Err(format!("line {at}: source is not one of receipt, insurance, dpc"));
        };
        let source_id = normalise(fields[1]);
        let patient_id = fields[2].to_string();
        if source_id.is_empty() || patient_id.is_empty() {
            let empty = if source_id.is_empty() { "source_id" } else { "patient_id" };
            return Err(format!("line {at}: an empty {empty}"));
        }
        match seen.get(&(source, source_id.clone())) {
            Some((first, patient)) if *patient != patient_id => {
                return Err(format!(
                    "line {at}: the {} number of line {first} linked to another patient: a number is one patient",
                    source.name()
                ));
            }
            Some(_) => continue,
            None => {
                seen.insert((source, source_id.clone()), (at, patient_id.clone()));
            }
        }
        lines.push(Line { source, source_id, patient_id });
    }
    if lines.is_empty() {
        return Err(format!("no line after the header `{HEADER}`"));
    }
    Ok(lines)
}

/// A source number as the link compares it: full-width ASCII (as a claim may write a 記号 or
/// 番号) as ASCII, spaces (half or full width) around each `/`-separated part taken off.
pub fn normalise(number: &str) -> String {
    let ascii: String = number
        .chars()
        .map(|c| match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect();
    ascii.split('/').map(str::trim).collect::<Vec<_>>().join("/")
}

/// The keyed hash a source number is found under.
fn lookup(key: &PatientKey, source: Source, number: &str) -> String {
    key.hash(&format!("link\t{}\t{}", source.name(), normalise(number)))
}

/// The site's link, read for an import: empty when none is registered (every source numbers its
/// patients as the EHR does).
pub struct Link {
    key: PatientKey,
    stored: Stored,
}

impl Link {
    pub fn of(site: &SiteDir) -> Result<Link> {
        let key = PatientKey::of(site)?;
        let file = path(site);
        let stored = if file.exists() { crate::store::read_json(&file)? } else { Stored::default() };
        Ok(Link { key, stored })
    }

    /// The patient key of `number` of `source`: the EHR patient's it is linked to; for a source the
    /// link does not list, the key of the number itself (the hospital numbers alike); for a number
    /// the link does not list of a source it does, a key of the number apart from the EHR's (the
    /// source's own patient, linked to no EHR id).
    pub fn patient(&self, source: Source, number: &str) -> String {
        if !self.stored.sources.contains(&source) {
            return self.key.hash(number);
        }
        match self.stored.links.get(&lookup(&self.key, source, number)) {
            Some(patient) => patient.clone(),
            None => self.key.hash(&format!("{}\t{number}", source.name())),
        }
    }

    /// The patient key a receipt's insurance numbers are linked to, if any.
    pub fn insured(&self, numbers: &str) -> Option<String> {
        self.stored.links.get(&lookup(&self.key, Source::Insurance, numbers)).cloned()
    }
}
