//! A site database made by an older midnet (`testdata/site-v1/`, schema version 1) opened by this
//! one: migrated in place by `site migrate` or by a command that writes, refused by one that only
//! reads; a kill mid-migration leaves the old database or the new one; a database newer than the
//! binary is refused by every command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::center::Center;
use crate::common::{Run, midnet, midnet_with, tempdir, testdata};

const CRASH_AT: &str = "MIDNET_CRASH_AT";

/// The schema version this midnet writes.
pub(crate) const CURRENT: i64 = 8;

/// The version-1 fixture, unpacked as `DIR/site/site.duckdb`; returns the site directory.
fn old_site(dir: &Path) -> PathBuf {
    site_of(dir, "site-v1")
}

/// A fixture of `testdata/FIXTURE/`, unpacked as `DIR/site/site.duckdb`; returns the site directory.
fn site_of(dir: &Path, fixture: &str) -> PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    let packed = std::fs::File::open(testdata(&format!("{fixture}/site.duckdb.gz"))).unwrap();
    let mut unpacked = std::fs::File::create(site.join("site.duckdb")).unwrap();
    std::io::copy(&mut flate2::read::GzDecoder::new(packed), &mut unpacked).unwrap();
    site
}

fn read_only(site: &Path) -> duckdb::Connection {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    duckdb::Connection::open_with_flags(site.join("site.duckdb"), config).unwrap()
}

fn query_i64(site: &Path, sql: &str) -> i64 {
    read_only(site).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Rows per table of the site database.
fn row_counts(site: &Path) -> BTreeMap<String, i64> {
    let conn = read_only(site);
    let mut stmt = conn.prepare("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").unwrap();
    let tables: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(|t| t.unwrap()).collect();
    tables
        .into_iter()
        .map(|t| {
            let n: i64 = conn.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0)).unwrap();
            (t, n)
        })
        .collect()
}

fn has_table(site: &Path, table: &str) -> bool {
    query_i64(site, &format!("SELECT count(*) FROM duckdb_tables() WHERE table_name = '{table}'")) == 1
}

/// The example script's cohort query, as `midnet script sql` compiles it.
fn cohort_sql(dir: &Path) -> String {
    let script = testdata("scripts/active_comparator.midnet").display().to_string();
    let args = ["script", "sql", &script, "--param", "cutoff=2024-12-31", "--output", "cohort"];
    midnet(dir, &args).ok().stdout
}

/// The rows a query gives on the site database, each as text, sorted.
fn rows_of(site: &Path, sql: &str) -> Vec<String> {
    let conn = read_only(site);
    let query = format!("SELECT CAST(q AS VARCHAR) FROM (\n{}\n) q", sql.trim().trim_end_matches(';'));
    let mut stmt = conn.prepare(&query).unwrap();
    let mut rows: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    rows.sort();
    rows
}

/// The migration keeps every row, adds the new columns and tables, records a data version, and an
/// extraction's query gives the same rows as before; a real extraction runs on the migrated site.
#[test]
fn an_old_site_migrates_in_place_keeping_every_row_and_extracting_the_same() {
    let dir = tempdir();
    let site = old_site(dir.path());
    let before = row_counts(&site);
    assert!(!before.contains_key("schema_version"), "the fixture is of version 1");
    assert!(before["lab_result"] > 10_000 && before["quarantine"] > 0 && before["script_approval"] == 1);
    let sql = cohort_sql(dir.path());
    let cohort_before = rows_of(&site, &sql);
    assert!(cohort_before.len() > 5, "the example cohort has rows: {cohort_before:?}");

    // A command that only reads refuses, naming the command that migrates, and changes nothing.
    midnet(dir.path(), &["site", "check", "--site", "site"]).fails(3, "midnet site migrate --site site");
    assert_eq!(row_counts(&site), before);

    let report = midnet(dir.path(), &["site", "migrate", "--site", "site", "--json"]).ok().json();
    let migration = &report["migration"];
    assert_eq!((migration["from_version"].as_i64(), migration["to_version"].as_i64()), (Some(1), Some(CURRENT)));
    assert_eq!(migration["data_version"].as_i64(), Some(2), "{report}");

    let after = row_counts(&site);
    for (table, rows) in &before {
        let added = i64::from(table == "load_history");
        assert_eq!(after.get(table), Some(&(rows + added)), "table {table}");
    }
    assert_eq!(after["schema_version"], 1);
    assert_eq!(after["drug_administration"], 0);
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), CURRENT);
    let new_columns = [
        ("diagnosis", "end_date"),
        ("diagnosis", "disease_outcome"),
        ("diagnosis", "diagnosis_kind"),
        ("lab_result", "specimen"),
        ("lab_result", "result_status"),
        ("encounter", "admission_route"),
        ("encounter", "discharge_destination"),
        ("encounter", "discharge_outcome"),
        ("patient", "source_file"),
        ("procedure", "source_file"),
    ];
    for (table, column) in new_columns {
        let sql =
            format!("SELECT count(*) FROM duckdb_columns() WHERE table_name = '{table}' AND column_name = '{column}'");
        assert_eq!(query_i64(&site, &sql), 1, "{table}.{column}");
    }
    // What the old data say is filled in: each row's file, each lab result's specimen.
    assert_eq!(query_i64(&site, "SELECT count(*) FROM lab_result WHERE source_file <> 'lab_result.csv'"), 0);
    assert_eq!(query_i64(&site, "SELECT count(*) FROM diagnosis WHERE source_file IS NULL"), 0);
    assert_eq!(
        query_i64(&site, "SELECT count(*) FROM lab_result WHERE specimen IS DISTINCT FROM substr(jlac10, 10, 3)"),
        0
    );
    // The migration is a data version of its own; the load's version is still there.
    assert_eq!(
        query_i64(&site, "SELECT count(*) FROM load_history WHERE data_version = 2 AND change = 'migration'"),
        1
    );
    assert_eq!(query_i64(&site, "SELECT count(*) FROM load_history WHERE data_version = 1 AND change = 'load'"), 1);
    assert_eq!(rows_of(&site, &sql), cohort_before, "the extraction's query gives the same rows");
    assert!(std::fs::read_dir(&site).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("migrate")));

    midnet(dir.path(), &["site", "migrate", "--site", "site"]).ok();
    assert_eq!(row_counts(&site), after, "a second migration finds nothing to do");

    // The data center extracts from the migrated site with the approval the old midnet recorded.
    let c = Center::with_users();
    let network = c.root.join("network");
    std::fs::create_dir_all(&network).unwrap();
    std::fs::rename(&site, network.join("site01")).unwrap();
    // A site made before midnet signed results makes its key pair now and gives its public key.
    let key = c.run("rev", &["site", "key", "--site", &network.join("site01").display().to_string(), "--json"]).ok();
    assert_eq!(key.json()["made"], true);
    std::fs::write(
        network.join("sites.toml"),
        "[[site]]\nid = \"site01\"\nname = \"北山大学病院\"\naliases = [\"Kitayama University Hospital\"]\npath = \"site01\"\n\
         key_file = \"site01/keys/site.pub\"\n",
    )
    .unwrap();
    c.add_sites(&network.join("sites.toml"));
    c.set_today("2026-06-02");
    c.research_project("p1");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    let script = testdata("scripts/active_comparator.midnet").display().to_string();
    let extracted =
        c.run("alan", &["extract", "--project", "p1", &script, "--cutoff", "2024-12-31", "--json", "--quiet"]).ok();
    let outcome = &extracted.json()["sites"][0];
    assert_eq!(outcome["status"], "accepted", "{}", extracted.stdout);
    assert_eq!(outcome["rows"]["cohort"].as_u64(), Some(cohort_before.len() as u64), "{}", extracted.stdout);
}

/// A site made by the midnet of schema version 2 migrates to 3: every row kept, the official
/// masters' tables added empty, a data version; a masters import on such a site migrates it first.
#[test]
fn a_version_2_site_migrates_keeping_every_row_and_takes_masters() {
    let dir = tempdir();
    let site = site_of(dir.path(), "site-v2");
    let before = row_counts(&site);
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), 2, "the fixture is of version 2");
    assert!(before["drug_administration"] > 0 && !before.contains_key("master_file"));
    let sql = cohort_sql(dir.path());
    let cohort_before = rows_of(&site, &sql);
    let outcomes = "SELECT count(*) FROM diagnosis WHERE outcome IS NOT NULL";
    let outcomes_before = query_i64(&site, outcomes);
    assert!(outcomes_before > 0, "the fixture's diagnoses have outcomes");

    let report = midnet(dir.path(), &["site", "migrate", "--site", "site", "--json"]).ok().json();
    let migration = &report["migration"];
    assert_eq!((migration["from_version"].as_i64(), migration["to_version"].as_i64()), (Some(2), Some(CURRENT)));
    // The diagnosis's outcome is renamed, its values kept.
    assert_eq!(query_i64(&site, &outcomes.replace("outcome", "disease_outcome")), outcomes_before);
    assert_eq!(migration["data_version"].as_i64(), Some(2), "{report}");
    let after = row_counts(&site);
    for (table, rows) in &before {
        let added = i64::from(table == "load_history");
        assert_eq!(after.get(table), Some(&(rows + added)), "table {table}");
    }
    for table in ["master_file", "master_hot", "master_drug", "master_disease", "master_modifier", "master_procedure"] {
        assert_eq!(after.get(table), Some(&0), "{table}");
    }
    assert_eq!(rows_of(&site, &sql), cohort_before, "the extraction's query gives the same rows");

    // An import into a site of version 2 migrates it first: two data versions.
    let dir = tempdir();
    let site = site_of(dir.path(), "site-v2");
    midnet(dir.path(), &["synth", "--site-count", "1", "--patients", "1", "--dir", "net", "--quiet"]).ok();
    let run = midnet(dir.path(), &["site", "masters", "import", "--site", "site", "net/site01/masters/y.csv"]).ok();
    let migrated = format!("migrated the site database from schema version 2 to {CURRENT}");
    assert!(run.stdout.contains(&migrated), "{}", run.stdout);
    assert_eq!(query_i64(&site, "SELECT max(data_version) FROM load_history WHERE change = 'masters'"), 3);
    assert_eq!(query_i64(&site, "SELECT count(*) FROM master_drug"), before["drug_master"]);
}

/// A site made by the midnet of schema version 3 (testdata/site-v3, today's main before the mapping)
/// migrates to 4: every row kept, the mapping's tables added empty and its columns on the four coded
/// tables, a data version; the extraction's query gives the same rows, and the migrated site takes
/// rows with local codes.
#[test]
fn a_version_3_site_migrates_keeping_every_row_and_takes_local_codes() {
    let dir = tempdir();
    let site = site_of(dir.path(), "site-v3");
    let before = row_counts(&site);
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), 3, "the fixture is of version 3");
    assert!(before["master_drug"] > 0 && before["lab_result"] > 10_000 && !before.contains_key("local_row"));
    let sql = cohort_sql(dir.path());
    let cohort_before = rows_of(&site, &sql);
    assert!(cohort_before.len() > 5, "the example cohort has rows: {cohort_before:?}");

    let report = midnet(dir.path(), &["site", "migrate", "--site", "site", "--json"]).ok().json();
    let migration = &report["migration"];
    assert_eq!((migration["from_version"].as_i64(), migration["to_version"].as_i64()), (Some(3), Some(CURRENT)));
    assert_eq!(migration["data_version"].as_i64(), Some(3), "{report}");
    let after = row_counts(&site);
    for (table, rows) in &before {
        let added = i64::from(table == "load_history");
        assert_eq!(after.get(table), Some(&(rows + added)), "table {table}");
    }
    for table in ["local_row", "local_code_map", "quality_history"] {
        assert_eq!(after.get(table), Some(&0), "{table}");
    }
    for table in ["diagnosis", "drug_order", "drug_administration", "lab_result"] {
        let sql = format!(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = '{table}' AND column_name IN ('local_system', 'local_code')"
        );
        assert_eq!(query_i64(&site, &sql), 2, "{table}");
        assert_eq!(query_i64(&site, &format!("SELECT count(local_code) FROM {table}")), 0, "{table}");
    }
    assert_eq!(rows_of(&site, &sql), cohort_before, "the extraction's query gives the same rows");

    let key: String = read_only(&site).query_row("SELECT min(patient_key) FROM patient", [], |r| r.get(0)).unwrap();
    std::fs::write(
        dir.path().join("drug_order.csv"),
        format!("patient_key,order_date,days_supply,route,setting,source,local_code\n{key},2024-01-05,7,oral,outpatient,EHR,99X1\n"),
    )
    .unwrap();
    let load = midnet(dir.path(), &["site", "load", "--site", "site", "drug_order.csv", "--json"]).ok().json();
    assert_eq!(
        (load["data_version"].as_i64(), load["files"][0]["rows_waiting"].as_u64()),
        (Some(4), Some(1)),
        "{load}"
    );
}

/// A site made by the midnet of schema version 4 (testdata/site-v4, main before the SS-MIX2 import)
/// migrates to 5: every row kept, the record of SS-MIX2 files added empty, a data version; an
/// SS-MIX2 import on such a site migrates it first.
#[test]
fn a_version_4_site_migrates_keeping_every_row_and_takes_an_ss_mix2_import() {
    let dir = tempdir();
    let site = site_of(dir.path(), "site-v4");
    let before = row_counts(&site);
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), 4, "the fixture is of version 4");
    assert!(before["lab_result"] > 10_000 && before["script_approval"] == 1 && !before.contains_key("ssmix2_file"));
    let sql = cohort_sql(dir.path());
    let cohort_before = rows_of(&site, &sql);
    assert!(cohort_before.len() > 5, "the example cohort has rows: {cohort_before:?}");

    std::fs::create_dir(dir.path().join("storage")).unwrap();
    let args = ["site", "import", "ss-mix2", "--site", "site", "--json", "storage"];
    let report = midnet(dir.path(), &args).ok().json();
    let migration = &report["migration"];
    assert_eq!((migration["from_version"].as_i64(), migration["to_version"].as_i64()), (Some(4), Some(CURRENT)));
    assert_eq!(migration["data_version"].as_i64(), Some(3), "{report}");
    assert_eq!(report["data_version"], serde_json::Value::Null, "an empty storage makes no data version: {report}");
    let after = row_counts(&site);
    for (table, rows) in &before {
        let added = i64::from(table == "load_history");
        assert_eq!(after.get(table), Some(&(rows + added)), "table {table}");
    }
    assert_eq!(after.get("ssmix2_file"), Some(&0));
    assert_eq!((after.get("receipt_file"), after.get("receipt_diagnosis")), (Some(&0), Some(&0)));
    assert_eq!(after.get("dpc_file"), Some(&0));
    assert_eq!(rows_of(&site, &sql), cohort_before, "the extraction's query gives the same rows");
}

/// A site made by the midnet of schema version 6 (testdata/site-v6, main before the DPC import, with
/// claims imported) migrates to the current version: every row kept, the record of DPC files added empty, a data
/// version; a DPC import on such a site migrates it first.
#[test]
fn a_version_6_site_migrates_keeping_every_row_and_takes_a_dpc_import() {
    let dir = tempdir();
    let site = site_of(dir.path(), "site-v6");
    let before = row_counts(&site);
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), 6, "the fixture is of version 6");
    assert!(before["receipt_file"] > 0 && before["receipt_diagnosis"] > 0 && !before.contains_key("dpc_file"));
    let sql = cohort_sql(dir.path());
    let cohort_before = rows_of(&site, &sql);
    assert!(!cohort_before.is_empty(), "the example cohort has rows");

    std::fs::create_dir(dir.path().join("dpc")).unwrap();
    let report = midnet(dir.path(), &["site", "import", "dpc", "--site", "site", "--json", "dpc"]).ok().json();
    let migration = &report["migration"];
    assert_eq!((migration["from_version"].as_i64(), migration["to_version"].as_i64()), (Some(6), Some(CURRENT)));
    assert_eq!(report["data_version"], serde_json::Value::Null, "no file makes no data version: {report}");
    let after = row_counts(&site);
    for (table, rows) in &before {
        let added = i64::from(table == "load_history");
        assert_eq!(after.get(table), Some(&(rows + added)), "table {table}");
    }
    assert_eq!(after.get("dpc_file"), Some(&0));
    assert_eq!(after.get("receipt_month"), Some(&0), "the months of the claims read before are not in the files' rows");
    assert_eq!(rows_of(&site, &sql), cohort_before, "the extraction's query gives the same rows");
}

/// A site made by the midnet of schema version 7 (testdata/site-v7, with DPC files imported)
/// migrates to 8 keeping every row, its DPC files' record included, and then takes an outpatient
/// EF (a `dpc_file` of kind `EFg`, which version 7 could not record).
#[test]
fn a_version_7_site_migrates_keeping_its_dpc_files_and_takes_an_outpatient_ef() {
    let dir = tempdir();
    let site = site_of(dir.path(), "site-v7");
    let before = row_counts(&site);
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), 7, "the fixture is of version 7");
    assert!(before["dpc_file"] > 0, "the fixture has DPC files");
    let mut line = vec!["0"; 31];
    line[..9].copy_from_slice(&["131000001", "12345", "19800101", "20240510", "12", "0001", "001", "L1", "112007410"]);
    (line[16], line[20], line[23]) = ("000000000000", "1", "20240510");
    std::fs::write(dir.path().join("EFg.txt"), line.join("\t") + "\r\n").unwrap();
    let report = midnet(dir.path(), &["site", "import", "dpc", "--site", "site", "--json", "EFg.txt"]).ok().json();
    let migration = &report["migration"];
    assert_eq!((migration["from_version"].as_i64(), migration["to_version"].as_i64()), (Some(7), Some(CURRENT)));
    let after = row_counts(&site);
    for (table, rows) in &before {
        assert!(after.get(table) >= Some(rows), "table {table} keeps its rows: {before:?} {after:?}");
    }
    let kinds = "SELECT kind, count(*) FROM dpc_file GROUP BY kind ORDER BY kind";
    let conn = read_only(&site);
    let mut stmt = conn.prepare(kinds).unwrap();
    let kinds: Vec<(String, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(kinds.iter().find(|(k, _)| k == "EFg"), Some(&("EFg".to_string(), 1)), "{kinds:?}");
    assert_eq!(kinds.iter().map(|(_, n)| n).sum::<i64>(), before["dpc_file"] + 1);
}

fn killed_at(run: &Run, point: &str) -> bool {
    run.code == -1 && run.stderr.contains(&format!("killed at crash point {point}"))
}

/// Killed before the new database replaced the old one, the site is as it was and the next
/// command migrates it; killed after, it is migrated.
#[test]
fn a_kill_mid_migration_leaves_the_old_database_or_the_new() {
    let dir = tempdir();
    let site = old_site(dir.path());
    let before = row_counts(&site);
    let run = midnet_with(dir.path(), &["site", "migrate", "--site", "site"], &[(CRASH_AT, "migrate-built")], None);
    assert!(killed_at(&run, "migrate-built"), "{}", run.stderr);
    assert_eq!(row_counts(&site), before, "the old database, untouched");
    assert!(!has_table(&site, "schema_version"));
    midnet(dir.path(), &["site", "migrate", "--site", "site"]).ok();
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), CURRENT);
    let left: Vec<String> =
        std::fs::read_dir(&site).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, ["site.duckdb"], "what the killed migration left is removed");

    let dir = tempdir();
    let site = old_site(dir.path());
    let run = midnet_with(dir.path(), &["site", "migrate", "--site", "site"], &[(CRASH_AT, "migrate-renamed")], None);
    assert!(killed_at(&run, "migrate-renamed"), "{}", run.stderr);
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), CURRENT);
    assert_eq!(query_i64(&site, "SELECT count(*) FROM lab_result"), before["lab_result"]);
    midnet(dir.path(), &["site", "check", "--site", "site"]).ok();
}

/// `site load` on an old site migrates it first (one data version), then loads (another).
#[test]
fn a_load_into_an_old_site_migrates_it_first() {
    let dir = tempdir();
    let site = old_site(dir.path());
    std::fs::write(
        dir.path().join("drug_administration.csv"),
        "patient_key,yj_code,start_time,amount,amount_unit,route,setting,source\n\
         K00000000,6132419A1020,2024-04-16 09:00,1,g,injection,inpatient,EHR\n",
    )
    .unwrap();
    let key: String = read_only(&site).query_row("SELECT min(patient_key) FROM patient", [], |r| r.get(0)).unwrap();
    let text = std::fs::read_to_string(dir.path().join("drug_administration.csv")).unwrap().replace("K00000000", &key);
    std::fs::write(dir.path().join("drug_administration.csv"), text).unwrap();
    let run = midnet(dir.path(), &["site", "load", "--site", "site", "drug_administration.csv"]).ok();
    let migrated = format!("migrated the site database from schema version 1 to {CURRENT}");
    assert!(run.stdout.contains(&migrated), "{}", run.stdout);
    assert_eq!(query_i64(&site, "SELECT count(*) FROM drug_administration"), 1);
    assert_eq!(query_i64(&site, "SELECT max(data_version) FROM load_history WHERE change = 'load'"), 3);
}

/// A database of a newer schema than the binary's is refused by every command, unchanged.
#[test]
fn a_newer_database_is_refused_by_every_command() {
    let dir = tempdir();
    let site = dir.path().join("site");
    midnet(dir.path(), &["site", "init", "--site", "site"]).ok();
    {
        let conn = duckdb::Connection::open(site.join("site.duckdb")).unwrap();
        conn.execute_batch(
            "UPDATE schema_version SET version = 9;
             INSERT INTO load_history (data_version, loaded_at, midnet_version, rows_loaded, rows_quarantined, change)
             VALUES (1, now()::TIMESTAMP, '7.0.0', 0, 0, 'migration')",
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("patient.csv"), "patient_key,sex,birth_date\nA1,F,1950-01-01\n").unwrap();
    let before = row_counts(&site);
    for args in [
        &["site", "load", "--site", "site", "patient.csv"][..],
        &["site", "migrate", "--site", "site"],
        &["site", "check", "--site", "site"],
        &["site", "quarantine", "--site", "site"],
    ] {
        let run = midnet(dir.path(), args)
            .fails(3, &format!("schema version 9 (migrated by midnet 7.0.0), newer than this midnet's ({CURRENT}"));
        assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    }
    assert_eq!(row_counts(&site), before);
}

/// A site older still, whose approvals named no project: the migration keeps that table whole, and
/// the site's next `site approve` sets its rows aside as before (src/site/approve.rs).
#[test]
fn approvals_that_name_no_project_survive_the_migration_whole() {
    let dir = tempdir();
    let site = old_site(dir.path());
    {
        let conn = duckdb::Connection::open(site.join("site.duckdb")).unwrap();
        conn.execute_batch(
            "DROP TABLE script_approval;
             CREATE TABLE script_approval (script_sha256 VARCHAR NOT NULL, params_json VARCHAR NOT NULL,
                 midnet_version VARCHAR NOT NULL, approved_at TIMESTAMP NOT NULL, PRIMARY KEY (script_sha256, params_json));
             INSERT INTO script_approval VALUES ('abc', '{}', '0.1.0', TIMESTAMP '2026-01-01 00:00:00');",
        )
        .unwrap();
    }
    midnet(dir.path(), &["site", "migrate", "--site", "site"]).ok();
    assert_eq!(query_i64(&site, "SELECT max(version) FROM schema_version"), CURRENT);
    assert_eq!(query_i64(&site, "SELECT count(*) FROM script_approval WHERE script_sha256 = 'abc'"), 1);
    let script = testdata("scripts/active_comparator.midnet").display().to_string();
    midnet(dir.path(), &["site", "approve", "--site", "site", "--project", "p1", "--by", "Sato Hanako", &script]).ok();
    assert_eq!(query_i64(&site, "SELECT count(*) FROM script_approval_unbound WHERE script_sha256 = 'abc'"), 1);
    assert_eq!(query_i64(&site, "SELECT count(*) FROM script_approval WHERE project = 'p1'"), 1);
}
