//! `midnet site approve`, `midnet extract` and `midnet datasets` on a small synthetic network, and
//! the analysts' workbench (`midnet work sql|import`) over the datasets they bring in.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::network::Network;

fn status_of<'a>(report: &'a Value, status: &str) -> Vec<&'a str> {
    report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == status)
        .map(|s| s["site"].as_str().unwrap())
        .collect()
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn a_site_runs_only_what_it_approved_and_a_rerun_completes_the_extraction() {
    let n = Network::new();
    n.approve(0, &[]).ok();
    n.approve(1, &[]).ok();
    let first = n.extract("p1", &["--cutoff", "2025-09-30"]).fails(1, "extraction 1 is incomplete");
    let report = first.json();
    assert_eq!(status_of(&report, "accepted").len(), 2);
    let failed = status_of(&report, "failed");
    assert_eq!(failed.len(), 1);
    let reason = report["sites"].as_array().unwrap().iter().find(|s| s["status"] == "failed").unwrap()["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("refused (site_approval)") && reason.contains(failed[0]), "{reason}");
    assert!(
        first.stderr.contains(&format!("--sites {}", failed[0])),
        "the error says how to complete: {}",
        first.stderr
    );
    assert!(report["datasets"].as_array().unwrap().is_empty(), "nothing is unioned while a site is missing");
    let listing = n.datasets("p1");
    assert!(listing["extractions"][0]["completed_at"].is_null());
    assert!(listing["datasets"].as_array().unwrap().is_empty());

    n.approve(2, &[]).ok();
    let rerun = n.extract("p1", &["--cutoff", "2025-09-30", "--sites", failed[0]]).ok().json();
    assert_eq!(rerun["extraction"], 1, "the rerun completes the same extraction");
    assert_eq!(rerun["already_accepted"].as_array().unwrap().len(), 2);
    assert_eq!(status_of(&rerun, "accepted"), failed);
    let dataset = &rerun["datasets"][0];
    assert_eq!(dataset["name"], "cohort");
    assert_eq!(dataset["version"], 1);
    assert_eq!(dataset["sites"].as_array().unwrap().len(), 3);
    let rows = dataset["rows"].as_i64().unwrap();
    assert!(rows > 50, "a cohort from three sites: {rows}");
    assert_eq!(n.count("p1", r#"SELECT count(*) FROM "cohort@1""#), rows);
    assert_eq!(n.count("p1", r#"SELECT count(DISTINCT site) FROM "cohort@1""#), 3);

    // Attrition per site and summed: the sum's last step is the dataset's patients.
    let listing = n.datasets("p1");
    let steps = listing["attrition"][0]["steps"].as_array().unwrap();
    let all: Vec<&Value> = steps.iter().filter(|s| s["site"] == "all").collect();
    assert_eq!(all.last().unwrap()["step"]["patients_after"].as_i64().unwrap(), rows);
    assert_eq!(all[0]["step"]["patients_before"], 6000);
    let text = n.c.run("alan", &["datasets", "--project", "p1"]).ok().stdout;
    assert!(
        text.contains("cohort@1") && text.contains("new user: no study drug in the washout before index"),
        "{text}"
    );
}

#[test]
fn a_changed_parameter_needs_a_new_approval_and_a_later_cutoff_does_not() {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", &["--cutoff", "2024-12-31", "--param", "washout=180"]).fails(1, "incomplete").json()["sites"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(|s| assert!(s["reason"].as_str().unwrap().contains("has not approved"), "{s}"));
    let early = n.extract("p1", &["--cutoff", "2024-12-31"]).ok().json();
    assert_eq!(early["datasets"][0]["version"], 1);
    let v1 = n.c.area("p1").join("datasets/cohort@1.parquet");
    let v1_hash = sha256(&v1);
    let late = n.extract("p1", &["--cutoff", "2025-09-30"]).ok().json();
    assert_eq!(late["datasets"][0]["version"], 2, "a new cut-off makes a new version");
    assert_eq!(sha256(&v1), v1_hash, "and never changes an old one");
    let (rows1, rows2) =
        (early["datasets"][0]["rows"].as_i64().unwrap(), late["datasets"][0]["rows"].as_i64().unwrap());
    assert!(rows2 >= rows1, "a later cut-off admits at least the patients of an earlier one: {rows1} then {rows2}");
    assert_eq!(n.count("p1", r#"SELECT count(*) FROM "cohort@1" WHERE index_date > DATE '2024-12-31'"#), 0);

    // The approved parameter values, given explicitly, are the same approval.
    n.extract("p1", &["--cutoff", "2025-09-30", "--param", "washout=365", "--param", "drug=3969099"]).ok();
    // A script with another text is another script.
    let edited = n.c.root.join("edited.midnet");
    let text = std::fs::read_to_string(&n.script).unwrap().replace("washout: integer = 365", "washout: integer = 366");
    std::fs::write(&edited, text).unwrap();
    let edited = edited.display().to_string();
    let run = n.c.run("alan", &["extract", "--project", "p1", &edited, "--cutoff", "2025-09-30", "--quiet"]);
    run.fails(1, "incomplete");
}

#[test]
fn the_same_cutoff_gives_the_same_rows_under_fresh_person_ids() {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", &["--cutoff", "2025-09-30"]).ok();
    n.extract("p1", &["--cutoff", "2025-09-30"]).ok();
    let rows = n.count("p1", r#"SELECT count(*) FROM "cohort@1""#);
    assert_eq!(n.count("p1", r#"SELECT count(*) FROM "cohort@2""#), rows);
    let differ = r#"SELECT count(*) FROM (
        (SELECT * EXCLUDE (person_id, site) FROM "cohort@1" EXCEPT ALL SELECT * EXCLUDE (person_id, site) FROM "cohort@2")
        UNION ALL
        (SELECT * EXCLUDE (person_id, site) FROM "cohort@2" EXCEPT ALL SELECT * EXCLUDE (person_id, site) FROM "cohort@1"))"#;
    assert_eq!(n.count("p1", differ), 0);
    let shared = r#"SELECT count(*) FROM "cohort@1" JOIN "cohort@2" USING (person_id)"#;
    assert_eq!(n.count("p1", shared), 0, "person ids are drawn afresh for every extraction");
}

#[test]
fn nothing_leaves_a_site_that_leads_back_to_a_hospital_record() {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", &["--cutoff", "2025-09-30"]).ok();
    let header = &n.sql("p1", r#"SELECT * FROM "cohort@1" LIMIT 1"#)[0];
    let columns: Vec<&str> = header.split(',').collect();
    assert_eq!(columns[..2], ["site", "person_id"]);
    for banned in ["patient_key", "birth_date", "death_date"] {
        assert!(!columns.contains(&banned), "{banned} in {header}");
    }
    assert!(columns.contains(&"birth_year_month"));
    let ids = n.sql("p1", r#"SELECT DISTINCT person_id FROM "cohort@1""#);
    assert!(ids[1..].iter().all(|id| id.len() == 25 && id.starts_with('P')), "{:?}", &ids[..3]);
    // No person id is a patient key of any site, and no site keeps a table of them.
    for site in &n.sites {
        let conn = duckdb::Connection::open(site.join("site.duckdb")).unwrap();
        for id in &ids[1..] {
            let hits: i64 =
                conn.query_row("SELECT count(*) FROM patient WHERE patient_key = ?", [id], |r| r.get(0)).unwrap();
            assert_eq!(hits, 0);
        }
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name ILIKE '%person%' OR table_name ILIKE '%link%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "the site keeps no linking table");
        let outbox = site.join("outbox");
        let left = std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "the site keeps nothing of the extraction once the center accepted it");
    }
    // Birth dates: only the year and month.
    assert_eq!(n.count("p1", r#"SELECT count(*) FROM "cohort@1" WHERE length(birth_year_month) <> 7"#), 0);

    // A script that outputs the birth date is refused before it reaches a site.
    let leaky = n.c.root.join("leaky.midnet");
    let text = std::fs::read_to_string(&n.script)
        .unwrap()
        .replace("birth_year_month = year_month(birth_date)", "born = birth_date");
    std::fs::write(&leaky, text).unwrap();
    n.c.run("alan", &["extract", "--project", "p1", &leaky.display().to_string(), "--cutoff", "2025-09-30"])
        .fails(2, "would output the birth date");
}

#[test]
fn hospitals_appear_in_a_project_only_under_its_own_pseudonyms() {
    let n = Network::new();
    n.approve_all();
    n.approve_all_for("p2");
    n.c.research_project("p2");
    n.c.run("carol", &["project", "grant", "p2", "alan", "analyst"]).ok();
    let one: BTreeSet<String> =
        Network::pseudonyms(&n.extract("p1", &["--cutoff", "2025-09-30"]).ok().json()).into_iter().collect();
    let two: BTreeSet<String> =
        Network::pseudonyms(&n.extract("p2", &["--cutoff", "2025-09-30"]).ok().json()).into_iter().collect();
    assert_eq!((one.len(), two.len()), (3, 3));
    assert!(one.is_disjoint(&two), "{one:?} and {two:?}");
    let in_data: BTreeSet<String> =
        n.sql("p1", r#"SELECT DISTINCT site FROM "cohort@1""#)[1..].iter().cloned().collect();
    assert_eq!(in_data, one);
    // Neither the registry ids nor the hospitals' names are anywhere in the work area.
    let registry = std::fs::read_to_string(n.c.root.join("network/sites.toml")).unwrap();
    let names: Vec<String> = registry
        .lines()
        .filter_map(|l| l.strip_prefix("name = ").or_else(|| l.strip_prefix("id = ")))
        .map(|v| v.trim_matches('"').to_string())
        .collect();
    assert_eq!(names.len(), 6);
    for file in walk(&n.c.area("p1")) {
        let bytes = std::fs::read(&file).unwrap();
        for name in &names {
            assert!(!contains(&bytes, name.as_bytes()), "{name} in {}", file.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_truncated_transfer_is_rejected_naming_the_site() {
    let n = Network::new();
    n.approve_all();
    let run =
        n.extract_env("p1", &["--cutoff", "2025-09-30"], &[("MIDNET_FAULT", "truncate:site02")]).fails(1, "incomplete");
    let report = run.json();
    let failed: Vec<&Value> = report["sites"].as_array().unwrap().iter().filter(|s| s["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    let reason = failed[0]["reason"].as_str().unwrap();
    let site = failed[0]["site"].as_str().unwrap();
    assert!(reason.contains(&format!("site {site}")) && reason.contains("altered or truncated"), "{reason}");
    assert_eq!(status_of(&report, "accepted").len(), 2, "the other sites' results are kept");
    let incoming = n.c.area("p1").join("datasets/.incoming/x1");
    assert!(!incoming.join(site).exists(), "a rejected result is not kept as received");
    let done = n.extract("p1", &["--cutoff", "2025-09-30", "--sites", site]).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3);
}

#[test]
fn a_killed_extraction_leaves_the_project_as_it_was_or_as_it_is_after() {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", &["--cutoff", "2024-12-31"]).ok();
    let before = sha256(&n.c.area("p1").join("datasets/cohort@1.parquet"));
    let bin = crate::common::midnet_bin();
    // Kill extractions at several moments, from the start to (nearly) the end.
    for millis in [20u64, 60, 100, 150, 200, 260, 320, 400, 500, 650] {
        let mut child = std::process::Command::new(&bin)
            .args(["extract", "--project", "p1", &n.script, "--cutoff", "2025-09-30", "--quiet"])
            .current_dir(&n.c.root)
            .env("MIDNET_HOME", &n.c.home)
            .env("HOME", n.c.os_home("alan"))
            .env("MIDNET_SESSION", n.c.token("alan"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(millis));
        let _ = child.kill();
        child.wait().unwrap();
        // Whatever the moment: the catalog reads, lists only whole datasets, and old ones are unchanged.
        let listing = n.datasets("p1");
        for d in listing["datasets"].as_array().unwrap() {
            let file = n.c.area("p1").join("datasets").join(d["file"].as_str().unwrap());
            assert_eq!(sha256(&file), d["sha256"].as_str().unwrap(), "{millis} ms: {}", file.display());
            let table = format!(r#"SELECT count(*) FROM "{}@{}""#, d["name"].as_str().unwrap(), d["version"]);
            assert_eq!(n.count("p1", &table), d["rows"].as_i64().unwrap());
        }
        assert_eq!(sha256(&n.c.area("p1").join("datasets/cohort@1.parquet")), before);
    }
    // And running it again completes it.
    let done = n.extract("p1", &["--cutoff", "2025-09-30"]).ok().json();
    let last = done["datasets"][0]["version"].as_i64().unwrap();
    assert!(last >= 2);
    // Nothing an interrupted run left behind survives a completed one.
    let datasets = n.c.area("p1").join("datasets");
    let leftovers: Vec<PathBuf> = walk(&datasets)
        .into_iter()
        .filter(|p| {
            p.strip_prefix(&datasets).unwrap().to_string_lossy().contains(".tmp-")
                || p.starts_with(datasets.join(".incoming"))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    n.c.run("rev", &["audit", "verify"]).ok();
}

#[test]
fn extract_names_what_is_wrong_with_its_arguments() {
    let n = Network::new();
    n.extract("p1", &["--cutoff", "2025-02-30"]).fails(2, "February 2025 has 28 days");
    n.extract("p1", &["--cutoff", "2025-09-30", "--sites", "site09"]).fails(4, "--sites site09: not a registered site");
    n.extract("p1", &["--cutoff", "2025-09-30", "--param", "washout"]).fails(2, "washout");
    n.c.run("alan", &["extract", "--project", "p1", "missing.midnet"]).fails(4, "no such script");
    n.c.run("stella", &["extract", "--project", "p1", &n.script, "--cutoff", "2025-09-30"]).fails(3, "refused (role)");
    n.extract("nope", &["--cutoff", "2025-09-30"]).fails(4, "no project nope");
    n.extract("p1", &["--cutoff", "2026-03-31"])
        .fails(3, "refused (extraction_period): the script's study period 2021-06-01 to 2026-03-31 is not within project p1's approved extraction period 2018-01-01 to 2025-12-31");
    let listing = n.c.run("alan", &["datasets", "--project", "p1"]).ok().stdout;
    assert!(listing.contains("no extractions yet"), "{listing}");
}

#[test]
fn the_workbench_reads_the_datasets_and_nothing_else() {
    let n = Network::new();
    n.approve_all();
    n.extract("p1", &["--cutoff", "2025-09-30"]).ok();
    let sql = |q: &str| n.c.run("alan", &["work", "sql", "--project", "p1", q]);
    let shown = sql(r#"SELECT "group", count(*) AS patients FROM "cohort@1" GROUP BY ALL ORDER BY 1"#).ok().stdout;
    assert!(shown.contains("comparator") && shown.contains("drug"), "{shown}");
    sql(r#"CREATE TABLE mine AS SELECT * FROM "cohort@1""#).fails(2, "the query does not run");
    sql(r#"DELETE FROM "cohort@1""#).fails(2, "the query does not run");
    sql("SELECT * FROM read_csv('/etc/passwd')").fails(2, "the query does not run");
    let site = n.sites[0].join("site.duckdb").display().to_string();
    sql(&format!("ATTACH '{site}' AS s")).fails(2, "the query does not run");
    sql("SELEC 1").fails(2, "syntax error");
    n.c.run("stella", &["work", "sql", "--project", "p1", "SELECT 1"]).fails(3, "refused (role)");
    n.c.run("alan", &["work", "sql", "--project", "p1", "--out", "../escape.csv", "SELECT 1"])
        .fails(3, "refused (path)");
    n.c.run("alan", &["work", "sql", "--project", "p1", "--out", "x.parquet", "SELECT 1"]).fails(2, "ending in .csv");

    let written =
        n.c.run(
            "alan",
            &[
                "work",
                "sql",
                "--project",
                "p1",
                "--out",
                "by_site.csv",
                r#"SELECT site, count(*) n FROM "cohort@1" GROUP BY 1"#,
            ],
        )
        .ok();
    assert!(written.stdout.contains("3 rows written to work/by_site.csv"), "{}", written.stdout);

    let import = |file: &Path| n.c.run("alan", &["work", "import", "--project", "p1", &file.display().to_string()]);
    let codes = n.c.root.join("dpp4.csv");
    std::fs::write(&codes, "code,label\n3969010,sitagliptin\n").unwrap();
    import(&codes).ok();
    assert!(n.c.area("p1").join("work/dpp4.csv").is_file());
    let people = n.c.root.join("people.csv");
    std::fs::write(&people, "patient_key,code\nA1,E11\n").unwrap();
    import(&people).fails(3, "could identify a person");
    let binary = n.c.root.join("data.parquet");
    std::fs::write(&binary, b"PAR1").unwrap();
    import(&binary).fails(3, "only codelists and small reference tables");
    import(&n.c.root.join("absent.csv")).fails(4, "no such file");
    let big = n.c.root.join("big.csv");
    std::fs::write(&big, "code\n".repeat(3_000_000)).unwrap();
    import(&big).fails(3, "more than a codelist");

    let log = std::fs::read_to_string(n.c.audit_log()).unwrap();
    assert!(log.contains("work sql") && log.contains("work import") && log.contains("by_site.csv"));
}

/// The attack of issue 16: a script with an age column for every day of a year after the index
/// date. Were birth dates exact at the site, the day on which a person's age steps up would be
/// their birthday; each site sees a birth date as the first day of its month, so every step falls
/// on the first of a month and reveals the birth month, which the dataset may hold anyway.
#[test]
fn ages_step_up_on_the_first_of_the_birth_month_so_no_output_reveals_the_day_of_birth() {
    let n = Network::new();
    let mut script = String::from(
        "study \"ages\"\n  period: 2021-06-01 to 2025-09-30\nend\ncohort\n  entry first drug_order where yj_code in yj [\"3969\"]\nend\n\
         dataset ages\n  index_date = index\n  birth_year_month = year_month(birth_date)\n",
    );
    for k in 0..=366 {
        script.push_str(&format!("  a{k} = age_at(index + {k} days)\n"));
    }
    script.push_str("end\n");
    let path = n.c.root.join("ages.midnet");
    std::fs::write(&path, script).unwrap();
    let path = path.display().to_string();
    for site in 0..n.sites.len() {
        n.approve_script("p1", site, &path, &[]).ok();
    }
    let report = n.c.run("alan", &["extract", "--project", "p1", &path, "--json", "--quiet"]).ok().json();
    let rows = report["datasets"][0]["rows"].as_i64().unwrap();
    assert!(rows > 50, "{rows} people");
    // The day each person's age steps up, as an attacker reads it off the columns.
    let steps: Vec<String> = (1..=366).map(|k| format!("WHEN a{k} > a{} THEN index_date + {k}", k - 1)).collect();
    let birthday = format!("CASE {} END", steps.join(" "));
    let stepped = n.count("p1", &format!(r#"SELECT count(*) FROM "ages@1" WHERE {birthday} IS NOT NULL"#));
    assert_eq!(stepped, rows, "every age steps up once in 367 days");
    let day_revealed = n.count("p1", &format!(r#"SELECT count(*) FROM "ages@1" WHERE day({birthday}) <> 1"#));
    assert_eq!(day_revealed, 0, "the day of birth of {day_revealed} of {rows} people is read off their ages");
    let month_differs = n.count(
        "p1",
        &format!(r#"SELECT count(*) FROM "ages@1" WHERE strftime({birthday}, '%m') <> right(birth_year_month, 2)"#),
    );
    assert_eq!(month_differs, 0, "an age steps up on the first day of the birth month");
}

/// Issue 16: a script approved for one project ran in another (a study of another drug) with no
/// new approval. An approval covers one project; another project's extraction is refused at every
/// site until the site approves the script for that project too.
#[test]
fn an_approval_covers_one_project_and_another_project_needs_its_own() {
    let n = Network::new();
    n.approve_all();
    n.c.research_project("p2");
    n.c.run("carol", &["project", "grant", "p2", "alan", "analyst"]).ok();
    n.extract("p1", &["--cutoff", "2025-09-30"]).ok();
    let refused = n.extract("p2", &["--cutoff", "2025-09-30"]).fails(1, "incomplete").json();
    for site in refused["sites"].as_array().unwrap() {
        let reason = site["reason"].as_str().unwrap();
        assert!(reason.contains("refused (site_approval)") && reason.contains("project p2"), "{reason}");
        assert!(reason.contains("approved it for other projects only"), "{reason}");
        assert!(reason.contains("--project p2"), "the refusal says how to approve: {reason}");
    }
    assert!(refused["datasets"].as_array().unwrap().is_empty(), "nothing reaches p2");

    n.approve_all_for("p2");
    let done = n.extract("p2", &["--cutoff", "2025-09-30"]).ok().json();
    assert_eq!(done["datasets"][0]["sites"].as_array().unwrap().len(), 3);
    // Each site's result names the approval it ran under (its number at the site, not the approver).
    let conn = read_only(&n.c.area("p2").join("project.duckdb"));
    let manifests: Vec<String> = conn
        .prepare("SELECT manifest_json FROM extraction_site WHERE status = 'accepted'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|m| m.unwrap())
        .collect();
    assert_eq!(manifests.len(), 3);
    for m in &manifests {
        let manifest: Value = serde_json::from_str(m).unwrap();
        assert_eq!(manifest["approval"]["id"], 2, "the second approval at each site, the one for p2: {m}");
        assert!(!m.contains(crate::network::APPROVER), "{m}");
    }
}

fn read_only(db: &Path) -> duckdb::Connection {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    duckdb::Connection::open_with_flags(db, config).unwrap()
}

/// The reason a site gave for refusing, in an extraction report.
fn refusal<'a>(report: &'a Value, status: &str) -> Vec<&'a str> {
    report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == status)
        .filter_map(|s| s["reason"].as_str())
        .collect()
}

#[test]
fn an_approval_records_who_gave_it_and_an_ended_or_revoked_one_is_refused() {
    let n = Network::new();
    let given = n.approve(0, &["--until", "2099-12-31", "--json"]).ok().json();
    assert_eq!(given["project"], "p1");
    assert_eq!(given["approved_by"], crate::network::APPROVER);
    assert!(!given["os_user"].as_str().unwrap().is_empty(), "{given}");
    assert_eq!(given["until"], "2099-12-31");
    assert!(given["revoked"].is_null());
    let text = n.approve(1, &[]).ok().stdout;
    assert!(
        text.contains("for project p1") && text.contains("by Sato Hanako (") && text.contains("until revoked"),
        "{text}"
    );
    n.approve(2, &[]).ok();
    n.extract("p1", &["--cutoff", "2024-12-31"]).ok();

    // The site's calendar passes the approval's last day (the test cannot move the site's clock, so
    // it moves the day back instead).
    let site01 = duckdb::Connection::open(n.sites[0].join("site.duckdb")).unwrap();
    site01.execute("UPDATE script_approval SET valid_until = DATE '2001-02-03'", []).unwrap();
    drop(site01);
    // Site 2 revokes its approval.
    let revoked = n.approve(1, &["--revoke", "--json"]).ok().json();
    assert_eq!(revoked[0]["revoked"]["by"], crate::network::APPROVER);
    n.approve(1, &["--revoke"]).fails(4, "no standing approval of script");
    let report = n.extract("p1", &["--cutoff", "2025-09-30"]).fails(1, "incomplete").json();
    let reasons = refusal(&report, "failed");
    assert_eq!(reasons.len(), 2, "{report}");
    assert!(
        reasons.iter().any(|r| r.contains("refused (site_approval)") && r.contains("ended on 2001-02-03")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("refused (site_approval)") && r.contains("revoked its approval")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().all(|r| !r.contains(crate::network::APPROVER)),
        "no staff name reaches the project: {reasons:?}"
    );

    // Approving again covers the sites again; the refused extraction completes.
    n.approve(0, &[]).ok();
    n.approve(1, &[]).ok();
    let sites: Vec<String> = status_of(&report, "failed").iter().map(|s| s.to_string()).collect();
    n.extract("p1", &["--cutoff", "2025-09-30", "--sites", &sites.join(",")]).ok();
}

#[test]
fn site_approve_names_what_is_wrong_with_its_arguments() {
    let n = Network::new();
    let site = n.sites[0].display().to_string();
    let approve = |args: &[&str]| {
        let mut all = vec!["site", "approve", "--site", site.as_str()];
        all.extend_from_slice(args);
        n.c.run("rev", &all)
    };
    approve(&["--project", "p1", &n.script]).fails(2, "--by");
    approve(&["--by", "Sato", &n.script]).fails(2, "--project");
    approve(&["--project", "p1", "--by", " ", &n.script]).fails(2, "--by \"\": name the site staff member");
    approve(&["--project", "p 1", "--by", "Sato", &n.script]).fails(2, "is not valid");
    approve(&["--project", "p1", "--by", "Sato", &n.script, "--until", "2001-01-01"])
        .fails(2, "--until 2001-01-01: the day is past");
    approve(&["--project", "p1", "--by", "Sato", &n.script, "--until", "2099-02-30"])
        .fails(2, "February 2099 has 28 days");
    approve(&["--project", "p1", "--by", "Sato", &n.script, "--until", "2099-01-01", "--revoke"])
        .fails(2, "cannot be used with");
    approve(&["--project", "p1", "--by", "Sato", &n.script, "--param", "drug=E11"]).fails(2, "is not a YJ code");
    n.c.run("rev", &["site", "approve", "--site", "/nonexistent/site", "--project", "p1", "--by", "Sato", &n.script])
        .fails(4, "not a site data source");
    let conn = read_only(&n.sites[0].join("site.duckdb"));
    let rows: i64 = conn.query_row("SELECT count(*) FROM script_approval", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0, "nothing was approved");
}

/// A site initialised by a midnet whose approvals named no project: a run there is refused, saying
/// what to do, even for a script it approved then; its next `site approve` keeps the old rows aside
/// and approves for the project.
#[test]
fn a_site_with_approvals_of_an_older_midnet_is_refused_until_it_approves_for_the_project() {
    let n = Network::new();
    n.approve_all();
    let report = n.extract("p1", &["--cutoff", "2024-12-31"]).ok().json();
    let sha = report["script_sha256"].as_str().unwrap().to_string();
    let site01 = duckdb::Connection::open(n.sites[0].join("site.duckdb")).unwrap();
    site01
        .execute_batch(&format!(
            "DROP TABLE script_approval;
             CREATE TABLE script_approval (script_sha256 VARCHAR NOT NULL, params_json VARCHAR NOT NULL,
                 midnet_version VARCHAR NOT NULL, approved_at TIMESTAMP NOT NULL, PRIMARY KEY (script_sha256, params_json));
             INSERT INTO script_approval VALUES ('{sha}', '{{}}', '0.1.0', TIMESTAMP '2026-01-01 00:00:00');"
        ))
        .unwrap();
    drop(site01);
    let refused = n.extract("p1", &["--cutoff", "2025-09-30"]).fails(1, "incomplete").json();
    let reasons = refusal(&refused, "failed");
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].contains("refused (site_approval)")
            && reasons[0].contains("older midnet")
            && reasons[0].contains("--project p1"),
        "{}",
        reasons[0]
    );
    n.approve(0, &[]).ok();
    let conn = read_only(&n.sites[0].join("site.duckdb"));
    let kept: i64 = conn.query_row("SELECT count(*) FROM script_approval_unbound", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, 1, "the old approvals are kept aside, whole");
    drop(conn);
    let failed: Vec<&str> = status_of(&refused, "failed");
    n.extract("p1", &["--cutoff", "2025-09-30", "--sites", failed[0]]).ok();
}

/// A site that leaves the network is retired: it stays in the registry (and in every record that
/// names it), marked with the date, and extractions ask only the active sites; naming it is refused.
#[test]
fn a_retired_site_stays_in_the_registry_and_is_no_longer_asked() {
    let n = Network::new();
    n.approve(0, &[]).ok();
    n.approve(1, &[]).ok();
    n.c.run("alan", &["center", "sites", "retire", "site03"]).fails(3, "refused (role)");
    n.c.run("rev", &["center", "sites", "retire", "site09"]).fails(4, "site09: not a registered site");
    n.c.run("rev", &["center", "sites", "retire", "site03"]).ok();
    n.c.run("rev", &["center", "sites", "retire", "site03"]).fails(2, "site03: already retired on 2026-06-02 by rev");
    let retired =
        |list: &Value| list.as_array().unwrap().iter().find(|s| s["id"] == "site03").unwrap()["retired"].clone();
    let list = n.c.run("rev", &["center", "sites", "list", "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 3, "the registry keeps the site");
    assert_eq!(retired(&list)["on"], "2026-06-02");
    assert_eq!(retired(&list)["by"], "rev");
    let text = n.c.run("rev", &["center", "sites", "list"]).ok().stdout;
    assert!(text.contains("retired 2026-06-02"), "{text}");
    // Importing the registry again does not bring the site back, nor can a file retire one.
    let toml = n.c.root.join("network/sites.toml");
    n.c.run("rev", &["center", "sites", "add", &toml.display().to_string()]).ok();
    assert_eq!(retired(&n.c.run("rev", &["center", "sites", "list", "--json"]).ok().json())["on"], "2026-06-02");

    // Without --partial or --sites, the two active sites make a complete extraction.
    let report = n.extract("p1", &["--cutoff", "2025-09-30"]).ok().json();
    assert_eq!(report["sites"].as_array().unwrap().len(), 2);
    assert_eq!(report["datasets"][0]["sites"].as_array().unwrap().len(), 2);
    n.extract("p1", &["--cutoff", "2025-09-30", "--sites", "site03"])
        .fails(3, "--sites site03: this site was retired from the network on 2026-06-02");
    let log = std::fs::read_to_string(n.c.audit_log()).unwrap();
    assert!(log.contains("center sites retire"), "the retirement is audited");
}
