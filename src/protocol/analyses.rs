//! The analyses of a project: each run of the protocol is analysis K, kept in
//! `work/protocol/analysis-K/` with its record (`analysis.json`, written last: a directory without
//! one is an interrupted run and is not an analysis). A later cut-off adds analysis K+1; nothing
//! ever rewrites an earlier one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::monitor::{Earlier, Monitoring};
use super::plan::{Plan, RunOptions};
use crate::bad_input;
use crate::error::{Error, IoContext, Result};
use crate::project::{Area, Project};

pub const RECORD_FILE: &str = "analysis.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalysisRecord {
    pub analysis: u32,
    pub cutoff: String,
    pub drug: Vec<String>,
    pub comparator: Vec<String>,
    pub plan: Plan,
    pub outcomes: Vec<String>,
    pub extraction: i64,
    pub dataset: String,
    pub script_sha256: String,
    /// Patients with follow-up.
    pub patients: u64,
    /// Outcome x subgroup hazard ratios attempted.
    pub tests: usize,
    /// `outcome (subgroup)` of each flag: its statistic crossed the sequential boundary at this
    /// look or an earlier one.
    #[serde(default)]
    pub flagged_sequential: Vec<String>,
    /// `outcome (subgroup)` of each statistic that crossed its sequential boundary at this look.
    #[serde(default)]
    pub crossed: Vec<String>,
    /// `outcome (subgroup)` of each per-look unadjusted flag (lower 95% Wald bound above 1, as if
    /// this look were the only one). Records written before the sequential flag call it `flagged`.
    #[serde(alias = "flagged")]
    pub flagged_unadjusted: Vec<String>,
    pub model: String,
    pub tables: Vec<String>,
    pub extraction_seconds: f64,
    pub statistics_seconds: f64,
    pub created_by: String,
    /// The export gate's findings in the tables at the export stage (file, rule, count): what a
    /// reviewer must accept before they leave.
    pub export_review: Vec<String>,
    /// The surveillance plan this analysis ran under (absent in analyses made before plans).
    #[serde(default)]
    pub surveillance: Option<super::surveillance::SurveillancePlan>,
}

impl AnalysisRecord {
    pub fn title(&self) -> String {
        format!(
            "Early-safety protocol, analysis {}: drug {} vs comparator {}, cut-off {}",
            self.analysis,
            self.drug.join(","),
            self.comparator.join(","),
            self.cutoff
        )
    }
}

/// Where a project's analyses are kept: `work/protocol/`.
pub fn protocol_dir(project: &Project) -> PathBuf {
    project.layout().area(Area::Work).join("protocol")
}

pub fn dir_name(analysis: u32) -> String {
    format!("analysis-{analysis}")
}

/// The analysis number of `work/protocol/analysis-K`.
pub fn number_of(dir: &Path) -> u32 {
    dir.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("analysis-"))
        .and_then(|k| k.parse().ok())
        .unwrap_or(0)
}

/// The completed analyses, in order.
pub fn list(protocol: &Path) -> Result<Vec<AnalysisRecord>> {
    let mut records = Vec::new();
    if !protocol.is_dir() {
        return Ok(records);
    }
    for entry in std::fs::read_dir(protocol).at(protocol)? {
        let path = entry.at(protocol)?.path();
        let file = path.join(RECORD_FILE);
        if number_of(&path) > 0 && file.is_file() {
            let text = std::fs::read_to_string(&file).at(&file)?;
            let record: AnalysisRecord = serde_json::from_str(&text).map_err(|e| {
                Error::Integrity(format!("{}: not an analysis record ({e}); it was changed by hand", file.display()))
            })?;
            records.push(record);
        }
    }
    records.sort_by_key(|r| r.analysis);
    Ok(records)
}

/// A run continues the project's monitoring: the same drug and comparator, a later cut-off.
pub fn check_next(protocol: &Path, opts: &RunOptions) -> Result<()> {
    let Some(last) = list(protocol)?.pop() else { return Ok(()) };
    if last.drug != opts.drug || last.comparator != opts.comparator {
        return Err(bad_input!(
            "--drug/--comparator: this project monitors drug {} against comparator {} (analysis {}); a project follows \
             one pair, so run the same pair or use another project",
            last.drug.join(","),
            last.comparator.join(","),
            last.analysis
        ));
    }
    if opts.cutoff.as_str() <= last.cutoff.as_str() {
        return Err(bad_input!(
            "--cutoff {}: analysis {} already has cut-off {}; the next analysis needs a later cut-off (earlier analyses \
             are never changed)",
            opts.cutoff,
            last.analysis,
            last.cutoff
        ));
    }
    Ok(())
}

/// Make the directory of the next analysis (one past every existing directory, complete or not).
pub fn new_dir(protocol: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(protocol).at(protocol)?;
    let mut next = 1;
    for entry in std::fs::read_dir(protocol).at(protocol)? {
        next = next.max(number_of(&entry.at(protocol)?.path()) + 1);
    }
    let dir = protocol.join(dir_name(next));
    std::fs::create_dir(&dir).at(&dir)?;
    Ok(dir)
}

pub fn write_record(dir: &Path, record: &AnalysisRecord) -> Result<()> {
    let text = serde_json::to_string_pretty(record).expect("a record serialises");
    crate::store::write_atomically(&dir.join(RECORD_FILE), text.as_bytes())
}

/// Each outcome's hazard ratio across the analyses: rows of (outcome, subgroup) and one cell per
/// analysis.
pub struct History {
    pub analyses: Vec<AnalysisRecord>,
    pub rows: Vec<HistoryRow>,
}

pub struct HistoryRow {
    pub outcome: String,
    pub subgroup: String,
    /// Per analysis: `HR (lo-hi)` (Wald) with `[profile lo-hi]` when events were few, the reason it
    /// was not estimated, or empty when not run.
    pub cells: Vec<String>,
    /// Per analysis: the per-look unadjusted flag.
    pub flagged_unadjusted: Vec<bool>,
    /// Per analysis made under a surveillance plan: the sequential look.
    pub looks: Vec<Option<Monitoring>>,
}

pub fn history(protocol: &Path) -> Result<History> {
    let analyses = list(protocol)?;
    let mut rows: Vec<HistoryRow> = Vec::new();
    for (k, record) in analyses.iter().enumerate() {
        let path = protocol.join(dir_name(record.analysis)).join(super::tables::RESULTS);
        let frame = crate::table::Frame::read_text_columns(&path, &[])?;
        let col = |name: &str| frame.texts(name);
        let (outcome, subgroup, hr, lo, hi, status, flagged) = (
            col("outcome")?,
            col("subgroup")?,
            col("hr")?,
            col("hr_lo95")?,
            col("hr_hi95")?,
            col("status")?,
            col(crate::report::unadjusted_flag_column(frame.names()))?,
        );
        // Tables written before the profile-likelihood intervals have none.
        let optional =
            |name: &str| if frame.names().iter().any(|n| n == name) { col(name) } else { Ok(vec![None; frame.rows()]) };
        let (profile_lo, profile_hi) = (optional("hr_profile_lo95")?, optional("hr_profile_hi95")?);
        for i in 0..frame.rows() {
            let (o, s) = (outcome[i].clone().unwrap_or_default(), subgroup[i].clone().unwrap_or_default());
            let at = match rows.iter().position(|r| r.outcome == o && r.subgroup == s) {
                Some(at) => at,
                None => {
                    rows.push(HistoryRow {
                        outcome: o,
                        subgroup: s,
                        cells: vec![String::new(); analyses.len()],
                        flagged_unadjusted: vec![false; analyses.len()],
                        looks: vec![None; analyses.len()],
                    });
                    rows.len() - 1
                }
            };
            let number = |v: &Option<String>| v.as_deref().and_then(|x| x.parse::<f64>().ok());
            let profile = match (number(&profile_lo[i]), number(&profile_hi[i])) {
                (Some(l), Some(u)) => format!(" [profile {l:.2}-{u:.2}]"),
                _ => String::new(),
            };
            rows[at].cells[k] = match (number(&hr[i]), number(&lo[i]), number(&hi[i])) {
                (Some(h), Some(l), Some(u)) => format!("{h:.2} ({l:.2}-{u:.2}){profile}"),
                _ => status[i].clone().unwrap_or_default(),
            };
            rows[at].flagged_unadjusted[k] = flagged[i].as_deref() == Some("yes");
        }
        if record.surveillance.is_some() {
            for ((o, s), monitoring) in recorded_looks(protocol, record.analysis)? {
                if let Some(row) = rows.iter_mut().find(|r| r.outcome == o && r.subgroup == s) {
                    row.looks[k] = Some(monitoring);
                }
            }
        }
    }
    Ok(History { analyses, rows })
}

/// The looks recorded in the results of the earlier analyses made under a plan.
pub fn earlier_looks(protocol: &Path, records: &[AnalysisRecord]) -> Result<Earlier> {
    let mut looks = Earlier::new();
    for record in records.iter().filter(|r| r.surveillance.is_some()) {
        for (key, monitoring) in recorded_looks(protocol, record.analysis)? {
            looks.entry(key).or_default().push(monitoring);
        }
    }
    Ok(looks)
}

/// The looks of one analysis as its results table records them, by (outcome, subgroup).
pub fn recorded_looks(protocol: &Path, analysis: u32) -> Result<Vec<((String, String), Monitoring)>> {
    let path = protocol.join(dir_name(analysis)).join(super::tables::RESULTS);
    let names = ["outcome", "subgroup", "z", "information", "boundary", "alpha_spent", "crossed", "first_crossed"];
    let frame = crate::table::Frame::read_text_columns(&path, &names)?;
    let columns: Vec<Vec<Option<String>>> = names.iter().map(|n| frame.texts(n)).collect::<Result<_>>()?;
    let number = |c: usize, i: usize| columns[c][i].as_deref().and_then(|x| x.parse::<f64>().ok());
    Ok((0..frame.rows())
        .map(|i| {
            let key = (columns[0][i].clone().unwrap_or_default(), columns[1][i].clone().unwrap_or_default());
            let monitoring = Monitoring {
                statistic: number(2, i).zip(number(3, i)),
                boundary: number(4, i).ok_or_else(|| "no boundary".to_string()),
                alpha_spent: number(5, i).unwrap_or(0.0),
                crossed: columns[6][i].as_deref() == Some("yes"),
                first_crossed: number(7, i).map(|k| k as u32),
            };
            (key, monitoring)
        })
        .collect())
}
