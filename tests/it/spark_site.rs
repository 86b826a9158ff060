//! A site whose clinical data live in Spark (`site init --engine spark`): created only on loopback,
//! loaded with a DuckDB site's validation into a warehouse whose versions a kill cannot tear,
//! checked through Spark, and extracting, in a network with two DuckDB sites, the rows three
//! DuckDB sites give. Every test runs against the test run's Spark server (`spark::server`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::center::{Center, create_args};
use crate::common::{Run, midnet, midnet_with, tempdir, testdata};
use crate::protocol::{NOVAGLIPTIN, SITAGLIPTIN};
use crate::spark::server;

/// `site init` of a Spark site at `site` with its warehouse `warehouse`.
fn init_spark(dir: &Path, site: &str, warehouse: &str) -> Run {
    midnet(dir, &["site", "init", "--site", site, "--engine", "spark", "--connect", server(), "--warehouse", warehouse])
}

/// The report of `site check --json`.
fn check(dir: &Path, site: &str) -> Value {
    midnet(dir, &["site", "check", "--site", site, "--json"]).ok().json()
}

/// Each table's rows in a `site check` report.
fn rows_per_table(report: &Value) -> BTreeMap<String, i64> {
    let mut rows = BTreeMap::new();
    for t in report["tables"].as_array().unwrap() {
        *rows.entry(t["table"].as_str().unwrap().to_string()).or_insert(0) += t["rows"].as_i64().unwrap();
    }
    rows
}

/// Whether two JSON values are equal, numbers within a relative 1e-9 (Spark sums in another order).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn a_spark_site_is_made_only_on_loopback_with_a_warehouse_of_its_own() {
    let dir = tempdir();
    let d = dir.path();
    let spark = ["site", "init", "--site", "s", "--engine", "spark"];
    let with = |connect: &str, warehouse: &str| {
        let mut args = spark.to_vec();
        args.extend(["--connect", connect, "--warehouse", warehouse]);
        midnet(d, &args)
    };
    with("sc://10.1.2.3:15002", "w").fails(3, "refused (spark_loopback)").fails(3, "no authentication");
    with("sc://spark.example.org:15002", "w").fails(3, "refused (spark_loopback)");
    with("sc://127.0.0.1:15002/;use_ssl=true;token=t", "w").fails(3, "refused (spark_tls)");
    with("sc://127.0.0.1:1", "w").fails(1, "cannot reach the Spark Connect server at sc://127.0.0.1:1");
    assert!(!d.join("s").exists() && !d.join("w").join("current.json").exists(), "a refused init leaves no site");
    midnet(d, &spark).fails(2, "--connect");
    midnet(d, &["site", "init", "--site", "s", "--connect", server()]).fails(2, "go with --engine spark");
    std::fs::create_dir_all(d.join("full")).unwrap();
    std::fs::write(d.join("full/notes.txt"), "the hospital's").unwrap();
    init_spark(d, "s", "full").fails(2, "not empty");
    init_spark(d, "s", "s/warehouse").fails(2, "must not lie inside each other");
    assert!(!d.join("s").exists());

    init_spark(d, "s", "w").ok();
    let config = std::fs::read_to_string(d.join("s/site.toml")).unwrap();
    assert!(config.contains("engine = \"spark\"") && config.contains(server()), "{config}");
    let current: Value = serde_json::from_str(&std::fs::read_to_string(d.join("w/current.json")).unwrap()).unwrap();
    assert_eq!(current["files"].as_array().unwrap().len(), 8, "an empty file per clinical table: {current}");
    init_spark(d, "s", "w2").fails(2, "already a site data source");
    let empty = check(d, "s");
    assert_eq!(empty["data_version"], Value::Null);
    assert!(rows_per_table(&empty).values().all(|rows| *rows == 0), "{empty}");
}

/// A mapping import would bring rows into the catalog, where no reader of a Spark site looks and
/// the next load drops them: refused, saying so, and nothing is imported.
#[test]
fn a_mapping_import_into_a_spark_site_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    init_spark(d, "s", "w").ok();
    std::fs::write(d.join("map.csv"), "kind,local_system,local_code,standard_code,reason\n").unwrap();
    let import = ["site", "mapping", "import", "--site", "s", "map.csv", "--by", "Sato Hanako"];
    midnet(d, &import).fails(3, "refused (spark_mapping)").fails(3, "not built yet");
    let catalog = duckdb::Connection::open(d.join("s/site.duckdb")).unwrap();
    let versions: i64 = catalog.query_row("SELECT count(*) FROM load_history", [], |r| r.get(0)).unwrap();
    assert_eq!(versions, 0, "no data version made");
}

#[test]
fn an_ss_mix2_import_into_a_spark_site_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    init_spark(d, "s", "w").ok();
    std::fs::create_dir(d.join("storage")).unwrap();
    let import = ["site", "import", "ss-mix2", "--site", "s", "storage"];
    midnet(d, &import).fails(3, "refused (spark_ssmix2)").fails(3, "not built yet");
    let catalog = duckdb::Connection::open(d.join("s/site.duckdb")).unwrap();
    let versions: i64 = catalog.query_row("SELECT count(*) FROM load_history", [], |r| r.get(0)).unwrap();
    assert_eq!(versions, 0, "no data version made");
}

#[test]
fn a_spark_site_validates_quarantines_and_checks_as_a_duckdb_site_does() {
    let dir = tempdir();
    let d = dir.path();
    midnet(d, &["synth", "--site-count", "1", "--patients", "300", "--seed", "5", "--dir", "net", "--quiet"]).ok();
    let import = "net/site01/import";
    let patients = format!("{import}/patient.csv");
    midnet(d, &["site", "init", "--site", "duck"]).ok();
    init_spark(d, "spark", "warehouse").ok();
    // Two loads, so that the reports show the changes between two versions.
    for site in ["duck", "spark"] {
        midnet(d, &["site", "load", "--site", site, &patients]).ok();
    }
    let duck = midnet(d, &["site", "load", "--site", "duck", import, "--json"]).ok().json();
    let spark = midnet(d, &["site", "load", "--site", "spark", import, "--json"]).ok().json();
    assert!(same(&duck["files"], &spark["files"]), "the same rows loaded and quarantined:\n{duck}\n{spark}");
    assert!(spark["files"].as_array().unwrap().iter().any(|f| f["rows_quarantined"].as_i64().unwrap() > 0));
    assert_eq!(spark["data_version"], 2);

    let (duck_check, spark_check) = (check(d, "duck"), check(d, "spark"));
    assert!(rows_per_table(&spark_check)["lab_result"] > 0);
    assert!(duck_check["coverage"].as_array().unwrap().len() > 1, "{}", duck_check["coverage"]);
    assert!(duck_check["changes"]["tables"].as_array().unwrap().iter().any(|c| c["rows_before"] != c["rows_after"]));
    for part in
        ["data_version", "tables", "unknown_codes", "analytes", "quarantine", "coverage", "unmapped_codes", "changes"]
    {
        assert!(same(&duck_check[part], &spark_check[part]), "{part}:\n{}\n{}", duck_check[part], spark_check[part]);
    }
    let quarantine = |site: &str| midnet(d, &["site", "quarantine", "--site", site, "--json"]).ok().json();
    assert_eq!(quarantine("duck"), quarantine("spark"));

    // The clinical rows live in the warehouse; the catalog keeps the patients, which loads validate against.
    let catalog = duckdb::Connection::open(d.join("spark/site.duckdb")).unwrap();
    let count = |table: &str| catalog.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0));
    assert_eq!(count("lab_result").unwrap(), 0);
    assert_eq!(count("patient").unwrap(), rows_per_table(&spark_check)["patient"]);
    drop(catalog);

    let again = midnet(d, &["site", "load", "--site", "spark", import, "--json"]).ok().json();
    assert_eq!(again["data_version"], Value::Null, "the same files again make no version: {again}");
    assert_eq!(rows_per_table(&check(d, "spark")), rows_per_table(&spark_check));
}

/// A load killed at any moment leaves the version before it or the one after, never a mix, and
/// the rerun completes it with no row twice. Each site first loads its patients (version 1); the
/// killed load brings in the rest (version 2).
#[test]
fn a_load_into_spark_killed_at_any_moment_leaves_the_old_version_or_the_new() {
    let dir = tempdir();
    let d = dir.path();
    midnet(d, &["synth", "--site-count", "1", "--patients", "200", "--seed", "6", "--dir", "net", "--quiet"]).ok();
    let import = "net/site01/import";
    midnet(d, &["site", "init", "--site", "duck"]).ok();
    midnet(d, &["site", "load", "--site", "duck", import]).ok();
    let whole = rows_per_table(&check(d, "duck"));

    for (n, point) in
        ["load-inserted:2", "spark-files-written", "spark-manifest-swapped", "load-committed"].iter().enumerate()
    {
        let (site, warehouse) = (format!("s{n}"), format!("w{n}"));
        init_spark(d, &site, &warehouse).ok();
        midnet(d, &["site", "load", "--site", &site, &format!("{import}/patient.csv")]).ok();
        let patients_only = rows_per_table(&check(d, &site));
        let run = midnet_with(d, &["site", "load", "--site", &site, import], &[("MIDNET_CRASH_AT", point)], None);
        assert!(run.code == -1 && run.stderr.contains("killed at crash point"), "{point}: {}", run.stderr);
        let after_kill = check(d, &site);
        let expected = if *point == "load-committed" { (2, &whole) } else { (1, &patients_only) };
        assert_eq!(after_kill["data_version"], expected.0, "{point}");
        assert_eq!(&rows_per_table(&after_kill), expected.1, "after a kill at {point}");
        midnet(d, &["site", "load", "--site", &site, import]).ok();
        let rerun = check(d, &site);
        assert_eq!(rows_per_table(&rerun), whole, "the rerun after a kill at {point}");
        let current: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(&warehouse).join("current.json")).unwrap()).unwrap();
        let named: Vec<PathBuf> = current["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| d.join(&warehouse).join(f["file"].as_str().unwrap()))
            .collect();
        for entry in walk(&d.join(&warehouse).join("data")) {
            assert!(named.contains(&entry), "{point}: {} is named by no manifest and was not swept", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

/// A data center with three synthetic hospitals, the one numbered `spark` (from 0), if any, on
/// Spark; a signal-detection project `p1` whose sites approved the example active-comparator
/// script and the early-safety protocol for novagliptin against sitagliptin.
struct Net {
    c: Center,
    script: String,
}

fn network(spark: Option<usize>) -> Net {
    let c = Center::with_users();
    let network = c.root.join("network");
    let out = network.display().to_string();
    c.run("rev", &["synth", "--site-count", "3", "--patients", "400", "--seed", "11", "--dir", &out, "--quiet"]).ok();
    let sites: Vec<String> = (1..=3).map(|n| network.join(format!("site{n:02}")).display().to_string()).collect();
    for (n, dir) in sites.iter().enumerate() {
        let import = format!("{dir}/import");
        if spark == Some(n) {
            let warehouse = c.root.join(format!("warehouse{n}")).display().to_string();
            let init =
                ["site", "init", "--site", dir, "--engine", "spark", "--connect", server(), "--warehouse", &warehouse];
            c.run("rev", &init).ok();
        } else {
            c.run("rev", &["site", "init", "--site", dir, "--quiet"]).ok();
        }
        c.run("rev", &["site", "load", "--site", dir, &import, "--quiet"]).ok();
    }
    c.add_sites(&network.join("sites.toml"));
    c.set_today("2026-06-02");
    c.run("rev", &create_args("p1", "signal_detection", "2026-06-01", "2027-05-31", &[])).ok();
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    let script = testdata("scripts/active_comparator.midnet").display().to_string();
    let protocol = c.root.join("protocol.midnet").display().to_string();
    c.run("alan", &["protocol", "script", "--out", &protocol]).ok();
    let (drug, comparator) = (format!("drug={NOVAGLIPTIN}"), format!("comparator={SITAGLIPTIN}"));
    for dir in &sites {
        let approve = ["site", "approve", "--site", dir, "--project", "p1", "--by", "Sato Hanako"];
        c.run("rev", &[&approve[..], &[script.as_str()]].concat()).ok();
        c.run("rev", &[&approve[..], &[protocol.as_str(), "--param", &drug, "--param", &comparator]].concat()).ok();
    }
    Net { c, script }
}

/// The rows of each dataset of `p1` (by name and version), sorted, person ids and the sites'
/// pseudonyms aside (both are drawn afresh for each project and extraction), and the attrition of
/// every extraction, per site (pseudonyms aside) and summed.
fn datasets(c: &Center) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let listing = c.run("alan", &["datasets", "--project", "p1", "--json"]).ok().json();
    let mut rows = BTreeMap::new();
    for dataset in listing["datasets"].as_array().unwrap() {
        let (name, version) = (dataset["name"].as_str().unwrap(), dataset["version"].as_i64().unwrap());
        let out = format!("{name}-{version}.csv");
        let query = format!("SELECT * EXCLUDE (person_id, site) FROM \"{name}@{version}\" ORDER BY ALL");
        c.run("alan", &["work", "sql", "--project", "p1", "--out", &out, &query]).ok();
        let text = std::fs::read_to_string(c.area("p1").join("work").join(&out)).unwrap();
        rows.insert(format!("{name}@{version}"), text.lines().map(str::to_string).collect());
    }
    let mut attrition = Vec::new();
    for extraction in listing["attrition"].as_array().unwrap() {
        for step in extraction["steps"].as_array().unwrap() {
            let summed = if step["site"] == "all" { "all " } else { "" };
            attrition.push(format!("{} {summed}{}", extraction["extraction"], step["step"]));
        }
    }
    attrition.sort();
    (rows, attrition)
}

/// The protocol's results table: one map of column to cell per row.
fn protocol_results(c: &Center) -> Vec<BTreeMap<String, String>> {
    let path = c.area("p1").join("work/protocol/analysis-1/results.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

/// Whether two cells are equal, numbers within a relative 1e-6 (the rows reach the statistics in
/// another order, person ids being drawn afresh).
fn same_cell(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1e-12),
        _ => a == b,
    }
}

/// The done-when: a network of three sites, one of them on Spark, runs the demo's flow (an
/// extraction and the early-safety protocol, through the whole signed exchange) with the same
/// dataset rows (person ids aside), attrition and protocol results as three DuckDB sites.
#[test]
fn three_sites_one_on_spark_extract_the_rows_of_three_duckdb_sites() {
    let nets = [network(None), network(Some(1))];
    for net in &nets {
        let extract = ["extract", "--project", "p1", &net.script, "--cutoff", "2025-09-30", "--json", "--quiet"];
        net.c.run("alan", &extract).ok();
        let protocol = [
            "protocol",
            "run",
            "--project",
            "p1",
            "--drug",
            NOVAGLIPTIN,
            "--comparator",
            SITAGLIPTIN,
            "--cutoff",
            "2024-03-31",
        ];
        net.c.run("alan", &[&protocol[..], &["--quiet"]].concat()).ok();
    }
    let [(expected, expected_attrition), (got, attrition)] = [datasets(&nets[0].c), datasets(&nets[1].c)];
    assert_eq!(expected.len(), 2, "the example's cohort and the protocol's: {:?}", expected.keys());
    assert!(expected.values().all(|rows| rows.len() > 1), "{expected:?}");
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (name, rows) in &expected {
        assert_eq!(&got[name], rows, "dataset {name}");
    }
    assert!(expected_attrition.iter().any(|step| step.contains(" all ")), "{expected_attrition:?}");
    assert_eq!(attrition, expected_attrition);

    let (expected, got) = (protocol_results(&nets[0].c), protocol_results(&nets[1].c));
    // 400 patients a site give the protocol's outcomes a few events and no estimate (too few to
    // adjust for), but each outcome's events per arm are the Spark site's first events, counted.
    assert!(expected.iter().any(|r| r["events_comparator"] != "0" || r["events_drug"] != "0"), "{expected:?}");
    assert_eq!(got.len(), expected.len());
    for (e, g) in expected.iter().zip(&got) {
        assert!(e.iter().all(|(column, cell)| same_cell(cell, &g[column])), "protocol results:\n{e:?}\n{g:?}");
    }

    let site = nets[1].c.root.join("network/site02").display().to_string();
    let log = nets[1].c.run("rev", &["site", "log", "--site", &site]).ok().stdout;
    assert_eq!(log.matches("sent the result").count(), 2, "the Spark site's own log: {log}");
}
