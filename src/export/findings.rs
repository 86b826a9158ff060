//! What a check found: findings per file, each with its rule, place and a sentence a reviewer can act
//! on; verdicts per file and overall; rendered for people or as JSON.

use std::fmt::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::rules::{Rule, Stage, Verdict};
use crate::table::{Roles, Trust};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Rule,
    /// What this finding means at the stage checked: `fail` or `review`.
    pub verdict: Verdict,
    /// The data row, from 1 (the header is not counted); none for findings about a whole column or file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// The line of the file, from 1 (CSV and text files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub message: String,
}

/// Where a finding is, before the stage gives it a verdict.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub row: Option<usize>,
    pub line: Option<usize>,
    pub column: Option<String>,
}

impl Place {
    pub fn file() -> Place {
        Place::default()
    }

    pub fn column(name: &str) -> Place {
        Place { column: Some(name.to_string()), ..Place::default() }
    }

    /// `row` counts from 0 here and from 1 in the report.
    pub fn cell(row: usize, line: Option<usize>, column: &str) -> Place {
        Place { row: Some(row + 1), line, column: Some(column.to_string()) }
    }

    pub fn line(line: usize) -> Place {
        Place { line: Some(line), ..Place::default() }
    }
}

/// Findings as the checks produce them: rule, place, message.
#[derive(Debug, Clone)]
pub struct Raw {
    pub rule: Rule,
    pub place: Place,
    pub message: String,
}

impl Raw {
    pub fn new(rule: Rule, place: Place, message: impl Into<String>) -> Raw {
        Raw { rule, place, message: message.into() }
    }

    pub fn at_stage(self, stage: Stage) -> Finding {
        Finding {
            rule: self.rule,
            verdict: stage.verdict_for(self.rule),
            row: self.place.row,
            line: self.place.line,
            column: self.place.column,
            message: self.message,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub verdict: Verdict,
    /// For a figure: the table behind it, whose verdict the figure shares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_table: Option<PathBuf>,
    /// True for a table checked only because a figure listed stands on it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub added_for_figure: bool,
    /// For a table: what the gate believed of its sidecar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<SidecarNote>,
    pub findings: Vec<Finding>,
}

/// What the gate believed of a table's sidecar, and what that means, for the requester and the
/// reviewer (kept in the request record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SidecarNote {
    pub status: SidecarStatus,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SidecarStatus {
    /// midnet wrote it, inside this data center, for exactly this table.
    Verified,
    /// A plain file's sidecar, read as declared.
    Declared,
    /// Not believed: its roles were ignored.
    Unverified,
    Absent,
}

impl SidecarNote {
    pub fn of(trust: &Trust) -> SidecarNote {
        let by_content = "every column is judged by its content";
        let (status, note) = match trust {
            Trust::Verified(s) => {
                let command = &s.provenance.command;
                let note = match s.binding.as_ref().map(|b| b.roles) {
                    Some(Roles::Inferred) => format!(
                        "verified: midnet wrote it for exactly this table (`{command}`); its column roles were \
                         guessed from the content, so {by_content}"
                    ),
                    _ => format!(
                        "verified: midnet wrote it for exactly this table (`{command}`); its column roles are read"
                    ),
                };
                (SidecarStatus::Verified, note)
            }
            Trust::Declared(_) => (
                SidecarStatus::Declared,
                "read as declared: outside a project who wrote a sidecar cannot be known".to_string(),
            ),
            Trust::Unverified(_, why) => (
                SidecarStatus::Unverified,
                format!("not verified: {why}; its column roles are ignored and {by_content}"),
            ),
            Trust::Absent => (SidecarStatus::Absent, format!("no sidecar: {by_content}")),
        };
        SidecarNote { status, note }
    }
}

/// A rule that could not be applied, and why (e.g. no site registry for `site_name`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    pub rule: Rule,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub stage: Stage,
    pub verdict: Verdict,
    pub files: Vec<FileReport>,
    pub skipped: Vec<Skipped>,
}

/// At most this many findings per file in the human rendering; `--json` has them all.
const SHOWN_PER_FILE: usize = 30;

impl Report {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// The report for a terminal: one block per file, findings indented.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let _ = write!(out, "{}: {}", file.path.display(), file.verdict);
            if let Some(t) = &file.data_table {
                let _ = write!(out, " (figure; its data: {})", t.display());
            }
            if file.added_for_figure {
                out.push_str(" (the data behind a figure)");
            }
            out.push('\n');
            if let Some(note) = file.sidecar.as_ref().filter(|n| n.status == SidecarStatus::Unverified) {
                let _ = writeln!(out, "  sidecar {}", note.note);
            }
            for f in file.findings.iter().take(SHOWN_PER_FILE) {
                let _ = writeln!(out, "  {:<6} {:<23} {}{}", f.verdict, f.rule.code(), place(f), f.message);
            }
            if file.findings.len() > SHOWN_PER_FILE {
                let _ = writeln!(out, "  … and {} more (--json lists them all)", file.findings.len() - SHOWN_PER_FILE);
            }
        }
        let count = |v: Verdict| self.files.iter().filter(|f| f.verdict == v).count();
        let _ = writeln!(
            out,
            "stage {}: {} file{}: {} pass, {} review, {} fail",
            self.stage,
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
            count(Verdict::Pass),
            count(Verdict::Review),
            count(Verdict::Fail)
        );
        out
    }
}

fn place(f: &Finding) -> String {
    let mut p = Vec::new();
    if let Some(r) = f.row {
        p.push(match f.line {
            Some(l) => format!("row {r} (line {l})"),
            None => format!("row {r}"),
        });
    } else if let Some(l) = f.line {
        p.push(format!("line {l}"));
    }
    if let Some(c) = &f.column {
        p.push(format!("column `{c}`"));
    }
    if p.is_empty() { String::new() } else { format!("{}: ", p.join(", ")) }
}
