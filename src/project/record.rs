//! A project's registry entry (`HOME/projects/ID.json`): what was approved, who holds which role,
//! the lifecycle so far, and the project's site pseudonyms. It lives in the home, never in the
//! work area, so that analysts never see which hospital hides behind a pseudonym.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::center::Home;
use crate::clock::{add_months, sub_months};
use crate::error::{Error, Result};
use crate::store;

/// The purpose category of a project (guideline 第5 2(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A marketing-authorisation holder's post-marketing study (製造販売後調査).
    PostMarketing,
    /// Administrative use: signal detection (行政利活用).
    SignalDetection,
    /// Administrative use: signal refinement; the drug is withheld from the register for a while.
    SignalRefinement,
    /// Public-interest research (公益性の高い調査・研究).
    Research,
}

impl Purpose {
    /// Post-marketing and administrative projects keep their exported statistics under their own
    /// rules; all others must delete them by the end of the usage period (第12 4).
    pub fn keeps_exported_statistics(self) -> bool {
        !matches!(self, Purpose::Research)
    }

    pub fn name(self) -> &'static str {
        match self {
            Purpose::PostMarketing => "post_marketing",
            Purpose::SignalDetection => "signal_detection",
            Purpose::SignalRefinement => "signal_refinement",
            Purpose::Research => "research",
        }
    }
}

/// A role in a project; `Reviewer` is center-wide (a flag of the user), the others per project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 利活用契約者: responsible for the project; files changes, extensions and termination.
    Contractor,
    /// MID-NET利活用者: works in the work area.
    Analyst,
    /// 統計情報利活用者: sees exported statistics only.
    StatisticsUser,
    /// The operator (機構): provisions, suspends and closes projects, reviews exports.
    Reviewer,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Contractor => "contractor",
            Role::Analyst => "analyst",
            Role::StatisticsUser => "statistics_user",
            Role::Reviewer => "reviewer",
        })
    }
}

/// How a post-marketing study's usage period ends (第4 1, 第5 2(4)①).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EndRule {
    /// Re-examination: within 3 months of the expected notification of its result.
    Reexamination { expected_result: NaiveDate },
    /// Risk-management plan: within 2 years of the report date in the plan.
    RmpReport { report: NaiveDate },
}

impl EndRule {
    /// Parse `reexamination:YYYY-MM-DD` or `rmp-report:YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<EndRule> {
        let usage = "--end-rule: write reexamination:DATE (expected re-examination result) or rmp-report:DATE \
                     (report date in the risk-management plan)";
        let (kind, date) = text.split_once(':').ok_or_else(|| crate::bad_input!("{usage}; got {text:?}"))?;
        let date = crate::clock::parse_date("--end-rule", date)?;
        match kind {
            "reexamination" => Ok(EndRule::Reexamination { expected_result: date }),
            "rmp-report" => Ok(EndRule::RmpReport { report: date }),
            _ => Err(crate::bad_input!("{usage}; got {text:?}")),
        }
    }

    /// The latest end date the rule allows.
    pub fn latest_end(self) -> NaiveDate {
        match self {
            EndRule::Reexamination { expected_result } => add_months(expected_result, 3),
            EndRule::RmpReport { report } => add_months(report, 24),
        }
    }
}

impl fmt::Display for EndRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndRule::Reexamination { expected_result } => {
                write!(f, "3 months after the expected re-examination result ({expected_result})")
            }
            EndRule::RmpReport { report } => write!(f, "2 years after the risk-management-plan report ({report})"),
        }
    }
}

/// The recorded status; together with today's date it gives the [`State`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Suspended,
    Terminated,
    Purged,
}

/// Where a project stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    NotStarted,
    Active,
    Ended,
    Suspended,
    Terminated,
    Purged,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::NotStarted => "not started",
            State::Active => "active",
            State::Ended => "ended",
            State::Suspended => "suspended",
            State::Terminated => "terminated",
            State::Purged => "purged",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub user: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub filed: NaiveDate,
    pub by: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Filed less than 4 months before the end, accepted by a reviewer as a notification.
    pub late_accepted: bool,
    pub reason: String,
}

/// A recorded change of an approved field (第7 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub date: NaiveDate,
    pub by: String,
    pub field: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    pub date: NaiveDate,
    pub by: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRecord {
    pub id: String,
    pub title: String,
    pub question: String,
    pub summary: String,
    pub purpose: Purpose,
    pub organization: String,
    pub start: NaiveDate,
    /// The current end of the usage period (after extensions), inclusive.
    pub end: NaiveDate,
    pub approved_end: NaiveDate,
    pub end_rule: Option<EndRule>,
    pub extraction_from: NaiveDate,
    pub extraction_to: NaiveDate,
    pub drug: Option<String>,
    /// Signal refinement: the register shows the drug from this day on.
    pub disclose_drug_from: Option<NaiveDate>,
    pub members: Vec<Member>,
    pub status: Status,
    pub suspended: Option<Suspension>,
    pub extensions: Vec<Extension>,
    pub changes: Vec<Change>,
    /// Years analysis datasets and transferred/exported statistics are kept after the end (5, up to 10).
    pub retention_years: u32,
    pub terminated: Option<NaiveDate>,
    pub purged: Option<NaiveDate>,
    /// Site id → this project's pseudonym for it.
    pub pseudonyms: BTreeMap<String, String>,
    pub created: NaiveDate,
    pub created_by: String,
}

impl ProjectRecord {
    pub fn state(&self, today: NaiveDate) -> State {
        match self.status {
            Status::Purged => State::Purged,
            Status::Terminated => State::Terminated,
            Status::Suspended => State::Suspended,
            Status::Active if today < self.start => State::NotStarted,
            Status::Active if today > self.end => State::Ended,
            Status::Active => State::Active,
        }
    }

    /// The last day of use: the end of the usage period, or the termination if earlier.
    pub fn end_of_use(&self) -> NaiveDate {
        self.terminated.map_or(self.end, |t| t.min(self.end))
    }

    /// Analysis datasets and transferred/exported statistics are kept through this day (第12 2).
    pub fn retained_until(&self) -> NaiveDate {
        add_months(self.end_of_use(), 12 * self.retention_years)
    }

    /// Statistics exported by a project other than post-marketing and administrative ones must be
    /// deleted by the end of use (第12 4(3)); `None` when the project keeps them under its own rules.
    pub fn exported_statistics_delete_by(&self) -> Option<NaiveDate> {
        (!self.purpose.keeps_exported_statistics()).then(|| self.end_of_use())
    }

    pub fn roles_of(&self, user: &str) -> Vec<Role> {
        self.members.iter().filter(|m| m.user == user).map(|m| m.role).collect()
    }

    /// The drug as the public register shows it on `today`.
    pub fn register_drug(&self, today: NaiveDate) -> String {
        match (&self.drug, self.disclose_drug_from) {
            (None, _) => String::new(),
            (Some(_), Some(from)) if today < from => format!("(withheld until {from})"),
            (Some(drug), _) => drug.clone(),
        }
    }
}

/// The longest usage period the guideline allows for a project starting on `start` (第4 1): two
/// years (ending the day before the second anniversary) or what its post-marketing end rule allows.
pub fn latest_end(purpose: Purpose, start: NaiveDate, end_rule: Option<EndRule>) -> Option<NaiveDate> {
    match (purpose, end_rule) {
        (Purpose::PostMarketing, Some(rule)) => Some(rule.latest_end()),
        (Purpose::PostMarketing, None) => None,
        _ => add_months(start, 24).pred_opt(),
    }
}

/// Refuse an extension the guideline forbids (第7 2): more than twice, more than 2 years at a
/// time, or filed less than 4 months before the end unless a reviewer accepts it as a late
/// notification (which must still come before the end).
pub fn check_extension(record: &ProjectRecord, to: NaiveDate, today: NaiveDate, accept_late: bool) -> Result<()> {
    if record.extensions.len() >= 2 {
        return Err(Error::refused(
            "extension_limit",
            format!(
                "project {} was already extended twice ({}); a usage period is extended at most twice",
                record.id,
                { record.extensions.iter().map(|e| format!("to {}", e.to)).collect::<Vec<_>>().join(", ") }
            ),
        ));
    }
    if to <= record.end {
        return Err(crate::bad_input!(
            "project {}: the new end {to} is not after the current end {}; an extension moves the end later",
            record.id,
            record.end
        ));
    }
    // The extension's own days run from the day after the current end, and like a usage period
    // (`latest_end`) they may last 2 years: to the day before the second anniversary of that day.
    let first_day = record.end.succ_opt().unwrap_or(record.end);
    let longest = add_months(first_day, 24).pred_opt().unwrap_or(record.end);
    if to > longest {
        return Err(Error::refused(
            "extension_length",
            format!(
                "project {}: an extension adds at most 2 years, from {first_day} (the day after the current end) \
                 to {longest} at the latest, not {to}",
                record.id
            ),
        ));
    }
    let deadline = sub_months(record.end, 4);
    if today > deadline && !accept_late {
        return Err(Error::refused(
            "extension_deadline",
            format!(
                "project {}: an extension is applied for at least 4 months before the end ({}), i.e. by {deadline}; \
                 today is {today}. A reviewer may accept a late notification (--accept-late) before the end",
                record.id, record.end
            ),
        ));
    }
    if today > record.end {
        return Err(Error::refused(
            "extension_deadline",
            format!("project {}: the usage period ended on {}; it can no longer be extended", record.id, record.end),
        ));
    }
    Ok(())
}

/// Refuse a retention request (5 → up to 10 years) filed less than 6 months before the end (第12 3).
pub fn check_retention_request(record: &ProjectRecord, years: u32, today: NaiveDate) -> Result<()> {
    if !(5..=10).contains(&years) {
        return Err(crate::bad_input!(
            "project {}: --retention-years {years}: data are kept 5 years after the end, 10 at most",
            record.id
        ));
    }
    let deadline = sub_months(record.end, 6);
    if today > deadline {
        return Err(Error::refused(
            "retention_request",
            format!(
                "project {}: a longer retention is requested at least 6 months before the end ({}), i.e. by {deadline}; today is {today}",
                record.id, record.end
            ),
        ));
    }
    Ok(())
}

/// Registry entries on disk.
pub(crate) fn entry_path(home: &Home, id: &str) -> PathBuf {
    home.projects_dir().join(format!("{id}.json"))
}

pub fn load(home: &Home, id: &str) -> Result<ProjectRecord> {
    store::require_identifier("project id", id)?;
    let path = entry_path(home, id);
    if !path.is_file() {
        return Err(Error::NotFound(format!(
            "no project {id} in this home; `midnet project list` shows your projects"
        )));
    }
    store::read_json(&path)
}

pub(crate) fn save(home: &Home, record: &ProjectRecord) -> Result<()> {
    store::write_json(&entry_path(home, &record.id), record)
}

/// Every project of the home, by id.
pub fn all(home: &Home) -> Result<Vec<ProjectRecord>> {
    let dir = home.projects_dir();
    let mut records = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let path = entry.map_err(|e| Error::io(&dir, e))?.path();
        if path.extension().is_some_and(|x| x == "json") {
            records.push(store::read_json::<ProjectRecord>(&path)?);
        }
    }
    records.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(records)
}

/// Give every registered site without one a fresh random pseudonym in this project. Draws are
/// independent per project, so one hospital's pseudonyms in two projects are unrelated.
pub(crate) fn assign_pseudonyms(record: &mut ProjectRecord, site_ids: &[String]) {
    for site in site_ids {
        if record.pseudonyms.contains_key(site) {
            continue;
        }
        let pseudonym = loop {
            let mut bytes = [0u8; 4];
            rand::fill(&mut bytes);
            let candidate = format!("site-{}", hex::encode(bytes));
            if !record.pseudonyms.values().any(|p| *p == candidate) {
                break candidate;
            }
        };
        record.pseudonyms.insert(site.clone(), pseudonym);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::clock::parse_date("test", s).unwrap()
    }

    fn record(start: &str, end: &str) -> ProjectRecord {
        ProjectRecord {
            id: "p".into(),
            title: String::new(),
            question: String::new(),
            summary: String::new(),
            purpose: Purpose::Research,
            organization: String::new(),
            start: d(start),
            end: d(end),
            approved_end: d(end),
            end_rule: None,
            extraction_from: d(start),
            extraction_to: d(end),
            drug: None,
            disclose_drug_from: None,
            members: vec![],
            status: Status::Active,
            suspended: None,
            extensions: vec![],
            changes: vec![],
            retention_years: 5,
            terminated: None,
            purged: None,
            pseudonyms: BTreeMap::new(),
            created: d(start),
            created_by: "r".into(),
        }
    }

    fn rule<T: fmt::Debug>(r: Result<T>) -> &'static str {
        match r {
            Err(Error::Refused { rule, .. }) => rule,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// An extension's own days, from the day after the current end, may last exactly as long as a
    /// usage period created on that day: the two 2-year rules agree on every day of a leap cycle.
    #[test]
    fn an_extension_lasts_at_most_as_long_as_a_new_period_would() {
        let mut end = d("2027-01-01");
        while end < d("2031-01-01") {
            let longest = latest_end(Purpose::Research, end.succ_opt().unwrap(), None).unwrap();
            let project = record("2026-01-01", &end.to_string());
            let today = crate::clock::sub_months(end, 6);
            assert!(check_extension(&project, longest, today, false).is_ok(), "end {end}: to {longest}");
            let one_more = longest.succ_opt().unwrap();
            assert_eq!(rule(check_extension(&project, one_more, today, false)), "extension_length", "end {end}");
            end = end.succ_opt().unwrap();
        }
    }

    #[test]
    fn two_years_end_the_day_before_the_anniversary() {
        assert_eq!(latest_end(Purpose::Research, d("2026-04-01"), None), Some(d("2028-03-31")));
        let rule = EndRule::parse("reexamination:2030-01-15").unwrap();
        assert_eq!(latest_end(Purpose::PostMarketing, d("2026-04-01"), Some(rule)), Some(d("2030-04-15")));
        let rule = EndRule::parse("rmp-report:2029-06-30").unwrap();
        assert_eq!(rule.latest_end(), d("2031-06-30"));
        assert!(EndRule::parse("someday:2029-06-30").is_err());
    }

    #[test]
    fn states_follow_dates_and_status() {
        let mut r = record("2026-04-01", "2027-03-31");
        assert_eq!(r.state(d("2026-03-31")), State::NotStarted);
        assert_eq!(r.state(d("2027-03-31")), State::Active);
        assert_eq!(r.state(d("2027-04-01")), State::Ended);
        r.status = Status::Suspended;
        assert_eq!(r.state(d("2026-05-01")), State::Suspended);
    }

    #[test]
    fn extension_rules() {
        let mut r = record("2026-04-01", "2027-03-31");
        let today = d("2026-10-01");
        assert!(check_extension(&r, d("2029-03-31"), today, false).is_ok());
        assert_eq!(rule(check_extension(&r, d("2029-04-01"), today, false)), "extension_length");
        assert_eq!(rule(check_extension(&r, d("2028-03-31"), d("2026-12-01"), false)), "extension_deadline");
        assert!(check_extension(&r, d("2028-03-31"), d("2026-11-30"), false).is_ok());
        assert!(check_extension(&r, d("2028-03-31"), d("2027-03-01"), true).is_ok());
        assert_eq!(rule(check_extension(&r, d("2028-03-31"), d("2027-04-01"), true)), "extension_deadline");
        let ext = Extension {
            filed: today,
            by: "c".into(),
            from: r.end,
            to: r.end,
            late_accepted: false,
            reason: String::new(),
        };
        r.extensions = vec![ext.clone(), ext];
        assert_eq!(rule(check_extension(&r, d("2028-03-31"), today, false)), "extension_limit");
    }

    #[test]
    fn retention_is_five_years_after_the_end_of_use() {
        let mut r = record("2026-04-01", "2027-03-31");
        assert_eq!(r.retained_until(), d("2032-03-31"));
        r.terminated = Some(d("2026-12-01"));
        assert_eq!(r.retained_until(), d("2031-12-01"));
        r.retention_years = 10;
        assert_eq!(r.retained_until(), d("2036-12-01"));
        assert_eq!(rule(check_retention_request(&r, 10, d("2026-10-01"))), "retention_request");
        assert!(check_retention_request(&r, 10, d("2026-09-30")).is_ok());
    }

    #[test]
    fn pseudonyms_are_unique_and_independent_per_project() {
        let sites: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
        let (mut a, mut b) = (record("2026-04-01", "2027-03-31"), record("2026-04-01", "2027-03-31"));
        assign_pseudonyms(&mut a, &sites);
        assign_pseudonyms(&mut b, &sites);
        let distinct: std::collections::HashSet<_> = a.pseudonyms.values().collect();
        assert_eq!(distinct.len(), 50);
        assert_ne!(a.pseudonyms, b.pseudonyms);
    }
}
