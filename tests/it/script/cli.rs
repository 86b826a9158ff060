//! `midnet script check|sql|explain` on the example scripts and on broken ones, the bundle hash,
//! SQL injection, and the active-comparator example on a synthetic site through both engines.

use midnet::script::{ParamValues, Script};

use super::support;
use crate::common::{midnet, tempdir, testdata};

const EXAMPLES: [&str; 3] = ["active_comparator.midnet", "incidence.midnet", "drug_utilisation.midnet"];

fn example(name: &str) -> String {
    testdata(&format!("scripts/{name}")).display().to_string()
}

#[test]
fn the_example_scripts_check_compile_and_explain() {
    let dir = tempdir();
    for name in EXAMPLES {
        let file = example(name);
        midnet(dir.path(), &["script", "check", &file]).ok();
        let sql = midnet(dir.path(), &["script", "sql", &file, "--param", "cutoff=2024-03-31"]).ok().stdout;
        assert!(sql.contains("WITH") && sql.contains("-- attrition"), "{sql}");
        let words = midnet(dir.path(), &["script", "explain", &file]).ok().stdout;
        assert!(words.contains("Entry:") && words.contains("Output `"), "{words}");
    }
}

#[test]
fn the_active_comparator_compiles_to_named_steps() {
    let dir = tempdir();
    let sql =
        midnet(dir.path(), &["script", "sql", &example("active_comparator.midnet"), "--param", "cutoff=2024-03-31"])
            .ok()
            .stdout;
    for cte in [
        "\"entry_events\"",
        "\"cohort_base\"",
        "\"rows_lab_result\"",
        "\"baseline_alt\"",
        "\"treatment_days\"",
        "\"hys_law\"",
        "\"cohort\"",
    ] {
        assert!(sql.contains(cte), "no CTE {cte} in\n{sql}");
    }
    assert!(sql.contains("AS MATERIALIZED"), "the shared rows CTE is computed once");
    let json = midnet(
        dir.path(),
        &["script", "check", "--json", &example("active_comparator.midnet"), "--param", "cutoff=2024-03-31"],
    )
    .ok()
    .json();
    let cutoff = json["parameters"].as_array().unwrap().iter().find(|p| p["cutoff"] == true).unwrap();
    assert_eq!(cutoff["name"], "cutoff");
    let columns = json["outputs"][0]["columns"].as_array().unwrap();
    let role = |name: &str| columns.iter().find(|c| c["name"] == name).map(|c| c["role"].clone()).unwrap();
    assert_eq!(role("sex"), "sex");
    assert_eq!(role("index_date"), "date");
    assert_eq!(role("alt_gt_3uln_days"), "time");
    assert_eq!(role("alt_gt_3uln_event"), "other");
    assert!(columns.iter().all(|c| c["name"] != "birth_date"));
}

#[test]
fn parameters_select_outcomes_and_are_checked() {
    let dir = tempdir();
    let file = example("active_comparator.midnet");
    midnet(dir.path(), &["script", "sql", &file]).fails(2, "the parameter `cutoff` is not set");
    midnet(dir.path(), &["script", "sql", &file, "--param", "cutoff=2024-02-30"]).fails(2, "February 2024 has 29 days");
    midnet(dir.path(), &["script", "sql", &file, "--param", "cutof=2024-03-31"]).fails(2, "did you mean `cutoff`?");
    let wrong = midnet(dir.path(), &["script", "sql", &file, "--param", "cutoff=2024-03-31", "--param", "drug=E11"])
        .fails(2, "is not a YJ code");
    assert_eq!(
        wrong.stderr.matches("error:").count(),
        1,
        "a wrong value is one error, not one per use:\n{}",
        wrong.stderr
    );
    let wrong = midnet(dir.path(), &["script", "sql", &file, "--param", "cutoff=2024-02-30"])
        .fails(2, "February 2024 has 29 days");
    assert_eq!(wrong.stderr.matches("error:").count(), 1, "{}", wrong.stderr);
    midnet(dir.path(), &["script", "sql", &file, "--param", "cutoff=2024-03-31", "--param", "outcomes=alt_gt_3ul"])
        .fails(2, "did you mean `alt_gt_3uln`?");
    let sql =
        midnet(dir.path(), &["script", "sql", &file, "--param", "cutoff=2024-03-31", "--param", "outcomes=egfr_lt_60"])
            .ok()
            .stdout;
    assert!(sql.contains("egfr_lt_60_event") && !sql.contains("alt_gt_3uln_event"), "{sql}");
    midnet(dir.path(), &["script", "check", "/nonexistent/study.midnet"]).fails(4, "no such script");
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const HEAD: &str = "study \"s\"\n  period: 2020-01-01 to 2020-12-31\nend\n";

#[test]
fn every_kind_of_error_names_the_place_and_the_fix() {
    let dir = tempdir();
    let cases: [(&str, &str); 9] = [
        (
            "cohort\n  entry first drug_ordr where yj_code in yj [\"3969099\"]\nend\ndataset d\n  index_date = index\nend\n",
            "unknown table `drug_ordr`",
        ),
        (
            "cohort\n  entry first drug_order where yj_code in icd10 [\"E11\"]\nend\ndataset d\n  index_date = index\nend\n",
            "holds yj codes, but this is a icd10 codelist",
        ),
        (
            "cohort\n  entry first drug_order where yj_code in yj [\"3969099F\"]\nend\ndataset d\n  index_date = index\nend\n",
            "has 8 characters",
        ),
        (
            "cohort\n  entry first drug_order where date > index\nend\ndataset d\n  index_date = index\nend\n",
            "the entry selection cannot use `index`",
        ),
        (
            "cohort\n  entry first drug_order where yj_code in yj [\"3969099\"]\n  require \"r\": age >= \"18\"\nend\ndataset d\n  index_date = index\nend\n",
            "`>=` cannot combine a whole number and a text",
        ),
        (
            "cohort\n  entry first drug_order where yj_code in yj [\"3969099\"]\n  require \"r\": later > 1\nend\ndefine later = 2\ndataset d\n  index_date = index\nend\n",
            "is defined further down",
        ),
        (
            "cohort\n  entry first drug_order where yj_code in yj [\"3969099\"]\nend\ndataset d\n  birth = birth_date + 0 days\nend\n",
            "would output the birth date",
        ),
        (
            "cohort\n  entry first lab_result where analyte = \"altt\"\nend\ndataset d\n  index_date = index\nend\n",
            "did you mean \"alt\"?",
        ),
        (
            "cohort\n  entry first drug_order where yj_code in yj [\"3969099\"]\nend\ndataset d\n  n = count drug_order\n  n = age\nend\n",
            "appears twice",
        ),
    ];
    for (i, (body, needle)) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("bad{i}.midnet"), &format!("{HEAD}{body}"));
        let run = midnet(dir.path(), &["script", "check", &file]).fails(2, needle);
        assert!(
            run.stderr.contains(&format!("bad{i}.midnet:"))
                && run.stderr.contains('^')
                && run.stderr.contains("= help:"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn several_problems_are_reported_together() {
    let dir = tempdir();
    let body = "codelist a = icd10 [\"E1\"]\ncodelist b = yj [\"123\"]\ncohort\n  entry first drug_order where yj_code in yj [\"3969099\"]\nend\ndataset d\n  index_date = index\nend\n";
    let file = write(dir.path(), "two.midnet", &format!("{HEAD}{body}"));
    midnet(dir.path(), &["script", "check", &file]).fails(2, "2 errors in");
}

#[test]
fn the_hash_covers_the_script_and_its_codelist_files() {
    let dir = tempdir();
    std::fs::write(dir.path().join("dx.csv"), "code\nE11\n").unwrap();
    let text = format!(
        "{HEAD}codelist dx = icd10 from \"dx.csv\"\ncohort\n  entry first diagnosis where icd10 in dx\nend\ndataset d\n  index_date = index\nend\n"
    );
    let first = Script::from_text("s.midnet", &text, dir.path()).unwrap().sha256().to_string();
    assert_eq!(first, Script::from_text("s.midnet", &text, dir.path()).unwrap().sha256());
    std::fs::write(dir.path().join("dx.csv"), "code\nE11\nE14\n").unwrap();
    let changed_file = Script::from_text("s.midnet", &text, dir.path()).unwrap().sha256().to_string();
    assert_ne!(first, changed_file, "a changed codelist file changes the hash");
    let changed_text =
        Script::from_text("s.midnet", &text.replace("index_date", "entered"), dir.path()).unwrap().sha256().to_string();
    assert_ne!(changed_file, changed_text);
    std::fs::write(dir.path().join("dx.csv"), "code\nE11\nE1.4\n").unwrap();
    let e = Script::from_text("s.midnet", &text, dir.path()).unwrap_err().to_string();
    assert!(e.contains("dx.csv") && e.contains("line 3") && e.contains("E1.4"), "{e}");
}

#[test]
fn a_script_cannot_inject_sql() {
    let dir = tempdir();
    let evil = "x'); DROP TABLE patient; --";
    let text = format!(
        "{HEAD}cohort\n  entry first drug_order where yj_code in yj [\"3969099\"] and source != \"{evil}\"\n  require \"it's'); DROP TABLE patient; --\": sex != \"\\\"; DROP TABLE patient; --\"\nend\ndataset d\n  label = \"{evil}\"\nend\n"
    );
    let compiled = Script::from_text("evil.midnet", &text, dir.path()).unwrap().compile(&ParamValues::new()).unwrap();
    let conn = support::site(&[
        support::Rows {
            table: "patient".into(),
            columns: vec!["patient_key".into(), "sex".into(), "birth_date".into()],
            rows: vec![vec![
                midnet::query::value::Value::Text("p1".into()),
                midnet::query::value::Value::Text("F".into()),
                midnet::query::value::Value::Date(0),
            ]],
        },
        support::Rows {
            table: "drug_order".into(),
            columns: [
                "patient_key",
                "yj_code",
                "order_date",
                "start_date",
                "days_supply",
                "route",
                "setting",
                "source",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![
                ["p1", "3969099F1020"]
                    .iter()
                    .map(|s| midnet::query::value::Value::Text(s.to_string()))
                    .chain([
                        midnet::query::value::Value::Date(18300),
                        midnet::query::value::Value::Date(18300),
                        midnet::query::value::Value::Int(30),
                        midnet::query::value::Value::Text("oral".into()),
                        midnet::query::value::Value::Text("outpatient".into()),
                        midnet::query::value::Value::Text("EHR".into()),
                    ])
                    .collect(),
            ],
        },
    ]);
    let results = support::run_sql(&conn, &compiled).unwrap();
    assert_eq!(results.outputs[0].2[0][1].to_string(), evil, "the text arrives as written");
    assert_eq!(results.attrition[1][1].to_string(), "it's'); DROP TABLE patient; --");
    let still: i64 = conn.query_row("SELECT count(*) FROM patient", [], |r| r.get(0)).unwrap();
    assert_eq!(still, 1, "the patient table is still there");
    // Codes cannot carry quotes at all: they must fit their code system.
    let bad = format!(
        "{HEAD}cohort\n  entry first diagnosis where icd10 in [\"E11'\"]\nend\ndataset d\n  index_date = index\nend\n"
    );
    assert!(Script::from_text("bad.midnet", &bad, dir.path()).is_err());
}

#[test]
fn the_example_scripts_run_the_same_on_a_synthetic_site_in_both_engines() {
    let dir = tempdir();
    let out = dir.path().join("net");
    midnet(
        dir.path(),
        &[
            "synth",
            "--quiet",
            "--site-count",
            "1",
            "--patients",
            "1500",
            "--seed",
            "7",
            "--load",
            "--dir",
            &out.display().to_string(),
        ],
    )
    .ok();
    let site = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("site.duckdb").is_file())
        .unwrap();
    let conn = duckdb::Connection::open(site.join("site.duckdb")).unwrap();
    for name in EXAMPLES {
        let script = Script::load(&testdata(&format!("scripts/{name}"))).unwrap();
        let mut values = ParamValues::new();
        values.set("cutoff", "2025-09-30");
        let compiled = script.compile(&values).unwrap();
        let sql = support::run_sql(&conn, &compiled).unwrap();
        let reference = support::run_eval(&conn, &compiled);
        support::engines_agree(&sql, &reference).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rows = &sql.outputs[0].2;
        assert!(!rows.is_empty(), "{name}: the synthetic site has patients for it");
        let distinct: std::collections::BTreeSet<String> = rows.iter().map(|r| r[0].to_string()).collect();
        assert_eq!(sql.attrition.last().unwrap()[5].as_int().unwrap() as usize, distinct.len(), "{name}");
    }
}

/// How many times a query names `table` after FROM or JOIN, quoted or not.
fn reads_of(sql: &str, table: &str) -> usize {
    let words: Vec<&str> =
        sql.split(|c: char| c.is_whitespace() || "(),".contains(c)).filter(|w| !w.is_empty()).collect();
    words
        .windows(2)
        .filter(|w| ["FROM", "JOIN"].contains(&w[0].to_uppercase().as_str()) && w[1].trim_matches('"') == table)
        .count()
}

/// Every compiled query reads the patient table once, in the `patients` CTE that moves each birth
/// date to the first day of its month; a script cannot name a step so that it hides either.
#[test]
fn every_query_reads_the_patient_table_only_with_birth_dates_as_months() {
    let dir = tempdir();
    let own = format!(
        "{HEAD}cohort\n  entry first drug_order where yj_code in yj [\"3969099\"]\n  define patients = count drug_order\n  define patient = first drug_order\n  define Patients = count diagnosis\n  require \"r\": patients > 0 and patient.date >= birth_date and Patients >= 0\nend\ndataset d\n  n = patients\n  age\nend\n"
    );
    let mut scripts: Vec<Script> =
        EXAMPLES.iter().map(|name| Script::load(&testdata(&format!("scripts/{name}"))).unwrap()).collect();
    scripts.push(Script::from_text("own.midnet", &own, dir.path()).unwrap());
    let first_of_month = "SELECT patient_key, sex, CAST(date_trunc('month', birth_date) AS DATE) AS birth_date, death_date\n    FROM patient\n)";
    for script in scripts {
        let mut values = ParamValues::new();
        if script.cutoff().is_some() {
            values.set("cutoff", "2025-09-30");
        }
        let compiled = script.compile(&values).unwrap();
        let queries =
            compiled.queries.outputs.iter().map(|o| o.sql.as_str()).chain([compiled.queries.attrition.as_str()]);
        let conn = support::site(&[]);
        for sql in queries {
            conn.prepare(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
            assert_eq!(reads_of(sql, "patient"), 1, "{sql}");
            assert!(
                sql.starts_with(
                    "WITH\n-- the patient table with each birth date as the first day of its month\n\"patients\" AS (\n"
                ),
                "{sql}"
            );
            assert!(sql.contains(first_of_month), "{sql}");
            assert!(reads_of(sql, "patients") >= 1, "{sql}");
        }
    }
}
