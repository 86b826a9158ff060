//! The gate's rules: the rule codes, the thresholds (read from `sql/export-rules.toml`, embedded as
//! the guideline's defaults and overridable with `--rules FILE`) and the two stages.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::text::fold;
use crate::bad_input;
use crate::error::{IoContext, Result};

/// The guideline's values, readable by a reviewer in the repository.
const GUIDELINE_RULES: &str = include_str!("../../sql/export-rules.toml");

/// A data center that applies stricter thresholds than the guideline's keeps its own copy of
/// `sql/export-rules.toml` under this name in its home; checks inside a project use it.
pub const HOME_RULES_FILE: &str = "export-rules.toml";

/// What a finding is about. The codes are stable: requests, reviews and the ledger record them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    PatientLevel,
    FileType,
    SmallCell,
    RecoverableSuppression,
    Differencing,
    AgeBand,
    SiteBreakdown,
    SiteName,
    IndividualValue,
}

impl Rule {
    pub const ALL: [Rule; 9] = [
        Rule::PatientLevel,
        Rule::FileType,
        Rule::SmallCell,
        Rule::RecoverableSuppression,
        Rule::Differencing,
        Rule::AgeBand,
        Rule::SiteBreakdown,
        Rule::SiteName,
        Rule::IndividualValue,
    ];

    /// The rule of a code as findings, requests and exceptions write it.
    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether a reviewer may accept a finding of this rule. Patient-level data and files that are
    /// not statistics never leave, whatever the exception (第9, 第14 1(3)).
    pub fn may_be_accepted(self) -> bool {
        !matches!(self, Rule::PatientLevel | Rule::FileType)
    }

    pub fn code(self) -> &'static str {
        match self {
            Rule::PatientLevel => "patient_level",
            Rule::FileType => "file_type",
            Rule::SmallCell => "small_cell",
            Rule::RecoverableSuppression => "recoverable_suppression",
            Rule::Differencing => "differencing",
            Rule::AgeBand => "age_band",
            Rule::SiteBreakdown => "site_breakdown",
            Rule::SiteName => "site_name",
            Rule::IndividualValue => "individual_value",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A file's (or a finding's) verdict, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Allowed only with the reviewer's recorded acceptance.
    Review,
    Fail,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Review => "review",
            Verdict::Fail => "fail",
        })
    }
}

/// Where the statistics are going. The guideline is strictest for publication (第11 3); taking
/// statistics out of the data center (第9) is a reviewed step where the reviewer may accept a
/// finding, except that patient-level data and files that are not statistics never leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Publish,
    Export,
}

impl Stage {
    pub fn verdict_for(self, rule: Rule) -> Verdict {
        match self {
            Stage::Export if rule.may_be_accepted() => Verdict::Review,
            Stage::Publish | Stage::Export => Verdict::Fail,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Publish => "publish",
            Stage::Export => "export",
        })
    }
}

/// The thresholds and vocabularies of the checks (see `sql/export-rules.toml` for each field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub min_count: u32,
    pub age_band_width: u32,
    pub top_age_band: u32,
    pub masked_cells: Vec<String>,
    pub total_labels: Vec<String>,
    pub mask: String,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules::parse(GUIDELINE_RULES, Path::new("sql/export-rules.toml")).expect("the embedded rules file is valid")
    }
}

impl Rules {
    /// The rules a data center applies: its own copy of this file in its home
    /// (`HOME/export-rules.toml`, stricter values) when it keeps one, otherwise the guideline's.
    pub fn of_home(home_root: &Path) -> Result<Rules> {
        let custom = home_root.join(HOME_RULES_FILE);
        if custom.is_file() { Rules::read(&custom) } else { Ok(Rules::default()) }
    }

    /// The rules of a file given with `--rules`.
    pub fn read(path: &Path) -> Result<Rules> {
        let text = std::fs::read_to_string(path).at(path)?;
        Rules::parse(&text, path)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Rules> {
        let mut rules: Rules =
            toml::from_str(text).map_err(|e| bad_input!("{}: not a valid export rules file: {e}", origin.display()))?;
        if rules.min_count < 1 || rules.age_band_width < 1 {
            return Err(bad_input!(
                "{}: min_count and age_band_width must be at least 1 (the guideline's are 10 and 5)",
                origin.display()
            ));
        }
        rules.masked_cells = rules.masked_cells.iter().map(|m| fold(m)).collect();
        rules.total_labels = rules.total_labels.iter().map(|t| fold(t)).collect();
        if !rules.is_masked(&rules.mask) {
            return Err(bad_input!(
                "{}: mask `{}` is not one of masked_cells, so the checks would read it as a value; add it there",
                origin.display(),
                rules.mask
            ));
        }
        Ok(rules)
    }

    /// Whether a cell's text means "suppressed": blank, `<N`, `≤N`, or one of `masked_cells`.
    pub fn is_masked(&self, cell: &str) -> bool {
        let f = fold(cell);
        if f.is_empty() || self.masked_cells.contains(&f) {
            return true;
        }
        let rest = f.trim_start_matches(['<', '≤', '≦', '=']).trim_start();
        rest.len() < f.len() && rest.parse::<f64>().is_ok()
    }

    /// Whether a row label or column name means "total": one of `total_labels`, ignoring a
    /// trailing parenthesis such as `Total (n=250)`.
    pub fn is_total_label(&self, text: &str) -> bool {
        let f = fold(text);
        let head = f.split('(').next().unwrap_or("").trim();
        !head.is_empty() && self.total_labels.iter().any(|t| t == head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_codes_read_back() {
        for rule in Rule::ALL {
            assert_eq!(Rule::from_code(rule.code()), Some(rule));
        }
        assert_eq!(Rule::from_code("small cell"), None);
        assert_eq!(Stage::Export.verdict_for(Rule::SmallCell), Verdict::Review);
        assert_eq!(Stage::Export.verdict_for(Rule::PatientLevel), Verdict::Fail);
        assert_eq!(Stage::Publish.verdict_for(Rule::SiteName), Verdict::Fail);
    }

    #[test]
    fn guideline_defaults() {
        let r = Rules::default();
        assert_eq!((r.min_count, r.age_band_width, r.top_age_band), (10, 5, 85));
    }

    #[test]
    fn masked_cells() {
        let r = Rules::default();
        for m in ["", " ", "<10", "< 10", "＜１０", "≤9", "*", "NA", "n/a", "秘匿"] {
            assert!(r.is_masked(m), "{m:?}");
        }
        for v in ["0", "12", "<b>", "Total", "10"] {
            assert!(!r.is_masked(v), "{v:?}");
        }
    }

    #[test]
    fn total_labels() {
        let r = Rules::default();
        for t in ["Total", "TOTAL (n=250)", "合計", "ａｌｌ", "All ages"] {
            assert!(r.is_total_label(t), "{t:?}");
        }
        for v in ["All-cause death", "total_cost", "計画", "Male"] {
            assert!(!r.is_total_label(v), "{v:?}");
        }
    }

    #[test]
    fn a_mask_the_checks_would_not_recognise_is_refused() {
        let text = GUIDELINE_RULES.replace("mask = \"*\"", "mask = \"#\"");
        let err = Rules::parse(&text, Path::new("r.toml")).unwrap_err().to_string();
        assert!(err.contains("mask `#`"), "{err}");
    }
}
