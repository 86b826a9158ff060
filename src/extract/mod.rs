//! Running a script across the sites and bringing the analysis datasets into the project
//! (`midnet extract`, `midnet datasets`).
//!
//! The flow, per extraction: compile the script once; at every requested site in parallel
//! (`--jobs`, each DuckDB with its share of threads and memory) sign a work request with the
//! center's key and keep it (`exchange`); the site verifies it against its pinned center key,
//! checks its approval and runs it (`site::run`), writing Parquet and a manifest into the site's
//! outbox, and signs its answer over the request id, nonce and manifest hash; the center believes
//! the answer only under the site's registered key (`exchange`), then transfers the result into
//! the project's `datasets/.incoming/` and verifies the manifest against the signed hash and every
//! file against the manifest (`transfer`);
//! record each site accepted or failed in the project's catalog (`catalog`). When every requested
//! site is accepted, union each output into an immutable `NAME@VERSION` dataset (`union`). A site
//! that fails leaves the others' results in place; running again for that site alone (same script,
//! parameters and cut-off) completes the extraction.
//!
//! Every step writes under a temporary name and renames, and the catalog changes in transactions,
//! so a kill at any moment leaves the project as it was or as it is after the step.

mod agents;
pub mod catalog;
pub mod exchange;
pub mod serve;
mod transfer;
mod union;

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use crate::audit::{Direction, Outcome};
use crate::center::Actor;
use crate::error::{Error, IoContext, Result};
use crate::project::datasets::Dataset;
use crate::project::{Area, Project, Role};
use crate::script::{Bundle, ParamValues, Script};
use crate::site::{self, SiteDir};
use crate::table::Provenance;

use crate::site::manifest::Manifest;

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// The script with its codelist files, read by whoever named it (see `script::Bundle`).
    pub script: Bundle,
    /// NAME=VALUE parameter assignments.
    pub params: Vec<String>,
    pub cutoff: Option<String>,
    /// Registry ids or this project's pseudonyms; all registered sites when empty.
    pub sites: Vec<String>,
    /// Sites run at the same time.
    pub jobs: usize,
    /// Union the accepted sites even if some failed (recorded as a partial extraction).
    pub partial: bool,
    /// How the sites are reached.
    pub transport: Transport,
    /// How long each work request is valid, in seconds (`exchange::REQUEST_SECONDS` unless the
    /// analyst gives a shorter or longer life with the agents' transport).
    pub request_seconds: i64,
    /// With the agents' transport: look again until no site is left waiting, holding no project
    /// lock in between: at once when `center serve` records a change of a request's state, and
    /// after at most this long otherwise (an expiry is seen only by looking).
    pub wait: Option<std::time::Duration>,
}

/// How the center reaches its sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// In process: the sites are directories on this machine, run by this command (the demo,
    /// most tests, a center and its sites on one host).
    Local,
    /// Through each site's agent and `center serve`: this command queues the work requests and
    /// takes in what the agents uploaded.
    Agents,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteOutcome {
    /// The site's pseudonym in this project.
    pub site: String,
    pub status: String,
    pub reason: Option<String>,
    pub rows: BTreeMap<String, i64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExtractReport {
    pub extraction: i64,
    pub script_sha256: String,
    pub cutoff: Option<String>,
    pub sites: Vec<SiteOutcome>,
    /// Sites of this extraction accepted in an earlier run.
    pub already_accepted: Vec<String>,
    /// The datasets this run created (empty until every requested site is accepted).
    pub datasets: Vec<Dataset>,
    /// Wall-clock seconds of the whole run, and of the union step within it.
    pub seconds: f64,
    pub union_seconds: f64,
}

impl ExtractReport {
    pub fn failed(&self) -> Vec<&SiteOutcome> {
        self.sites.iter().filter(|s| s.status == "failed").collect()
    }

    /// The sites still working on their part (agents' transport only).
    pub fn waiting(&self) -> Vec<&SiteOutcome> {
        self.sites.iter().filter(|s| s.status != "failed" && s.status != "accepted").collect()
    }
}

/// A registered site as this project sees it.
struct Target {
    pseudonym: String,
    site: SiteDir,
    site_id: String,
    /// The site's registered public key: only its signature is believed on the site's answer.
    key: ed25519_dalek::VerifyingKey,
}

/// Run the extraction; with `opts.wait`, pass again until no site is left waiting. Each pass
/// holds the project's lock only while it runs. The union is made by the pass that finds the last
/// site accepted, under the name of the analyst who runs `extract`.
pub fn extract(
    actor: &Actor,
    project_id: &str,
    opts: &ExtractOptions,
    progress: &crate::progress::Progress,
) -> Result<ExtractReport> {
    // Watched from before the first pass: a state recorded while a pass runs wakes the next.
    let states = opts.wait.map(|_| exchange::Changes::of_states(actor.home())).transpose()?;
    let mut seen = states.as_ref().map_or(0, exchange::Changes::seen);
    let mut report = extract_pass(actor, project_id, opts, progress, true)?;
    let sites = (report.sites.len() + report.already_accepted.len()) as u64;
    let waiting = progress.bar("sites", sites);
    while let (Some(every), Some(states)) = (opts.wait, &states) {
        if report.waiting().is_empty() {
            break;
        }
        waiting.set_position(sites - report.waiting().len() as u64);
        waiting.set_message(waiting_line(&report));
        states.wait(seen, every);
        seen = states.seen();
        report = extract_pass(actor, project_id, opts, progress, false)?;
    }
    waiting.finish_and_clear();
    Ok(report)
}

fn waiting_line(report: &ExtractReport) -> String {
    let states: Vec<String> = report.waiting().iter().map(|s| format!("{} {}", s.site, s.status)).collect();
    format!("extraction {}: waiting for {}", report.extraction, states.join(", "))
}

fn extract_pass(
    actor: &Actor,
    project_id: &str,
    opts: &ExtractOptions,
    progress: &crate::progress::Progress,
    reissue_failed: bool,
) -> Result<ExtractReport> {
    crate::withhold::withhold_values();
    let started = std::time::Instant::now();
    let project = actor.open_project(project_id, &[Role::Analyst])?;
    let script = Script::from_bundle(opts.script.clone())?;
    let mut values = ParamValues::parse_args(&opts.params)?;
    if let Some(cutoff) = &opts.cutoff {
        let param = script.cutoff().ok_or_else(|| {
            Error::BadInput(format!("--cutoff: {} declares no cut-off parameter", opts.script.name()))
        })?;
        values.set(param.name.clone(), cutoff.clone());
    }
    let compiled = script.compile(&values)?;
    within_extraction_period(&project, &compiled)?;
    let targets = targets(actor, &project, &opts.sites)?;
    let conn = duckdb::Connection::open(project.layout().db())?;
    catalog::ensure(&conn)?;
    sweep(&project.layout().area(Area::Datasets), &conn)?;
    let requested: Vec<String> = targets.iter().map(|t| t.pseudonym.clone()).collect();
    let extraction = match catalog::open_extraction(&conn, script.sha256(), &compiled.params)? {
        Some(open) => open.extraction,
        None => catalog::begin_extraction(
            &conn,
            script.sha256(),
            script.study(),
            &compiled.params,
            compiled.cutoff.as_ref().and_then(|c| compiled.params.get(c)).map(String::as_str),
            &requested,
            &actor.user().id,
        )?,
    };
    crate::crash::point("extract-begun");
    let already = catalog::accepted_sites(&conn, extraction)?;
    let todo: Vec<&Target> = targets.iter().filter(|t| !already.contains(&t.pseudonym)).collect();
    let incoming = project.layout().area(Area::Datasets).join(".incoming").join(format!("x{extraction}"));
    let center_key = crate::center::keys::signing(actor)?;
    let jobs = opts.jobs.clamp(1, todo.len().max(1));
    let (threads, memory) = site::run::share_of_machine(jobs);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
    let results: Vec<(String, Result<agents::Standing>)> = pool.install(|| {
        todo.par_iter()
            .map(|t| {
                let bar = progress.bar(&t.pseudonym, compiled.queries.outputs.len() as u64 + 2);
                let outbox = t.site.root().join("outbox").join(format!("{project_id}-x{extraction}"));
                let request = site::order::SiteRequest {
                    project: project_id,
                    extraction,
                    label: &t.pseudonym,
                    site: &t.site,
                    bundle: &opts.script,
                    compiled: &compiled,
                    script_sha256: script.sha256(),
                    threads,
                    memory_limit: &memory,
                };
                let step = |what: &str| {
                    bar.set_message(what.to_string());
                    bar.inc(1);
                };
                let exchange = exchange::Exchange {
                    home: actor.home(),
                    center_key: &center_key,
                    site_id: &t.site_id,
                    site_key: &t.key,
                    lifetime: opts.request_seconds,
                };
                let target = incoming.join(&t.pseudonym);
                let result = match opts.transport {
                    Transport::Local => exchange.issue(&request).and_then(|(header, envelope)| {
                        let answer = exchange::deliver(&exchange, &header, envelope, |envelope, now| {
                            site::run::answer(&request, envelope, &outbox, &step, now)
                        })?;
                        let answer =
                            exchange.accept(&header, &t.pseudonym, &answer, crate::clock::now_utc().timestamp())?;
                        let asked = transfer::Asked::of(&request, &t.site_id)?;
                        let manifest = transfer::receive(&outbox, &target, &answer.manifest_sha256, &asked)?;
                        std::fs::remove_dir_all(&outbox).at(&outbox)?;
                        Ok(agents::Standing::Accepted(Box::new(manifest)))
                    }),
                    Transport::Agents => agents::pass(&exchange, &request, &target, reissue_failed),
                };
                let shown = match &result {
                    Ok(agents::Standing::Accepted(_)) => "accepted",
                    Ok(agents::Standing::Waiting(state, _)) => state.words(),
                    _ => "failed",
                };
                bar.finish_with_message(shown);
                (t.pseudonym.clone(), result)
            })
            .collect()
    });
    let mut sites = Vec::new();
    for (pseudonym, result) in results {
        match result {
            Ok(agents::Standing::Waiting(state, detail)) => sites.push(SiteOutcome {
                site: pseudonym,
                status: state.words().to_string(),
                reason: Some(detail),
                rows: BTreeMap::new(),
                seconds: 0.0,
            }),
            Ok(agents::Standing::Failed(reason)) => {
                catalog::record_failed(&conn, extraction, &pseudonym, &reason)?;
                sites.push(SiteOutcome {
                    site: pseudonym,
                    status: "failed".into(),
                    reason: Some(reason),
                    rows: BTreeMap::new(),
                    seconds: 0.0,
                });
            }
            Ok(agents::Standing::Accepted(manifest)) => {
                crate::crash::point("extract-received");
                catalog::record_accepted(&conn, &manifest)?;
                for out in &manifest.outputs {
                    let file = incoming.join(&pseudonym).join(&out.file);
                    project.record_file(actor, &file, &out.sha256, Direction::In)?;
                }
                sites.push(SiteOutcome {
                    site: pseudonym,
                    status: "accepted".into(),
                    reason: None,
                    rows: manifest.outputs.iter().map(|o| (o.name.clone(), o.rows)).collect(),
                    seconds: manifest.seconds,
                });
            }
            Err(e) => {
                let reason = e.to_string();
                if matches!(e, Error::Refused { .. } | Error::Integrity(_)) {
                    actor.record(
                        &format!("extract: site {pseudonym} refused"),
                        Some(project_id),
                        Outcome::of_error(&e),
                    )?;
                }
                catalog::record_failed(&conn, extraction, &pseudonym, &reason)?;
                sites.push(SiteOutcome {
                    site: pseudonym,
                    status: "failed".into(),
                    reason: Some(reason),
                    rows: BTreeMap::new(),
                    seconds: 0.0,
                });
            }
        }
    }
    let accepted = catalog::accepted_sites(&conn, extraction)?;
    let complete = requested.iter().all(|s| accepted.contains(s));
    let union_started = std::time::Instant::now();
    let datasets = if complete || (opts.partial && !accepted.is_empty()) {
        union_all(actor, &project, &conn, extraction, &accepted, &incoming, !complete, &script, &compiled)?
    } else {
        Vec::new()
    };
    Ok(ExtractReport {
        extraction,
        script_sha256: script.sha256().to_string(),
        cutoff: compiled.cutoff.as_ref().and_then(|c| compiled.params.get(c).cloned()),
        sites,
        already_accepted: already,
        datasets,
        seconds: started.elapsed().as_secs_f64(),
        union_seconds: union_started.elapsed().as_secs_f64(),
    })
}

/// Remove what an interrupted run left behind: files and directories under a temporary name
/// (`.NAME.tmp-PID`), and the received site results of extractions already unioned. The caller
/// holds the project's lock, so no other run is writing them.
fn sweep(datasets: &std::path::Path, conn: &duckdb::Connection) -> Result<()> {
    let incoming = datasets.join(".incoming");
    let completed: Vec<String> = catalog::extractions(conn)?
        .iter()
        .filter(|e| e.completed_at.is_some())
        .map(|e| format!("x{}", e.extraction))
        .collect();
    let mut dirs = vec![datasets.to_path_buf(), incoming.clone()];
    if let Ok(entries) = std::fs::read_dir(&incoming) {
        dirs.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale =
                (name.starts_with('.') && name.contains(".tmp-")) || (dir == incoming && completed.contains(&name));
            if stale {
                let path = entry.path();
                if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) }.at(&path)?;
            }
        }
    }
    Ok(())
}

/// The script's study period (the days on which a cohort entry may fall) must lie within the
/// extraction period the project was approved for (guideline 第5: the data a project may use).
fn within_extraction_period(project: &Project, compiled: &crate::script::Compiled) -> Result<()> {
    use crate::query::value::naive_date;
    let record = project.record();
    let (start, end) = (naive_date(compiled.program.study.start), naive_date(compiled.program.study.end));
    if start < record.extraction_from || end > record.extraction_to {
        return Err(Error::refused(
            "extraction_period",
            format!(
                "the script's study period {start} to {end} is not within project {}'s approved extraction period \
                 {} to {}; change the script's period or cut-off, or have the reviewer change the project's period",
                project.id(),
                record.extraction_from,
                record.extraction_to
            ),
        ));
    }
    Ok(())
}

/// The sites to run: all active ones, or those named by registry id or by pseudonym. A retired
/// site is not asked, and naming it is refused.
fn targets(actor: &Actor, project: &Project, named: &[String]) -> Result<Vec<Target>> {
    let registry = crate::center::sites::registered(actor.home())?;
    if registry.iter().all(|s| s.retired.is_some()) {
        return Err(Error::BadInput(
            "the data center has no active sites; import them with `midnet center sites add sites.toml`".into(),
        ));
    }
    let mut targets = Vec::new();
    for site in registry {
        let pseudonym = project.pseudonym(&site.id)?.to_string();
        let naming = named.iter().find(|n| **n == site.id || **n == pseudonym);
        if let (Some(n), Some(retired)) = (naming, &site.retired) {
            return Err(Error::refused(
                "site_retired",
                format!(
                    "--sites {n}: this site was retired from the network on {}; extractions ask only the active sites",
                    retired.on
                ),
            ));
        }
        let wanted = site.retired.is_none() && (named.is_empty() || naming.is_some());
        if wanted {
            let key = site.public_key()?;
            targets.push(Target { pseudonym, site: SiteDir::at(&site.path), site_id: site.id, key });
        }
    }
    for n in named {
        if !targets.iter().any(|t| *n == t.site_id || *n == t.pseudonym) {
            return Err(Error::NotFound(format!("--sites {n}: not a registered site of this project")));
        }
    }
    Ok(targets)
}

#[allow(clippy::too_many_arguments)]
fn union_all(
    actor: &Actor,
    project: &Project,
    conn: &duckdb::Connection,
    extraction: i64,
    accepted: &[String],
    incoming: &std::path::Path,
    partial: bool,
    script: &Script,
    compiled: &crate::script::Compiled,
) -> Result<Vec<Dataset>> {
    let sites: Vec<(String, PathBuf, Manifest)> = accepted
        .iter()
        .map(|p| Ok((p.clone(), incoming.join(p), Manifest::read(&incoming.join(p), p)?)))
        .collect::<Result<_>>()?;
    let datasets_dir = project.layout().area(Area::Datasets);
    let mut made = Vec::new();
    let mut files = Vec::new();
    for out in &compiled.queries.outputs {
        let version = catalog::next_version(conn, &out.name)?;
        let mut provenance = Provenance::now(format!("midnet extract {}", script.study()));
        provenance.project = Some(project.id().to_string());
        provenance.script_sha256 = Some(script.sha256().to_string());
        provenance.params = compiled.params.clone();
        provenance.inputs = accepted.iter().map(|p| format!("site {p}")).collect();
        let input = union::UnionInput { name: &out.name, patient_level: out.patient_level, sites: &sites };
        let (dataset, file) = union::union_output(conn, &datasets_dir, &input, version, extraction, provenance)?;
        project.record_file(actor, &file, &dataset.sha256, Direction::In)?;
        made.push(dataset);
        files.push(file);
    }
    crate::crash::point("extract-unioned");
    catalog::record_datasets(conn, extraction, partial, &made, &files)?;
    crate::crash::point("extract-recorded");
    // The union is the record now; the sites' copies go (a kill here leaves them to `sweep`).
    std::fs::remove_dir_all(incoming).at(incoming)?;
    Ok(made)
}
