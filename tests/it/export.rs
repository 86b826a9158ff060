//! The export gate on plain files: `midnet export check` and `midnet export fix`. Each rule has
//! tables that pass and tables that fail; `fix` output must pass `check`; bad inputs get clear errors.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Run, midnet, tempdir};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A sidecar for `table` (e.g. `t.csv`) with the given kind and column roles.
fn sidecar(dir: &Path, table: &str, kind: &str, roles: &[(&str, &str)]) {
    let stem = table.rsplit_once('.').unwrap().0;
    let columns: Vec<Value> = roles.iter().map(|(n, r)| serde_json::json!({"name": n, "role": r})).collect();
    let json = serde_json::json!({
        "format": "midnet-table/1",
        "kind": kind,
        "columns": columns,
        "provenance": {"command": "midnet stats test", "midnet_version": "0.1.0", "created_at": "2026-01-01T00:00:00Z"}
    });
    std::fs::write(dir.join(format!("{stem}.meta.json")), serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

const SITES: &str = r#"
[[site]]
id = "site01"
name = "北山大学病院"
aliases = ["Kitayama University Hospital", "キタヤマ大学病院", "北山大病院"]
path = "site01"

[[site]]
id = "site02"
name = "東浜医療センター"
aliases = ["Higashihama Medical Center"]
path = "site02"
"#;

fn check(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["export", "check", "--json"];
    all.extend_from_slice(args);
    midnet(dir, &all)
}

/// (rule, row, column) of every finding of the first file.
fn findings(run: &Run) -> Vec<(String, Option<u64>, Option<String>)> {
    findings_of(run, 0)
}

fn findings_of(run: &Run, file: usize) -> Vec<(String, Option<u64>, Option<String>)> {
    run.json()["files"][file]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap().to_string(), f["row"].as_u64(), f["column"].as_str().map(str::to_string)))
        .collect()
}

fn rules_of(run: &Run) -> Vec<String> {
    let mut r: Vec<String> = findings(run).into_iter().map(|f| f.0).collect();
    r.dedup();
    r
}

#[track_caller]
fn passes(run: Run) -> Run {
    assert_eq!(run.code, 0, "expected a pass\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["verdict"], "pass");
    run
}

#[track_caller]
fn fails_with(run: Run, rule: &str) -> Run {
    assert_eq!(run.code, 1, "expected findings (exit 1)\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(rules_of(&run).iter().any(|r| r == rule), "expected a {rule} finding\nstdout:\n{}", run.stdout);
    run
}

// ---------------------------------------------------------------- small_cell

#[test]
fn small_cell_zero_and_exactly_ten_pass() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "drug,patients,events\nA,10,0\nB,250,10\n");
    passes(check(dir.path(), &["t.csv"]));
}

#[test]
fn small_cell_one_to_nine_fail_with_row_and_column() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "drug,patients,events\nA,120,9\nB,250,1\nC,40,12\n");
    let run = fails_with(check(dir.path(), &["t.csv"]), "small_cell");
    let f = findings(&run);
    assert!(f.contains(&("small_cell".into(), Some(1), Some("events".into()))), "{f:?}");
    assert!(f.contains(&("small_cell".into(), Some(2), Some("events".into()))), "{f:?}");
    assert_eq!(f.len(), 2, "{f:?}");
    // The human report names the line of the CSV and says what to do.
    let human = midnet(dir.path(), &["export", "check", "t.csv"]);
    assert_eq!(human.code, 1);
    assert!(human.stdout.contains("row 1 (line 2), column `events`"), "{}", human.stdout);
    assert!(human.stdout.contains("midnet export fix"), "{}", human.stdout);
    assert!(human.stderr.contains("did not pass"), "{}", human.stderr);
}

#[test]
fn small_cell_follows_the_sidecar_roles() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "drug,patients,median_days,hr\nA,7,3,2\nB,40,5,1\n");
    sidecar(
        dir.path(),
        "t.csv",
        "statistics",
        &[("drug", "label"), ("patients", "person_count"), ("median_days", "estimate"), ("hr", "ratio")],
    );
    let run = fails_with(check(dir.path(), &["t.csv"]), "small_cell");
    assert_eq!(findings(&run), vec![("small_cell".into(), Some(1), Some("patients".into()))]);
}

#[test]
fn without_a_sidecar_every_integer_column_counts_unless_declared() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "drug,patients,score\nA,40,3\nB,50,4\n");
    let run = fails_with(check(dir.path(), &["t.csv"]), "small_cell");
    assert!(run.stdout.contains("--not-counts"), "{}", run.stdout);
    passes(check(dir.path(), &["t.csv", "--not-counts", "score"]));
    // A typo is an error, not a silent pass.
    midnet(dir.path(), &["export", "check", "t.csv", "--not-counts", "scroe"]).fails(2, "no table checked has");
}

#[test]
fn small_counts_written_into_labels_fail() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "group,mean_age\nDrug A (n=7),64.2\nDrug B (n=120),61.0\n");
    let run = fails_with(check(dir.path(), &["t.csv"]), "small_cell");
    assert_eq!(findings(&run), vec![("small_cell".into(), Some(1), Some("group".into()))]);
}

// ---------------------------------------------------------------- age_band

#[test]
fn five_year_bands_and_one_top_band_pass() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "age_band,patients\n0-19,40\n20-24,31\n80-84,12\n85+,20\n");
    write(dir.path(), "ja.csv", "年齢階級,患者数\n40～44歳,40\n45～49歳,31\n85歳以上,20\n");
    passes(check(dir.path(), &["t.csv", "ja.csv"]));
}

#[test]
fn narrow_bands_and_a_split_top_band_fail() {
    let dir = tempdir();
    write(dir.path(), "narrow.csv", "age_band,patients\n40-41,40\n42-44,31\n");
    let run = fails_with(check(dir.path(), &["narrow.csv"]), "age_band");
    assert_eq!(findings(&run).len(), 2);
    assert!(run.stdout.contains("2 years wide"), "{}", run.stdout);

    write(dir.path(), "top.csv", "age_band,patients\n75-79,40\n80-89,31\n90+,25\n");
    let run = fails_with(check(dir.path(), &["top.csv"]), "age_band");
    let f = findings(&run);
    assert!(f.contains(&("age_band".into(), Some(2), Some("age_band".into()))), "{f:?}");
    assert!(f.contains(&("age_band".into(), Some(3), Some("age_band".into()))), "{f:?}");

    write(dir.path(), "single.csv", "age,patients\n40,40\n41,31\n");
    fails_with(check(dir.path(), &["single.csv"]), "age_band");

    write(dir.path(), "fullwidth.csv", "年齢,患者数\n４０－４２歳,40\n");
    fails_with(check(dir.path(), &["fullwidth.csv"]), "age_band");

    write(dir.path(), "label.csv", "stratum,patients\nAge 40-41,40\nAge 42-49,31\n");
    let run = fails_with(check(dir.path(), &["label.csv"]), "age_band");
    assert_eq!(findings(&run), vec![("age_band".into(), Some(1), Some("stratum".into()))]);
}

#[test]
fn an_open_band_from_below_85_passes() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "age_band,patients\n<65,400\n65-74,310\n75+,250\n");
    passes(check(dir.path(), &["t.csv"]));
}

// ---------------------------------------------------------------- site_breakdown and site_name

#[test]
fn results_per_site_fail() {
    let dir = tempdir();
    write(dir.path(), "sites.toml", SITES);
    write(dir.path(), "by_site.csv", "site,patients\nsite01,120\nsite02,140\n");
    let run = fails_with(check(dir.path(), &["by_site.csv", "--registry", "sites.toml"]), "site_breakdown");
    assert_eq!(findings(&run), vec![("site_breakdown".into(), None, Some("site".into()))]);

    // Registry ids in a column of any name.
    write(dir.path(), "group.csv", "group,patients\nsite01,120\nsite02,140\n");
    fails_with(check(dir.path(), &["group.csv", "--registry", "sites.toml"]), "site_breakdown");

    // Pseudonym-like labels without a registry.
    write(dir.path(), "pseudo.csv", "where,patients\nHospital A,120\nHospital B,140\n");
    fails_with(check(dir.path(), &["pseudo.csv"]), "site_breakdown");

    // A sidecar role.
    write(dir.path(), "role.csv", "src,patients\nq7,120\nx2,140\n");
    sidecar(dir.path(), "role.csv", "statistics", &[("src", "site"), ("patients", "person_count")]);
    fails_with(check(dir.path(), &["role.csv"]), "site_breakdown");

    // One column per site.
    write(dir.path(), "wide.csv", "age_band,site01,site02,total\n40-44,120,140,260\n");
    fails_with(check(dir.path(), &["wide.csv", "--registry", "sites.toml"]), "site_breakdown");

    write(dir.path(), "pooled.csv", "drug,patients\nA,260\nB,140\n");
    passes(check(dir.path(), &["pooled.csv", "--registry", "sites.toml"]));
}

#[test]
fn hospital_names_fail_in_any_spelling() {
    let dir = tempdir();
    write(dir.path(), "sites.toml", SITES);
    // Half-width katakana for the registered full-width katakana alias.
    write(dir.path(), "kana.csv", "note,patients\nｷﾀﾔﾏ大学病院 data,120\nother,140\n");
    let run = fails_with(check(dir.path(), &["kana.csv", "--registry", "sites.toml"]), "site_name");
    assert!(findings(&run).contains(&("site_name".into(), Some(1), Some("note".into()))));
    assert!(run.stdout.contains("site01"), "{}", run.stdout);

    // Full-width Latin letters, other case and spacing.
    write(dir.path(), "latin.csv", "note,patients\nfrom ＫＩＴＡＹＡＭＡ　university  hospital,120\n");
    fails_with(check(dir.path(), &["latin.csv", "--registry", "sites.toml"]), "site_name");

    // In a column name.
    write(dir.path(), "header.csv", "drug,東浜医療センター\nA,120\n");
    fails_with(check(dir.path(), &["header.csv", "--registry", "sites.toml"]), "site_name");

    // In a text file, by line.
    write(dir.path(), "notes.txt", "Results\nData from Higashihama Medical Center.\n");
    let run = fails_with(check(dir.path(), &["notes.txt", "--registry", "sites.toml"]), "site_name");
    assert_eq!(run.json()["files"][0]["findings"][0]["line"], 2);

    // The distinctive part of a name names the hospital on its own; a word that only shares its
    // letters does not.
    write(dir.path(), "part.csv", "note,patients\nKitayama-like town,120\n");
    fails_with(check(dir.path(), &["part.csv", "--registry", "sites.toml"]), "site_name");
    write(dir.path(), "clean.csv", "note,patients\nKitayamabashi station,120\n");
    passes(check(dir.path(), &["clean.csv", "--registry", "sites.toml"]));
}

#[test]
fn without_a_registry_names_are_not_checked_and_the_report_says_so() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "note,patients\n北山大学病院,120\n");
    let run = passes(check(dir.path(), &["t.csv"]));
    assert_eq!(run.json()["skipped"][0]["rule"], "site_name");
    assert!(run.stderr.contains("site_name not checked"), "{}", run.stderr);
}

// ---------------------------------------------------------------- patient_level

#[test]
fn a_person_key_is_patient_level_and_fails_even_for_export() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "person_id,sex,outcome\nP1,M,1\nP2,F,0\n");
    let run = fails_with(check(dir.path(), &["t.csv", "--stage", "export"]), "patient_level");
    assert_eq!(run.json()["files"][0]["verdict"], "fail");
    assert_eq!(rules_of(&run), vec!["patient_level"], "a patient-level file gets that finding alone");
}

#[test]
fn an_analysis_dataset_is_refused_whatever_its_name() {
    let dir = tempdir();
    write(dir.path(), "summary_statistics.csv", "group,n\nA,120\nB,130\n");
    sidecar(dir.path(), "summary_statistics.csv", "analysis_dataset", &[("group", "label"), ("n", "person_count")]);
    let run = fails_with(check(dir.path(), &["summary_statistics.csv", "--stage", "export"]), "patient_level");
    assert!(run.stdout.contains("analysis dataset"), "{}", run.stdout);
}

#[test]
fn rows_that_behave_like_person_records_are_patient_level() {
    let dir = tempdir();
    let mut text = String::from("sex,age_band,drug,outcome\n");
    for i in 0..30 {
        let sex = if i % 2 == 0 { "M" } else { "F" };
        let band = ["40-44", "45-49", "50-54"][i % 3];
        text.push_str(&format!("{sex},{band},drugA,{}\n", i % 5 == 0));
    }
    write(dir.path(), "records.csv", &text);
    let run = fails_with(check(dir.path(), &["records.csv"]), "patient_level");
    assert!(run.stdout.contains("person records"), "{}", run.stdout);

    // Birth dates.
    write(dir.path(), "birth.csv", "birth_ym,sex\n1950-04,M\n1961-11,F\n");
    fails_with(check(dir.path(), &["birth.csv"]), "patient_level");

    // A stratified table of estimates: one row per group.
    let mut text = String::from("sex,age_band,hr,lo95,hi95\n");
    for sex in ["M", "F"] {
        for band in ["40-44", "45-49", "50-54", "55-59", "60-64", "65-69"] {
            text.push_str(&format!("{sex},{band},1.2,0.9,1.6\n"));
        }
    }
    write(dir.path(), "estimates.csv", &text);
    passes(check(dir.path(), &["estimates.csv"]));
}

// ---------------------------------------------------------------- recoverable_suppression

#[test]
fn a_masked_cell_given_back_by_the_total_fails() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "age_band,patients\n40-44,120\n45-49,<10\n50-54,80\nTotal,207\n");
    let run = fails_with(check(dir.path(), &["t.csv"]), "recoverable_suppression");
    assert_eq!(findings(&run), vec![("recoverable_suppression".into(), Some(2), Some("patients".into()))]);
    assert!(run.stdout.contains("total in row 4"), "{}", run.stdout);

    // Without the total, the mask holds.
    write(dir.path(), "no_total.csv", "age_band,patients\n40-44,120\n45-49,<10\n50-54,80\n");
    passes(check(dir.path(), &["no_total.csv"]));
}

#[test]
fn a_row_total_column_gives_back_the_only_masked_cell_of_a_row() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "age_band,male,female,total\n40-44,120,*,131\n45-49,80,95,175\n");
    let run = fails_with(check(dir.path(), &["t.csv"]), "recoverable_suppression");
    assert_eq!(findings(&run), vec![("recoverable_suppression".into(), Some(1), Some("female".into()))]);
}

#[test]
fn complementary_suppression_in_a_crosstab_holds() {
    // Two masked cells in each row and column of the margins: four unknowns, rank three.
    let dir = tempdir();
    write(
        dir.path(),
        "t.csv",
        "age_band,male,female,total\n40-44,<10,*,31\n45-49,*,<10,27\n50-54,80,95,175\nTotal,115,118,233\n",
    );
    passes(check(dir.path(), &["t.csv"]));
    // Unmask one of the four and all four come back (through the margins).
    write(
        dir.path(),
        "leaky.csv",
        "age_band,male,female,total\n40-44,<10,*,31\n45-49,26,<10,27\n50-54,80,95,175\nTotal,115,118,233\n",
    );
    let run = fails_with(check(dir.path(), &["leaky.csv"]), "recoverable_suppression");
    assert_eq!(findings(&run).len(), 3, "{:?}", findings(&run));
}

#[test]
fn nested_subtotals_in_a_long_table_are_sums() {
    let dir = tempdir();
    write(
        dir.path(),
        "t.csv",
        "sex,age_band,patients\nM,40-44,120\nM,45-49,*\nM,Total,131\nF,40-44,95\nF,45-49,60\nF,Total,155\n",
    );
    let run = fails_with(check(dir.path(), &["t.csv"]), "recoverable_suppression");
    assert_eq!(findings(&run), vec![("recoverable_suppression".into(), Some(2), Some("patients".into()))]);
}

#[test]
fn a_percentage_beside_a_masked_count_gives_it_back() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "outcome,patients,pct\nrash,<10,2.5\nfever,120,30.0\n");
    let run = fails_with(check(dir.path(), &["t.csv"]), "recoverable_suppression");
    assert!(run.stdout.contains("column `pct`"), "{}", run.stdout);
}

// ---------------------------------------------------------------- file_type

#[test]
fn only_tables_text_and_figures_with_their_table_pass() {
    let dir = tempdir();
    write(dir.path(), "book.xlsx", "PK\u{3}\u{4}not really");
    let run = fails_with(check(dir.path(), &["book.xlsx"]), "file_type");
    assert!(run.stdout.contains("CSV or Parquet"), "{}", run.stdout);

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    std::fs::write(dir.path().join("alone.png"), png).unwrap();
    fails_with(check(dir.path(), &["alone.png"]), "file_type");

    std::fs::write(dir.path().join("fig.png"), png).unwrap();
    write(dir.path(), "fig.csv", "age_band,patients\n40-44,120\n45-49,80\n");
    let run = passes(check(dir.path(), &["fig.png"]));
    let files = run.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 2, "the table behind the figure is checked too");
    assert_eq!(files[1]["added_for_figure"], true);

    // The figure is no better than its table.
    write(dir.path(), "fig.csv", "age_band,patients\n40-44,120\n45-49,8\n");
    let run = check(dir.path(), &["fig.png"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["files"][0]["verdict"], "fail");

    write(dir.path(), "fake.png", "just text");
    fails_with(check(dir.path(), &["fake.png"]), "file_type");

    write(dir.path(), "s.svg", "<svg><script>alert(1)</script></svg>");
    write(dir.path(), "s.csv", "a,patients\nx,100\n");
    fails_with(check(dir.path(), &["s.svg"]), "file_type");

    write(dir.path(), "readme.txt", "How the tables were made.\n");
    passes(check(dir.path(), &["readme.txt"]));

    write(dir.path(), "t.csv", "a,patients\nx,100\n");
    sidecar(dir.path(), "t.csv", "statistics", &[("a", "label"), ("patients", "person_count")]);
    fails_with(check(dir.path(), &["t.meta.json"]), "file_type");

    std::fs::write(dir.path().join("binary.csv"), b"a,b\n\0\x01\x02,3\n").unwrap();
    fails_with(check(dir.path(), &["binary.csv", "--stage", "export"]), "file_type");
}

// ---------------------------------------------------------------- differencing

#[test]
fn cohort_minus_subgroup_reveals_a_small_group() {
    let dir = tempdir();
    write(dir.path(), "cohort.csv", "age_band,patients\n40-44,120\n45-49,80\n50-54,64\n");
    write(dir.path(), "women.csv", "age_band,patients\n40-44,113\n45-49,41\n50-54,30\n");
    // Each table alone passes.
    passes(check(dir.path(), &["cohort.csv"]));
    passes(check(dir.path(), &["women.csv"]));
    let run = check(dir.path(), &["cohort.csv", "women.csv"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(findings_of(&run, 0), vec![("differencing".into(), Some(1), Some("patients".into()))]);
    assert_eq!(findings_of(&run, 1), vec![("differencing".into(), Some(1), Some("patients".into()))]);
    assert!(run.stdout.contains("differ by 7"), "{}", run.stdout);
}

#[test]
fn analysis_k_plus_one_minus_analysis_k_reveals_new_cases() {
    let dir = tempdir();
    write(dir.path(), "v1.csv", "drug,patients,events\nA,300,40\nB,250,31\n");
    write(dir.path(), "v2.csv", "drug,patients,events\nA,340,43\nB,290,45\n");
    fails_with(check(dir.path(), &["v2.csv", "v1.csv"]), "differencing");
    // Against a table already released: only the checked file is reported.
    let run = fails_with(check(dir.path(), &["v2.csv", "--released", "v1.csv"]), "differencing");
    assert_eq!(run.json()["files"].as_array().unwrap().len(), 1);
    assert!(run.stdout.contains("released table"), "{}", run.stdout);
}

#[test]
fn tables_that_are_not_nested_are_not_differenced() {
    let dir = tempdir();
    write(dir.path(), "drug_a.csv", "age_band,patients\n40-44,120\n45-49,80\n");
    write(dir.path(), "drug_b.csv", "age_band,patients\n40-44,115\n45-49,95\n");
    passes(check(dir.path(), &["drug_a.csv", "drug_b.csv"]));
}

// ---------------------------------------------------------------- stages

#[test]
fn at_the_export_stage_disclosure_findings_need_review() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "drug,patients\nA,7\nB,120\n");
    let run = check(dir.path(), &["t.csv", "--stage", "export"]);
    assert_eq!(run.code, 1, "review is not a pass");
    let json = run.json();
    assert_eq!(json["stage"], "export");
    assert_eq!(json["verdict"], "review");
    assert_eq!(json["files"][0]["findings"][0]["verdict"], "review");
    let run = check(dir.path(), &["t.csv"]);
    assert_eq!(run.json()["verdict"], "fail");
}

#[test]
fn the_rules_file_sets_the_thresholds() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "drug,patients\nA,12\n");
    passes(check(dir.path(), &["t.csv"]));
    let rules = std::fs::read_to_string(crate::common::repo_root().join("sql/export-rules.toml"))
        .unwrap()
        .replace("min_count = 10", "min_count = 20");
    write(dir.path(), "strict.toml", &rules);
    fails_with(check(dir.path(), &["t.csv", "--rules", "strict.toml"]), "small_cell");
    write(dir.path(), "bad.toml", "min_count = \"ten\"\n");
    midnet(dir.path(), &["export", "check", "t.csv", "--rules", "bad.toml"])
        .fails(2, "bad.toml: not a valid export rules file");
}

// ---------------------------------------------------------------- fix

#[test]
fn fix_rebands_aggregates_over_sites_suppresses_and_passes() {
    let dir = tempdir();
    write(dir.path(), "sites.toml", SITES);
    write(
        dir.path(),
        "t.csv",
        "site,age,patients,events,rate\n\
         site01,40,30,3,0.1\nsite01,41,25,2,0.08\nsite01,86,12,4,0.33\nsite01,91,3,1,0.33\n\
         site02,40,28,6,0.21\nsite02,42,31,9,0.29\nsite02,88,15,2,0.13\nsite02,95,2,0,0\n\
         Total,All,146,27,0.18\n",
    );
    let run =
        midnet(dir.path(), &["export", "fix", "t.csv", "--out", "fixed.csv", "--registry", "sites.toml", "--json"])
            .ok();
    let json = run.json();
    let actions: Vec<&str> =
        json["changes"].as_array().unwrap().iter().map(|c| c["action"].as_str().unwrap()).collect();
    for a in ["aggregated_sites", "rebanded", "dropped_column", "merged_rows"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert_eq!(json["check"]["verdict"], "pass");
    let text = std::fs::read_to_string(dir.path().join("fixed.csv")).unwrap();
    assert!(!text.contains("site"), "{text}");
    assert!(text.starts_with("age,patients,events\n"), "{text}");
    // The row that totalled over sites and ages stays as the total over ages; the events of the
    // two bands are both masked, or the total would give back the small one.
    assert_eq!(text, "age,patients,events\n40-44,114,*\n85+,32,*\nAll,146,27\n");
    let complementary =
        json["changes"].as_array().unwrap().iter().filter(|c| c["action"] == "suppressed_complementary").count();
    assert_eq!(complementary, 1, "{}", run.stdout);
    assert!(dir.path().join("fixed.meta.json").is_file());
    passes(check(dir.path(), &["fixed.csv", "--registry", "sites.toml"]));
}

#[test]
fn fix_adds_complementary_suppression_so_no_mask_can_be_recomputed() {
    let dir = tempdir();
    write(
        dir.path(),
        "t.csv",
        "age_band,male,female,total\n40-44,25,6,31\n45-49,20,7,27\n50-54,80,95,175\nTotal,125,108,233\n",
    );
    let run = midnet(dir.path(), &["export", "fix", "t.csv", "--out", "fixed.csv", "--json"]).ok();
    let json = run.json();
    let complementary =
        json["changes"].as_array().unwrap().iter().filter(|c| c["action"] == "suppressed_complementary").count();
    assert!(complementary >= 2, "{}", run.stdout);
    passes(check(dir.path(), &["fixed.csv"]));
    let text = std::fs::read_to_string(dir.path().join("fixed.csv")).unwrap();
    assert!(!text.contains(",6,") && !text.contains(",7,"), "{text}");
}

#[test]
fn fix_masks_rates_beside_a_masked_count() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "drug,events,person_years,rate\nA,4,1000.5,4.0\nB,120,2000,60.0\n");
    sidecar(
        dir.path(),
        "t.csv",
        "statistics",
        &[("drug", "label"), ("events", "event_count"), ("person_years", "person_time"), ("rate", "rate")],
    );
    midnet(dir.path(), &["export", "fix", "t.csv", "--out", "fixed.csv"]).ok();
    let text = std::fs::read_to_string(dir.path().join("fixed.csv")).unwrap();
    assert!(text.contains("A,*,1000.5,*"), "{text}");
    passes(check(dir.path(), &["fixed.csv"]));
}

#[test]
fn fix_refuses_patient_level_files() {
    let dir = tempdir();
    write(dir.path(), "t.csv", "person_id,sex\nP1,M\nP2,F\n");
    midnet(dir.path(), &["export", "fix", "t.csv", "--out", "fixed.csv"]).fails(3, "refused (patient_level)");
    assert!(!dir.path().join("fixed.csv").exists());
}

#[test]
fn fix_reads_parquet() {
    let dir = tempdir();
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let path = dir.path().join("t.parquet");
    conn.execute_batch(&format!(
        "COPY (SELECT * FROM (VALUES ('A', 7), ('B', 120), ('C', 200)) v(drug, patients)) TO '{}' (FORMAT parquet)",
        path.display()
    ))
    .unwrap();
    fails_with(check(dir.path(), &["t.parquet"]), "small_cell");
    midnet(dir.path(), &["export", "fix", "t.parquet", "--out", "fixed.csv"]).ok();
    passes(check(dir.path(), &["fixed.csv"]));
}

// ---------------------------------------------------------------- bad inputs

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempdir();
    midnet(dir.path(), &["export", "check", "missing.csv"]).fails(4, "missing.csv: no such file");

    write(dir.path(), "empty.csv", "drug,patients\n");
    midnet(dir.path(), &["export", "check", "empty.csv"]).fails(2, "empty.csv: the table has no rows");

    write(dir.path(), "t.csv", "drug,patients\nA,120\n");
    write(dir.path(), "t.meta.json", r#"{"format": "midnet-table/9", "kind": "statistics", "columns": []}"#);
    midnet(dir.path(), &["export", "check", "t.csv"]).fails(2, "sidecar format `midnet-table/9`");

    write(dir.path(), "u.csv", "drug,patients\nA,120\n");
    sidecar(dir.path(), "u.csv", "statistics", &[("drug", "label"), ("people", "person_count")]);
    midnet(dir.path(), &["export", "check", "u.csv"]).fails(2, "describes a column `people`");

    std::fs::write(dir.path().join("broken.parquet"), b"PAR1 this is not parquet at all PAR1").unwrap();
    midnet(dir.path(), &["export", "check", "broken.parquet"]).fails(2, "broken.parquet: cannot be read as a table");

    std::fs::create_dir(dir.path().join("folder.csv")).unwrap();
    midnet(dir.path(), &["export", "check", "folder.csv"]).fails(2, "is a directory");

    write(dir.path(), "sites.toml", "[[site]]\nid = \"s1\"\n");
    midnet(dir.path(), &["export", "check", "u.csv", "--registry", "sites.toml"])
        .fails(2, "sites.toml: not a valid site registry");

    write(dir.path(), "ok.csv", "drug,patients\nA,120\n");
    midnet(dir.path(), &["export", "fix", "ok.csv", "--out", "ok.parquet"]).fails(2, "give a name ending in .csv");
    midnet(dir.path(), &["export", "fix", "ok.csv", "--out", "ok.csv"]).fails(2, "never overwrites its input");
}

// ---------------------------------------------------------------- "Table 1" layouts

const TABLE_ONE: &str = "characteristic,level,drug_a,drug_b\n\
    Sex,Male,120 (52.2%),190 (95.0%)\n\
    ,Female,110 (47.8%),<10\n\
    Age,40-44,30 (13.0%),22 (11.0%)\n\
    ,45-49,200 (87.0%),178 (89.0%)\n\
    All,,230,200\n";

#[test]
fn table_one_blocks_each_sum_to_the_total() {
    let dir = tempdir();
    write(dir.path(), "t1.csv", TABLE_ONE);
    let run = fails_with(check(dir.path(), &["t1.csv"]), "recoverable_suppression");
    assert_eq!(findings(&run), vec![("recoverable_suppression".into(), Some(2), Some("drug_b".into()))]);
    midnet(dir.path(), &["export", "fix", "t1.csv", "--out", "fixed.csv"]).ok();
    passes(check(dir.path(), &["fixed.csv"]));
    let text = std::fs::read_to_string(dir.path().join("fixed.csv")).unwrap();
    assert!(text.contains("Sex,Male,120 (52.2%),*\n,Female,110 (47.8%),*\n"), "{text}");
}

#[test]
fn percentages_give_the_denominator_away() {
    // No total row, but 22 (11.0%) says the column's denominator is 200: Female = 200 - 190.
    let dir = tempdir();
    let text =
        "characteristic,level,drug_b\nSex,Male,190 (95.0%)\n,Female,<10\nAge,40-44,22 (11.0%)\n,45-49,178 (89.0%)\n";
    write(dir.path(), "t.csv", text);
    let run = fails_with(check(dir.path(), &["t.csv"]), "recoverable_suppression");
    assert!(run.stdout.contains("denominator (200)"), "{}", run.stdout);
    midnet(dir.path(), &["export", "fix", "t.csv", "--out", "fixed.csv"]).ok();
    passes(check(dir.path(), &["fixed.csv"]));
    // Without percentages the mask holds.
    write(
        dir.path(),
        "plain.csv",
        "characteristic,level,drug_b\nSex,Male,190\n,Female,<10\nAge,40-44,22\n,45-49,178\n",
    );
    passes(check(dir.path(), &["plain.csv"]));
}

#[test]
fn table_one_levels_under_an_age_heading_are_bands() {
    let dir = tempdir();
    write(dir.path(), "t1.csv", &TABLE_ONE.replace("45-49", "45-46"));
    let run = fails_with(check(dir.path(), &["t1.csv"]), "age_band");
    assert!(findings(&run).contains(&("age_band".into(), Some(4), Some("level".into()))));
    assert!(run.stdout.contains("under `Age`"), "{}", run.stdout);
}

// ---------------------------------------------------------------- fix, as a property

mod fix_property {
    use proptest::prelude::*;

    use super::*;
    use crate::common::proptest_cases;

    /// A per-site table of single ages, with small counts, optionally a total row.
    fn table() -> impl Strategy<Value = String> {
        (1usize..4, prop::collection::btree_set(20u32..100, 1..12), any::<bool>(), any::<u64>()).prop_map(
            |(sites, ages, total, seed)| {
                let mut state = seed | 1;
                let mut next = move |n: u64| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state % n
                };
                let mut text = String::from("site,age,patients,events\n");
                let (mut all_p, mut all_e) = (0, 0);
                for s in 1..=sites {
                    for a in &ages {
                        let p = if next(3) == 0 { next(10) } else { 10 + next(200) };
                        let e = next(p + 1);
                        all_p += p;
                        all_e += e;
                        text.push_str(&format!("site{s:02},{a},{p},{e}\n"));
                    }
                }
                if total {
                    text.push_str(&format!("Total,All,{all_p},{all_e}\n"));
                }
                text
            },
        )
    }

    proptest! {
        // Each case runs the binary twice: a quarter of the usual cases.
        #![proptest_config(ProptestConfig::with_cases((proptest_cases() / 4).max(4)))]

        #[test]
        fn fix_output_passes_check(text in table()) {
            let dir = tempdir();
            write(dir.path(), "sites.toml", SITES);
            write(dir.path(), "t.csv", &text);
            let run = midnet(dir.path(), &["export", "fix", "t.csv", "--out", "fixed.csv", "--registry", "sites.toml", "-q"]);
            prop_assert_eq!(run.code, 0, "input:\n{}\nstdout:\n{}\nstderr:\n{}", text, run.stdout, run.stderr);
            let run = check(dir.path(), &["fixed.csv", "--registry", "sites.toml"]);
            prop_assert_eq!(run.code, 0, "input:\n{}\nfixed:\n{}\n{}", text,
                std::fs::read_to_string(dir.path().join("fixed.csv")).unwrap(), run.stdout);
        }
    }
}

#[test]
fn every_cell_is_read_as_written_even_past_the_type_sniffing_sample() {
    // DuckDB sniffs CSV types from the first rows; a `<10` far below them must still be read.
    let dir = tempdir();
    let mut text = String::from("group,patients\n");
    for i in 0..25_000 {
        text.push_str(&format!("g{i},20\n"));
    }
    text.push_str("late,<10\nTotal,500007\n");
    write(dir.path(), "long.csv", &text);
    let run = fails_with(check(dir.path(), &["long.csv"]), "recoverable_suppression");
    assert_eq!(findings(&run), vec![("recoverable_suppression".into(), Some(25_001), Some("patients".into()))]);
}
