//! `midnet protocol plan` and the sequential monitoring of `protocol run` (issue 24): the
//! surveillance plan is set before the first analysis, recorded with every analysis, and fixed
//! after the first one; a project without one gets the default plan at its first analysis.

use std::path::PathBuf;

use serde_json::Value;

use crate::center::{Center, create_args};

const NOVAGLIPTIN: &str = "3969099";
const SITAGLIPTIN: &str = "3969010";

/// A data center with a small synthetic network, a signal-detection project `p1` with analyst
/// alan, and every site approving the protocol script for novagliptin vs sitagliptin.
fn monitored() -> Center {
    let c = Center::with_users();
    let network = c.root.join("network");
    let out = network.display().to_string();
    c.run(
        "rev",
        &["synth", "--site-count", "2", "--patients", "3000", "--seed", "5", "--dir", &out, "--load", "--quiet"],
    )
    .ok();
    c.add_sites(&network.join("sites.toml"));
    c.set_today("2026-06-02");
    c.run("rev", &create_args("p1", "signal_detection", "2026-06-01", "2027-05-31", &[])).ok();
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    let script = c.root.join("protocol.midnet").display().to_string();
    c.run("alan", &["protocol", "script", "--out", &script]).ok();
    for site in ["site01", "site02"] {
        let dir = network.join(site).display().to_string();
        let (d, k) = (format!("drug={NOVAGLIPTIN}"), format!("comparator={SITAGLIPTIN}"));
        let mut args: Vec<&str> = vec!["site", "approve", "--site", dir.as_str(), "--project", "p1"];
        args.extend(["--by", "Sato Hanako", script.as_str(), "--param", d.as_str(), "--param", k.as_str()]);
        c.run("rev", &args).ok();
    }
    c
}

fn run(c: &Center, cutoff: &str) -> Value {
    let args = ["protocol", "run", "--project", "p1", "--drug", NOVAGLIPTIN, "--comparator", SITAGLIPTIN];
    let mut args = args.to_vec();
    args.extend(["--cutoff", cutoff, "--quiet", "--json"]);
    c.run("alan", &args).ok().json()
}

fn plan_file(c: &Center) -> PathBuf {
    c.area("p1").join("work/protocol/surveillance.json")
}

#[test]
fn the_plan_is_set_before_the_first_look_recorded_with_it_and_fixed_after() {
    let c = monitored();
    let looks = "2024-03-31,2024-09-30,2025-03-31";
    let set = ["protocol", "plan", "--project", "p1", "--looks", looks, "--spending", "pocock", "--json"];
    let plan = c.run("alan", &set).ok().json();
    assert_eq!(plan["looks"], serde_json::json!(["2024-03-31", "2024-09-30", "2025-03-31"]));
    assert_eq!((plan["spending"].as_str(), plan["alpha"].as_f64()), (Some("pocock"), Some(0.025)));
    assert_eq!(plan["timescale"], "calendar");
    assert_eq!(
        (plan["overrun"].as_str(), plan["short_look"].as_str()),
        (Some("spend_remaining"), Some("spend_nothing"))
    );
    assert_eq!(plan["set_by"], "alan");
    // Before the first look it may still be changed.
    let set_obf = ["protocol", "plan", "--project", "p1", "--looks", looks, "--json"];
    let plan = c.run("alan", &set_obf).ok().json();
    assert_eq!(plan["spending"], "obrien_fleming");

    let report = run(&c, "2024-03-31");
    assert_eq!(report["record"]["surveillance"], plan, "the analysis records the plan it ran under");
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(plan_file(&c)).unwrap()).unwrap();
    assert_eq!(kept, plan);
    let audit = std::fs::read_to_string(c.audit_log()).unwrap();
    assert!(audit.contains("protocol plan") && audit.contains("surveillance.json"), "the plan is audited");

    let refused = c.run("alan", &["protocol", "plan", "--project", "p1", "--looks", "2025-03-31"]);
    refused.fails(3, "refused (surveillance_plan_fixed): project p1 made its first analysis (cut-off 2024-03-31)");
    let kept_after: Value = serde_json::from_str(&std::fs::read_to_string(plan_file(&c)).unwrap()).unwrap();
    assert_eq!(kept_after, plan, "a refused plan changes nothing");
}

#[test]
fn a_project_without_a_plan_gets_the_default_at_its_first_analysis() {
    let c = monitored();
    let report = run(&c, "2024-03-31");
    let plan = &report["record"]["surveillance"];
    assert_eq!(plan["set_by"], "default");
    assert_eq!(plan["spending"], "obrien_fleming");
    assert_eq!(plan["alpha"], 0.025);
    assert_eq!(plan["start"], "2019-04-01");
    let looks: Vec<&str> = plan["looks"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(looks.len(), 8);
    assert_eq!((looks[0], looks[7]), ("2024-03-31", "2025-12-31"));
    let later = run(&c, "2024-06-30");
    assert_eq!(&later["record"]["surveillance"], plan, "later analyses keep the first one's plan");
}

#[test]
fn a_bad_plan_is_refused_saying_what_and_where() {
    let c = Center::with_users();
    c.set_today("2026-06-02");
    c.research_project("p1");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    let plan = |extra: &[&str]| {
        let mut args = vec!["protocol", "plan", "--project", "p1"];
        args.extend_from_slice(extra);
        c.run("alan", &args)
    };
    plan(&["--looks", "2024-09-30,2024-03-31"])
        .fails(2, "--looks: look 2 (2024-03-31) is not after look 1 (2024-09-30)");
    plan(&["--looks", "2024-02-30"])
        .fails(2, "--looks (look 1): `2024-02-30` is not a date: February 2024 has 29 days");
    plan(&["--looks", "2018-12-31"]).fails(2, "is not after the start 2019-04-01");
    plan(&["--looks", "2024-03-31", "--alpha", "0.5"]).fails(2, "--alpha 0.5: the one-sided level must be above 0");
    plan(&["--looks", "2024-03-31", "--spending", "haybittle"]).fails(2, "haybittle");
    assert!(!c.area("p1").join("work/protocol/surveillance.json").exists(), "nothing written");
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

#[test]
fn each_look_records_statistic_information_boundary_and_alpha_spent_and_history_shows_them() {
    use midnet::stats::sequential::{Look, Made, Sequence, Spending};
    let c = monitored();
    let looks = "2025-03-31,2025-09-30,2026-03-31";
    c.run("alan", &["protocol", "plan", "--project", "p1", "--looks", looks, "--start", "2024-09-30"]).ok();
    run(&c, "2025-03-31");
    run(&c, "2025-09-30");
    let dir = |k: u32| c.area("p1").join(format!("work/protocol/analysis-{k}"));
    let first = csv_rows(&dir(1).join("results.csv"));
    let second = csv_rows(&dir(2).join("results.csv"));
    let number = |row: &std::collections::BTreeMap<String, String>, column: &str| row[column].parse::<f64>().ok();
    // Calendar fractions from 2024-09-30: 182 / 547 and 365 / 547 days.
    let (t1, t2) = (182.0 / 547.0, 365.0 / 547.0);
    let mut checked = 0;
    for (a, b) in first.iter().zip(&second) {
        assert_eq!((&a["outcome"], &a["subgroup"]), (&b["outcome"], &b["subgroup"]));
        let Some((z1, i1)) = number(a, "z").zip(number(a, "information")) else {
            assert!(a["hr"].is_empty() && a["boundary"].is_empty() && a["crossed"] == "no", "{a:?}");
            continue;
        };
        // The statistic is the Wald z of the log hazard ratio with information 1 / variance.
        let hr = number(a, "hr").unwrap();
        assert!((hr.ln() * i1.sqrt() - z1).abs() < 1e-9 * (1.0 + z1.abs()), "{a:?}");
        let b1 = number(a, "boundary").expect("a first look with a statistic has a boundary");
        assert!((number(a, "alpha_spent").unwrap() - Spending::OBrienFleming.spent(0.025, t1)).abs() < 1e-15);
        assert_eq!(a["crossed"] == "yes", z1 >= b1, "{a:?}");
        let Some((z2, i2)) = number(b, "z").zip(number(b, "information")) else { continue };
        // The second boundary continues from the first as recorded.
        let made = [Made { information: i1, z: Some(b1) }];
        let mut sequence = Sequence::resume(0.025, Spending::OBrienFleming, &made, number(a, "alpha_spent").unwrap());
        let expected = sequence.look(Look { information: i2, fraction: t2 });
        assert_eq!(number(b, "boundary"), expected.z.ok(), "{b:?}");
        assert_eq!(number(b, "alpha_spent"), Some(expected.spent), "{b:?}");
        assert_eq!(b["crossed"] == "yes", expected.z.is_ok_and(|bound| z2 >= bound), "{b:?}");
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} outcome x subgroup tests had a statistic at both looks");

    let history = c.run("alan", &["protocol", "history", "--project", "p1", "--json"]).ok().json();
    let row = &history["rows"][0];
    let looks = row["looks"].as_array().unwrap();
    assert_eq!(looks.len(), 2);
    for (look, recorded) in looks.iter().zip([&first[0], &second[0]]) {
        assert_eq!(look["z"].as_f64(), number(recorded, "z"));
        assert_eq!(look["boundary"].as_f64(), number(recorded, "boundary"));
        assert_eq!(look["alpha_spent"].as_f64(), number(recorded, "alpha_spent"));
    }
    let text = c.run("alan", &["protocol", "history", "--project", "p1"]).ok().stdout;
    assert!(text.contains("the flag: z / boundary (alpha spent) per look"), "{text}");
    assert!(text.contains("u: unadjusted per-look flag"), "{text}");
    the_flag_is_the_crossing_and_the_unadjusted_flag_is_named_as_such(&c, &[first, second], &history);
}

/// The flag of every output is the sequential one (crossed at this look or an earlier one); the
/// per-look flag of the lower Wald bound is kept under a name that says it is unadjusted.
fn the_flag_is_the_crossing_and_the_unadjusted_flag_is_named_as_such(
    c: &Center,
    analyses: &[Vec<std::collections::BTreeMap<String, String>>],
    history: &Value,
) {
    for (k, rows) in analyses.iter().enumerate() {
        let record: Value = serde_json::from_str(
            &std::fs::read_to_string(c.area("p1").join(format!("work/protocol/analysis-{}/analysis.json", k + 1)))
                .unwrap(),
        )
        .unwrap();
        let names = |key: &str| -> Vec<String> {
            record[key]
                .as_array()
                .unwrap_or_else(|| panic!("record lacks {key}"))
                .iter()
                .map(|v| v.to_string())
                .collect()
        };
        let (mut sequential, mut unadjusted) = (Vec::new(), Vec::new());
        for r in rows {
            assert!(!r.contains_key("flagged"), "a bare `flagged` column can be misread: {r:?}");
            let name = format!("\"{} ({})\"", r["outcome"], r["subgroup"]);
            let crossed_so_far = !r["first_crossed"].is_empty();
            assert_eq!(r["flagged_sequential"] == "yes", crossed_so_far, "{r:?}");
            let lower_above_1 = r["hr_lo95"].parse::<f64>().is_ok_and(|lo| lo > 1.0);
            assert_eq!(r["flagged_unadjusted"] == "yes", lower_above_1, "{r:?}");
            if crossed_so_far {
                sequential.push(name.clone());
            }
            if lower_above_1 {
                unadjusted.push(name);
            }
        }
        assert_eq!(names("flagged_sequential"), sequential);
        assert_eq!(names("flagged_unadjusted"), unadjusted);
    }
    for row in history["rows"].as_array().unwrap() {
        let first = row["looks"].as_array().unwrap().iter().find_map(|l| l["first_crossed"].as_u64());
        assert_eq!(row["flagged_sequential"].as_bool(), Some(first.is_some()), "{row}");
    }
    let report = std::fs::read_to_string(c.area("p1").join("work/protocol/analysis-2/report.html")).unwrap();
    let flagged = analyses[1].iter().filter(|r| r["flagged_sequential"] == "yes").count();
    let unadjusted = analyses[1].iter().filter(|r| r["flagged_unadjusted"] == "yes").count();
    assert!(report.contains(&format!("<strong>{flagged} flagged</strong> among")), "the report's flag");
    assert!(report.contains(&format!("{unadjusted} <strong>unadjusted per-look flag(s)</strong>")));
}

#[test]
fn spending_over_information_uses_each_test_s_information_and_the_last_planned_look_spends_the_rest() {
    use midnet::stats::sequential::Spending;
    let c = monitored();
    let plan = |extra: &[&str]| {
        let mut args = vec!["protocol", "plan", "--project", "p1", "--looks", "2025-03-31,2025-09-30"];
        args.extend_from_slice(extra);
        c.run("alan", &args)
    };
    plan(&["--timescale", "information"]).fails(2, "--timescale information needs --max-information");
    plan(&["--max-information", "10"]).fails(2, "--max-information applies to --timescale information only");
    plan(&["--timescale", "information", "--max-information", "0"]).fails(2, "--max-information 0: ");
    let set = plan(&["--timescale", "information", "--max-information", "8", "--json"]).ok().json();
    assert_eq!((set["timescale"].as_str(), set["max_information"].as_f64()), (Some("information"), Some(8.0)));
    run(&c, "2025-03-31");
    run(&c, "2025-09-30");
    let dir = |k: u32| c.area("p1").join(format!("work/protocol/analysis-{k}"));
    let (first, second) = (csv_rows(&dir(1).join("results.csv")), csv_rows(&dir(2).join("results.csv")));
    let number = |row: &std::collections::BTreeMap<String, String>, column: &str| row[column].parse::<f64>().ok();
    let (mut early, mut overrun) = (0, 0);
    for (a, b) in first.iter().zip(&second) {
        let Some(information) = number(a, "information") else { continue };
        // Each test's own fraction: its information over the plan's 8 (all of alpha from 8 on).
        let spent = Spending::OBrienFleming.spent(0.025, information / 8.0);
        assert!((number(a, "alpha_spent").unwrap() - spent).abs() < 1e-15, "{a:?}");
        if information < 8.0 {
            early += 1
        } else {
            overrun += 1
        }
        // The second look is the plan's last: it spends what is left, whatever its information.
        if number(b, "information").is_some_and(|i| i > information) {
            assert_eq!(number(b, "alpha_spent"), Some(0.025), "{b:?}");
        }
    }
    assert!(early >= 3, "only {early} tests below the maximum information at the first look");
    eprintln!("{early} tests below the maximum information at the first look, {overrun} beyond it");
}
