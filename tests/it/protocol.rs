//! `midnet protocol` and `midnet report`: the shared early-safety protocol run as users of a data
//! center on synthetic networks loaded with `midnet synth --load`, and its validity against the
//! planted effects of truth.json.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::center::{Center, create_args};
use crate::common::{Run, midnet};

/// A data center with a synthetic network registered, a project of the given purpose with
/// analyst alan, and the protocol script written for the sites to approve.
pub struct Monitoring {
    pub c: Center,
    network: PathBuf,
    sites: Vec<PathBuf>,
    script: String,
}

impl Monitoring {
    pub fn new(sites: usize, patients: u64, seed: u64, purpose: &str) -> Monitoring {
        Monitoring::with_files(sites, patients, seed, purpose, |_, _| {})
    }

    /// As [`Monitoring::new`], with each hospital's files changed by `edit` (given the site's number,
    /// from 1, and its import directory) before the site loads them.
    fn with_files(sites: usize, patients: u64, seed: u64, purpose: &str, edit: impl Fn(usize, &Path)) -> Monitoring {
        Monitoring::joined(sites, patients, seed, purpose, &[], |c, i, site| {
            edit(i, &site.join("import"));
            let (dir, import) = (site.display().to_string(), site.join("import").display().to_string());
            c.run("rev", &["site", "init", "--site", &dir, "--quiet"]).ok();
            c.run("rev", &["site", "load", "--site", &dir, &import, "--quiet"]).ok();
        })
    }

    /// As [`Monitoring::new`], every hospital joining through its SS-MIX2 export instead of its CSV
    /// files: its masters, its storage tree (`site import ss-mix2`) and the tree's mapping of local
    /// codes. Nothing of the CSV files is loaded: the sites hold what SS-MIX2 carries (EHR rows, and
    /// the observation periods the import derives), no claims or DPC rows.
    fn from_ss_mix2(sites: usize, patients: u64, seed: u64, purpose: &str) -> Monitoring {
        Monitoring::joined(sites, patients, seed, purpose, &["--format", "csv,ss-mix2"], |c, _, site| {
            let dir = site.display().to_string();
            c.run("rev", &["site", "init", "--site", &dir, "--quiet"]).ok();
            let mut masters: Vec<String> = std::fs::read_dir(site.join("masters"))
                .unwrap()
                .map(|e| e.unwrap().path().display().to_string())
                .collect();
            masters.sort();
            let mut args = vec!["site", "masters", "import", "--site", dir.as_str()];
            args.extend(masters.iter().map(String::as_str));
            c.run("rev", &args).ok();
            let tree = site.join("ss-mix2").display().to_string();
            c.run("rev", &["site", "import", "ss-mix2", "--site", &dir, &tree]).ok();
            let mapping = site.join("ss-mix2-mapping.csv").display().to_string();
            c.run("rev", &["site", "mapping", "import", "--site", &dir, "--by", "Sato Hanako", &mapping]).ok();
        })
    }

    /// As [`Monitoring::new`], every hospital loading only the rows of its EHR (no claims or DPC
    /// rows or periods): what its SS-MIX2 export carries.
    fn ehr_only(sites: usize, patients: u64, seed: u64, purpose: &str) -> Monitoring {
        Monitoring::joined(sites, patients, seed, purpose, &[], |c, _, site| {
            let import = site.join("import");
            for entry in std::fs::read_dir(&import).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap() != "patient.csv" {
                    keep_ehr_rows(&path);
                }
            }
            let (dir, import) = (site.display().to_string(), import.display().to_string());
            c.run("rev", &["site", "init", "--site", &dir, "--quiet"]).ok();
            c.run("rev", &["site", "load", "--site", &dir, &import, "--quiet"]).ok();
        })
    }

    /// A network synthesised with `synth_args`, each site joined to it by `join` (given the site's
    /// number, from 1, and its directory), registered, with project `p1` and the protocol script.
    fn joined(
        sites: usize,
        patients: u64,
        seed: u64,
        purpose: &str,
        synth_args: &[&str],
        join: impl Fn(&Center, usize, &Path),
    ) -> Monitoring {
        let c = Center::with_users();
        let network = c.root.join("network");
        let out = network.display().to_string();
        let (n, p, s) = (sites.to_string(), patients.to_string(), seed.to_string());
        let mut args = vec!["synth", "--site-count", &n, "--patients", &p, "--seed", &s, "--dir", &out, "--quiet"];
        args.extend_from_slice(synth_args);
        c.run("rev", &args).ok();
        for i in 1..=sites {
            join(&c, i, &network.join(format!("site{i:02}")));
        }
        c.add_sites(&network.join("sites.toml"));
        c.set_today("2026-06-02");
        let refinement: &[&str] = &["--drug-name", "novagliptin", "--disclose-drug-from", "2027-01-01"];
        let extra = if purpose == "signal_refinement" { refinement } else { &[] };
        c.run("rev", &create_args("p1", purpose, "2026-06-01", "2027-05-31", extra)).ok();
        c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
        let script = c.root.join("protocol.midnet").display().to_string();
        c.run("alan", &["protocol", "script", "--out", &script]).ok();
        let sites = (1..=sites).map(|i| network.join(format!("site{i:02}"))).collect();
        Monitoring { c, network, sites, script }
    }

    /// Every site approves the protocol script for `p1` and a drug pair (and outcome list).
    pub fn approve(&self, drug: &str, comparator: &str, outcomes: Option<&str>) {
        self.approve_for("p1", drug, comparator, outcomes);
    }

    /// Every site approves the protocol script for a project and a drug pair (and outcome list).
    fn approve_for(&self, project: &str, drug: &str, comparator: &str, outcomes: Option<&str>) {
        let (d, k) = (format!("drug={drug}"), format!("comparator={comparator}"));
        let o = outcomes.map(|o| format!("outcomes={o}"));
        for site in &self.sites {
            let dir = site.display().to_string();
            let mut args = vec!["site", "approve", "--site", dir.as_str(), "--project", project, "--by", "Sato Hanako"];
            args.extend([self.script.as_str(), "--param", &d, "--param", &k]);
            if let Some(o) = &o {
                args.extend(["--param", o.as_str()]);
            }
            self.c.run("rev", &args).ok();
        }
    }

    fn run(&self, drug: &str, comparator: &str, cutoff: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "protocol",
            "run",
            "--project",
            "p1",
            "--drug",
            drug,
            "--comparator",
            comparator,
            "--cutoff",
            cutoff,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        self.c.run("alan", &args)
    }

    fn work(&self) -> PathBuf {
        self.c.area("p1").join("work")
    }

    fn truth(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.network.join("truth.json")).unwrap()).unwrap()
    }
}

/// Rows of a CSV file as maps of column name to cell.
fn csv_rows(path: &std::path::Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

pub const NOVAGLIPTIN: &str = "3969099";
pub const SITAGLIPTIN: &str = "3969010";

#[test]
fn a_run_writes_the_tables_and_a_later_cutoff_adds_an_analysis() {
    let m = Monitoring::new(3, 3000, 11, "signal_detection");
    m.approve(NOVAGLIPTIN, SITAGLIPTIN, None);
    let report = m.run(NOVAGLIPTIN, SITAGLIPTIN, "2024-03-31", &["--json"]).ok().json();
    assert_eq!(report["record"]["analysis"], 1);
    assert_eq!(report["record"]["plan"], "detection");
    let outcomes = midnet::synth::catalog::all_outcomes();
    assert_eq!(report["record"]["tests"].as_u64().unwrap() as usize, 2 * outcomes.len());

    let dir = m.work().join("protocol/analysis-1");
    for table in ["results", "attrition", "baseline"] {
        assert!(dir.join(format!("{table}.csv")).is_file(), "{table}.csv");
        assert!(dir.join(format!("{table}.meta.json")).is_file(), "{table}.meta.json");
    }
    let results = csv_rows(&dir.join("results.csv"));
    assert_eq!(results.len(), 2 * outcomes.len());
    for r in &results {
        // An estimate or the reason there is none; never both, never neither.
        assert_eq!(r["hr"].is_empty(), r["status"] != "estimated", "{r:?}");
        assert_eq!(r["flagged_unadjusted"] == "yes", r["hr_lo95"].parse::<f64>().is_ok_and(|lo| lo > 1.0), "{r:?}");
        assert!(r["model"].contains("age^2") && r["model"].contains("site"));
        let whole = results.iter().find(|w| w["outcome"] == r["outcome"] && w["subgroup"] == "whole cohort").unwrap();
        let n = |row: &std::collections::BTreeMap<String, String>, c: &str| row[c].parse::<u64>().unwrap();
        assert!(n(r, "patients_drug") <= n(whole, "patients_drug"));
    }
    assert!(results.iter().any(|r| r["status"] == "estimated"));
    // Attrition, baseline table and results agree on the patients analysed.
    let attrition = csv_rows(&dir.join("attrition.csv"));
    let analysed: u64 = attrition.last().unwrap()["patients_after"].parse().unwrap();
    let baseline = csv_rows(&dir.join("baseline.csv"));
    let all = baseline.iter().find(|b| b["characteristic"] == "patients").unwrap();
    let total = |row: &std::collections::BTreeMap<String, String>, a: &str, b: &str| {
        row[a].parse::<u64>().unwrap() + row[b].parse::<u64>().unwrap()
    };
    assert_eq!(total(all, "drug_n", "comparator_n"), analysed);
    assert_eq!(total(&results[0], "patients_drug", "patients_comparator"), analysed);
    assert_eq!(attrition[0]["rule"], "entry");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Attrition") && html.contains("outcome &times; subgroup tests"));
    // The run says what the gate will ask the reviewer to accept: small event counts.
    let review = report["record"]["export_review"].as_array().unwrap();
    assert!(
        review
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("results.csv:") && l.as_str().unwrap().contains("small_cell")),
        "{review:?}"
    );
    assert!(html.contains("Export gate"));

    // The export gate reads the sidecars: nothing patient-level, only statistics.
    let files: Vec<String> =
        ["results", "attrition", "baseline"].iter().map(|t| format!("protocol/analysis-1/{t}.csv")).collect();
    let mut args = vec!["export", "check", "--project", "p1", "--stage", "export", "--json"];
    args.extend(files.iter().map(String::as_str));
    let check = m.c.run("alan", &args).json();
    let text = check.to_string();
    assert!(!text.contains("patient_level") && !text.contains("file_type"), "{text}");

    // The same cut-off again, or an earlier one, would change the monitoring record: refused.
    m.run(NOVAGLIPTIN, SITAGLIPTIN, "2024-03-31", &[]).fails(2, "needs a later cut-off");
    m.run("3969010", "3969099", "2025-03-31", &[]).fails(2, "monitors drug 3969099");
    let before = std::fs::read(dir.join("results.csv")).unwrap();
    m.run(NOVAGLIPTIN, SITAGLIPTIN, "2025-09-30", &[]).ok();
    assert_eq!(std::fs::read(dir.join("results.csv")).unwrap(), before, "analysis 1 is never rewritten");
    assert!(m.work().join("protocol/analysis-2/analysis.json").is_file());

    let history = m.c.run("alan", &["protocol", "history", "--project", "p1", "--json"]).ok().json();
    assert_eq!(history["analyses"].as_array().unwrap().len(), 2);
    let alt = history["rows"].as_array().unwrap().iter().find(|r| r["outcome"] == "alt_gt_3uln").unwrap();
    assert_eq!(alt["analyses"].as_array().unwrap().len(), 2);
    let text = m.c.run("alan", &["protocol", "history", "--project", "p1"]).ok().stdout;
    assert!(text.contains("cut-off 2024-03-31") && text.contains("cut-off 2025-09-30"), "{text}");

    // The report from the tables alone, outside the data center.
    let out = m.c.root.join("released-report.html");
    let names: Vec<String> = ["results", "attrition", "baseline"]
        .iter()
        .map(|t| m.work().join(format!("protocol/analysis-2/{t}.csv")).display().to_string())
        .collect();
    let mut args = vec!["report", "--out", out.to_str().unwrap()];
    args.extend(names.iter().map(String::as_str));
    midnet(&m.c.root, &args).ok();
    assert!(std::fs::read_to_string(&out).unwrap().contains("Hazard ratios: baseline normal"));
}

#[test]
fn the_purpose_decides_detection_or_refinement() {
    let m = Monitoring::new(2, 2000, 5, "signal_detection");
    m.run(NOVAGLIPTIN, SITAGLIPTIN, "2025-09-30", &["--outcome-ids", "alt_gt_3uln"]).fails(2, "runs every outcome");
    // Sites have not approved the script for this project: nothing is analysed, and the run says why.
    m.run(NOVAGLIPTIN, SITAGLIPTIN, "2025-09-30", &[]).fails(1, "has not approved");
    m.approve_for("another-project", NOVAGLIPTIN, SITAGLIPTIN, None);
    m.run(NOVAGLIPTIN, SITAGLIPTIN, "2025-09-30", &[]).fails(1, "approved it for other projects only");
    assert!(!m.work().join("protocol/analysis-1").exists());
    // Bad values are named with where they go.
    m.run(NOVAGLIPTIN, SITAGLIPTIN, "2025-13-01", &[]).fails(2, "--cutoff 2025-13-01: `2025-13-01` is not a date");
    m.run("39690X9", SITAGLIPTIN, "2025-09-30", &[]).fails(2, "--drug 39690X9: `39690X9` is not a YJ code");
    assert!(m.c.run("alan", &["protocol", "history", "--project", "p1"]).ok().stdout.contains("no analyses yet"));
    m.c.run("alan", &["protocol", "report", "--project", "p1"]).fails(4, "no analyses yet");

    let r = Monitoring::new(2, 2000, 5, "signal_refinement");
    r.run(NOVAGLIPTIN, SITAGLIPTIN, "2025-09-30", &[]).fails(2, "name the outcomes to refine");
    r.run(NOVAGLIPTIN, SITAGLIPTIN, "2025-09-30", &["--outcome-ids", "alt_gt_3uln,nope"])
        .fails(2, "`nope` is not an outcome");
    r.approve(NOVAGLIPTIN, SITAGLIPTIN, Some("alt_gt_3uln,egfr_lt_60"));
    let report = r
        .run(NOVAGLIPTIN, SITAGLIPTIN, "2025-09-30", &["--outcome-ids", "alt_gt_3uln,egfr_lt_60", "--json"])
        .ok()
        .json();
    assert_eq!(report["record"]["plan"], "refinement");
    assert_eq!(report["record"]["tests"], 4);
    let dir = r.work().join("protocol/analysis-1");
    let onset = csv_rows(&dir.join("onset.csv"));
    assert_eq!(onset.len(), 2 * 2 * 2);
    // A day to onset is one patient's value: a quartile is shown only with 10 events on each side.
    for o in &onset {
        let events: u64 = o["events"].parse().unwrap();
        for (column, needed) in [("onset_days_q1", 41), ("onset_days_median", 21), ("onset_days_q3", 41)] {
            assert_eq!(o[column].is_empty(), events < needed, "{column}: {o:?}");
        }
    }
    // The gate finds nothing in the protocol's tables but their small counts.
    let tables: Vec<String> = report["record"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("protocol/analysis-1/{}", t.as_str().unwrap()))
        .collect();
    let mut args = vec!["export", "check", "--project", "p1", "--stage", "export", "--json"];
    args.extend(tables.iter().map(String::as_str));
    let check = r.c.run("alan", &args).json();
    for file in check["files"].as_array().unwrap() {
        for f in file["findings"].as_array().unwrap() {
            assert_eq!(f["rule"], "small_cell", "{}: {f}", file["path"]);
        }
    }
    let duration = csv_rows(&dir.join("duration.csv"));
    assert_eq!(duration.len(), 2 * 2 * 5 * 2);
    let events: u64 = duration
        .iter()
        .filter(|d| d["outcome"] == "alt_gt_3uln" && d["subgroup"] == "whole cohort" && d["group"] == "drug")
        .map(|d| d["events"].parse::<u64>().unwrap())
        .sum();
    let results = csv_rows(&dir.join("results.csv"));
    let whole = results.iter().find(|x| x["outcome"] == "alt_gt_3uln" && x["subgroup"] == "whole cohort").unwrap();
    assert_eq!(events.to_string(), whole["events_drug"]);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Time to onset (signal refinement)") && html.contains("Incidence by days of use"));
}

#[test]
fn report_errors_name_the_file() {
    let dir = crate::common::tempdir();
    let bad = dir.path().join("other.csv");
    std::fs::write(&bad, "a,b\n1,2\n").unwrap();
    let out = dir.path().join("r.html").display().to_string();
    midnet(dir.path(), &["report", "--out", &out, bad.to_str().unwrap()])
        .fails(2, "not a table of the protocol report");
    let results = dir.path().join("results.csv");
    std::fs::write(&results, "outcome,hr\nx,1\n").unwrap();
    midnet(dir.path(), &["report", "--out", &out, results.to_str().unwrap()]).fails(2, "no column `subgroup`");
    midnet(dir.path(), &["report", "--out", &out, "missing/results.csv"]).fails(4, "no such file");
}

/// Validity: on a fixed-seed network, every planted effect of truth.json is recovered (see
/// [`assert_planted_effects_recovered`]).
#[test]
fn every_planted_effect_is_covered_and_flagged() {
    assert_planted_effects_recovered(&Monitoring::new(5, 20_000, 7, "research"));
}

/// Validity on what SS-MIX2 carries: the same network with only the hospitals' EHR rows (no claims
/// or DPC rows, no claims observation periods). With
/// [`sites_imported_from_ss_mix2_give_the_estimates_of_their_ehr_rows`], it is the validity of the
/// network imported from SS-MIX2, whose storage trees at this size would take about 28 GB of disk
/// (one file per message: 800,000 files a site).
#[test]
fn every_planted_effect_is_covered_and_flagged_on_the_ehr_rows_alone() {
    assert_planted_effects_recovered(&Monitoring::ehr_only(5, 20_000, 7, "research"));
}

/// Sites that joined through their SS-MIX2 exports (storage tree, masters, mapping; issue 20) give
/// the protocol the estimates that the same hospitals' EHR rows give loaded from CSV, for every
/// planted effect: the same patients, events and hazard ratios. The protocol reads rows, so the
/// validity of the EHR rows carries over to the imported network at any size.
#[test]
fn sites_imported_from_ss_mix2_give_the_estimates_of_their_ehr_rows() {
    let (sites, patients) = (3, 3_000);
    let imported = Monitoring::from_ss_mix2(sites, patients, 7, "research");
    for site in &imported.sites {
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
        let conn = duckdb::Connection::open_with_flags(site.join("site.duckdb"), config).unwrap();
        let notes: Vec<String> = conn
            .prepare("SELECT DISTINCT note FROM load_history WHERE change = 'load'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(notes, ["ss-mix2"], "{}: every row came in through the import", site.display());
    }
    let loaded = Monitoring::ehr_only(sites, patients, 7, "research");
    let mut estimated = 0;
    for (k, effect) in planted(&imported.truth()).iter().enumerate() {
        let outcome = effect["outcome"].as_str().unwrap();
        let (a, b) = (refine(&imported, k, effect), refine(&loaded, k, effect));
        eprintln!("{} {outcome}: imported {:?}", effect["drug"], a.iter().map(|r| &r["hr"]).collect::<Vec<_>>());
        assert_eq!(a.len(), b.len(), "{outcome}");
        estimated += a.iter().filter(|r| r["status"] == "estimated").count();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
            for (column, value) in x {
                let other = &y[column];
                match (value.parse::<f64>(), other.parse::<f64>()) {
                    (Ok(u), Ok(v)) => assert!(
                        (u - v).abs() <= 1e-9 * u.abs().max(1.0),
                        "{outcome} {}: {column} {value} imported, {other} loaded",
                        x["subgroup"]
                    ),
                    _ => assert_eq!(value, other, "{outcome} {}: {column}", x["subgroup"]),
                }
            }
        }
    }
    assert!(estimated >= 4, "hazard ratios are compared, not only counts: {estimated} estimated");
}

/// The effects truth.json plants (hazard ratio other than 1).
fn planted(truth: &Value) -> Vec<Value> {
    truth["effects"].as_array().unwrap().iter().filter(|e| e["hazard_ratio"] != 1.0).cloned().collect()
}

/// The results of the protocol run for a planted effect's drug pair in a research project `v<k>`
/// of its own, refining the planted outcome: its rows of results.csv.
fn refine(m: &Monitoring, k: usize, effect: &Value) -> Vec<std::collections::BTreeMap<String, String>> {
    let (drug, comparator) = (effect["drug_yj"].as_str().unwrap(), effect["comparator_yj"].as_str().unwrap());
    let outcome = effect["outcome"].as_str().unwrap();
    let project = format!("v{k}");
    m.c.run("rev", &create_args(&project, "research", "2026-06-01", "2027-05-31", &[])).ok();
    m.c.run("carol", &["project", "grant", &project, "alan", "analyst"]).ok();
    m.approve_for(&project, drug, comparator, Some(outcome));
    let args = [
        "protocol",
        "run",
        "--project",
        &project,
        "--drug",
        drug,
        "--comparator",
        comparator,
        "--cutoff",
        "2025-09-30",
        "--outcome-ids",
        outcome,
        "--quiet",
    ];
    m.c.run("alan", &args).ok();
    csv_rows(&m.c.area(&project).join("work/protocol/analysis-1/results.csv"))
}

/// Every planted effect of truth.json is recovered — the 95% CI of the baseline-normal subgroup's
/// hazard ratio contains the planted value, and it is flagged: its statistic crosses the sequential
/// boundary of the default plan at this first look. One research project per drug pair, each
/// refining the planted outcome.
fn assert_planted_effects_recovered(m: &Monitoring) {
    let planted = planted(&m.truth());
    assert!(planted.len() >= 4, "truth.json plants the four effects of docs/synth.md");
    let mut failures = Vec::new();
    for (k, effect) in planted.iter().enumerate() {
        let (outcome, hr) = (effect["outcome"].as_str().unwrap(), effect["hazard_ratio"].as_f64().unwrap());
        let results = refine(m, k, effect);
        let project = format!("v{k}");
        let row = results.iter().find(|r| r["outcome"] == outcome && r["subgroup"] == "baseline normal").unwrap();
        let (lo, hi) = (row["hr_lo95"].parse::<f64>().unwrap(), row["hr_hi95"].parse::<f64>().unwrap());
        let line = format!(
            "{} {outcome}: planted {hr}, estimated {} ({lo}-{hi}), z {} / boundary {}, flagged {}",
            effect["drug"], row["hr"], row["z"], row["boundary"], row["flagged_sequential"]
        );
        eprintln!("{line}");
        if row["flagged_sequential"] == "yes" {
            let curves = csv_rows(&m.c.area(&project).join("work/protocol/analysis-1/curves.csv"));
            let mine = |g: &str| {
                curves
                    .iter()
                    .filter(|c| c["outcome"] == outcome && c["subgroup"] == "baseline normal" && c["group"] == g)
                    .count()
            };
            assert!(mine("drug") > 1 && mine("comparator") > 1, "curves of the flagged {outcome}");
        }
        if !(lo <= hr && hr <= hi && row["flagged_sequential"] == "yes") {
            failures.push(line);
        }
    }
    assert!(failures.is_empty(), "planted effects not recovered:\n{}", failures.join("\n"));
}

/// Keep the rows of a hospital file whose `source` is `EHR`.
fn keep_ehr_rows(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let header = text.lines().next().unwrap();
    let source = header.split(',').position(|c| c == "source").unwrap_or_else(|| panic!("{}", path.display()));
    filter_lines(path, |f| f[source] == "EHR");
}

/// Keep the lines of a hospital file (header first) for which `keep` holds of their fields.
fn filter_lines(path: &Path, keep: impl Fn(&[&str]) -> bool) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let mut kept = vec![lines.next().unwrap()];
    kept.extend(lines.filter(|l| keep(&l.split(',').collect::<Vec<_>>())));
    std::fs::write(path, kept.join("\n") + "\n").unwrap();
}

/// Novagliptin's new users are all at site01, where no sitagliptin user has an ALT result, and
/// sitagliptin's users at site02 have ALT rises: both groups have events, but never both within
/// one site, so the site-stratified model cannot compare them. The words say so (they said "no
/// events in one group") in the results table, the run's JSON and the report.
#[test]
fn events_in_both_groups_but_never_at_one_site_are_said_as_such() {
    const WORDS: &str = "not estimable: events in both groups, but never in both within one site, so the \
                         site-stratified model cannot compare them (monotone likelihood)";
    let m = Monitoring::with_files(2, 4000, 7, "signal_detection", |site, import| {
        let orders = import.join("drug_order.csv");
        if site == 2 {
            filter_lines(&orders, |f| !f[1].starts_with(NOVAGLIPTIN));
            return;
        }
        let text = std::fs::read_to_string(&orders).unwrap();
        let comparators: std::collections::HashSet<&str> = text
            .lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[1].starts_with(SITAGLIPTIN))
            .map(|f| f[0])
            .collect();
        const ALT: &str = "3B045";
        filter_lines(&import.join("lab_result.csv"), |f| !(comparators.contains(f[0]) && f[1].starts_with(ALT)));
    });
    m.approve(NOVAGLIPTIN, SITAGLIPTIN, None);
    let report = m.run(NOVAGLIPTIN, SITAGLIPTIN, "2025-09-30", &["--json"]).ok().json();
    let line = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["outcome"] == "alt_gt_3uln" && r["subgroup"] == "whole cohort")
        .unwrap()
        .clone();
    assert!(line["events_drug"].as_u64().unwrap() > 0 && line["events_comparator"].as_u64().unwrap() > 0, "{line}");
    assert_eq!(line["status"], WORDS, "{line}");
    let dir = m.work().join("protocol/analysis-1");
    let results = csv_rows(&dir.join("results.csv"));
    let row = results.iter().find(|r| r["outcome"] == "alt_gt_3uln" && r["subgroup"] == "whole cohort").unwrap();
    assert_eq!(row["status"], WORDS);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("events in both groups, but never in both within one site, so the site-stratified model"),
        "the report gives the reason"
    );
    assert!(!results.iter().any(|r| r["status"].contains("no events in one group")), "{results:?}");
}
