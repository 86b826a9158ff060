//! `midnet signal`: score drug-event pairs, screen patient-level data, sequence symmetry analysis.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::json;

use crate::bad_input;
use crate::cli::Global;
use crate::cli::io::{DatasetArgs, Destination};
use crate::error::Result;
use crate::project::inputs;
use crate::schema::ColumnRole;
use crate::signal::counts::{self, CountSource, PairCounts};
use crate::signal::mgps::{Likelihood, Prior};
use crate::signal::pair_table::{Column, PairTable};
use crate::signal::score::{MgpsSummary, ScoreOptions, Scored, Timings, flag_counts, score};
use crate::signal::{dates, screen, ssa};
use crate::table::{Frame, TableKind};

#[derive(Debug, Subcommand)]
pub enum SignalCommand {
    /// Score every drug-event pair of a counts file: PRR, ROR, chi-square, Fisher, IC, BCPNN, MGPS.
    Score(ScoreArgs),
    /// Screen patient-level data: new users of each drug, outcomes in a risk window, every pair
    /// scored, ranked and flagged.
    Screen(ScreenArgs),
    /// Sequence symmetry analysis of a drug and a marker drug or outcome.
    Ssa(SsaArgs),
}

/// How the truncated MGPS likelihood is truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Truncation {
    /// Each mixture component truncated on its own (openEBGM, PhViD >= 1.0.8).
    PerComponent,
    /// The mixture truncated as a whole (vigipy 3.5.1, PhViD < 1.0.8).
    WholeMixture,
}

#[derive(Debug, Args)]
pub struct MgpsArgs {
    /// The MGPS prior to score with, as a1,b1,a2,b2,p; fitted by maximum likelihood when absent.
    #[arg(long, value_name = "A1,B1,A2,B2,P")]
    pub prior: Option<String>,
    /// N*: fit the prior on pairs with n >= N*. 0 fits on every pair, which must then include
    /// the pairs with zero counts.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub truncate: u32,
    /// How the likelihood is truncated at N*.
    #[arg(long, value_enum, default_value_t = Truncation::PerComponent)]
    pub truncation: Truncation,
    /// Fit on squashed data (openEBGM's autoSquash defaults); every pair is still scored.
    #[arg(long)]
    pub squash: bool,
    /// Score and report only pairs with at least this count (vigipy's min_events); the prior is
    /// still fitted on every pair with n >= N*.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_count: u32,
}

impl MgpsArgs {
    fn options(&self) -> Result<ScoreOptions> {
        let likelihood = match (self.truncate, self.truncation) {
            (0, _) => Likelihood::Untruncated,
            (n_star, Truncation::PerComponent) => Likelihood::PerComponent { n_star },
            (n_star, Truncation::WholeMixture) => Likelihood::WholeMixture { n_star },
        };
        let prior = self.prior.as_deref().map(Prior::parse).transpose()?;
        Ok(ScoreOptions { prior, likelihood, squash: self.squash, min_count: self.min_count })
    }

    fn params(&self) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert("truncate".to_string(), self.truncate.to_string());
        p.insert("truncation".to_string(), format!("{:?}", self.truncation));
        p.insert("squash".to_string(), self.squash.to_string());
        p.insert("min_count".to_string(), self.min_count.to_string());
        if let Some(prior) = &self.prior {
            p.insert("prior".to_string(), prior.clone());
        }
        p
    }
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Counts (CSV or Parquet), one of: id,drug,event[,stratum] (N and margins count unique ids) |
    /// drug,event,n (margins are sums of n) | drug,event,n,n_drug,n_event,n_total | drug,event,n,e.
    #[arg(long, value_name = "FILE")]
    pub counts: PathBuf,
    #[command(flatten)]
    pub mgps: MgpsArgs,
    /// Print JSON: the prior, its fit and negative log-likelihood, and the rows unless --out is given.
    #[arg(long)]
    pub json: bool,
    /// Write the table here (.csv or .parquet, with its sidecar NAME.meta.json) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").args(["exposures", "input", "project"]).required(true)))]
pub struct ScreenArgs {
    /// Drug exposures (CSV or Parquet): person,drug,date. Each person's first date of a drug
    /// starts a new-use episode. Needs --outcomes.
    #[arg(long, value_name = "FILE", requires = "outcomes")]
    pub exposures: Option<PathBuf>,
    /// Outcomes (CSV or Parquet): person,outcome,date. The first date of each outcome counts.
    #[arg(long, value_name = "FILE", requires = "exposures")]
    pub outcomes: Option<PathBuf>,
    #[command(flatten)]
    pub episodes: EpisodeArgs,
    /// Days after the start of an episode in which an outcome is attributed to the drug (default
    /// 30 with --exposures). On episode rows: count a flag only when the outcome's ID_days is at
    /// most this.
    #[arg(long, value_name = "DAYS")]
    pub risk_window: Option<i32>,
    #[command(flatten)]
    pub mgps: MgpsArgs,
    /// Print JSON: the prior, the flag counts, and the ranked rows unless --out is given.
    #[arg(long)]
    pub json: bool,
    /// Write the ranked table here (.csv or .parquet, with its sidecar) instead of printing it.
    /// With --project: a name inside the project's work/ (default signal/screen-DATASET.csv).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Episode rows, from a file or a project dataset: one row per person and drug new-use episode,
/// with a 0/1 flag per outcome (the shape of `testdata/scripts/new_use_screen.midnet`).
#[derive(Debug, Args)]
pub struct EpisodeArgs {
    /// Episode rows (CSV or Parquet): one row per person and drug, a 0/1 column ID_event per outcome.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// The column naming each episode's drug.
    #[arg(long, value_name = "COL", default_value = "drug")]
    pub drug_column: String,
    /// The columns that identify a person [default: site,person_id for a project dataset, person
    /// for a file].
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub person: Vec<String>,
    /// The outcome flag columns [default: every column named ID_event; the outcome is ID].
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub event_columns: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").args(["input", "project"]).required(true)))]
pub struct SsaArgs {
    /// One row per person (CSV or Parquet): person,first_a_date,first_b_date; a date may be empty.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// The columns that identify a person [default: site,person_id for a project dataset, person
    /// for a file].
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub person: Vec<String>,
    /// The column of each person's first date of A (the index drug).
    #[arg(long, value_name = "COL", default_value = "first_a_date")]
    pub first_a: String,
    /// The column of each person's first date of B (the marker drug or outcome).
    #[arg(long, value_name = "COL", default_value = "first_b_date")]
    pub first_b: String,
    /// Largest number of days between the two starts for a sequence to count.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub window: i32,
    /// Confidence level of the exact intervals.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the result as a one-row table (.csv or .parquet) with its sidecar. With
    /// --project: a name inside the project's work/ (default signal/ssa-DATASET.csv).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The person key columns: as given, else the project datasets' `site,person_id`, else `person`.
fn person_columns(given: &[String], project: bool) -> Vec<String> {
    match (given.is_empty(), project) {
        (false, _) => given.to_vec(),
        (true, true) => vec!["site".to_string(), "person_id".to_string()],
        (true, false) => vec!["person".to_string()],
    }
}

pub fn run(global: &Global, command: SignalCommand) -> Result<()> {
    match command {
        SignalCommand::Score(args) => run_score(global, args),
        SignalCommand::Screen(args) => run_screen(global, args),
        SignalCommand::Ssa(args) => run_ssa(global, args),
    }
}

fn note(global: &Global, text: &str) {
    if !global.quiet {
        eprintln!("{text}");
    }
}

fn run_score(global: &Global, args: ScoreArgs) -> Result<()> {
    Destination::check_out(args.out.as_deref())?;
    let options = args.mgps.options()?;
    let started = Instant::now();
    let counts = counts::read(&args.counts)?;
    let read_s = started.elapsed().as_secs_f64();
    note(global, &format!("{}: {} pairs ({})", args.counts.display(), counts.len(), counts.source.describe()));
    let summary = CountsSummary::of(&counts);
    let Scored { table, mgps, timings } = score_counts(global, counts, &options)?;
    let target = Destination::file(args.out.as_deref(), vec![args.counts.display().to_string()])?;
    emit(global, table, &mgps, &timings, &summary, read_s, args.json, &target, args.mgps.params())
}

fn run_screen(global: &Global, args: ScreenArgs) -> Result<()> {
    Destination::check_out(args.out.as_deref())?;
    let started = Instant::now();
    let episodes = &args.episodes;
    let columns = |project: bool| screen::EpisodeColumns {
        drug: episodes.drug_column.clone(),
        person: person_columns(&episodes.person, project),
        events: episodes.event_columns.clone(),
        risk_window_days: args.risk_window,
    };
    match (&args.exposures, &args.outcomes, &episodes.input, episodes.dataset.given()) {
        (Some(exposures), Some(outcomes), ..) => {
            let window = args.risk_window.unwrap_or(30);
            let counts =
                screen::pair_counts(&screen::read_exposures(exposures)?, &screen::read_outcomes(outcomes)?, window)?;
            let inputs = vec![exposures.display().to_string(), outcomes.display().to_string()];
            let target = Destination::file(args.out.as_deref(), inputs)?;
            screen_counts(global, &args, counts, started, &target)
        }
        (None, None, Some(input), ..) => {
            let counts = episodes_counts(global, input, &columns(false), args.risk_window)?;
            let target = Destination::file(args.out.as_deref(), vec![input.display().to_string()])?;
            screen_counts(global, &args, counts, started, &target)
        }
        (None, None, None, Some((project, dataset))) => {
            inputs::run(&global.home()?, "signal screen", project, dataset, episodes.dataset.replace, |d| {
                let target =
                    Some(Destination::project(d, args.out.as_deref(), format!("signal/screen-{}.csv", d.label))?);
                let counts = episodes_counts(global, &d.path, &columns(true), args.risk_window)?;
                screen_counts(global, &args, counts, started, &target)
            })
        }
        _ => Err(bad_input!(
            "signal screen: give one input: --exposures FILE --outcomes FILE, --input FILE (episode rows), or --project ID --dataset NAME"
        )),
    }
}

/// The counts of the episode rows of `path`.
fn episodes_counts(
    global: &Global,
    path: &Path,
    columns: &screen::EpisodeColumns,
    window: Option<i32>,
) -> Result<PairCounts> {
    let rows = screen::read_episodes(path, columns)?;
    if rows.merged_rows > 0 {
        note(
            global,
            &format!(
                "{} {} a person and drug of an earlier row: each person and drug is one episode",
                rows.merged_rows,
                if rows.merged_rows == 1 { "row repeats" } else { "rows repeat" }
            ),
        );
    }
    screen::episode_counts(&rows, window)
}

/// Score, rank and hand over the counts of `signal screen`.
fn screen_counts(
    global: &Global,
    args: &ScreenArgs,
    counts: PairCounts,
    started: Instant,
    target: &Option<Destination>,
) -> Result<()> {
    let options = args.mgps.options()?;
    let read_s = started.elapsed().as_secs_f64();
    let window = match counts.source {
        CountSource::NewUseEpisodes { risk_window_days }
        | CountSource::EpisodeRows { risk_window_days: Some(risk_window_days) } => {
            format!("within {risk_window_days} days")
        }
        _ => "in the risk window of the dataset".to_string(),
    };
    note(
        global,
        &format!(
            "{} new-use episodes, {} drug-outcome pairs with an outcome {window}",
            counts.margins.as_ref().map_or(0.0, |m| m.n_total),
            counts.len(),
        ),
    );
    let summary = CountsSummary::of(&counts);
    let Scored { table, mgps, timings } = score_counts(global, counts, &options)?;
    let mut ranked = table.select(&screen::ranking(&table));
    drop(table);
    ranked
        .columns
        .insert(0, Column::number("rank", ColumnRole::Other, (1..=ranked.rows()).map(|r| r as f64).collect()));
    let mut params = args.mgps.params();
    if let Some(days) = args.risk_window.or(args.exposures.as_ref().map(|_| 30)) {
        params.insert("risk_window_days".to_string(), days.to_string());
    }
    if args.exposures.is_none() {
        params.insert("drug_column".to_string(), args.episodes.drug_column.clone());
    }
    emit(global, ranked, &mgps, &timings, &summary, read_s, args.json, target, params)
}

/// What the JSON output says about the counts.
#[derive(Debug, Serialize)]
struct CountsSummary {
    source: CountSource,
    description: &'static str,
    pairs: usize,
    n_total: Option<f64>,
}

impl CountsSummary {
    fn of(counts: &PairCounts) -> CountsSummary {
        CountsSummary {
            source: counts.source,
            description: counts.source.describe(),
            pairs: counts.len(),
            n_total: counts.margins.as_ref().map(|m| m.n_total),
        }
    }
}

fn score_counts(global: &Global, counts: PairCounts, options: &ScoreOptions) -> Result<Scored> {
    if counts.margins.is_none() {
        note(global, "no margins (n_drug, n_event, n_total): PRR, ROR, chi-square, Fisher and BCPNN are left empty");
    }
    let scored = score(counts, options)?;
    let m = &scored.mgps;
    match (&m.neg_log_likelihood, &m.not_fitted) {
        (Some(neg_ll), _) => note(
            global,
            &format!(
                "MGPS prior {}, negLL {neg_ll:.6} over {} points; {}",
                m.describe(),
                m.points,
                m.likelihood_description
            ),
        ),
        // A result, not progress: said even with --quiet, as the MGPS columns are empty.
        (None, Some(why)) => eprintln!(
            "MGPS prior not fitted: {}\nqn, ebgm, eb05, eb95, p_le1 and eb05_ge2 are left empty; every other statistic is \
             computed. To score with a prior, give one with --prior a1,b1,a2,b2,p (or try --truncate, --squash)",
            why.describe()
        ),
        (None, None) => unreachable!("a prior without a likelihood is one that was not fitted"),
    }
    if let Some(fit) = &m.fit {
        note(
            global,
            &format!(
                "fit: {} starts, {} agreeing with the estimate, {:.2} s",
                fit.starts.len(),
                fit.agreeing,
                scored.timings.fit
            ),
        );
        for &i in &fit.unconfirmed_lower {
            let s = &fit.starts[i];
            let t = s.estimate;
            note(
                global,
                &format!(
                    "note: start {} reached a lower negLL {:.6} at ({:.6}, {:.6}, {:.6}, {:.6}, {:.6}) that no other start \
                     confirms; the confirmed estimate is used (give it with --prior to use it instead)",
                    i + 1,
                    s.neg_log_likelihood,
                    t.alpha1,
                    t.beta1,
                    t.alpha2,
                    t.beta2,
                    t.p
                ),
            );
        }
    }
    Ok(scored)
}

#[allow(clippy::too_many_arguments)]
fn emit(
    global: &Global,
    table: PairTable,
    mgps: &MgpsSummary,
    timings: &Timings,
    counts: &CountsSummary,
    read_s: f64,
    as_json: bool,
    target: &Option<Destination>,
    mut params: BTreeMap<String, String>,
) -> Result<()> {
    let started = Instant::now();
    let flags = flag_counts(&table);
    let rows = table.rows();
    let out = target.as_ref().map(Destination::shown);
    params.insert("mgps_prior".to_string(), mgps.describe());
    let table = match target {
        Some(to) => {
            to.write(table, TableKind::Statistics, params)?;
            None
        }
        None => Some(table),
    };
    if let Some(out) = &out {
        note(global, &format!("wrote {rows} rows to {out}"));
    }
    if as_json {
        let mut doc = json!({
            "counts": counts,
            "mgps": mgps,
            "flags": flags,
            "out": out,
        });
        if let Some(table) = &table {
            doc["rows"] = table.json_rows().into();
        }
        doc["timings_s"] = json!({
            "read": read_s,
            "fit": timings.fit,
            "eb_scores": timings.eb_scores,
            "disproportionality": timings.disproportionality,
            "write": started.elapsed().as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("the summary serialises"));
    } else if let Some(table) = &table {
        let stdout = std::io::stdout();
        table.write_csv(&mut stdout.lock()).map_err(|e| crate::error::Error::io("<stdout>", e))?;
    } else {
        let count = |flagged: Option<usize>| flagged.map_or("none (undefined)".to_string(), |n| n.to_string());
        println!(
            "{rows} pairs; flagged: Evans {}, ROR025>1 {}, IC025>0 {}, EB05>=2 {}{}",
            count(flags.evans),
            count(flags.ror025_gt1),
            count(flags.ic025_gt0),
            count(flags.eb05_ge2),
            if mgps.prior.is_none() { "; MGPS prior not fitted" } else { "" }
        );
    }
    Ok(())
}

fn read_starts(path: &Path, person: &[String], first_a: &str, first_b: &str) -> Result<ssa::Starts> {
    let mut columns: Vec<&str> = person.iter().map(String::as_str).collect();
    columns.extend([first_a, first_b]);
    let frame = Frame::read_columns(path, &columns)?;
    if frame.rows() == 0 {
        return Err(bad_input!("{}: the table has no rows; give one row per person", path.display()));
    }
    let persons = screen::person_keys(&frame, person)?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (row, p) in persons.iter().enumerate() {
        if let Some(first) = seen.insert(p, row) {
            return Err(frame.bad_row(
                &person[0],
                row,
                &format!(
                    "person `{}` appears again (first at row {}); give each person once with their first dates",
                    crate::withhold::cell(p.replace('\u{1f}', "/")),
                    first + 1
                ),
            ));
        }
    }
    Ok(ssa::Starts { first_a: dates::days(&frame, first_a)?, first_b: dates::days(&frame, first_b)? })
}

fn run_ssa(global: &Global, args: SsaArgs) -> Result<()> {
    Destination::check_out(args.out.as_deref())?;
    match (&args.input, args.dataset.given()) {
        (Some(input), ..) => {
            let target = Destination::file(args.out.as_deref(), vec![input.display().to_string()])?;
            ssa_of(global, &args, input, &person_columns(&args.person, false), &target)
        }
        (None, Some((project, dataset))) => {
            inputs::run(&global.home()?, "signal ssa", project, dataset, args.dataset.replace, |d| {
                let target = Some(Destination::project(d, args.out.as_deref(), format!("signal/ssa-{}.csv", d.label))?);
                ssa_of(global, &args, &d.path, &person_columns(&args.person, true), &target)
            })
        }
        _ => Err(bad_input!("signal ssa: give one input: --input FILE or --project ID --dataset NAME")),
    }
}

fn ssa_of(global: &Global, args: &SsaArgs, path: &Path, person: &[String], target: &Option<Destination>) -> Result<()> {
    let starts = read_starts(path, person, &args.first_a, &args.first_b)?;
    let result = ssa::analyse(&starts, &ssa::SsaOptions { window_days: args.window, level: args.level })?;
    let params = [
        ("first_a", args.first_a.clone()),
        ("first_b", args.first_b.clone()),
        ("window_days", args.window.to_string()),
        ("level", args.level.to_string()),
    ];
    if let Some(to) = target {
        to.write(
            ssa_table(&result),
            TableKind::Statistics,
            params.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        )?;
        note(global, &format!("wrote {}", to.shown()));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result).expect("the result serialises"));
        return Ok(());
    }
    let pct = (args.level * 100.0).round();
    let number = |v: Option<f64>| v.map_or("not estimable".to_string(), |v| format!("{v:.4}"));
    let interval = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
        (Some(lo), Some(hi)) => format!("  ({pct}% CI {lo:.4} to {hi:.4}, exact)"),
        (Some(lo), None) => format!("  ({pct}% CI from {lo:.4}, no upper limit)"),
        _ => String::new(),
    };
    println!(
        "sequences within {} days: A then B {}, B then A {} (same day {}, further apart {})",
        result.window_days, result.a_then_b, result.b_then_a, result.same_day, result.outside_window
    );
    println!("crude sequence ratio        {}{}", number(result.crude), interval(result.crude_lo, result.crude_hi));
    println!("null-effect sequence ratio  {}  (P(A first) = {})", number(result.null_effect), number(result.p_a_first));
    println!(
        "adjusted sequence ratio     {}{}",
        number(result.adjusted),
        interval(result.adjusted_lo, result.adjusted_hi)
    );
    for why in &result.not_estimable {
        println!("not estimable: {why}");
    }
    Ok(())
}

/// The result of `signal ssa` as a one-row table.
fn ssa_table(r: &ssa::SsaResult) -> PairTable {
    use ColumnRole::*;
    let n = |name, role, v: f64| Column::number(name, role, vec![v]);
    let estimate = |name, role, v: Option<f64>| n(name, role, v.unwrap_or(f64::NAN));
    PairTable {
        columns: vec![
            n("window_days", Time, r.window_days as f64),
            n("a_then_b", PersonCount, r.a_then_b as f64),
            n("b_then_a", PersonCount, r.b_then_a as f64),
            n("same_day", PersonCount, r.same_day as f64),
            n("outside_window", PersonCount, r.outside_window as f64),
            estimate("crude", Ratio, r.crude),
            estimate("crude_lo", IntervalBound, r.crude_lo),
            estimate("crude_hi", IntervalBound, r.crude_hi),
            estimate("p_a_first", Proportion, r.p_a_first),
            estimate("null_effect", Ratio, r.null_effect),
            estimate("adjusted", Ratio, r.adjusted),
            estimate("adjusted_lo", IntervalBound, r.adjusted_lo),
            estimate("adjusted_hi", IntervalBound, r.adjusted_hi),
            Column::text("not_estimable", Other, vec![r.not_estimable.join("; ")]),
        ],
    }
}
