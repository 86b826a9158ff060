//! The fixture of the tests that need a network: a data center with synthetic hospitals whose data
//! sources are loaded and registered, a research project, and the example active-comparator script.

use std::path::PathBuf;

use serde_json::Value;

use crate::center::Center;
use crate::common::{Run, testdata};

/// A data center with three synthetic hospitals loaded and registered, a research project `p1`
/// with analyst alan, and today inside its usage period.
pub struct Network {
    pub c: Center,
    pub sites: Vec<PathBuf>,
    pub script: String,
}

impl Network {
    pub fn new() -> Network {
        let c = Center::with_users();
        let network = c.root.join("network");
        let out = network.display().to_string();
        c.run(
            "rev",
            &["synth", "--sites", "3", "--patients", "2000", "--seed", "11", "--out", &out, "--load", "--quiet"],
        )
        .ok();
        c.run("rev", &["center", "sites", "add", &network.join("sites.toml").display().to_string()]).ok();
        c.set_today("2026-06-02");
        c.research_project("p1");
        c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
        let sites = ["site01", "site02", "site03"].iter().map(|s| network.join(s)).collect();
        let script = testdata("scripts/active_comparator.midnet").display().to_string();
        Network { c, sites, script }
    }

    pub fn approve(&self, site: usize, params: &[&str]) -> Run {
        let dir = self.sites[site].display().to_string();
        let mut args = vec!["site", "approve", "--site", dir.as_str(), self.script.as_str()];
        for p in params {
            args.extend(["--param", p]);
        }
        self.c.run("rev", &args)
    }

    pub fn approve_all(&self) {
        for site in 0..self.sites.len() {
            self.approve(site, &[]).ok();
        }
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
