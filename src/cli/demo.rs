//! `midnet demo`: the main job end to end, with no arguments, in a directory it names and keeps
//! (a new `./midnet-demo`, `./midnet-demo-2`, … or `--dir`) so that its report can be opened
//! afterwards; `--clean` removes it at the end. Each stage of the data flow that lands extends it;
//! today it synthesises a small network of hospitals, creates each site's integrated data source
//! (the first hospital's from its own exports: SS-MIX2, claims and DPC files; the others' from
//! midnet's CSV files) and checks
//! its quality, sets up the data center (its home, the site registry, users and
//! a signal-detection project), extracts an active-comparator cohort, runs the shared early-safety
//! protocol, releases its tables through the export gate and renders the HTML report from the
//! released tables.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::bad_input;
use crate::center::{self, Actor, Home, NewUser, Settings};
use crate::cli::Global;
use crate::error::{IoContext, Result};
use crate::progress::Progress;
use crate::project::lifecycle::{self, NewProject};
use crate::project::{Purpose, Role};
use crate::site::SiteDir;
use crate::synth::{self, SynthOptions};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's files in this directory (new, or empty) instead of a new `./midnet-demo`
    /// (`./midnet-demo-2`, … when that exists).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Remove the demo's directory at the end (nothing is kept, not even the report).
    #[arg(long)]
    pub clean: bool,
    /// Sites in the synthetic network.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub site_count: usize,
    /// Patients per site.
    #[arg(long, value_name = "N", default_value_t = 4000)]
    pub patients: u64,
    /// Seed of the synthetic network: the same seed gives the same data and results.
    #[arg(long, value_name = "N", default_value_t = 20261124)]
    pub seed: u64,
}

/// The default directory's name in the current directory; `-2`, `-3`, … are appended while taken.
const DEFAULT_DIR: &str = "midnet-demo";

pub fn run(global: &Global, args: DemoArgs) -> Result<()> {
    let root = match &args.dir {
        Some(dir) => claim_given_dir(dir)?,
        None => claim_new_dir(Path::new(DEFAULT_DIR))?,
    };
    let root = std::path::absolute(&root).at(&root)?;
    if args.clean {
        println!("midnet demo in {} (removed at the end: --clean)", root.display());
    } else {
        println!("midnet demo in {} (kept: give --clean to remove it at the end)", root.display());
    }
    let outcome = run_in(&root, global, &args);
    if args.clean {
        std::fs::remove_dir_all(&root).at(&root)?;
        println!("removed {} (--clean)", root.display());
        return outcome.map(|_| ());
    }
    let report = outcome?;
    println!("\nOpen the report:\n  xdg-open {}", shell_word(&report));
    println!("{}", report.display());
    Ok(())
}

/// A directory the user named: created when missing, used when empty, refused when it holds
/// anything (the demo never writes among a user's files).
fn claim_given_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() && !dir.is_dir() {
        return Err(bad_input!("--dir {}: not a directory; give a new or empty directory", dir.display()));
    }
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(bad_input!(
                    "--dir {}: the directory is not empty; give a new or empty directory (the demo never writes \
                     among existing files)",
                    dir.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir).at(dir)?,
        Err(e) => return Err(e).at(dir),
    }
    Ok(dir.to_path_buf())
}

/// A new directory `base`, or `base-2`, `base-3`, … : the first name nothing has taken, created
/// here (never an existing directory, even an empty one).
fn claim_new_dir(base: &Path) -> Result<PathBuf> {
    let mut dir = base.to_path_buf();
    for n in 2.. {
        match std::fs::create_dir(&dir) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                dir = PathBuf::from(format!("{}-{n}", base.display()))
            }
            Err(e) => return Err(e).at(&dir),
        }
    }
    Ok(dir)
}

/// The path as one shell word: quoted when it holds anything a shell would split or expand.
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c)) {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The demo's stages in `root`; returns the report's path.
fn run_in(root: &Path, global: &Global, args: &DemoArgs) -> Result<PathBuf> {
    let say = |line: &str| println!("{line}");

    let network = root.join("network");
    let progress = Progress::new(global.quiet);
    say(&format!("1. synthesise {} hospitals x {} patients (seed {})", args.site_count, args.patients, args.seed));
    let summary = synth::synthesize(
        &SynthOptions {
            sites: args.site_count,
            patients: args.patients,
            seed: args.seed,
            out: network.clone(),
            data_start: crate::query::value::parse_date("2016-04-01").expect("valid"),
            data_end: crate::query::value::parse_date("2025-09-30").expect("valid"),
            dirty: 0.0002,
            ss_mix2: false,
            receipt: false,
            dpc: false,
            linked_numbers: false,
        },
        &progress,
    )?;
    say(&format!("   {} rows of hospital files, registry {}", summary.rows, network.join("sites.toml").display()));

    say("2. each site creates its integrated data source, imports its official masters and its hospital's files");
    for (i, site) in summary.sites.iter().enumerate() {
        let dir = SiteDir::at(&site.path);
        dir.init()?;
        crate::site::masters::import(&dir, &synth::masters::master_files(&site.path))?;
        if i == EXPORTS_SITE {
            join_through_its_exports(&dir, site, args.seed, &say)?;
            continue;
        }
        let report = crate::site::load::load(&dir, &[site.path.join(synth::IMPORT_DIR)], None, &progress)?;
        say(&format!(
            "   {}: {} rows loaded, {} quarantined (data version {})",
            site.id,
            report.rows_loaded(),
            report.rows_quarantined(),
            report.data_version.unwrap_or(0)
        ));
    }

    let first = &summary.sites[0];
    let quality = crate::site::check::check(&SiteDir::at(&first.path))?;
    say(&format!("3. data quality of {} (midnet site check):", first.id));
    for line in quality.render().lines().take(12) {
        say(&format!("   {line}"));
    }
    let in_tables: i64 = quality.coverage.iter().map(|c| c.rows).sum();
    let waiting: i64 = quality.coverage.iter().map(|c| c.waiting).sum();
    say(&format!(
        "   standard codes: {in_tables} rows in the tables, {waiting} waiting for a mapping of their local codes"
    ));
    let linked: Vec<String> =
        quality.linked_patients.iter().map(|l| format!("{} {} ({} linked)", l.source, l.patients, l.linked)).collect();
    say(&format!("   patients per source, linked to another source by the site's key: {}", linked.join(", ")));
    say("4. the data center: its home, the hospitals' registry, users, and a project for this run");
    let project = provision(root, &network)?;
    say(&format!(
        "   home {} (on a simulated clock reading {DEMO_TODAY}); users reviewer, analyst; project {} ({}), analyst granted",
        root.join("center").display(),
        project.id,
        project.title
    ));
    let center_key = crate::center::keys::public_path(&Home::at(&root.join("center"))?);
    for site in &summary.sites {
        crate::site::keys::trust_center(&SiteDir::at(&site.path), &center_key)?;
    }
    say("   every site pinned the data center's public key, given to it out of band (midnet site trust-center)");

    say("5. every site approves the active-comparator script; the analyst extracts it across the sites");
    let extraction = extract_cohort(root, &summary.sites, &project.id, global)?;
    for site in &extraction.sites {
        let rows: Vec<String> = site.rows.iter().map(|(name, n)| format!("{name} {n} rows")).collect();
        say(&format!("   {}: {} ({:.1} s)", site.site, rows.join(", "), site.seconds));
    }
    for d in &extraction.datasets {
        say(&format!(
            "   dataset {}: {} rows from {} sites, in the project's non-exportable datasets/ area",
            d.label(),
            d.rows,
            d.sites.len()
        ));
    }

    say(
        "6. the shared early-safety protocol: every site approves it; the analyst runs it for novagliptin vs sitagliptin",
    );
    let run = run_protocol(root, &summary.sites, &project.id, global)?;
    for line in crate::cli::protocol::render(&run).lines() {
        say(&format!("   {line}"));
    }

    say("7. the analyst requests the protocol's tables for export; the reviewer approves them");
    let released = release_tables(root, &project.id, &run)?;
    for file in &released {
        say(&format!("   released {file}"));
    }

    say("8. outside the data center, the report is rendered from the released tables alone");
    render_released(root, &project.id, &released)
}

/// The site (0-based) that joins through its hospital's own exports instead of midnet's CSV
/// files, as a real hospital would: the others load their CSV files.
const EXPORTS_SITE: usize = 0;

/// The hospital's exports, written from its synthetic CSV files (which the site never reads) and
/// imported as a real hospital's would be: its electronic records as an SS-MIX2 standardized
/// storage (`site import ss-mix2`, its local codes mapped with the reviewed mapping file, `site
/// mapping import`), then its monthly claims files (`site import receipt`) and its DPC survey files
/// (`site import dpc`) when it bills claims or is a DPC hospital. Its claims and DPC number patients
/// apart from its EHR, as many hospitals' do: its link of their numbers to the EHR's ids (`site
/// link`) gives each patient one key across the three.
fn join_through_its_exports(dir: &SiteDir, site: &synth::SiteSummary, seed: u64, say: &dyn Fn(&str)) -> Result<()> {
    let csv = site.path.join(synth::IMPORT_DIR);
    let tree = synth::ssmix2::write(&site.path, &csv, seed, EXPORTS_SITE)?;
    let root = site.path.join(synth::ssmix2::TREE_DIR);
    let imported = crate::site::ssmix2::import::import(dir, &root, Default::default())?;
    let mapping = site.path.join(synth::ssmix2::MAPPING_FILE);
    let by = crate::site::approve::Approver::new(&format!("Demo reviewer of {}", site.id))?;
    let mapped = crate::site::mapping::import(dir, &mapping, &by)?;
    let total = |count: fn(&crate::site::load::FileLoaded) -> u64| imported.tables.iter().map(count).sum::<u64>();
    say(&format!(
        "   {}: joins through its hospital's SS-MIX2 export ({} messages in {}): {} rows imported, {} quarantined, {} \
         waiting for the mapping of their local codes; {} brought in by its mapping (data version {})",
        site.id,
        tree.files,
        root.display(),
        total(|t| t.rows_loaded),
        total(|t| t.rows_quarantined),
        total(|t| t.rows_waiting),
        mapped.rows_loaded,
        mapped.data_version.or(imported.data_version).unwrap_or(0)
    ));
    let loaded = |tables: &[crate::site::load::FileLoaded]| {
        let rows = |count: fn(&crate::site::load::FileLoaded) -> u64| tables.iter().map(count).sum::<u64>();
        (rows(|t| t.rows_loaded), rows(|t| t.rows_quarantined))
    };
    // The hospital's claims and DPC systems number patients apart from its EHR: it gives the site
    // its link of their numbers to the EHR's ids before their files come in.
    let claims = synth::receipt::write(&site.path, &csv, true)?.files > 0;
    let dpc = synth::dpc::write(&site.path, &csv, EXPORTS_SITE, true)?.files > 0;
    if !(claims || dpc) {
        return Ok(());
    }
    synth::link::write(&site.path, site.patients, claims, dpc)?;
    let registered = crate::site::link::register(dir, &site.path.join(synth::link::LINK_FILE))?;
    let numbers: Vec<String> = registered.linked.iter().map(|(source, n)| format!("{n} {source}")).collect();
    say(&format!(
        "   {}: registers its hospital's link of claims and DPC numbers to EHR ids ({} numbers; kept as keyed hashes)",
        site.id,
        numbers.join(", ")
    ));
    if claims {
        let files = claims_files(&site.path.join(synth::receipt::RECEIPT_DIR))?;
        let report = crate::site::receipt::import::import(dir, &files)?;
        let (rows, quarantined) = loaded(&report.tables);
        say(&format!(
            "   {}: and its monthly claims files ({} RECEIPTC.UKE): {rows} rows imported, {quarantined} quarantined, \
             {} totals that do not add up reported (data version {})",
            site.id,
            files.len(),
            report.totals_mismatches.len(),
            report.data_version.unwrap_or(0)
        ));
    }
    if dpc {
        let report = crate::site::dpc::import::import(dir, &[site.path.join(synth::dpc::DPC_DIR)])?;
        let (rows, quarantined) = loaded(&report.tables);
        say(&format!(
            "   {}: and its DPC survey files ({} files of 様式1 and EF): {rows} rows imported, {quarantined} quarantined \
             (data version {})",
            site.id,
            report.files.len(),
            report.data_version.unwrap_or(0)
        ));
    }
    Ok(())
}

/// The monthly claims files under `root` (`YYYYMM/RECEIPTC.UKE`), oldest month first.
fn claims_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root).at(root)? {
        let file = entry.at(root)?.path().join(synth::receipt::FILE_NAME);
        if file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

/// The example active-comparator study (novagliptin vs sitagliptin), as an analyst would write it.
const ACTIVE_COMPARATOR: &str = include_str!("../../testdata/scripts/active_comparator.midnet");

/// Each site approves the example script for the project; the analyst extracts it into the project.
fn extract_cohort(
    root: &Path,
    sites: &[synth::SiteSummary],
    project: &str,
    global: &Global,
) -> Result<crate::extract::ExtractReport> {
    let script_path = root.join("scripts").join("active_comparator.midnet");
    std::fs::create_dir_all(root.join("scripts")).at(root.join("scripts"))?;
    std::fs::write(&script_path, ACTIVE_COMPARATOR).at(&script_path)?;
    let script = crate::script::Script::load(&script_path)?;
    for site in sites {
        let values = crate::script::ParamValues::new();
        approve_at_site(site, project, &script, &values)?;
    }
    let home = Home::at(&root.join("center"))?;
    let options = crate::extract::ExtractOptions {
        script: crate::script::Bundle::read(&script_path)?,
        params: Vec::new(),
        cutoff: Some("2025-09-30".into()),
        sites: Vec::new(),
        jobs: 2,
        partial: false,
        transport: crate::extract::Transport::Local,
        wait: None,
        request_seconds: crate::extract::exchange::REQUEST_SECONDS,
    };
    let progress = Progress::new(global.quiet);
    session(&home, "analyst", ANALYST_PASSWORD, |analyst| {
        analyst.run("extract", Some(project), |a| crate::extract::extract(a, project, &options, &progress))
    })
}

/// A site approves a script with these parameters for the demo's project, until revoked.
fn approve_at_site(
    site: &synth::SiteSummary,
    project: &str,
    script: &crate::script::Script,
    values: &crate::script::ParamValues,
) -> Result<()> {
    let approver = crate::site::approve::Approver::new(&format!("Demo reviewer of {}", site.id))?;
    crate::site::approve::approve(&SiteDir::at(&site.path), project, script, values, &approver, None).map(|_| ())
}

/// The protocol script is written as `midnet protocol script` writes it; each site approves it for
/// the demo's drug pair; the analyst runs analysis 1 at the network's data end.
fn run_protocol(
    root: &Path,
    sites: &[synth::SiteSummary],
    project: &str,
    global: &Global,
) -> Result<crate::protocol::RunReport> {
    let (drug, comparator) = ("3969099", "3969010");
    let script_path = root.join("scripts").join("protocol.midnet");
    std::fs::write(&script_path, crate::protocol::Library::builtin().script()).at(&script_path)?;
    let script = crate::script::Script::load(&script_path)?;
    let values = crate::script::ParamValues::parse_args(&[format!("drug={drug}"), format!("comparator={comparator}")])?;
    for site in sites {
        approve_at_site(site, project, &script, &values)?;
    }
    let home = Home::at(&root.join("center"))?;
    let options = crate::protocol::RunOptions {
        drug: vec![drug.into()],
        comparator: vec![comparator.into()],
        cutoff: "2025-09-30".into(),
        outcomes: Vec::new(),
        jobs: 2,
        agents: None,
    };
    let progress = Progress::new(global.quiet);
    session(&home, "analyst", ANALYST_PASSWORD, |analyst| {
        analyst.run("protocol run", Some(project), |a| crate::protocol::run(a, project, &options, &progress))
    })
}

/// The protocol's tables through the export gate: the analyst files the request, naming what the
/// reviewer must accept (event counts under 10 in an unpublished signal-detection analysis), and
/// the reviewer approves it. Returns the released files' names.
fn release_tables(root: &Path, project: &str, run: &crate::protocol::RunReport) -> Result<Vec<String>> {
    use crate::export::{self, Decide, Exception, ExportSpec};
    let home = Home::at(&root.join("center"))?;
    let names: Vec<String> = run.record.tables.iter().map(|t| format!("{}/{t}", run.dir)).collect();
    let files: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut spec =
        ExportSpec::new(project, &files, "early-safety protocol analysis 1: incidence and hazard ratios per outcome");
    spec.programs = vec![format!("protocol/{}", crate::protocol::run::SCRIPT_FILE)];
    spec.exceptions = vec![Exception::parse(
        "small_cell:*:*:counts of a signal-detection analysis released to the operator only; unpublished while monitoring \
         continues (第11 6)",
    )?];
    let request = session(&home, "analyst", ANALYST_PASSWORD, |analyst| {
        analyst.run("export request", Some(project), |a| export::file_export(a, &spec))
    })?;
    session(&home, "reviewer", REVIEWER_PASSWORD, |reviewer| {
        reviewer.run("export review", Some(project), |a| {
            export::review(
                a,
                project,
                &request.id,
                Decide::Approve,
                "aggregate statistics; small counts accepted for internal monitoring",
            )
        })
    })?;
    Ok(names.iter().map(|n| format!("{}/files/{n}", request.id)).collect())
}

/// The analyst fetches the released tables out of the data center and renders the report there.
fn render_released(root: &Path, project: &str, released: &[String]) -> Result<PathBuf> {
    let home = Home::at(&root.join("center"))?;
    let outside = root.join("outside");
    std::fs::create_dir_all(&outside).at(&outside)?;
    let mut files = Vec::new();
    session(&home, "analyst", ANALYST_PASSWORD, |analyst| {
        for name in released {
            let fetched =
                analyst.run("export fetch", Some(project), |a| crate::export::fetch(a, project, name, &outside))?;
            files.extend(fetched.into_iter().map(|f| f.to).filter(|p| p.extension().is_some_and(|e| e == "csv")));
        }
        Ok(())
    })?;
    let html = crate::report::render(
        &crate::report::Tables::read_files(&files)?,
        "Novagliptin vs sitagliptin: early-safety analysis 1 (released)",
        &[],
    );
    let path = outside.join(crate::report::REPORT_FILE);
    crate::store::write_atomically(&path, html.as_bytes())?;
    Ok(path)
}

/// Demo passwords: strong enough for the policy, never containing the user id.
const REVIEWER_PASSWORD: &str = "demo-correct-horse-1";
const ANALYST_PASSWORD: &str = "demo-correct-horse-2";

/// The demo's home runs on a simulated clock that reads this date (a demo must not depend on the
/// day it is run), as homes for tests do; production homes use the system clock.
const DEMO_TODAY: chrono::NaiveDate = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).expect("a valid date");

/// Run `f` as demo user `id` in a session of its own, logged out (and audited) afterwards.
fn session<T>(home: &Home, id: &str, password: &str, f: impl FnOnce(&Actor) -> Result<T>) -> Result<T> {
    let (actor, _) = Actor::login(home, id, password)?;
    let result = f(&actor);
    actor.run("logout", None, Actor::close)?;
    result
}

/// The data center for the demo: a home owned by a reviewer, the synthetic network's registry, an
/// analyst, and a signal-detection project (the early-safety protocol's purpose) with the analyst
/// granted.
fn provision(root: &Path, network: &Path) -> Result<NewProject> {
    let reviewer = NewUser { id: "reviewer".into(), name: "Demo Reviewer".into(), reviewer: true };
    let settings = Settings { simulated_clock: Some(DEMO_TODAY), ..Settings::default() };
    let home = center::create_home(&root.join("center"), &settings, &reviewer, REVIEWER_PASSWORD)?;
    session(&home, "reviewer", REVIEWER_PASSWORD, |reviewer| provision_project(reviewer, network))
}

/// The reviewer registers the sites, adds the analyst, creates the project and grants it.
fn provision_project(reviewer: &Actor, network: &Path) -> Result<NewProject> {
    let registry = crate::center::sites::SiteRegistry::read_toml(&network.join("sites.toml"))?;
    reviewer.run("center sites add", None, |a| crate::project::import_sites(a, registry))?;
    let analyst = NewUser { id: "analyst".into(), name: "Demo Analyst".into(), reviewer: false };
    reviewer.run("user add", None, |a| center::users::create(a, &analyst, ANALYST_PASSWORD))?;
    let today = reviewer.today();
    let project = NewProject {
        id: "P-DEMO-001".into(),
        title: "Early safety monitoring of novagliptin (demo)".into(),
        question: "Do new users of novagliptin have more liver, kidney or blood abnormalities than new users \
                   of sitagliptin?"
            .into(),
        summary: "Shared early-safety protocol on the demo network".into(),
        purpose: Purpose::SignalDetection,
        organization: "midnet demo".into(),
        contractor: "analyst".into(),
        start: today,
        end: crate::clock::add_months(today, 12),
        end_rule: None,
        extraction_from: chrono::NaiveDate::from_ymd_opt(2019, 4, 1).expect("valid date"),
        extraction_to: chrono::NaiveDate::from_ymd_opt(2025, 9, 30).expect("valid date"),
        drug: Some("novagliptin".into()),
        disclose_drug_from: None,
    };
    reviewer.run("project create", Some(&project.id), |a| lifecycle::create(a, &project).map(|_| ()))?;
    reviewer.run("project grant", Some(&project.id), |a| lifecycle::grant(a, &project.id, "analyst", Role::Analyst))?;
    Ok(project)
}
