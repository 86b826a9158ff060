//! Each kind of bad input gets a clear error naming the file, column and first bad row (exit 2),
//! and a model that cannot be estimated says why (exit 1); nothing is printed as a result.

use std::path::Path;

use crate::common::{Run, midnet, tempdir};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn km(dir: &Path, input: &str) -> Run {
    midnet(dir, &["stats", "km", "--input", input, "--time", "time", "--event", "event"])
}

fn cox(dir: &Path, input: &str, covariates: &str) -> Run {
    midnet(dir, &["stats", "cox", "--input", input, "--time", "time", "--event", "event", "--covariates", covariates])
}

#[test]
fn missing_column_lists_the_columns() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event\n1,1\n2,0\n");
    let run = midnet(dir.path(), &["stats", "km", "--input", &f, "--time", "days", "--event", "event"])
        .fails(2, "no column `days`");
    assert!(run.stderr.contains("the columns are: time, event"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn negative_time_names_the_row_and_line() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event\n1,1\n2,0\n-3,1\n-4,1\n");
    km(dir.path(), &f).fails(2, "column `time`, row 3 (line 4): negative time -3");
}

#[test]
fn missing_time_names_the_row() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event\n1,1\n,0\n");
    km(dir.path(), &f).fails(2, "column `time`, row 2 (line 3): missing value");
}

#[test]
fn text_in_a_time_column_names_the_row() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event\n1,1\n2,0\nsoon,1\n");
    km(dir.path(), &f).fails(2, "column `time`, row 3 (line 4): `soon` is not a number");
}

#[test]
fn event_that_is_not_zero_or_one_names_the_row() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event\n1,1\n2,0\n3,2\n");
    km(dir.path(), &f).fails(2, "column `event`, row 3 (line 4): value 2 is not 0 or 1");
    cox(dir.path(), &f, "time").fails(2, "column `event`, row 3");
}

#[test]
fn empty_file_and_header_only() {
    let dir = tempdir();
    let empty = write(dir.path(), "empty.csv", "");
    km(dir.path(), &empty).fails(2, "the file is empty");
    let header = write(dir.path(), "header.csv", "time,event\n");
    km(dir.path(), &header).fails(2, "has no rows");
    midnet(dir.path(), &["stats", "incidence", "--input", &header, "--events", "event", "--time", "time"])
        .fails(2, "has no rows");
}

#[test]
fn constant_covariate_is_named() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event,x,sex\n1,1,3,female\n2,0,3,female\n3,1,3,female\n");
    cox(dir.path(), &f, "x").fails(2, "covariate `x` is constant (every value is 3)");
    cox(dir.path(), &f, "sex").fails(2, "covariate `sex` is constant (it has one level, `female`)");
}

#[test]
fn covariate_constant_within_every_stratum_is_named() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event,x,site\n1,1,0,A\n2,0,0,A\n3,1,1,B\n4,1,1,B\n5,0,1,B\n");
    midnet(
        dir.path(),
        &["stats", "cox", "--input", &f, "--time", "time", "--event", "event", "--covariates", "x", "--strata", "site"],
    )
    .fails(2, "covariate `x` is constant (it has one value within each stratum)");
}

#[test]
fn missing_covariate_value_names_the_row() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event,x\n1,1,3\n2,0,\n3,1,4\n");
    cox(dir.path(), &f, "x").fails(2, "column `x`, row 2 (line 3): missing value");
}

#[test]
fn collinear_covariates_are_named() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event,x,y\n1,1,1,2\n2,0,2,4\n3,1,3,6\n4,1,5,10\n5,0,4,8\n");
    cox(dir.path(), &f, "x,y")
        .fails(2, "covariate `y` carries no information of its own: it is a linear combination of `x`");
}

#[test]
fn no_events_is_refused() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event,x\n1,0,1\n2,0,2\n");
    cox(dir.path(), &f, "x").fails(2, "there are no events");
}

#[test]
fn separation_fails_with_the_covariate_named() {
    // every event is in group b: the hazard ratio of b is infinite
    let dir = tempdir();
    let mut text = String::from("time,event,group,age\n");
    for i in 0..40 {
        let b = i % 2 == 0;
        text.push_str(&format!(
            "{},{},{},{}\n",
            1 + i % 13,
            if b { 1 } else { 0 },
            if b { "b" } else { "a" },
            30 + i % 17
        ));
    }
    let f = write(dir.path(), "a.csv", &text);
    let run = cox(dir.path(), &f, "group,age").fails(1, "monotone likelihood");
    assert!(run.stderr.contains("`group=b`"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn unknown_reference_level_lists_the_levels() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event,sex\n1,1,F\n2,0,M\n3,1,F\n");
    midnet(
        dir.path(),
        &[
            "stats",
            "cox",
            "--input",
            &f,
            "--time",
            "time",
            "--event",
            "event",
            "--covariates",
            "sex",
            "--reference",
            "sex=X",
        ],
    )
    .fails(2, "covariate `sex` has no level `X` to use as the reference; its levels are: F, M");
    midnet(
        dir.path(),
        &[
            "stats",
            "cox",
            "--input",
            &f,
            "--time",
            "time",
            "--event",
            "event",
            "--covariates",
            "sex",
            "--reference",
            "age=1",
        ],
    )
    .fails(2, "`age` is not one of the covariates");
}

#[test]
fn event_and_death_on_one_row_is_named() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event,death\n1,1,0\n2,1,1\n");
    midnet(dir.path(), &["stats", "km", "--input", &f, "--time", "time", "--event", "event", "--death", "death"])
        .fails(2, "column `death`, row 2 (line 3): both the event and the competing event");
}

#[test]
fn incidence_counts_and_person_time_are_checked() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "events,py,group\n1,2.5,a\n1.5,3,b\n");
    midnet(dir.path(), &["stats", "incidence", "--input", &f, "--events", "events", "--time", "py"])
        .fails(2, "column `events`, row 2 (line 3): 1.5 is not an event count");
    let f = write(dir.path(), "b.csv", "events,py,group\n1,2.5,a\n1,-3,b\n");
    midnet(dir.path(), &["stats", "incidence", "--input", &f, "--events", "events", "--time", "py"])
        .fails(2, "column `py`, row 2 (line 3): negative time");
}

#[test]
fn bad_comparison_and_standard_population() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "events,py,group,band\n1,2.5,a,x\n0,3,b,y\n2,4,a,y\n");
    let base = ["stats", "incidence", "--input", f.as_str(), "--events", "events", "--time", "py"];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend(extra);
        midnet(dir.path(), &args)
    };
    with(&["--compare", "group"]).fails(2, "expected COL=A:B");
    with(&["--compare", "group=a:c"]).fails(2, "column `group` has no level `c`; its levels are: a, b");
    let std_missing = write(dir.path(), "std1.csv", "band,population\nx,10\n");
    with(&["--group-by", "group", "--standardize", "band", "--standard", &std_missing])
        .fails(2, "`band` level `y` is in the data but not in the standard population");
    let std_extra = write(dir.path(), "std2.csv", "band,population\nx,10\ny,20\n");
    with(&["--group-by", "group", "--standardize", "band", "--standard", &std_extra])
        .fails(2, "`band` level `x` has standard population but no person-time in stratum group = b");
    with(&["--group-by", "band", "--standardize", "band", "--standard", &std_extra]).fails(2, "is also a stratum");
    with(&["--per", "0"]).fails(2, "--per 0");
}

#[test]
fn out_must_be_a_csv_or_parquet_file() {
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event\n1,1\n2,0\n");
    midnet(dir.path(), &["stats", "km", "--input", &f, "--time", "time", "--event", "event", "--out", "km.json"])
        .fails(2, "give a .csv or .parquet file name");
    assert!(!dir.path().join("km.json").exists());
}

#[test]
fn missing_input_file_is_not_found() {
    let dir = tempdir();
    km(dir.path(), "nothing.csv").fails(4, "no such file");
}

#[test]
fn covariate_without_variation_in_any_risk_set_is_named() {
    // the only patient with x = 1 leaves before the first event
    let dir = tempdir();
    let f = write(dir.path(), "a.csv", "time,event,x\n0.5,0,1\n1,1,0\n2,1,0\n3,0,0\n");
    cox(dir.path(), &f, "x").fails(2, "covariate `x` carries no information: it does not vary within any risk set");
}
