//! `midnet extract` and `midnet datasets`.

use clap::Args;

use crate::cli::Global;
use crate::cli::named::NamedScript;
use crate::error::{Error, Result};
use crate::extract::{ExtractOptions, ExtractReport, Transport, catalog, extract};
use crate::project::Role;

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The project the datasets go to, by its id.
    #[arg(long, value_name = "ID")]
    pub project: String,
    /// The extraction script.
    #[arg(value_parser = NamedScript::parse)]
    pub script: NamedScript,
    /// The data cut-off (YYYY-MM-DD; sets the script's cut-off parameter).
    #[arg(long, value_name = "DATE")]
    pub cutoff: Option<String>,
    /// A parameter value, NAME=VALUE (repeat for each parameter).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Only these sites (registry ids or this project's pseudonyms), e.g. to complete an
    /// extraction after a site failed.
    #[arg(long, value_name = "SITE,…", value_delimiter = ',')]
    pub sites: Vec<String>,
    /// How many sites run at the same time (each gets its share of threads and memory).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub jobs: usize,
    /// Union the sites that succeeded even if others failed (recorded as partial).
    #[arg(long)]
    pub partial: bool,
    /// Print the extraction as JSON: its datasets, and per site what ran and what failed.
    #[arg(long)]
    pub json: bool,
    /// Reach the sites through their agents and `center serve` instead of in process: queue a
    /// signed work request per site and take in what the agents uploaded. Run again (or --wait)
    /// until every site is done; an expired request is issued again, never run late.
    #[arg(long)]
    pub agents: bool,
    /// With --agents: look again until no site is left waiting (no project lock held between looks):
    /// at once when `center serve` records a site's progress, and at least every --every seconds.
    #[arg(long, requires = "agents")]
    pub wait: bool,
    /// With --agents: how long each work request is valid, in seconds (1 to 86400); a site that has
    /// not answered by then is asked again when the extraction is resumed, never run late.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::extract::exchange::REQUEST_SECONDS, requires = "agents",
          value_parser = clap::value_parser!(i64).range(1..=86400))]
    pub valid_for: i64,
    /// With --wait: the most seconds between looks when nothing is heard from `center serve` (a
    /// request that expires is seen by looking).
    #[arg(long, value_name = "SECONDS", default_value_t = 5, requires = "wait")]
    pub every: u64,
}

#[derive(Debug, Args)]
pub struct DatasetsArgs {
    /// The project, by its id.
    #[arg(long, value_name = "ID")]
    pub project: String,
    /// Print the extractions and datasets as JSON, with the attrition per site and summed.
    #[arg(long)]
    pub json: bool,
}

pub fn run_extract(global: &Global, args: ExtractArgs) -> Result<()> {
    let opts = ExtractOptions {
        script: args.script.bundle().clone(),
        params: args.params.clone(),
        cutoff: args.cutoff.clone(),
        sites: args.sites.clone(),
        jobs: args.jobs,
        partial: args.partial,
        transport: if args.agents { Transport::Agents } else { Transport::Local },
        wait: args.wait.then(|| std::time::Duration::from_secs(args.every)),
        request_seconds: args.valid_for,
    };
    let progress = crate::progress::Progress::new(global.quiet);
    // The report is printed, and an incomplete extraction fails, inside the audited command: its
    // audit record says whether every site was accepted.
    crate::cli::as_user(global, "extract", Some(&args.project), |actor| {
        let report = extract(actor, &args.project, &opts, &progress)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
        } else {
            print!("{}", render(&report));
        }
        require_complete(&report)
    })
}

/// Exit 1 naming the failed sites and how to complete the extraction, if any site failed. Sites
/// still working on their part (agents) are shown in the report; the extraction is resumed by
/// running the same command again.
fn require_complete(report: &ExtractReport) -> Result<()> {
    let failed = report.failed();
    if failed.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = failed.iter().map(|s| s.site.as_str()).collect();
    Err(Error::Failed(format!(
        "extraction {} is incomplete: {} failed; the others' results are kept. Fix the cause and run again \
         with --sites {} to complete it",
        report.extraction,
        names.join(", "),
        names.join(",")
    )))
}

fn render(report: &ExtractReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let cutoff = report.cutoff.as_deref().unwrap_or("none");
    let _ = writeln!(s, "extraction {} (script {}, cut-off {cutoff})", report.extraction, &report.script_sha256[..12]);
    for site in &report.already_accepted {
        let _ = writeln!(s, "  {site:<16} accepted earlier");
    }
    for site in &report.sites {
        let rows: Vec<String> = site.rows.iter().map(|(k, v)| format!("{k} {v} rows")).collect();
        match &site.reason {
            None => {
                let _ = writeln!(s, "  {:<16} accepted  {}  ({:.1} s)", site.site, rows.join(", "), site.seconds);
            }
            Some(reason) if site.status == "failed" => {
                let _ = writeln!(s, "  {:<16} FAILED    {reason}", site.site);
            }
            Some(reason) => {
                let _ = writeln!(s, "  {:<16} {}  {reason}", site.site, site.status);
            }
        }
    }
    for d in &report.datasets {
        let _ =
            writeln!(s, "dataset {} : {} rows from {} sites -> datasets/{}", d.label(), d.rows, d.sites.len(), d.file);
    }
    let _ = writeln!(s, "{:.1} s in all, of which the union {:.1} s", report.seconds, report.union_seconds);
    s
}

pub fn run_datasets(global: &Global, args: DatasetsArgs) -> Result<()> {
    crate::cli::as_user(global, "datasets", Some(&args.project), |actor| {
        let project = actor.open_project(&args.project, &[Role::Analyst])?;
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
        let db = project.layout().db();
        let conn = duckdb::Connection::open_with_flags(&db, config)?;
        let has_catalog = catalog::exists(&conn)?;
        let extractions = if has_catalog { catalog::extractions(&conn)? } else { Vec::new() };
        let datasets = if has_catalog { crate::project::datasets::datasets(&conn)? } else { Vec::new() };
        let mut attrition = Vec::new();
        for e in &extractions {
            attrition.push((e.extraction, catalog::attrition(&conn, e.extraction)?));
        }
        if args.json {
            let json = serde_json::json!({
                "extractions": extractions,
                "datasets": datasets,
                "attrition": attrition.iter().map(|(e, rows)| serde_json::json!({
                    "extraction": e,
                    "steps": rows.iter().map(|(site, a)| serde_json::json!({"site": site, "step": a})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&json).expect("serialises"));
            return Ok(());
        }
        if extractions.is_empty() {
            println!("no extractions yet");
        }
        for e in &extractions {
            let status = match (&e.completed_at, e.partial) {
                (Some(_), true) => "complete (partial: some sites missing)",
                (Some(_), false) => "complete",
                (None, _) => "incomplete: some sites have not been accepted",
            };
            println!(
                "extraction {}: {} (script {}), cut-off {}, by {} at {}: {status}",
                e.extraction,
                e.study,
                &e.script_sha256[..12],
                e.cutoff.as_deref().unwrap_or("none"),
                e.requested_by,
                e.started_at
            );
            for d in datasets.iter().filter(|d| d.extraction == e.extraction) {
                println!(
                    "  {:<20} {:>10} rows  {} sites  sha256 {}",
                    d.label(),
                    d.rows,
                    d.sites.len(),
                    &d.sha256[..12]
                );
            }
            let rows = &attrition.iter().find(|(x, _)| *x == e.extraction).expect("every extraction").1;
            if !rows.is_empty() {
                println!("  attrition (patients):");
                println!(
                    "    {:<16} {:>4}  {:<60} {:>9} {:>9} {:>9}",
                    "site", "step", "rule", "before", "removed", "after"
                );
                for (site, a) in rows {
                    println!(
                        "    {:<16} {:>4}  {:<60} {:>9} {:>9} {:>9}",
                        site, a.step, a.rule, a.patients_before, a.removed, a.patients_after
                    );
                }
            }
        }
        Ok(())
    })
}
