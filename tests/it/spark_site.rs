//! A site whose clinical data live in Spark (`site init --engine spark`): created only on loopback,
//! loaded with a DuckDB site's validation into a warehouse whose versions a kill cannot tear,
//! checked through Spark, and extracting, in a network with two DuckDB sites, the rows three
//! DuckDB sites give. Every test runs against the test run's Spark server (`spark::server`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::center::{Center, create_args};
use crate::common::{Run, midnet, midnet_with, tempdir, testdata};
use crate::mapping::write_local_files;
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

/// A data center whose one hospital (synthetic, 40 patients, with the hospital files of local codes
/// of `mapping.rs` loaded after its own) is a DuckDB site or a Spark site, and a project `p1` whose
/// site approved `orders.midnet`: every gliptin order of the patients with one, by ingredient.
struct MappedSite {
    c: Center,
    site: String,
    script: String,
}

fn mapped_site(spark: bool) -> MappedSite {
    let c = Center::with_users();
    let network = c.root.join("network");
    let out = network.display().to_string();
    c.run("rev", &["synth", "--site-count", "1", "--patients", "40", "--seed", "7", "--dir", &out, "--quiet"]).ok();
    let site = network.join("site01").display().to_string();
    if spark {
        let warehouse = c.root.join("warehouse").display().to_string();
        c.run(
            "rev",
            &["site", "init", "--site", &site, "--engine", "spark", "--connect", server(), "--warehouse", &warehouse],
        )
        .ok();
    } else {
        c.run("rev", &["site", "init", "--site", &site, "--quiet"]).ok();
    }
    let mut masters: Vec<String> = std::fs::read_dir(network.join("site01/masters"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    masters.sort();
    c.run(
        "rev",
        &[&["site", "masters", "import", "--site", &site][..], &masters.iter().map(String::as_str).collect::<Vec<_>>()]
            .concat(),
    )
    .ok();
    c.run("rev", &["site", "load", "--site", &site, &format!("{site}/import"), "--quiet"]).ok();
    let patients = std::fs::read_to_string(network.join("site01/import/patient.csv")).unwrap();
    let key = patients.lines().nth(1).unwrap().split(',').next().unwrap().to_string();
    let files = write_local_files(&c.root, &key);
    c.run("rev", &["site", "load", "--site", &site, files.to_str().unwrap(), "--quiet"]).ok();
    c.add_sites(&network.join("sites.toml"));
    c.set_today("2026-06-02");
    c.run("rev", &create_args("p1", "signal_detection", "2026-06-01", "2027-05-31", &[])).ok();
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    let script = c.root.join("orders.midnet");
    std::fs::write(
        &script,
        "study \"gliptins\"\n  period: 2018-01-01 to 2025-12-31\nend\n\
         cohort\n  entry first drug_order where yj_code in yj [\"3969099\", \"3969010\"]\nend\n\
         table orders = drug_order where yj_code in yj [\"3969099\", \"3969010\"]\n\
         \x20 ingredient = prefix(yj_code, 7)\n  date\nend\n",
    )
    .unwrap();
    let script = script.display().to_string();
    c.run("rev", &["site", "approve", "--site", &site, "--project", "p1", "--by", "Sato Hanako", &script]).ok();
    MappedSite { c, site, script }
}

impl MappedSite {
    /// `site mapping import` of a mapping file of `lines` (after its header), by `by`.
    fn map(&self, name: &str, lines: &str, by: &str) -> Run {
        let file = self.c.root.join(name);
        std::fs::write(&file, format!("kind,local_system,local_code,standard_code,reason\n{lines}")).unwrap();
        let file = file.display().to_string();
        self.c.run("rev", &["site", "mapping", "import", "--site", &self.site, &file, "--by", by, "--json"])
    }

    fn extract(&self) {
        self.c.run("alan", &["extract", "--project", "p1", &self.script, "--json", "--quiet"]).ok();
    }

    /// The orders of an ingredient in the dataset `orders@version`.
    fn orders(&self, version: i64, ingredient: &str) -> i64 {
        let (rows, _) = datasets(&self.c);
        rows[&format!("orders@{version}")].iter().filter(|r| r.contains(ingredient)).count() as i64
    }
}

/// What a mapping import did, its file's path aside.
fn mapping_counts(imported: &Value) -> Vec<Value> {
    [
        "data_version",
        "decisions",
        "unchanged",
        "undecided",
        "rows_loaded",
        "rows_quarantined",
        "rows_moved",
        "rows_waiting",
    ]
    .iter()
    .map(|k| imported[k].clone())
    .collect()
}

/// Issue 23 ("site load and the importers write the validated rows there"): a mapping of local
/// codes at a Spark site brings the waiting rows into the warehouse as a new data version, where an
/// extraction on Spark finds them as on a DuckDB site; a changed mapping moves them (the rows that
/// came in with the old code leave the warehouse's files of the new version, which the older ones
/// are kept for until the change commits: a kill at any moment leaves the old version readable).
#[test]
fn a_mapped_local_code_reaches_an_extraction_on_spark_as_on_a_duckdb_site() {
    let sites = [mapped_site(false), mapped_site(true)];
    let first = "drug,99HOSP,99A001,3969099F1020,first review\nlab,local,L-AST,3B035000002330001,AST\n";
    let second = "drug,99HOSP,99A001,3969010F1020,wrong ingredient\n";
    let mut imported = Vec::new();
    for s in &sites {
        imported.push(mapping_counts(&s.map("first.csv", first, "Sato Hanako").ok().json()));
        s.extract();
    }
    assert_eq!(imported[1], imported[0], "the first mapping at the Spark site and at the DuckDB site");
    let (duck, spark) = (&sites[0], &sites[1]);
    let before_remap = rows_per_table(&check(&spark.c.root, &spark.site));
    for point in ["spark-files-written", "spark-manifest-swapped"] {
        let file = spark.c.root.join("killed.csv");
        std::fs::write(&file, format!("kind,local_system,local_code,standard_code,reason\n{second}")).unwrap();
        let args = ["site", "mapping", "import", "--site", &spark.site, file.to_str().unwrap(), "--by", "Kato Ken"];
        let run = spark.c.run_env("rev", &args, &[("MIDNET_CRASH_AT", point)], None);
        assert!(run.code == -1 && run.stderr.contains("killed at crash point"), "{point}: {}", run.stderr);
        assert_eq!(rows_per_table(&check(&spark.c.root, &spark.site)), before_remap, "after a kill at {point}");
    }
    let mut moved = Vec::new();
    for s in &sites {
        moved.push(mapping_counts(&s.map("second.csv", second, "Kato Ken").ok().json()));
        s.extract();
    }
    assert_eq!(moved[1], moved[0], "the second mapping at the Spark site and at the DuckDB site");
    assert_eq!(moved[0][6], 3, "the three orders of 99A001 moved: {:?}", moved[0]);

    let (expected, expected_attrition) = datasets(&duck.c);
    let (got, attrition) = datasets(&spark.c);
    assert!(expected.contains_key("orders@2"), "{:?}", expected.keys());
    assert_eq!(got, expected, "the Spark site's datasets");
    assert_eq!(attrition, expected_attrition);
    assert_eq!(duck.orders(1, "3969099") - duck.orders(2, "3969099"), 3, "the remapping moved three orders");
    assert_eq!(duck.orders(2, "3969010") - duck.orders(1, "3969010"), 3);
}

/// The Spark site of `testdata/spark-site-v5` (made by a midnet of schema version 5), unpacked:
/// the catalog as `DIR/old/site.duckdb`, the warehouse as `DIR/old-warehouse`, and `site.toml`
/// naming them and the test run's server. Returns the site directory.
fn old_spark_site(d: &Path) -> String {
    let site = d.join("old");
    std::fs::create_dir_all(&site).unwrap();
    let packed = std::fs::File::open(testdata("spark-site-v5/site.duckdb.gz")).unwrap();
    let mut unpacked = std::fs::File::create(site.join("site.duckdb")).unwrap();
    std::io::copy(&mut flate2::read::GzDecoder::new(packed), &mut unpacked).unwrap();
    let warehouse = d.join("old-warehouse");
    copy_dir(&testdata("spark-site-v5/warehouse"), &warehouse);
    let config = format!("engine = \"spark\"\nconnect = \"{}\"\nwarehouse = \"{}\"\n", server(), warehouse.display());
    std::fs::write(site.join("site.toml"), config).unwrap();
    site.display().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() { copy_dir(&path, &target) } else { std::fs::copy(&path, &target).map(|_| ()).unwrap() }
    }
}

fn warehouse_schema_version(warehouse: &Path) -> i64 {
    let current: Value =
        serde_json::from_str(&std::fs::read_to_string(warehouse.join("current.json")).unwrap()).unwrap();
    current["schema_version"].as_i64().unwrap()
}

/// Issue 23's warehouse migration: a Spark site of the previous schema version is migrated, its
/// catalog and its warehouse, keeping every row; a read before that is refused naming the versions
/// and `site migrate`.
#[test]
fn a_spark_site_of_the_previous_schema_version_is_migrated_with_its_warehouse() {
    let dir = tempdir();
    let d = dir.path();
    let site = old_spark_site(d);
    midnet(d, &["site", "check", "--site", &site]).fails(3, "refused (site_schema)").fails(3, "site migrate");

    let migrated = midnet(d, &["site", "migrate", "--site", &site, "--json"]).ok().json();
    let migration = &migrated["migration"];
    assert_eq!(
        (migration["from_version"].as_i64(), migration["to_version"].as_i64()),
        (Some(5), Some(crate::migration::CURRENT)),
        "{migrated}"
    );
    assert_eq!(warehouse_schema_version(&d.join("old-warehouse")), crate::migration::CURRENT);
    let report = check(d, &site);
    let expected = [
        ("diagnosis", 150),
        ("drug_administration", 45),
        ("drug_order", 176),
        ("encounter", 365),
        ("lab_result", 1907),
        ("observation_period", 80),
        ("patient", 40),
        ("procedure", 541),
    ]
    .map(|(t, n)| (t.to_string(), n));
    assert_eq!(rows_per_table(&report), BTreeMap::from(expected.clone()), "every row of the version-5 site: {report}");
    midnet(d, &["site", "migrate", "--site", &site]).ok();
    assert_eq!(rows_per_table(&check(d, &site)), BTreeMap::from(expected), "migrating again changes nothing");
}

/// A warehouse of an older schema version whose columns are not this schema's cannot be kept as
/// it is: refused, naming the versions, the table and the columns, and nothing is changed (the
/// catalog stays of version 5 too).
#[test]
fn a_spark_warehouse_whose_columns_changed_is_refused_naming_versions_and_columns() {
    let dir = tempdir();
    let d = dir.path();
    let site = old_spark_site(d);
    let file = d.join("old-warehouse/data/v000001/procedure.parquet");
    let changed = d.join("procedure.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT * EXCLUDE (source_file), 1 AS ward FROM read_parquet('{}')) TO '{}' (FORMAT parquet)",
        file.display(),
        changed.display()
    ))
    .unwrap();
    std::fs::rename(&changed, &file).unwrap();

    midnet(d, &["site", "migrate", "--site", &site])
        .fails(3, "refused (site_schema)")
        .fails(3, &format!("schema version 5, this midnet's is {}", crate::migration::CURRENT))
        .fails(3, "table procedure's columns differ")
        .fails(3, "ward INTEGER")
        .fails(3, "source_file VARCHAR")
        .fails(3, "nothing was changed");
    assert_eq!(warehouse_schema_version(&d.join("old-warehouse")), 5);
    let catalog = duckdb::Connection::open(d.join("old/site.duckdb")).unwrap();
    let version: i64 = catalog.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 5, "the catalog was not migrated either");
}
