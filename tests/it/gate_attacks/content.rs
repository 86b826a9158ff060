//! Attacks on what a file contains (issue 15, items 1, 2 and 4): person records that do not say
//! so, sidecars the analyst made, files brought in from outside, rows that travel in the work log,
//! in `work sql`'s output or in its error messages, and `export fix` writing where it must not.

use std::path::Path;

use serde_json::Value;

use super::{alan, audit_text, check, cohort, findings, has_rule, person_ids, sql_out};
use crate::center::{Center, write};
use crate::network::Network;

/// A person id renamed, lower-cased or glued into a longer text is still a person id.
#[test]
fn a_renamed_person_id_is_patient_level() {
    let n = cohort();
    sql_out(&n, "tags.csv", r#"SELECT person_id AS tag, "group" AS arm FROM "cohort@1" LIMIT 40"#);
    sql_out(&n, "lower.csv", r#"SELECT lower(person_id) AS k FROM "cohort@1" LIMIT 40"#);
    sql_out(&n, "glued.csv", r#"SELECT 'case-' || person_id || '/x' AS note FROM "cohort@1" LIMIT 40"#);
    let run = check(&n, &["tags.csv", "lower.csv", "glued.csv"]);
    let report = run.json();
    for file in ["tags.csv", "lower.csv", "glued.csv"] {
        assert!(has_rule(&report, file, "patient_level"), "{file} passed with person ids:\n{report:#}");
    }
    assert_eq!(run.code, 1);
}

/// SHA-256, MD5 and SHA-1 of a person id, in either case, are person ids too.
#[test]
fn hashed_person_ids_are_patient_level() {
    let n = cohort();
    sql_out(&n, "sha256.csv", r#"SELECT sha256(person_id) AS k FROM "cohort@1""#);
    sql_out(&n, "md5.csv", r#"SELECT upper(md5(person_id)) AS k FROM "cohort@1""#);
    sql_out(&n, "sha1.csv", r#"SELECT sha1(person_id) AS k, 'x' AS label FROM "cohort@1" LIMIT 3"#);
    let report = check(&n, &["sha256.csv", "md5.csv", "sha1.csv"]).json();
    for file in ["sha256.csv", "md5.csv", "sha1.csv"] {
        assert!(has_rule(&report, file, "patient_level"), "{file} passed with hashed person ids:\n{report:#}");
    }
}

/// Sex, birth year, index date and a baseline value under meaningless names, and no id: the rows
/// are persons all the same, because they link to the rows of the dataset.
#[test]
fn quasi_identifiers_without_ids_are_patient_level() {
    let n = cohort();
    sql_out(
        &n,
        "qi.csv",
        r#"SELECT sex AS a, left(birth_year_month, 4) AS b, index_date AS c, baseline_alt AS d FROM "cohort@1""#,
    );
    // Fewer columns, and a subgroup: the index date and one exact measured value.
    sql_out(
        &n,
        "pairs.csv",
        r#"SELECT index_date AS k, baseline_creatinine AS v FROM "cohort@1"
           WHERE baseline_creatinine IS NOT NULL AND "group" = 'drug' LIMIT 30"#,
    );
    // One person's row is a person record too.
    sql_out(
        &n,
        "one.csv",
        r#"SELECT sex, birth_year_month, index_date, age, baseline_alt FROM "cohort@1"
           WHERE baseline_alt IS NOT NULL ORDER BY person_id LIMIT 1"#,
    );
    let report = check(&n, &["qi.csv", "pairs.csv", "one.csv"]).json();
    for file in ["qi.csv", "pairs.csv", "one.csv"] {
        assert!(has_rule(&report, file, "patient_level"), "{file} passed as statistics:\n{report:#}");
    }
}

/// A table of one row per person of a dataset, whatever its columns, is person records; that it
/// has no sidecar to say so changes nothing.
#[test]
fn one_row_per_person_without_a_sidecar_is_patient_level() {
    let n = cohort();
    sql_out(&n, "numbered.csv", r#"SELECT row_number() OVER () + 1000 AS k FROM "cohort@1""#);
    let sidecar = n.c.area("p1").join("work/numbered.meta.json");
    if sidecar.exists() {
        std::fs::remove_file(&sidecar).unwrap();
    }
    let report = check(&n, &["numbered.csv"]).json();
    assert!(has_rule(&report, "numbered.csv", "patient_level"), "{report:#}");
}

/// Rows of persons written as text: a `.txt` file brought in with `work import` never leaves,
/// whatever it is renamed to; a text file of rows is patient-level by its content.
#[test]
fn a_text_file_of_patient_rows_never_leaves() {
    let n = cohort();
    let rows = n.sql(
        "p1",
        r#"SELECT sex, birth_year_month, index_date, baseline_alt FROM "cohort@1" WHERE baseline_alt IS NOT NULL LIMIT 20"#,
    );
    let text: String = rows[1..].iter().map(|r| format!("{}\n", r.replace(',', " "))).collect();
    let outside = n.c.root.join("rows.txt");
    std::fs::write(&outside, &text).unwrap();
    alan(&n, &["work", "import", "--project", "p1", &outside.display().to_string(), "--as", "notes.txt"]).ok();
    alan(&n, &["export", "request", "--project", "p1", "notes.txt", "--note", "notes"]).fails(3, "refused (imported)");
    // Imported again under a table's name: still reference material, by its content.
    alan(&n, &["work", "import", "--project", "p1", &outside.display().to_string(), "--as", "summary.csv"]).ok();
    alan(&n, &["export", "request", "--project", "p1", "summary.csv", "--note", "summary"])
        .fails(3, "refused (imported)");
    alan(&n, &["export", "check", "--project", "p1", "notes.txt"]).fails(3, "refused (imported)");

    // The same rows in another text file of the work area (however it got there) are patient-level.
    write(&n.c.area("p1").join("work/rows.txt"), &format!("sex birth index alt\n{text}"));
    let report = check(&n, &["rows.txt"]).json();
    assert!(has_rule(&report, "rows.txt", "patient_level"), "{report:#}");
}

/// Rows typed into a query's text reach the audit trail, and so the work log that leaves with every
/// request: the work log records what was run, never a person's values or id; such a command line
/// is withheld there (the audit trail keeps it for the reviewer), and the request goes on.
#[test]
fn patient_rows_typed_into_a_query_never_leave_in_the_work_log() {
    let n = cohort();
    let rows = n.sql(
        "p1",
        r#"SELECT sex, birth_year_month, index_date, baseline_alt, age FROM "cohort@1"
           WHERE baseline_alt IS NOT NULL LIMIT 3"#,
    );
    let typed = rows[1..].join(";");
    let dates: Vec<String> = rows[1..].iter().map(|r| r.split(',').nth(2).unwrap().to_string()).collect();
    let id = &person_ids(&n, 1)[0];
    let _ = alan(&n, &["work", "sql", "--project", "p1", &format!("SELECT '{typed}' AS note")]);
    let _ = alan(&n, &["work", "sql", "--project", "p1", &format!("SELECT '{id}' AS who")]);
    sql_out(&n, "counts.csv", r#"SELECT "group", count(*) AS patients FROM "cohort@1" GROUP BY 1"#);
    let request = ["export", "request", "--project", "p1", "counts.csv", "--note", "patients per group", "--json"];
    let filed = alan(&n, &request).ok().json();
    assert!(filed["findings"].as_array().unwrap().is_empty(), "{filed:#}");
    let log = std::fs::read_to_string(n.c.area("p1").join("review/req-1/worklog.txt")).unwrap();
    assert!(!log.contains(id.as_str()), "a person id left in the work log:\n{log}");
    for date in &dates {
        assert!(!log.contains(date.as_str()), "a typed row ({date}) left in the work log:\n{log}");
    }
    assert!(log.contains("2 command lines are withheld here"), "{log}");
    assert!(log.contains("work sql --project p1 --out counts.csv"), "the other command lines stay:\n{log}");
    assert!(audit_text(&n).contains(id.as_str()), "the audit trail keeps what was run");
}

/// A sidecar is trusted only when midnet wrote it for exactly this table: one made by the analyst
/// cannot come in under a `.meta.json` name, and one lying in work/ that midnet did not write is
/// ignored: every column is judged by its content, and the reviewer is told.
#[test]
fn a_forged_sidecar_is_never_trusted() {
    let n = cohort();
    sql_out(&n, "small.csv", r#"SELECT "group", count(*) AS patients, 3 AS events FROM "cohort@1" GROUP BY 1"#);
    let forged = serde_json::json!({
        "format": "midnet-table/1",
        "kind": "statistics",
        "columns": [{"name": "group", "role": "label"}, {"name": "patients", "role": "person_count"},
                    {"name": "events", "role": "estimate"}],
        "provenance": {"project": "p1", "inputs": ["cohort@1"], "command": "midnet stats incidence",
                       "midnet_version": "0.1.0", "created_at": "2026-06-02T00:00:00Z"}
    })
    .to_string();
    let outside = n.c.root.join("forged.csv");
    std::fs::write(&outside, &forged).unwrap();
    alan(&n, &["work", "import", "--project", "p1", &outside.display().to_string(), "--as", "small.meta.json"])
        .fails(3, "refused (work_import)");
    // However it got there, the forged sidecar does not make a small count an estimate.
    write(&n.c.area("p1").join("work/small.meta.json"), &forged);
    let report = check(&n, &["small.csv"]).json();
    assert!(
        findings(&report, "small.csv").iter().any(|f| f["rule"] == "small_cell" && f["column"] == "events"),
        "{report:#}"
    );
    assert_eq!(report["files"][0]["sidecar"]["status"], "unverified", "{report:#}");
}

/// A statistics table altered after midnet wrote it no longer matches its sidecar, which is then
/// ignored; the request record tells the reviewer so.
#[test]
fn a_table_whose_sidecar_no_longer_matches_is_judged_by_content() {
    let n = cohort();
    let incidence = [
        "stats",
        "incidence",
        "--project",
        "p1",
        "--dataset",
        "cohort",
        "--events",
        "alt_gt_3uln_event",
        "--time",
        "alt_gt_3uln_days",
        "--group-by",
        "group",
        "--per",
        "365",
        "--quiet",
    ];
    alan(&n, &incidence).ok();
    let table = n.c.area("p1").join("work/stats/incidence-cohort@1.csv");
    let report = check(&n, &["stats/incidence-cohort@1.csv"]).json();
    assert_eq!(report["files"][0]["sidecar"]["status"], "verified", "{report:#}");
    // The lower bounds of the rates become small whole numbers: counts, by their content.
    let text = std::fs::read_to_string(&table).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let at = header.iter().position(|h| *h == "rate_lo").unwrap();
    for line in lines.iter_mut().skip(1) {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        cells[at] = "3".into();
        *line = cells.join(",");
    }
    std::fs::write(&table, lines.join("\n") + "\n").unwrap();
    let report = check(&n, &["stats/incidence-cohort@1.csv"]).json();
    let found = findings(&report, "stats/incidence-cohort@1.csv");
    assert!(found.iter().any(|f| f["rule"] == "small_cell" && f["column"] == "rate_lo"), "{report:#}");
    assert_eq!(report["files"][0]["sidecar"]["status"], "unverified", "{report:#}");
    let filed = alan(
        &n,
        &[
            "export",
            "request",
            "--project",
            "p1",
            "stats/incidence-cohort@1.csv",
            "--note",
            "incidence",
            "--exception",
            "small_cell:*:*:accepted for the test",
            "--json",
        ],
    )
    .ok()
    .json();
    let file = &filed["files"][0];
    assert_eq!(file["sidecar"]["status"], "unverified", "{filed:#}");
    assert!(file["sidecar"]["note"].as_str().unwrap().contains("does not match"), "{filed:#}");
    assert!(filed["provenance"].as_object().unwrap().is_empty(), "an unverified sidecar's provenance is not recorded");
}

/// `work sql` shows rows on a terminal only; to a pipe it refuses patient-level output, such as
/// every row of a dataset folded into one cell, and still prints aggregates.
#[test]
fn work_sql_never_pipes_patient_rows() {
    let n = cohort();
    let ids = person_ids(&n, 5);
    let sql = |q: &str| alan(&n, &["work", "sql", "--project", "p1", q]);
    for query in [
        r#"SELECT * FROM "cohort@1""#,
        r#"SELECT string_agg(person_id || ',' || sex || ',' || index_date, ';') AS everything FROM "cohort@1""#,
        r#"SELECT sex, birth_year_month, index_date, baseline_alt FROM "cohort@1" LIMIT 20"#,
    ] {
        let run = sql(query).fails(3, "refused (patient_level)");
        assert!(ids.iter().all(|id| !run.stdout.contains(id.as_str())), "{query}: rows reached the pipe");
    }
    let counts = sql(r#"SELECT "group", count(*) AS patients FROM "cohort@1" GROUP BY 1 ORDER BY 1"#).ok();
    assert!(counts.stdout.contains("comparator") && counts.stdout.contains("drug"), "{}", counts.stdout);
    assert!(audit_text(&n).contains("\"rule\":\"patient_level\""), "the refusal is audited");
}

/// On a terminal the analyst may view rows (guideline 第8 1), and the audit trail records how many.
#[test]
fn work_sql_shows_rows_on_a_terminal_and_audits_how_many() {
    let n = cohort();
    let ids = person_ids(&n, 3);
    let shown = on_a_terminal(
        &n,
        &["work", "sql", "--project", "p1", r#"SELECT person_id, sex FROM "cohort@1" ORDER BY person_id LIMIT 3"#],
    );
    assert!(shown.contains(ids[0].as_str()) && shown.contains(ids[2].as_str()), "{shown}");
    let log = audit_text(&n);
    assert!(log.contains("3 rows of the project's datasets shown on a terminal"), "{log}");
    assert!(!log.contains(ids[0].as_str()), "the audit trail records the rows shown, never their values");
}

/// DuckDB quotes the value a cast failed on; neither the analyst's terminal nor the audit trail gets
/// it: the class of the error only. The same for commands that read a dataset.
#[test]
fn errors_carry_the_class_never_a_value() {
    let n = cohort();
    let ids = person_ids(&n, 2000);
    let leaks = |text: &str| ids.iter().find(|id| text.contains(id.as_str())).cloned();
    let cast = alan(&n, &["work", "sql", "--project", "p1", r#"SELECT CAST(person_id AS INTEGER) FROM "cohort@1""#])
        .fails(2, "Conversion Error");
    assert_eq!(leaks(&cast.stderr), None, "{}", cast.stderr);
    let raised = alan(&n, &["work", "sql", "--project", "p1", r#"SELECT error(person_id) FROM "cohort@1""#])
        .fails(2, "the query does not run");
    assert_eq!(leaks(&raised.stderr), None, "{}", raised.stderr);
    let stats = alan(
        &n,
        &[
            "stats",
            "incidence",
            "--project",
            "p1",
            "--dataset",
            "cohort",
            "--events",
            "alt_gt_3uln_event",
            "--time",
            "person_id",
        ],
    )
    .fails(2, "column `person_id`, row 1");
    assert_eq!(leaks(&stats.stderr), None, "{}", stats.stderr);
    assert_eq!(leaks(&audit_text(&n)), None, "a person id reached the audit trail");
}

/// A request holding person records is filed, so that the reviewer sees the attempt, but its files
/// are printed to reviewers only: `export show --file` is no way around the gate for the requester.
#[test]
fn a_filed_person_record_is_shown_to_reviewers_only() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    write(&c.area("p1").join("work/persons.csv"), "person_id,age,sex\nA1,44,M\nA2,51,F\nA3,62,M\n");
    let exception = "patient_level:*:*:three summary rows";
    c.run("alan", &["export", "request", "--project", "p1", "persons.csv", "--note", "n", "--exception", exception])
        .ok();
    let show = ["export", "show", "req-1", "--project", "p1", "--file", "persons.csv"];
    let refused = c.run("alan", &show).fails(3, "refused (non_exportable)");
    assert!(!refused.stdout.contains("A2,51,F"), "{}", refused.stdout);
    assert!(c.run("rev", &show).ok().stdout.contains("A2,51,F"));
}

/// `export fix` inside a project: audited, for analysts, into work/ only, never over a file
/// unless told, never on a file brought in from outside.
#[test]
fn export_fix_in_a_project_is_audited_and_stays_in_work() {
    let n = cohort();
    sql_out(&n, "by_sex.csv", r#"SELECT sex, count(*) AS patients, 4 AS events FROM "cohort@1" GROUP BY 1"#);
    let fix = |user: &str, extra: &[&str]| {
        let mut args = vec!["export", "fix", "--project", "p1", "by_sex.csv"];
        args.extend_from_slice(extra);
        n.c.run(user, &args)
    };
    fix("stella", &[]).fails(3, "refused (role)");
    let fixed = fix("alan", &["--json"]).ok().json();
    assert_eq!(fixed["output"], "by_sex-fixed.csv", "{fixed:#}");
    let work = n.c.area("p1").join("work");
    assert!(std::fs::read_to_string(work.join("by_sex-fixed.csv")).unwrap().contains('*'));
    fix("alan", &[]).fails(2, "exists already");
    fix("alan", &["--replace"]).ok();
    fix("alan", &["--out", "../released/x.csv"]).fails(3, "refused (path)");
    let log = audit_text(&n);
    assert!(log.contains("\"command\":\"export fix\"") && log.contains("work/by_sex-fixed.csv"), "{log}");
    // The fixed table is midnet's: its sidecar verifies, and it passes.
    let report = check(&n, &["by_sex-fixed.csv"]);
    assert_eq!(report.json()["files"][0]["sidecar"]["status"], "verified", "{}", report.stdout);
    // A file brought in from outside is reference material: no fix makes it exportable.
    let outside = n.c.root.join("codes.csv");
    std::fs::write(&outside, "code,patients\nA,3\nB,120\n").unwrap();
    alan(&n, &["work", "import", "--project", "p1", &outside.display().to_string()]).ok();
    alan(&n, &["export", "fix", "--project", "p1", "codes.csv"]).fails(3, "refused (imported)");
}

/// `export fix` by path works on files outside the data center: never on a path inside a home
/// (symbolic links resolved), never over an existing file; a released table stays fetchable.
#[test]
fn export_fix_by_path_never_writes_into_a_home_or_over_a_file() {
    let n = cohort();
    sql_out(&n, "t.csv", r#"SELECT sex, count(*) AS patients FROM "cohort@1" GROUP BY 1"#);
    alan(&n, &["export", "request", "--project", "p1", "t.csv", "--note", "patients by sex"]).ok();
    n.c.run("rev", &["export", "review", "req-1", "--project", "p1", "--approve", "--note", "checked"]).ok();
    let released = n.c.area("p1").join("released/req-1/files/t.csv");
    let before = std::fs::read(&released).unwrap();

    let desk = n.c.root.join("desk");
    std::fs::create_dir_all(&desk).unwrap();
    let small = desk.join("small.csv");
    std::fs::write(&small, "sex,patients\nM,120\nF,3\n").unwrap();
    let fix = |input: &Path, out: &Path| {
        crate::common::midnet(
            &n.c.root,
            &["export", "fix", &input.display().to_string(), "--out", &out.display().to_string()],
        )
    };
    fix(&small, &released).fails(3, "inside a midnet home");
    assert_eq!(std::fs::read(&released).unwrap(), before, "the released file is untouched");
    // Through a symbolic link to the home, and from a file inside it.
    std::os::unix::fs::symlink(n.c.area("p1").join("released/req-1/files"), desk.join("link")).unwrap();
    fix(&small, &desk.join("link/fixed.csv")).fails(3, "inside a midnet home");
    assert!(!n.c.area("p1").join("released/req-1/files/fixed.csv").exists());
    fix(&n.c.area("p1").join("work/t.csv"), &desk.join("out.csv")).fails(3, "inside a midnet home");
    // Never over an existing file.
    std::fs::write(desk.join("taken.csv"), "mine\n").unwrap();
    fix(&small, &desk.join("taken.csv")).fails(2, "exists already");
    assert_eq!(std::fs::read_to_string(desk.join("taken.csv")).unwrap(), "mine\n");
    fix(&small, &desk.join("fixed.csv")).ok();

    let to = n.c.root.join("fetched");
    std::fs::create_dir_all(&to).unwrap();
    n.c.run("alan", &["export", "fetch", "--project", "p1", "t.csv", "--into", &to.display().to_string()]).ok();
}

/// Every table midnet's own analyses write passes the gate, or is flagged only for the small
/// counts it really has: the stats and signal commands' tables and the protocol's, checked inside
/// the project and filed in a request. None is taken for person records.
#[test]
fn midnet_statistics_pass_the_gate() {
    let n = cohort();
    let on_cohort = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--project", "p1", "--dataset", "cohort", "--quiet"]);
        alan(&n, &all).ok();
    };
    let (time, event) = (["--time", "alt_gt_3uln_days"], ["--event", "alt_gt_3uln_event"]);
    on_cohort(&[
        "stats",
        "incidence",
        "--events",
        event[1],
        time[0],
        time[1],
        "--group-by",
        "group,sex",
        "--per",
        "365",
    ]);
    on_cohort(&["stats", "km", time[0], time[1], event[0], event[1], "--group", "group", "--at", "30,90,365"]);
    on_cohort(&["stats", "cox", time[0], time[1], event[0], event[1], "--covariates", "group,age,sex"]);
    on_cohort(&[
        "signal",
        "screen",
        "--drug-column",
        "group",
        "--person",
        "site,person_id",
        "--prior",
        "0.2,0.1,2,4,0.3",
    ]);
    on_cohort(&[
        "signal",
        "ssa",
        "--first-a",
        "index_date",
        "--first-b",
        "exposure_end",
        "--window",
        "730",
        "--person",
        "site,person_id",
    ]);

    let script = n.c.root.join("protocol.midnet").display().to_string();
    alan(&n, &["protocol", "script", "--out", &script]).ok();
    for site in 0..n.sites.len() {
        for outcomes in [None, Some("outcomes=alt_gt_3uln,egfr_lt_60")] {
            let mut params = vec!["--param", "drug=3969099", "--param", "comparator=3969010"];
            if let Some(o) = outcomes {
                params.extend(["--param", o]);
            }
            n.approve_script("p1", site, &script, &params).ok();
        }
    }
    // Analysis 1 detects over every outcome; analysis 2, at a later cut-off, refines two of them.
    let protocol = ["protocol", "run", "--project", "p1", "--drug", "3969099", "--comparator", "3969010", "--quiet"];
    let mut detection = protocol.to_vec();
    detection.extend(["--cutoff", "2025-06-30"]);
    alan(&n, &detection).ok();
    let mut refinement = protocol.to_vec();
    refinement.extend(["--cutoff", "2025-09-30", "--outcome-ids", "alt_gt_3uln,egfr_lt_60"]);
    alan(&n, &refinement).ok();

    let work = n.c.area("p1").join("work");
    let tables = tables_under(&work, &["stats", "signal", "protocol"]);
    for expected in ["protocol/analysis-2/onset.csv", "protocol/analysis-1/results.csv", "stats/km-cohort@1.csv"] {
        assert!(tables.iter().any(|t| t == expected), "{expected} not among {tables:?}");
    }
    let names: Vec<&str> = tables.iter().map(String::as_str).collect();
    let report = check(&n, &names).json();
    for file in &names {
        assert_eq!(
            report["files"].as_array().unwrap().iter().find(|f| f["path"] == *file).unwrap()["sidecar"]["status"],
            "verified",
            "{file}"
        );
        for f in findings(&report, file) {
            // Two analyses of a growing cohort differ by a few people here and there: that is the
            // differencing rule's finding, on the pair, for the reviewer.
            assert!(f["rule"] == "small_cell" || f["rule"] == "differencing", "{file}: {f}");
            if f["rule"] == "small_cell" {
                assert_small_count(&work.join(file), f);
            }
        }
    }
    let mut request = vec!["export", "request", "--project", "p1", "--json", "--note", "all statistics"];
    request.extend(&names);
    let found: Vec<&Value> =
        report["files"].as_array().unwrap().iter().flat_map(|f| f["findings"].as_array().unwrap()).collect();
    for rule in ["small_cell", "differencing"] {
        if found.iter().any(|f| f["rule"] == rule) {
            request.extend([
                "--exception",
                if rule == "small_cell" { "small_cell:*:*:accepted" } else { "differencing:*:*:accepted" },
            ]);
        }
    }
    let filed = alan(&n, &request).ok().json();
    let rules: Vec<&Value> = filed["findings"].as_array().unwrap().iter().map(|f| &f["rule"]).collect();
    assert!(rules.iter().all(|r| *r == "small_cell" || *r == "differencing"), "{rules:?}");
    assert!(filed["provenance"].as_object().unwrap().len() >= names.len(), "{filed:#}");
}

/// The tables (CSV and Parquet) under the given subdirectories of `work`, as names in work/.
fn tables_under(work: &Path, dirs: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<_> = dirs.iter().map(|d| work.join(d)).collect();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "csv" || e == "parquet") {
                out.push(path.strip_prefix(work).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A small-cell finding is on a count of 1 to 9 that the table really has.
#[track_caller]
fn assert_small_count(table: &Path, finding: &Value) {
    if table.extension().is_some_and(|e| e == "parquet") {
        return;
    }
    let mut reader = csv::Reader::from_path(table).unwrap();
    let header = reader.headers().unwrap().clone();
    let column = header.iter().position(|h| h == finding["column"].as_str().unwrap()).unwrap();
    let row = finding["row"].as_u64().unwrap() as usize;
    let record = reader.records().nth(row - 1).unwrap().unwrap();
    let count: f64 = record[column].split_whitespace().next().unwrap().parse().unwrap();
    assert!((1.0..10.0).contains(&count), "{}: {finding} is on {count}", table.display());
}

/// Run `midnet ARGS` as alan with standard output on a pseudo-terminal; returns what it printed.
/// The environment is the network fixture's (its home, alan's OS home, alan's session).
fn on_a_terminal(n: &Network, args: &[&str]) -> String {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut leader, mut follower) = (0, 0);
    let opened =
        unsafe { libc::openpty(&mut leader, &mut follower, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(opened, 0, "no pseudo-terminal");
    let (leader, follower) = unsafe { (OwnedFd::from_raw_fd(leader), OwnedFd::from_raw_fd(follower)) };
    let home = n.c.home.display().to_string();
    let os_home = n.c.os_home("alan").display().to_string();
    let mut child = std::process::Command::new(crate::common::midnet_bin())
        .args(args)
        .current_dir(&n.c.root)
        .env("MIDNET_HOME", &home)
        .env("HOME", &os_home)
        .env("MIDNET_SESSION", n.c.token("alan"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(follower))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read while it runs (a full terminal buffer would stop it); the reads end, with EIO, once
    // the child has exited and so closed the last copy of the follower.
    let reader = std::thread::spawn(move || {
        let mut leader = std::fs::File::from(leader);
        let (mut out, mut buffer) = (Vec::new(), [0u8; 4096]);
        while let Ok(k) = leader.read(&mut buffer) {
            if k == 0 {
                break;
            }
            out.extend_from_slice(&buffer[..k]);
        }
        out
    });
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{args:?} failed on a terminal: {stderr}");
    let out = reader.join().unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
