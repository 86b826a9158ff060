//! `midnet protocol run`: extract the protocol script across the sites, then estimate every
//! outcome in both subgroups and write the tables of a new analysis.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::analyses::{self, AnalysisRecord, protocol_dir};
use super::estimate::{self, Cohort, DAYS_PER_YEAR, Estimate, OutcomeColumns};
use super::library::{Library, Outcome};
use super::monitor;
use super::plan::{Plan, RunOptions};
use super::project_plan;
use super::tables::{self, AttritionRow, BaselineRow, CurvePoint, DurationRow, OnsetRow, ResultRow, SUBGROUPS};
use crate::audit::Direction;
use crate::bad_input;
use crate::center::Actor;
use crate::error::{Error, Result};
use crate::extract::{self, ExtractOptions};
use crate::project::{Area, Project, Purpose, Role};
use crate::table::{Categories, Frame, Provenance, TableKind};

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub record: AnalysisRecord,
    /// `work/protocol/analysis-K`, relative to the project's work area.
    pub dir: String,
    pub results: Vec<Summary>,
}

/// One line of the results for the terminal.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub outcome: String,
    pub subgroup: String,
    pub events_drug: u64,
    pub events_comparator: u64,
    pub hazard_ratio: Option<estimate::HazardRatio>,
    pub status: String,
    /// The flag: the statistic crossed the sequential boundary at this look or an earlier one.
    pub flagged_sequential: bool,
    /// The per-look unadjusted flag (lower 95% Wald bound above 1, as if this look were the only one).
    pub flagged_unadjusted: bool,
    /// This look's sequential boundary of z (None: why is in `no_boundary`).
    pub boundary: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_boundary: Option<String>,
    pub alpha_spent: f64,
    /// The statistic crossed the boundary at this look.
    pub crossed: bool,
    pub first_crossed: Option<u32>,
}

/// The protocol directory of a project's work area.
pub const SCRIPT_FILE: &str = "protocol.midnet";

pub fn run(
    actor: &Actor,
    project_id: &str,
    opts: &RunOptions,
    progress: &crate::progress::Progress,
) -> Result<RunReport> {
    check_options(opts)?;
    crate::withhold::withhold_values();
    let library = Library::builtin();
    let (plan, chosen, script_path, surveillance) = {
        let project = actor.open_project(project_id, &[Role::Analyst])?;
        let (plan, chosen) = plan_of(&project, &library, &opts.outcomes)?;
        analyses::check_next(&protocol_dir(&project), opts)?;
        let surveillance = project_plan::for_run(actor, &project, crate::clock::parse_date("--cutoff", &opts.cutoff)?)?;
        let script_path = protocol_dir(&project).join(SCRIPT_FILE);
        write_script(actor, &project, &script_path, &library.script())?;
        (plan, chosen, script_path, surveillance)
    };
    let started = Instant::now();
    let outcomes_param = if plan == Plan::Detection { "all".to_string() } else { chosen.join(",") };
    let options = ExtractOptions {
        script: crate::script::Bundle::read(&script_path)?,
        params: vec![
            format!("drug={}", opts.drug.join(",")),
            format!("comparator={}", opts.comparator.join(",")),
            format!("outcomes={outcomes_param}"),
        ],
        cutoff: Some(opts.cutoff.clone()),
        sites: Vec::new(),
        jobs: opts.jobs,
        partial: false,
        transport: if opts.agents.is_some() {
            crate::extract::Transport::Agents
        } else {
            crate::extract::Transport::Local
        },
        wait: opts.agents,
        request_seconds: crate::extract::exchange::REQUEST_SECONDS,
    };
    let extraction = extract::extract(actor, project_id, &options, progress)?;
    if !extraction.failed().is_empty() {
        let failed: Vec<String> = extraction
            .failed()
            .iter()
            .map(|s| format!("{} ({})", s.site, s.reason.as_deref().unwrap_or("failed")))
            .collect();
        return Err(Error::Failed(format!(
            "extraction {} is incomplete, so no analysis was made: {}; fix the cause and run `midnet protocol run` again",
            extraction.extraction,
            failed.join("; ")
        )));
    }
    let extract_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();

    let project = actor.open_project(project_id, &[Role::Analyst])?;
    let dataset = extraction
        .datasets
        .iter()
        .find(|d| d.name == "cohort")
        .cloned()
        .or_else(|| latest_cohort(&project, extraction.extraction))
        .ok_or_else(|| Error::Internal(format!("extraction {} made no cohort dataset", extraction.extraction)))?;
    let outcomes: Vec<&Outcome> =
        chosen.iter().map(|id| library.outcome(id).expect("chosen ids are in the library")).collect();
    let data = Data::read(&project.layout().area(Area::Datasets).join(&dataset.file), &outcomes)?;

    let earlier = analyses::earlier_looks(&protocol_dir(&project), &analyses::list(&protocol_dir(&project))?)?;
    let dir = analyses::new_dir(&protocol_dir(&project))?;
    let analysis = analyses::number_of(&dir);
    let cutoff = crate::clock::parse_date("--cutoff", &opts.cutoff)?;
    // One bar over the estimates (each outcome in each subgroup), after the sites' extraction bars.
    let bar = progress.bar("estimate", (outcomes.len() * SUBGROUPS.len()) as u64);
    let results: Vec<ResultRow> = outcomes
        .iter()
        .enumerate()
        .flat_map(|(k, o)| SUBGROUPS.iter().map(move |s| (k, *o, *s)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(k, outcome, subgroup)| {
            bar.set_message(format!("{} ({subgroup})", outcome.id));
            let keep = data.keep(k, subgroup);
            let columns = OutcomeColumns { event: &data.events[k], days: &data.days[k], keep: &keep };
            let estimate = estimate::estimate(&data.cohort, columns);
            let before = earlier.get(&(outcome.id.clone(), subgroup.to_string())).map_or(&[][..], Vec::as_slice);
            let monitoring = monitor::look(&surveillance, cutoff, analysis, before, &estimate);
            bar.inc(1);
            ResultRow { outcome, subgroup, estimate, monitoring }
        })
        .collect();
    bar.finish_with_message("done");
    let tests = results.len();

    let mut provenance = Provenance::now(format!(
        "midnet protocol run --drug {} --comparator {} --cutoff {}",
        opts.drug.join(","),
        opts.comparator.join(","),
        opts.cutoff
    ));
    provenance.project = Some(project.id().to_string());
    provenance.inputs = vec![dataset.label()];
    provenance.script_sha256 = Some(extraction.script_sha256.clone());
    provenance.params =
        [("drug", opts.drug.join(",")), ("comparator", opts.comparator.join(",")), ("cutoff", opts.cutoff.clone())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();

    let mut written = vec![tables::RESULTS, tables::ATTRITION, tables::BASELINE];
    tables::write(&dir, tables::RESULTS, &tables::results(&results, tests), TableKind::Statistics, &provenance)?;
    let conn = duckdb::Connection::open(project.layout().db())?;
    let attrition = attrition_rows(&conn, extraction.extraction, &data)?;
    drop(conn);
    tables::write(&dir, tables::ATTRITION, &tables::attrition(&attrition), TableKind::Statistics, &provenance)?;
    let (rows, totals) = baseline_rows(&data, &outcomes);
    tables::write(&dir, tables::BASELINE, &tables::baseline(&rows, totals), TableKind::Statistics, &provenance)?;
    // Curves are drawn for the outcomes flagged either way only: with no flag there is no curves table.
    let flagged: Vec<&ResultRow> =
        results.iter().filter(|r| r.monitoring.flagged() || r.estimate.flagged_unadjusted()).collect();
    let min_count = u64::from(crate::export::Rules::of_home(actor.home().root())?.min_count);
    let points = curve_points(&data, &outcomes, &flagged, min_count);
    if !points.is_empty() {
        tables::write(&dir, tables::CURVES, &tables::curves(&points), TableKind::FigureData, &provenance)?;
        written.push(tables::CURVES);
    }
    if plan == Plan::Refinement {
        tables::write(
            &dir,
            tables::ONSET,
            &tables::onset(&onset_rows(&data, &outcomes), min_count),
            TableKind::Statistics,
            &provenance,
        )?;
        tables::write(
            &dir,
            tables::DURATION,
            &tables::duration(&duration_rows(&data, &outcomes)),
            TableKind::Statistics,
            &provenance,
        )?;
        written.extend([tables::ONSET, tables::DURATION]);
    }
    let key = crate::table::TableKey::of_home(actor.home().root())?;
    for table in &written {
        crate::table::seal(&dir.join(table), &key, crate::table::Roles::Declared)?;
    }
    let statistics_seconds = started.elapsed().as_secs_f64();
    let names: Vec<String> = written.iter().map(|t| format!("protocol/{}/{t}", analyses::dir_name(analysis))).collect();
    drop(project);
    let gate = export_findings(actor, project_id, &names)?;
    let project = actor.open_project(project_id, &[Role::Analyst])?;
    let record = AnalysisRecord {
        analysis,
        cutoff: opts.cutoff.clone(),
        drug: opts.drug.clone(),
        comparator: opts.comparator.clone(),
        plan,
        outcomes: chosen.clone(),
        extraction: extraction.extraction,
        dataset: dataset.label(),
        script_sha256: extraction.script_sha256.clone(),
        patients: data.cohort.treated.len() as u64,
        tests,
        flagged_sequential: names_where(&results, |r| r.monitoring.flagged()),
        crossed: names_where(&results, |r| r.monitoring.crossed),
        flagged_unadjusted: names_where(&results, |r| r.estimate.flagged_unadjusted()),
        model: estimate::MODEL.to_string(),
        tables: written.iter().map(|s| s.to_string()).collect(),
        extraction_seconds: extract_seconds,
        statistics_seconds,
        created_by: actor.user().id.clone(),
        export_review: gate,
        surveillance: Some(surveillance),
    };
    let html = crate::report::render(&crate::report::Tables::read_dir(&dir)?, &record.title(), &record.export_review);
    crate::store::write_atomically(&dir.join(crate::report::REPORT_FILE), html.as_bytes())?;
    analyses::write_record(&dir, &record)?;
    for name in written.iter().chain([&crate::report::REPORT_FILE, &analyses::RECORD_FILE]) {
        let path = dir.join(name);
        project.record_file(actor, &path, &crate::digest::sha256_file(&path)?, Direction::In)?;
    }
    let results = results.iter().map(summary).collect();
    Ok(RunReport { record, dir: format!("protocol/{}", analyses::dir_name(analysis)), results })
}

/// `outcome (subgroup)` of the results for which `which` holds.
fn names_where(results: &[ResultRow], which: impl Fn(&ResultRow) -> bool) -> Vec<String> {
    results.iter().filter(|r| which(r)).map(|r| format!("{} ({})", r.outcome.id, r.subgroup)).collect()
}

/// What the export gate finds in the tables at the export stage, one line per file and rule: what
/// a reviewer must accept (or the analyst suppress) before they leave.
fn export_findings(actor: &Actor, project: &str, names: &[String]) -> Result<Vec<String>> {
    let report = crate::export::check_work(actor, project, names, crate::export::Stage::Export, &[])?;
    let mut lines = Vec::new();
    for file in &report.files {
        let name = file.path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let mut rules: Vec<(String, String, usize)> = Vec::new();
        for f in &file.findings {
            let (rule, verdict) = (f.rule.code().to_string(), f.verdict.to_string());
            match rules.iter_mut().find(|(r, v, _)| *r == rule && *v == verdict) {
                Some(entry) => entry.2 += 1,
                None => rules.push((rule, verdict, 1)),
            }
        }
        lines.extend(
            rules.into_iter().map(|(rule, verdict, n)| format!("{name}: {n} finding(s) of `{rule}` ({verdict})")),
        );
    }
    Ok(lines)
}

fn summary(r: &ResultRow) -> Summary {
    let (e, m): (&Estimate, &monitor::Monitoring) = (&r.estimate, &r.monitoring);
    Summary {
        outcome: r.outcome.id.clone(),
        subgroup: r.subgroup.to_string(),
        events_drug: e.drug.events,
        events_comparator: e.comparator.events,
        hazard_ratio: e.hazard_ratio.clone().ok(),
        status: e.hazard_ratio.as_ref().err().cloned().unwrap_or_else(|| "estimated".into()),
        flagged_sequential: m.flagged(),
        flagged_unadjusted: e.flagged_unadjusted(),
        boundary: m.boundary.as_ref().ok().copied(),
        no_boundary: m.boundary.as_ref().err().cloned(),
        alpha_spent: m.alpha_spent,
        crossed: m.crossed,
        first_crossed: m.first_crossed,
    }
}

/// The command-line values, checked as the script's parameters will check them, so that a typo is
/// reported once and by its flag.
fn check_options(opts: &RunOptions) -> Result<()> {
    use crate::script::{ParamKind, ParamValue};
    let yj = ParamKind::Codelist(crate::schema::CodeSystem::Yj);
    for (flag, kind, text) in [
        ("--drug", &yj, opts.drug.join(",")),
        ("--comparator", &yj, opts.comparator.join(",")),
        ("--cutoff", &ParamKind::Cutoff, opts.cutoff.clone()),
    ] {
        ParamValue::parse(kind, &text).map_err(|why| bad_input!("{flag} {text}: {why}"))?;
    }
    Ok(())
}

/// The plan the project's purpose decides, and the outcomes it runs.
fn plan_of(project: &Project, library: &Library, chosen: &[String]) -> Result<(Plan, Vec<String>)> {
    for id in chosen {
        if library.outcome(id).is_none() {
            let ids: Vec<&str> = library.outcomes.iter().map(|o| o.id.as_str()).collect();
            return Err(bad_input!(
                "--outcome-ids: `{id}` is not an outcome of the library; the outcomes are: {}",
                ids.join(", ")
            ));
        }
    }
    let every = || library.outcomes.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
    match (project.record().purpose, chosen.is_empty()) {
        (Purpose::SignalDetection, true) => Ok((Plan::Detection, every())),
        (Purpose::SignalDetection, false) => Err(bad_input!(
            "--outcome-ids: project {} is for signal detection, which runs every outcome of the library; leave out \
             --outcome-ids (signal refinement of chosen outcomes needs a signal-refinement project)",
            project.id()
        )),
        (Purpose::SignalRefinement, true) => Err(bad_input!(
            "project {} is for signal refinement: name the outcomes to refine with --outcome-ids ID,ID",
            project.id()
        )),
        (_, true) => Ok((Plan::Detection, every())),
        (_, false) => {
            let mut ids = chosen.to_vec();
            ids.dedup();
            Ok((Plan::Refinement, ids))
        }
    }
}

/// The protocol script in `work/protocol/`: written when missing or different, never edited by
/// hand (sites approve it by hash).
fn write_script(actor: &Actor, project: &Project, path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::create_dir_all(path.parent().expect("a file in a directory"))
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    crate::store::write_atomically(path, text.as_bytes())?;
    project.record_file(actor, path, &crate::digest::sha256_file(path)?, Direction::In)
}

/// The cohort dataset of an extraction that had already completed (a run repeated with the same
/// cut-off reuses it).
fn latest_cohort(project: &Project, extraction: i64) -> Option<crate::project::datasets::Dataset> {
    let conn = duckdb::Connection::open(project.layout().db()).ok()?;
    crate::project::datasets::datasets(&conn)
        .ok()?
        .into_iter()
        .filter(|d| d.name == "cohort" && d.extraction == extraction)
        .max_by_key(|d| d.version)
}

/// The cohort dataset in memory: patients with follow-up, and each outcome's columns.
struct Data {
    cohort: Cohort,
    /// Patients without follow-up after the index date (left out of every analysis).
    no_follow_up: u64,
    events: Vec<Vec<bool>>,
    days: Vec<Vec<f64>>,
    baseline_normal: Vec<Vec<bool>>,
    female: Vec<bool>,
}

impl Data {
    fn read(path: &Path, outcomes: &[&Outcome]) -> Result<Data> {
        let mut names: Vec<String> = ["group", "age", "sex", "site"].iter().map(|s| s.to_string()).collect();
        for o in outcomes {
            names.extend([format!("{}_event", o.id), format!("{}_days", o.id), format!("{}_baseline_normal", o.id)]);
        }
        let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
        let frame = Frame::read_columns(path, &wanted)?;
        let group = frame.strings("group")?;
        let age = frame.f64s("age")?;
        let sex = frame.strings("sex")?;
        let site = Categories::from_labels(&frame.strings("site")?);
        // Follow-up ends at the same day for every outcome without an event; an event ends it
        // earlier, never before day 1, so the first outcome's days tell who has follow-up.
        let first_days = match outcomes.first() {
            Some(o) => frame.f64s(&format!("{}_days", o.id))?,
            None => vec![1.0; frame.rows()],
        };
        let rows: Vec<usize> = (0..frame.rows()).filter(|&i| first_days[i] > 0.0).collect();
        let pick_bool = |v: Vec<f64>| rows.iter().map(|&i| v[i] == 1.0).collect::<Vec<bool>>();
        let mut events = Vec::new();
        let mut days = Vec::new();
        let mut baseline_normal = Vec::new();
        for o in outcomes {
            events.push(pick_bool(frame.f64s(&format!("{}_event", o.id))?));
            let d = frame.f64s(&format!("{}_days", o.id))?;
            days.push(rows.iter().map(|&i| d[i]).collect());
            baseline_normal.push(pick_bool(frame.f64s(&format!("{}_baseline_normal", o.id))?));
        }
        Ok(Data {
            cohort: Cohort {
                treated: rows.iter().map(|&i| group[i] == "drug").collect(),
                male: rows.iter().map(|&i| if sex[i] == "M" { 1.0 } else { 0.0 }).collect(),
                age: rows.iter().map(|&i| age[i]).collect(),
                site: rows.iter().map(|&i| site.codes[i]).collect(),
            },
            no_follow_up: (frame.rows() - rows.len()) as u64,
            female: rows.iter().map(|&i| sex[i] == "F").collect(),
            events,
            days,
            baseline_normal,
        })
    }

    fn keep(&self, outcome: usize, subgroup: &str) -> Vec<bool> {
        if subgroup == SUBGROUPS[0] {
            vec![true; self.cohort.treated.len()]
        } else {
            self.baseline_normal[outcome].clone()
        }
    }

    fn group_label(&self, row: usize) -> &'static str {
        if self.cohort.treated[row] { "drug" } else { "comparator" }
    }
}

/// The script's attrition summed over the sites (the catalog's `all` rows), then the patients
/// without follow-up.
fn attrition_rows(conn: &duckdb::Connection, extraction: i64, data: &Data) -> Result<Vec<AttritionRow>> {
    let mut rows: Vec<AttritionRow> = crate::extract::catalog::attrition(conn, extraction)?
        .into_iter()
        .filter(|(site, _)| site == "all")
        .map(|(_, step)| AttritionRow {
            rule: step.rule,
            kind: step.kind,
            before: step.patients_before,
            removed: step.removed,
        })
        .collect();
    let remaining = rows.last().map_or(0, |r| r.before - r.removed);
    rows.push(AttritionRow {
        rule: "follow-up after the index date".into(),
        kind: "require".into(),
        before: remaining,
        removed: data.no_follow_up as i64,
    });
    Ok(rows)
}

/// Sex, age bands (5-year-wide or wider, 85 and over together) and the baseline-normal share of
/// each outcome's analytes, per group.
fn baseline_rows(data: &Data, outcomes: &[&Outcome]) -> (Vec<BaselineRow>, (u64, u64)) {
    let n = data.cohort.treated.len();
    let count = |f: &dyn Fn(usize) -> bool| {
        let mut c = (0u64, 0u64);
        for i in (0..n).filter(|&i| f(i)) {
            if data.cohort.treated[i] { c.0 += 1 } else { c.1 += 1 }
        }
        c
    };
    let mut rows = Vec::new();
    let mut push = |characteristic: &str, level: &str, (drug, comparator): (u64, u64)| {
        rows.push(BaselineRow { characteristic: characteristic.into(), level: level.into(), drug, comparator })
    };
    let totals = count(&|_| true);
    push("patients", "all", totals);
    push("sex", "women", count(&|i| data.female[i]));
    push("sex", "men", count(&|i| !data.female[i]));
    const BANDS: [(f64, f64, &str); 7] = [
        (0.0, 40.0, "18-39"),
        (40.0, 50.0, "40-49"),
        (50.0, 60.0, "50-59"),
        (60.0, 70.0, "60-69"),
        (70.0, 80.0, "70-79"),
        (80.0, 85.0, "80-84"),
        (85.0, f64::INFINITY, "85+"),
    ];
    for (lo, hi, label) in BANDS {
        push("age", label, count(&|i| data.cohort.age[i] >= lo && data.cohort.age[i] < hi));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (k, o) in outcomes.iter().enumerate() {
        if o.analytes.len() == 1 && !seen.contains(&o.baseline_normal.as_str()) {
            seen.push(&o.baseline_normal);
            let level = format!("{} (subgroup of {})", o.analytes[0], o.id);
            push("baseline normal", &level, count(&|i| data.baseline_normal[k][i]));
        }
    }
    (rows, totals)
}

/// Cumulative incidence (1 - Kaplan-Meier) per group of every flagged outcome and subgroup (either flag), on the
/// coarse grid of days of [`tables::curve_points`].
fn curve_points(data: &Data, outcomes: &[&Outcome], flagged: &[&ResultRow], min_count: u64) -> Vec<CurvePoint> {
    let mut points = Vec::new();
    for r in flagged {
        let k = outcomes.iter().position(|o| o.id == r.outcome.id).expect("a flagged outcome is in the run");
        let keep = data.keep(k, r.subgroup);
        for group in ["drug", "comparator"] {
            let rows: Vec<usize> = (0..keep.len()).filter(|&i| keep[i] && data.group_label(i) == group).collect();
            let time: Vec<f64> = rows.iter().map(|&i| data.days[k][i]).collect();
            let event: Vec<bool> = rows.iter().map(|&i| data.events[k][i]).collect();
            let Ok(curve) = crate::stats::km::fit(&time, &event) else { continue };
            points.extend(tables::curve_points(&r.outcome.id, r.subgroup, group, &curve, min_count));
        }
    }
    points
}

/// Signal refinement: quartiles of the days to onset among the patients with an event.
fn onset_rows(data: &Data, outcomes: &[&Outcome]) -> Vec<OnsetRow> {
    let mut rows = Vec::new();
    for (k, o) in outcomes.iter().enumerate() {
        for subgroup in SUBGROUPS {
            let keep = data.keep(k, subgroup);
            for group in ["drug", "comparator"] {
                let mut days: Vec<f64> = (0..keep.len())
                    .filter(|&i| keep[i] && data.events[k][i] && data.group_label(i) == group)
                    .map(|i| data.days[k][i])
                    .collect();
                days.sort_by(f64::total_cmp);
                let quartiles =
                    (!days.is_empty()).then(|| (quantile(&days, 0.25), quantile(&days, 0.5), quantile(&days, 0.75)));
                rows.push(OnsetRow { outcome: o.id.clone(), subgroup, group, events: days.len() as u64, quartiles });
            }
        }
    }
    rows
}

/// The bands of days of use (days since the index date) of the duration breakdown.
const DURATION_BANDS: [(f64, f64, &str); 5] = [
    (0.0, 30.0, "1-30"),
    (30.0, 90.0, "31-90"),
    (90.0, 180.0, "91-180"),
    (180.0, 365.0, "181-365"),
    (365.0, f64::INFINITY, "366+"),
];

/// Signal refinement: patients at risk, events and person-years in each band of days of use.
fn duration_rows(data: &Data, outcomes: &[&Outcome]) -> Vec<DurationRow> {
    let mut rows = Vec::new();
    for (k, o) in outcomes.iter().enumerate() {
        for subgroup in SUBGROUPS {
            let keep = data.keep(k, subgroup);
            for (lo, hi, band) in DURATION_BANDS {
                for group in ["drug", "comparator"] {
                    let mut row = DurationRow {
                        outcome: o.id.clone(),
                        subgroup,
                        band: band.into(),
                        group,
                        at_risk: 0,
                        events: 0,
                        person_years: 0.0,
                    };
                    for i in (0..keep.len()).filter(|&i| keep[i] && data.group_label(i) == group) {
                        let t = data.days[k][i];
                        if t > lo {
                            row.at_risk += 1;
                            row.person_years += (t.min(hi) - lo) / DAYS_PER_YEAR;
                            row.events += u64::from(data.events[k][i] && t <= hi);
                        }
                    }
                    rows.push(row);
                }
            }
        }
    }
    rows
}

/// The `p` quantile of sorted values (linear interpolation between order statistics, type 7).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(super::quantile(&v, 0.5), 2.5);
        assert_eq!(super::quantile(&v, 0.0), 1.0);
        assert_eq!(super::quantile(&[7.0], 0.75), 7.0);
    }
}
