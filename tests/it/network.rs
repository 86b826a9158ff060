//! The fixture of the tests that need a network: a data center with synthetic hospitals whose data
//! sources are loaded and registered, a research project, and the example active-comparator script.

use std::path::PathBuf;

use serde_json::Value;

use crate::center::Center;
use crate::common::{Run, testdata};

/// The site staff member who approves in the tests.
pub const APPROVER: &str = "Sato Hanako";

/// A data center with three synthetic hospitals loaded and registered, a research project `p1`
/// with analyst alan, and today inside its usage period.
pub struct Network {
    pub c: Center,
    pub sites: Vec<PathBuf>,
    pub script: String,
}

impl Network {
    pub fn new() -> Network {
        Network::of_patients(2000)
    }

    /// The network with `patients` patients at each hospital (more make larger results).
    pub fn of_patients(patients: usize) -> Network {
        let c = Center::with_users();
        let network = c.root.join("network");
        let (out, count) = (network.display().to_string(), patients.to_string());
        c.run(
            "rev",
            &["synth", "--site-count", "3", "--patients", &count, "--seed", "11", "--dir", &out, "--load", "--quiet"],
        )
        .ok();
        c.add_sites(&network.join("sites.toml"));
        c.set_today("2026-06-02");
        c.research_project("p1");
        c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
        let sites = ["site01", "site02", "site03"].iter().map(|s| network.join(s)).collect();
        let script = testdata("scripts/active_comparator.midnet").display().to_string();
        Network { c, sites, script }
    }

    /// One site approves the example script for `p1` (`extra`: more arguments, e.g. `--until DATE`).
    pub fn approve(&self, site: usize, extra: &[&str]) -> Run {
        self.approve_script("p1", site, &self.script, extra)
    }

    /// `midnet site approve --site SITE --project PROJECT --by APPROVER SCRIPT EXTRA…` at one site.
    pub fn approve_script(&self, project: &str, site: usize, script: &str, extra: &[&str]) -> Run {
        let dir = self.sites[site].display().to_string();
        let mut args = vec!["site", "approve", "--site", dir.as_str(), "--project", project, "--by", APPROVER, script];
        args.extend_from_slice(extra);
        self.c.run("rev", &args)
    }

    /// Every site approves the example script for `project`.
    pub fn approve_all_for(&self, project: &str) {
        for site in 0..self.sites.len() {
            self.approve_script(project, site, &self.script, &[]).ok();
        }
    }

    pub fn approve_all(&self) {
        self.approve_all_for("p1");
    }

    /// `midnet extract --project p1 SCRIPT --json ARGS` as alan.
    pub fn extract(&self, project: &str, args: &[&str]) -> Run {
        self.extract_env(project, args, &[])
    }

    pub fn extract_env(&self, project: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = vec!["extract", "--project", project, self.script.as_str(), "--json", "--quiet"];
        all.extend_from_slice(args);
        self.c.run_env("alan", &all, env, None)
    }

    pub fn datasets(&self, project: &str) -> Value {
        self.c.run("alan", &["datasets", "--project", project, "--json"]).ok().json()
    }

    /// The rows of a read-only query over the project's datasets, as CSV lines (header first).
    pub fn sql(&self, project: &str, query: &str) -> Vec<String> {
        let out =
            format!("q{}.csv", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
        self.c.run("alan", &["work", "sql", "--project", project, "--out", &out, query]).ok();
        let text = std::fs::read_to_string(self.c.area(project).join("work").join(&out)).unwrap();
        text.lines().map(str::to_string).collect()
    }

    pub fn count(&self, project: &str, query: &str) -> i64 {
        self.sql(project, query)[1].parse().unwrap()
    }

    /// The site pseudonyms of an extraction report.
    pub fn pseudonyms(report: &Value) -> Vec<String> {
        report["sites"].as_array().unwrap().iter().map(|s| s["site"].as_str().unwrap().to_string()).collect()
    }
}
