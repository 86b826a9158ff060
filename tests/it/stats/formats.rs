//! The output formats the issue fixes, `--out` tables with their sidecars, and Parquet input.

use serde_json::Value;

use crate::common::{midnet, tempdir, testdata};

fn cohort() -> String {
    testdata("stats/cohort.csv").display().to_string()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[test]
fn km_at_times_without_a_group_is_one_group_named_all() {
    let dir = tempdir();
    let json = midnet(
        dir.path(),
        &["stats", "km", "--input", &cohort(), "--time", "time", "--event", "event", "--at", "30,90,365", "--json"],
    )
    .ok()
    .json();
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["group"], "all");
    let at = groups[0]["at"].as_array().unwrap();
    assert_eq!(at.len(), 3);
    assert_eq!(at[2]["time"], 365.0);
    for key in ["time", "survival", "se", "n_at_risk"] {
        assert!(at[0].get(key).is_some(), "missing {key} in {}", at[0]);
    }
    assert!(json.get("logrank").is_none());
    // survival falls, patients at risk fall
    assert!(at[0]["survival"].as_f64() > at[2]["survival"].as_f64());
    assert!(at[0]["n_at_risk"].as_u64() > at[2]["n_at_risk"].as_u64());
}

#[test]
fn km_full_curve_has_steps_and_the_log_rank_test() {
    let dir = tempdir();
    let json = midnet(
        dir.path(),
        &["stats", "km", "--input", &cohort(), "--time", "time", "--event", "event", "--group", "group", "--json"],
    )
    .ok()
    .json();
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.iter().map(|g| g["group"].as_str().unwrap()).collect::<Vec<_>>(), ["comparator", "drug"]);
    let steps = groups[0]["steps"].as_array().unwrap();
    assert_eq!(keys(&steps[0]), ["censored", "events", "hi", "lo", "n_at_risk", "se", "survival", "time"]);
    let total: u64 = groups.iter().map(|g| g["n"].as_u64().unwrap()).sum();
    assert_eq!(total, 400);
    assert_eq!(json["logrank"]["df"], 1);
}

#[test]
fn cox_json_has_the_issue_fields() {
    let dir = tempdir();
    let json = midnet(
        dir.path(),
        &[
            "stats",
            "cox",
            "--input",
            &cohort(),
            "--time",
            "time",
            "--event",
            "event",
            "--covariates",
            "group,sex,age",
            "--json",
        ],
    )
    .ok()
    .json();
    for key in ["n", "events", "loglik"] {
        assert!(json[key].is_number(), "{key}");
    }
    assert_eq!(json["n"], 400);
    let covariates = json["covariates"].as_array().unwrap();
    assert_eq!(
        covariates.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["group=drug", "sex=M", "age"]
    );
    for c in covariates {
        for key in ["coef", "se", "hr", "hr_lo", "hr_hi", "p"] {
            assert!(c[key].is_number(), "{key} in {c}");
        }
        assert!(c["hr_lo"].as_f64() < c["hr"].as_f64() && c["hr"].as_f64() < c["hr_hi"].as_f64());
    }
    assert_eq!(covariates[0]["reference"], "comparator");
    assert!(covariates[2].get("reference").is_none());
}

#[test]
fn cox_reference_level_flips_the_hazard_ratio() {
    let dir = tempdir();
    let input = cohort();
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "stats",
            "cox",
            "--input",
            &input,
            "--time",
            "time",
            "--event",
            "event",
            "--covariates",
            "group,age",
            "--json",
        ];
        args.extend(extra);
        midnet(dir.path(), &args).ok().json()
    };
    let default = fit(&[]);
    let flipped = fit(&["--reference", "group=drug"]);
    assert_eq!(flipped["covariates"][0]["name"], "group=comparator");
    assert_eq!(flipped["covariates"][0]["reference"], "drug");
    let (a, b) =
        (default["covariates"][0]["coef"].as_f64().unwrap(), flipped["covariates"][0]["coef"].as_f64().unwrap());
    assert!((a + b).abs() < 1e-9, "{a} vs {b}");
    assert!((default["loglik"].as_f64().unwrap() - flipped["loglik"].as_f64().unwrap()).abs() < 1e-9);
}

#[test]
fn out_writes_tables_with_sidecars_whose_roles_count_people() {
    let dir = tempdir();
    let d = dir.path();
    midnet(
        d,
        &[
            "stats",
            "incidence",
            "--input",
            &cohort(),
            "--events",
            "event",
            "--time",
            "person_years",
            "--group-by",
            "age_band,sex",
            "--compare",
            "group=drug:comparator",
            "--out",
            "rates.csv",
        ],
    )
    .ok();
    let sidecar: Value = serde_json::from_str(&std::fs::read_to_string(d.join("rates.meta.json")).unwrap()).unwrap();
    assert_eq!(sidecar["format"], "midnet-table/1");
    assert_eq!(sidecar["kind"], "statistics");
    let role = |name: &str| {
        sidecar["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["role"].as_str().unwrap().to_string())
    };
    assert_eq!(role("age_band").as_deref(), Some("age_band"));
    assert_eq!(role("sex").as_deref(), Some("sex"));
    assert_eq!(role("patients").as_deref(), Some("person_count"));
    assert_eq!(role("events").as_deref(), Some("event_count"));
    assert_eq!(role("person_time").as_deref(), Some("person_time"));
    assert_eq!(role("rate_lo").as_deref(), Some("interval_bound"));
    assert!(sidecar["provenance"]["command"].as_str().unwrap().starts_with("midnet stats incidence"));
    let csv = std::fs::read_to_string(d.join("rates.csv")).unwrap();
    assert!(csv.starts_with("age_band,sex,group,patients,events,person_time,rate,rate_lo,rate_hi\n"), "{csv}");
    // 4 age bands × 2 sexes × 2 groups, all present in the cohort
    assert_eq!(csv.lines().count(), 1 + 16);
    assert!(d.join("rates-compare.csv").is_file() && d.join("rates-compare.meta.json").is_file());

    midnet(
        d,
        &[
            "stats",
            "km",
            "--input",
            &cohort(),
            "--time",
            "time",
            "--event",
            "event",
            "--group",
            "group",
            "--at",
            "90,365",
            "--out",
            "km.csv",
        ],
    )
    .ok();
    let km: Value = serde_json::from_str(&std::fs::read_to_string(d.join("km.meta.json")).unwrap()).unwrap();
    assert!(km["columns"].as_array().unwrap().iter().any(|c| c["name"] == "n_at_risk" && c["role"] == "at_risk"));
    assert_eq!(std::fs::read_to_string(d.join("km.csv")).unwrap().lines().count(), 1 + 4);
    assert!(d.join("km-logrank.csv").is_file());

    midnet(
        d,
        &[
            "stats",
            "cox",
            "--input",
            &cohort(),
            "--time",
            "time",
            "--event",
            "event",
            "--covariates",
            "group,sex",
            "--out",
            "cox.csv",
        ],
    )
    .ok();
    let cox = std::fs::read_to_string(d.join("cox.csv")).unwrap();
    assert!(cox.starts_with("covariate,reference,coef,se,hr,hr_lo,hr_hi,p,n,events\n"), "{cox}");
}

/// The JSON names the strata as the option does (`--group-by`), each row's levels as `group`.
#[test]
fn incidence_json_names_its_strata_as_the_option_does() {
    let dir = tempdir();
    let args =
        ["--events", "event", "--time", "person_years", "--group-by", "group", "--compare", "group=drug:comparator"];
    let mut line = vec!["stats", "incidence", "--input"];
    let cohort = cohort();
    line.push(&cohort);
    line.extend(args);
    line.push("--json");
    let json = midnet(dir.path(), &line).ok().json();
    assert_eq!(json["group_by"], serde_json::json!(["group"]), "{json}");
    assert!(json.get("by").is_none(), "{json}");
    let levels: Vec<&Value> = json["rows"].as_array().unwrap().iter().map(|r| &r["group"]["group"]).collect();
    assert_eq!(levels, ["comparator", "drug"], "{json}");
    assert_eq!(json["comparisons"][0]["group"], serde_json::json!({}), "{json}");
}

#[test]
fn human_output_names_the_methods() {
    let dir = tempdir();
    let run = midnet(
        dir.path(),
        &[
            "stats",
            "incidence",
            "--input",
            &cohort(),
            "--events",
            "event",
            "--time",
            "person_years",
            "--group-by",
            "group",
            "--per",
            "100",
            "--compare",
            "group=drug:comparator",
        ],
    )
    .ok();
    assert!(run.stdout.contains("exact Poisson (Garwood)"), "{}", run.stdout);
    assert!(run.stdout.contains("exact conditional"), "{}", run.stdout);
    assert!(run.stdout.contains("Wald"), "{}", run.stdout);
    let run = midnet(
        dir.path(),
        &[
            "stats",
            "cox",
            "--input",
            &cohort(),
            "--time",
            "time",
            "--event",
            "event",
            "--covariates",
            "group,age",
            "--strata",
            "site",
        ],
    )
    .ok();
    assert!(run.stdout.contains("efron ties, stratified by site (4 strata)"), "{}", run.stdout);
    assert!(run.stdout.contains("group=drug (vs comparator)"), "{}", run.stdout);
    assert!(run.stderr.contains("reference level is `comparator`"), "{}", run.stderr);
    let run = midnet(
        dir.path(),
        &[
            "stats",
            "km",
            "--input",
            &cohort(),
            "--time",
            "time",
            "--event",
            "event",
            "--group",
            "group",
            "--death",
            "death",
            "--at",
            "365",
        ],
    )
    .ok();
    assert!(run.stdout.contains("Aalen-Johansen") && run.stdout.contains("log-rank"), "{}", run.stdout);
}

#[test]
fn parquet_input_gives_the_same_fit_as_csv() {
    let dir = tempdir();
    let parquet = dir.path().join("cohort.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet)",
        cohort(),
        parquet.display()
    ))
    .unwrap();
    let fit = |input: &str| {
        midnet(
            dir.path(),
            &[
                "stats",
                "cox",
                "--input",
                input,
                "--time",
                "time",
                "--event",
                "event",
                "--covariates",
                "group,sex,age,age^2",
                "--strata",
                "site",
                "--json",
            ],
        )
        .ok()
        .json()
    };
    assert_eq!(fit(&cohort()), fit(&parquet.display().to_string()));
}

/// Every analysis command writes its tables as CSV or Parquet through one adapter: the same rows
/// either way, typed columns in Parquet, a sidecar beside each, and a second table (the log-rank
/// test) in the format of the first.
#[test]
fn km_writes_the_same_tables_as_parquet_as_as_csv() {
    let dir = tempdir();
    let km = |out: &str| {
        let args = ["stats", "km", "--input", &cohort(), "--time", "time", "--event", "event", "--group", "group"];
        midnet(dir.path(), &[&args[..], &["--out", out]].concat()).ok();
    };
    km("km.csv");
    km("curve.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let read = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
    };
    for (csv, parquet) in [("km.csv", "curve.parquet"), ("km-logrank.csv", "curve-logrank.parquet")] {
        let (csv, parquet) = (dir.path().join(csv), dir.path().join(parquet));
        assert!(parquet.with_extension("meta.json").is_file(), "{} has its sidecar", parquet.display());
        let summary = |from: String| {
            read(&format!(
                "SELECT (SELECT string_agg(column_name, ',') FROM (DESCRIBE SELECT * FROM {from})) || ' ' || count(*) FROM {from}"
            ))
        };
        let as_csv = summary(format!("read_csv('{}', header = true)", csv.display()));
        assert_eq!(as_csv, summary(format!("read_parquet('{}')", parquet.display())));
    }
    let at_risk = |from: String| read(&format!("SELECT CAST(sum(n_at_risk) AS VARCHAR) FROM {from}"));
    assert_eq!(
        at_risk(format!("read_csv('{}', header = true)", dir.path().join("km.csv").display())),
        at_risk(format!("read_parquet('{}')", dir.path().join("curve.parquet").display()))
    );
    let types = read(&format!(
        "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM read_parquet('{}'))",
        dir.path().join("curve.parquet").display()
    ));
    assert!(types.contains(&"n_at_risk BIGINT".to_string()), "{types:?}");
    assert!(types.contains(&"survival DOUBLE".to_string()), "{types:?}");
}
