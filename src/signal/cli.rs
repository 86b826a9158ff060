//! `midnet signal`: score drug-event pairs, screen patient-level data, sequence symmetry analysis.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::json;

use super::counts::{self, CountSource, PairCounts};
use super::mgps::{Likelihood, Prior};
use super::pair_table::{Column, PairTable};
use super::score::{MgpsSummary, ScoreOptions, Scored, Timings, flag_counts, score};
use super::{dates, screen, ssa};
use crate::bad_input;
use crate::cli::Global;
use crate::error::Result;
use crate::table::{ColumnRole, Format, Frame, Provenance, TableKind};

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
    #[arg(long, value_name = "F")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// Drug exposures (CSV or Parquet): person,drug,date. Each person's first date of a drug
    /// starts a new-use episode.
    #[arg(long, value_name = "FILE")]
    pub exposures: PathBuf,
    /// Outcomes (CSV or Parquet): person,outcome,date. The first date of each outcome counts.
    #[arg(long, value_name = "FILE")]
    pub outcomes: PathBuf,
    /// Days after the start of an episode in which an outcome is attributed to the drug.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub risk_window: i32,
    #[command(flatten)]
    pub mgps: MgpsArgs,
    /// Print JSON: the prior, the flag counts, and the ranked rows unless --out is given.
    #[arg(long)]
    pub json: bool,
    /// Write the ranked table here (.csv or .parquet, with its sidecar) instead of printing it.
    #[arg(long, value_name = "F")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SsaArgs {
    /// One row per person (CSV or Parquet): person,first_a_date,first_b_date; a date may be empty.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Largest number of days between the two starts for a sequence to count.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub window: i32,
    /// Confidence level of the exact intervals.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the result as a one-row table (.csv or .parquet) with its sidecar.
    #[arg(long, value_name = "F")]
    pub out: Option<PathBuf>,
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

fn check_out(out: &Option<PathBuf>) -> Result<()> {
    match out {
        Some(path) if Format::of(path).is_err() => Err(bad_input!(
            "--out {}: give a .csv or .parquet file name (a sidecar .meta.json is written beside it)",
            path.display()
        )),
        _ => Ok(()),
    }
}

fn run_score(global: &Global, args: ScoreArgs) -> Result<()> {
    check_out(&args.out)?;
    let options = args.mgps.options()?;
    let started = Instant::now();
    let counts = counts::read(&args.counts)?;
    let read_s = started.elapsed().as_secs_f64();
    note(global, &format!("{}: {} pairs ({})", args.counts.display(), counts.len(), counts.source.describe()));
    let summary = CountsSummary::of(&counts);
    let Scored { table, mgps, timings } = score_counts(global, counts, &options)?;
    let mut provenance = Provenance::now(command_line());
    provenance.inputs.push(args.counts.display().to_string());
    provenance.params = args.mgps.params();
    emit(global, table, &mgps, &timings, &summary, read_s, args.json, args.out.as_deref(), provenance)
}

fn run_screen(global: &Global, args: ScreenArgs) -> Result<()> {
    check_out(&args.out)?;
    let options = args.mgps.options()?;
    let started = Instant::now();
    let exposures = screen::read_exposures(&args.exposures)?;
    let outcomes = screen::read_outcomes(&args.outcomes)?;
    let counts = screen::pair_counts(&exposures, &outcomes, args.risk_window)?;
    let read_s = started.elapsed().as_secs_f64();
    note(
        global,
        &format!(
            "{} new-use episodes, {} drug-outcome pairs with an outcome within {} days",
            counts.margins.as_ref().map_or(0.0, |m| m.n_total),
            counts.len(),
            args.risk_window
        ),
    );
    let summary = CountsSummary::of(&counts);
    let Scored { table, mgps, timings } = score_counts(global, counts, &options)?;
    let mut ranked = table.select(&screen::ranking(&table));
    drop(table);
    ranked
        .columns
        .insert(0, Column::number("rank", ColumnRole::Other, (1..=ranked.rows()).map(|r| r as f64).collect()));
    let mut provenance = Provenance::now(command_line());
    provenance.inputs = vec![args.exposures.display().to_string(), args.outcomes.display().to_string()];
    provenance.params = args.mgps.params();
    provenance.params.insert("risk_window_days".to_string(), args.risk_window.to_string());
    emit(global, ranked, &mgps, &timings, &summary, read_s, args.json, args.out.as_deref(), provenance)
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
    let t = m.prior;
    note(
        global,
        &format!(
            "MGPS prior ({:.6}, {:.6}, {:.6}, {:.6}, {:.6}) {}, negLL {:.6} over {} points; {}",
            t.alpha1,
            t.beta1,
            t.alpha2,
            t.beta2,
            t.p,
            if m.fitted { "fitted" } else { "given" },
            m.neg_log_likelihood,
            m.points,
            m.likelihood_description
        ),
    );
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

fn command_line() -> String {
    std::iter::once("midnet".to_string()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" ")
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
    out: Option<&Path>,
    provenance: Provenance,
) -> Result<()> {
    let started = Instant::now();
    let flags = flag_counts(&table);
    let rows = table.rows();
    let table = match out {
        Some(path) => {
            table.save(path, TableKind::Statistics, provenance)?;
            note(global, &format!("wrote {rows} rows to {}", path.display()));
            None
        }
        None => Some(table),
    };
    if as_json {
        let mut doc = json!({
            "counts": counts,
            "mgps": mgps,
            "flags": flags,
            "out": out.map(|p| p.display().to_string()),
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
        println!(
            "{rows} pairs; flagged: Evans {}, ROR025>1 {}, IC025>0 {}, EB05>=2 {}",
            flags.evans, flags.ror025_gt1, flags.ic025_gt0, flags.eb05_ge2
        );
    }
    Ok(())
}

fn read_starts(path: &Path) -> Result<ssa::Starts> {
    let frame = Frame::read_columns(path, &["person", "first_a_date", "first_b_date"])?;
    if frame.rows() == 0 {
        return Err(bad_input!("{}: the table has no rows; give one row per person", path.display()));
    }
    let persons = frame.strings("person")?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (row, p) in persons.iter().enumerate() {
        if let Some(first) = seen.insert(p, row) {
            return Err(frame.bad_row(
                "person",
                row,
                &format!(
                    "person `{p}` appears again (first at row {}); give each person once with their first dates",
                    first + 1
                ),
            ));
        }
    }
    Ok(ssa::Starts { first_a: dates::days(&frame, "first_a_date")?, first_b: dates::days(&frame, "first_b_date")? })
}

fn run_ssa(global: &Global, args: SsaArgs) -> Result<()> {
    check_out(&args.out)?;
    let starts = read_starts(&args.input)?;
    let result = ssa::analyse(&starts, &ssa::SsaOptions { window_days: args.window, level: args.level })?;
    if let Some(path) = &args.out {
        let r = &result;
        use ColumnRole::*;
        let n = |name, role, v: f64| Column::number(name, role, vec![v]);
        let table = PairTable {
            columns: vec![
                n("window_days", Time, r.window_days as f64),
                n("a_then_b", PersonCount, r.a_then_b as f64),
                n("b_then_a", PersonCount, r.b_then_a as f64),
                n("same_day", PersonCount, r.same_day as f64),
                n("outside_window", PersonCount, r.outside_window as f64),
                n("crude", Ratio, r.crude),
                n("crude_lo", IntervalBound, r.crude_lo),
                n("crude_hi", IntervalBound, r.crude_hi),
                n("p_a_first", Proportion, r.p_a_first),
                n("null_effect", Ratio, r.null_effect),
                n("adjusted", Ratio, r.adjusted),
                n("adjusted_lo", IntervalBound, r.adjusted_lo),
                n("adjusted_hi", IntervalBound, r.adjusted_hi),
            ],
        };
        let mut provenance = Provenance::now(command_line());
        provenance.inputs.push(args.input.display().to_string());
        provenance.params.insert("window_days".to_string(), args.window.to_string());
        provenance.params.insert("level".to_string(), args.level.to_string());
        table.save(path, TableKind::Statistics, provenance)?;
        note(global, &format!("wrote {}", path.display()));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result).expect("the result serialises"));
        return Ok(());
    }
    let pct = (args.level * 100.0).round();
    println!(
        "sequences within {} days: A then B {}, B then A {} (same day {}, further apart {})",
        result.window_days, result.a_then_b, result.b_then_a, result.same_day, result.outside_window
    );
    println!(
        "crude sequence ratio        {:.4}  ({pct}% CI {:.4} to {:.4}, exact)",
        result.crude, result.crude_lo, result.crude_hi
    );
    println!("null-effect sequence ratio  {:.4}  (P(A first) = {:.4})", result.null_effect, result.p_a_first);
    println!(
        "adjusted sequence ratio     {:.4}  ({pct}% CI {:.4} to {:.4})",
        result.adjusted, result.adjusted_lo, result.adjusted_hi
    );
    Ok(())
}
