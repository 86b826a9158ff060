//! The export gate inside a project, driven by its users: an analyst's request, a reviewer's
//! decision under the two-person rule, the release ledger, fetching, losses and deletions, and
//! publication; with each refusal (roles, paths, data that may never leave, signal refinement).

use std::path::PathBuf;

use serde_json::Value;

use crate::center::{Center, create_args, write};
use crate::common::Run;

const INCIDENCE: &str = "age_band,sex,patients,events,person_years\n40-44,M,120,15,300.5\n40-44,F,130,12,310.2\n\
                         45-49,M,140,20,320.0\n45-49,F,150,18,330.1\n";
const ROLES: &[(&str, &str)] = &[
    ("age_band", "age_band"),
    ("sex", "sex"),
    ("patients", "person_count"),
    ("events", "event_count"),
    ("person_years", "person_time"),
];

/// A home with project p1 (research, 2026-06-01 to 2027-05-31): contractor carol, analyst alan,
/// statistics user stella; today 2026-06-15.
fn gate() -> Center {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    c.run("carol", &["project", "grant", "p1", "stella", "statistics_user"]).ok();
    c
}

/// Write `name` into p1's work/ as the analyst's commands would.
fn work(c: &Center, name: &str, text: &str) -> PathBuf {
    let path = c.area("p1").join("work").join(name);
    write(&path, text);
    path
}

/// A sidecar beside work/`table`.
fn sidecar(c: &Center, table: &str, kind: &str, roles: &[(&str, &str)]) {
    let columns: Vec<Value> = roles.iter().map(|(n, r)| serde_json::json!({"name": n, "role": r})).collect();
    let json = serde_json::json!({
        "format": "midnet-table/1",
        "kind": kind,
        "columns": columns,
        "provenance": {"project": "p1", "inputs": ["cohort@1"], "script_sha256": "ab12", "command": "midnet stats incidence",
                       "midnet_version": "0.1.0", "created_at": "2026-06-15T00:00:00Z"}
    });
    let stem = table.rsplit_once('.').unwrap().0;
    work(c, &format!("{stem}.meta.json"), &serde_json::to_string_pretty(&json).unwrap());
}

fn request(c: &Center, user: &str, args: &[&str]) -> Run {
    let mut all = vec!["export", "request", "--project", "p1", "--json"];
    all.extend_from_slice(args);
    c.run(user, &all)
}

fn review(c: &Center, user: &str, id: &str, decision: &str) -> Run {
    c.run(user, &["export", "review", id, "--project", "p1", decision, "--note", "checked every cell", "--json"])
}

fn audit(c: &Center) -> Vec<Value> {
    c.run("rev", &["audit", "show", "--json"]).ok().json().as_array().unwrap().clone()
}

fn violations(c: &Center) -> Vec<Value> {
    audit(c).into_iter().filter(|r| r["command"] == "violation").collect()
}

fn names(files: &Value) -> Vec<String> {
    files.as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn request_review_release_ledger_and_fetch() {
    let c = gate();
    work(&c, "incidence.csv", INCIDENCE);
    sidecar(&c, "incidence.csv", "statistics", ROLES);
    work(&c, "scripts/cohort.mnet", "study \"new users of drug A\"\n");
    c.run("alan", &["export", "check", "--project", "p1", "--stage", "export", "incidence.csv"]).ok();

    let filed =
        request(&c, "alan", &["incidence.csv", "--program", "scripts/cohort.mnet", "--note", "incidence by age band"])
            .ok()
            .json();
    assert_eq!(
        [&filed["id"], &filed["status"], &filed["requester"], &filed["kind"]],
        ["req-1", "pending", "alan", "export"]
    );
    assert_eq!(names(&filed["files"]), ["incidence.csv", "incidence.meta.json", "scripts/cohort.mnet", "worklog.txt"]);
    // The sidecar travels with its table, but midnet did not write it (this test did): the request
    // records no provenance from it and tells the reviewer the columns were judged by content.
    assert!(filed["provenance"].as_object().unwrap().is_empty(), "{filed}");
    assert_eq!(filed["files"][0]["sidecar"]["status"], "unverified", "{filed}");
    assert_eq!(filed["findings"].as_array().unwrap().len(), 0);
    // The files lie in review/req-1/ by their content hash; every one entered review audited.
    let review_dir = c.area("p1").join("review/req-1");
    assert_eq!(std::fs::read_to_string(review_dir.join("files/incidence.csv")).unwrap(), INCIDENCE);
    let sha = filed["files"][0]["sha256"].as_str().unwrap().to_string();
    let ins: Vec<Value> = audit(&c).into_iter().filter(|r| r["command"] == "file in").collect();
    assert_eq!(ins.len(), 4, "{ins:?}");
    assert_eq!(ins[0]["file"]["path"], "review/req-1/files/incidence.csv");
    assert_eq!(ins[0]["file"]["sha256"], sha.as_str());
    // The work log holds the project's commands from the audit trail.
    let log = std::fs::read_to_string(review_dir.join("worklog.txt")).unwrap();
    assert!(
        log.contains("alan\texport check\tok\tmidnet export check --project p1 --stage export incidence.csv"),
        "{log}"
    );
    assert!(log.contains("project grant"), "{log}");

    // The reviewer reads the files of the request; statistics users cannot.
    let shown = c.run("rev", &["export", "show", "req-1", "--project", "p1", "--file", "incidence.csv"]).ok().stdout;
    assert_eq!(shown, INCIDENCE);
    c.run("rev", &["export", "show", "req-1", "--project", "p1"]).ok();
    c.run("stella", &["export", "show", "req-1", "--project", "p1"]).fails(3, "refused (role)");
    c.run("stella", &["export", "requests", "--project", "p1"]).fails(3, "refused (role)");

    review(&c, "alan", "req-1", "--approve").fails(3, "refused (role)");
    c.run("rev", &["export", "review", "req-1", "--project", "p1", "--approve", "--note", "  "])
        .fails(2, "--note is empty");
    c.run("rev", &["export", "review", "req-1", "--project", "p1", "--note", "x"]).fails(2, "--approve");
    let decided = review(&c, "rev", "req-1", "--approve").ok().json();
    assert_eq!([&decided["status"], &decided["decision"]["by"]], ["approved", "rev"]);
    review(&c, "rev", "req-1", "--reject").fails(2, "already approved by rev");
    let released = c.area("p1").join("released/req-1");
    assert_eq!(std::fs::read_to_string(released.join("files/incidence.csv")).unwrap(), INCIDENCE);
    assert!(released.join("programs/scripts/cohort.mnet").is_file() && released.join("worklog.txt").is_file());

    // The ledger: every released file with its request, requester, reviewer and hash.
    let ledger = c.run("stella", &["export", "ledger", "--project", "p1", "--json"]).ok().json();
    let files = ledger["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(
        [&files[0]["file"], &files[0]["request"], &files[0]["requester"], &files[0]["reviewer"]],
        ["req-1/files/incidence.csv", "req-1", "alan", "rev"]
    );
    assert_eq!(files[0]["sha256"], sha.as_str());
    assert_eq!(
        ledger["exported_statistics_delete_by"], "2027-05-31",
        "research projects delete exported statistics by the end"
    );

    // Fetch: a statistics user copies a released table (and its sidecar) out; the ledger and the
    // audit trail record who took which file where.
    let out = c.root.join("stella-desk");
    std::fs::create_dir_all(&out).unwrap();
    let to = out.display().to_string();
    let fetched =
        c.run("stella", &["export", "fetch", "--project", "p1", "incidence.csv", "--into", &to, "--json"]).ok().json();
    assert_eq!(fetched.as_array().unwrap().len(), 2);
    assert_eq!(std::fs::read_to_string(out.join("incidence.csv")).unwrap(), INCIDENCE);
    assert!(out.join("incidence.meta.json").is_file());
    c.run("stella", &["export", "fetch", "--project", "p1", "incidence.csv", "--into", &to]).fails(2, "exists already");
    c.run("carol", &["export", "fetch", "--project", "p1", "incidence.csv", "--into", &to]).fails(3, "refused (role)");
    let outs: Vec<Value> = audit(&c).into_iter().filter(|r| r["command"] == "file out").collect();
    assert_eq!(outs[0]["user"], "stella");
    assert_eq!(outs[0]["file"]["path"], "released/req-1/files/incidence.csv");
    let ledger = c.run("alan", &["export", "ledger", "--project", "p1", "--json"]).ok().json();
    let copy = &ledger["files"][0]["copies"][0];
    assert_eq!([&copy["by"], &copy["status"]], ["stella", "held"]);
    assert_eq!(copy["to"], std::fs::canonicalize(&out).unwrap().join("incidence.csv").display().to_string());

    // Deletion and loss of the copies out.
    std::fs::remove_file(out.join("incidence.meta.json")).unwrap();
    c.run("stella", &["export", "delete", "--project", "p1", "incidence.meta.json", "--note", "deleted with shred"])
        .ok();
    let copy_path = out.join("incidence.csv").display().to_string();
    c.run(
        "stella",
        &["export", "report-loss", "--project", "p1", "incidence.csv", "--copy", "/nowhere/x.csv", "--note", "laptop"],
    )
    .fails(2, "no copy of req-1/files/incidence.csv is held there");
    let lost = c
        .run(
            "stella",
            &[
                "export",
                "report-loss",
                "--project",
                "p1",
                "incidence.csv",
                "--copy",
                &copy_path,
                "--note",
                "laptop stolen",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(lost["held"], 0);
    c.run("stella", &["export", "delete", "--project", "p1", "incidence.csv", "--note", "again"]).fails(2, "no copy");
    let ledger = c.run("stella", &["export", "ledger", "--project", "p1", "--json"]).ok().json();
    assert_eq!(ledger["files"][0]["copies"][0]["status"], "lost");
    assert_eq!(ledger["files"][1]["copies"][0]["status"], "deleted");
    let lost = violations(&c);
    assert_eq!(lost.len(), 1);
    assert_eq!([&lost[0]["rule"], &lost[0]["user"]], ["lost_statistics", "stella"]);
    let text = c.run("stella", &["export", "ledger", "--project", "p1"]).ok().stdout;
    assert!(
        text.contains("lost") && text.contains("laptop stolen") && text.contains("deleted by 2027-05-31"),
        "{text}"
    );
}

#[test]
fn findings_need_written_exceptions() {
    let c = gate();
    work(&c, "small.csv", "sex,patients,events\nM,120,3\nF,130,12\n");
    sidecar(&c, "small.csv", "statistics", &[("sex", "sex"), ("patients", "person_count"), ("events", "event_count")]);

    let refused =
        request(&c, "alan", &["small.csv", "--note", "events by sex"]).fails(3, "refused (exception_required)");
    assert!(refused.stderr.contains("small.csv:small_cell:1:events"), "{}", refused.stderr);
    assert_eq!(
        std::fs::read_dir(c.area("p1").join("review")).unwrap().count(),
        0,
        "a refused request leaves nothing in review/"
    );
    let typo = ["small.csv", "--note", "n", "--exception", "small_cell:2:events:x"];
    request(&c, "alan", &typo).fails(2, "covers no finding; the findings are small.csv:small_cell:1:events");
    request(&c, "alan", &["small.csv", "--note", "n", "--exception", "small.csv:smallcell:1:events:x"])
        .fails(2, "not a rule");
    request(&c, "alan", &["small.csv", "--note", "n", "--exception", "other.csv:small_cell:1:events:x"])
        .fails(2, "no file other.csv");
    request(&c, "alan", &["small.csv", "--note", ""]).fails(2, "--note is empty");
    std::fs::write(c.area("p1").join("work/model.bin"), [0xff, 0xfe, 0x00]).unwrap();
    request(&c, "alan", &["small.csv", "--program", "model.bin", "--note", "n"])
        .fails(2, "program model.bin is not UTF-8");

    let reason = "3 events of a common outcome: the operator agreed the count may leave";
    let exception = format!("small_cell:1:events:{reason}");
    let filed = request(&c, "alan", &["small.csv", "--note", "events by sex", "--exception", &exception]).ok().json();
    assert_eq!(filed["id"], "req-1", "refused requests use no id");
    let finding = &filed["findings"][0];
    assert_eq!([&finding["rule"], &finding["verdict"], &finding["file"]], ["small_cell", "review", "small.csv"]);
    assert_eq!(finding["exception"], reason);
    assert_eq!(filed["files"][0]["verdict"], "review");
    let listed = c.run("carol", &["export", "requests", "--project", "p1"]).ok().stdout;
    assert!(listed.contains("req-1") && listed.contains("1 (1 excepted)"), "{listed}");
    review(&c, "rev", "req-1", "--approve").ok();
}

#[test]
fn released_tables_are_differencing_operands_then_and_at_approval() {
    let c = gate();
    work(&c, "all.csv", "sex,patients\nM,120\nF,130\n");
    work(&c, "sub.csv", "sex,patients\nM,115\nF,130\n");
    request(&c, "alan", &["all.csv", "--note", "whole cohort"]).ok();
    request(&c, "alan", &["sub.csv", "--note", "subgroup"]).ok();
    review(&c, "rev", "req-1", "--approve").ok();
    // Released since req-2 was filed: cohort minus subgroup gives away 5 men. The approval is refused.
    review(&c, "rev", "req-2", "--approve")
        .fails(3, "refused (new_findings)")
        .fails(3, "sub.csv:differencing:1:patients");
    let shown = c.run("rev", &["export", "show", "req-2", "--project", "p1", "--json"]).ok().json();
    assert_eq!([&shown["status"], &shown["refused_approvals"][0]["rule"]], ["pending", "new_findings"]);
    review(&c, "rev", "req-2", "--reject").ok();
    // A new request meets the released table at once.
    let check = c.run("alan", &["export", "check", "--project", "p1", "--stage", "export", "sub.csv", "--json"]);
    assert_eq!(check.code, 1);
    assert_eq!(check.json()["files"][0]["findings"][0]["rule"], "differencing");
    request(&c, "alan", &["sub.csv", "--note", "subgroup"]).fails(3, "sub.csv:differencing:1:patients");
}

#[test]
fn the_homes_site_registry_and_the_projects_pseudonyms_are_checked() {
    let c = gate();
    let net = c.root.join("network");
    std::fs::create_dir_all(net.join("s01")).unwrap();
    write(
        &net.join("sites.toml"),
        "[[site]]\nid = \"s01\"\nname = \"北山大学病院\"\naliases = [\"Kitayama University Hospital\"]\npath = \"s01\"\n",
    );
    c.run("rev", &["center", "sites", "add", &net.join("sites.toml").display().to_string()]).ok();
    let pseudonym = c.run("rev", &["project", "show", "p1", "--json"]).ok().json()["pseudonyms"]["s01"]
        .as_str()
        .unwrap()
        .to_string();

    work(&c, "named.csv", "group,patients\nKITAYAMA university hospital,120\nothers,130\n");
    let report = c.run("alan", &["export", "check", "--project", "p1", "named.csv", "--json"]);
    assert_eq!(report.code, 1);
    assert!(report.json()["files"][0]["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "site_name"));
    assert_eq!(report.json()["files"][0]["path"], "named.csv", "reports name files as in work/");

    work(&c, "by_site.csv", &format!("hosp,patients\n{pseudonym},120\nsite-00000000,130\n"));
    let report = c.run("alan", &["export", "check", "--project", "p1", "by_site.csv", "--json"]);
    assert!(
        report.json()["files"][0]["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "site_breakdown"),
        "{}",
        report.stdout
    );

    // A program naming a hospital needs an exception too.
    work(&c, "ok.csv", "sex,patients\nM,120\nF,130\n");
    work(&c, "scripts/s.mnet", "# written at Kitayama University Hospital\n");
    request(&c, "alan", &["ok.csv", "--program", "scripts/s.mnet", "--note", "n"])
        .fails(3, "scripts/s.mnet:site_name::");
}

#[test]
fn the_requester_never_reviews_and_statistics_users_see_released_files_only() {
    let c = gate();
    c.run_with(
        "rev",
        &["user", "add", "rita", "--name", "Rita Second", "--reviewer"],
        Some(&format!("{}\n", crate::center::PASSWORD)),
    )
    .ok();
    c.login("rita", crate::center::PASSWORD).ok();
    c.run("carol", &["project", "grant", "p1", "rita", "analyst"]).ok();
    work(&c, "t.csv", "sex,patients\nM,120\nF,130\n");

    for args in [
        vec!["export", "check", "--project", "p1", "t.csv"],
        vec!["export", "request", "--project", "p1", "t.csv", "--note", "n"],
        vec!["export", "requests", "--project", "p1"],
        vec!["publish", "request", "--project", "p1", "t.csv", "--note", "n"],
    ] {
        c.run("stella", &args).fails(3, "refused (role)");
    }
    c.run("carol", &["export", "request", "--project", "p1", "t.csv", "--note", "n"])
        .fails(3, "needs the analyst role");

    request(&c, "rita", &["t.csv", "--note", "a reviewer who is also an analyst"]).ok();
    review(&c, "rita", "req-1", "--approve").fails(3, "refused (two_person)");
    review(&c, "rita", "req-1", "--reject").fails(3, "another reviewer must review it");
    review(&c, "rev", "req-1", "--approve").ok();
    let ledger = c.run("stella", &["export", "ledger", "--project", "p1", "--json"]).ok().json();
    assert_eq!([&ledger["files"][0]["requester"], &ledger["files"][0]["reviewer"]], ["rita", "rev"]);
    review(&c, "rev", "req-9", "--approve").fails(4, "no request req-9");
}

#[test]
fn patient_level_data_never_leave_even_with_an_exception() {
    let c = gate();
    work(&c, "persons.csv", "person_id,age,sex\n1,44,M\n2,51,F\n3,62,M\n");
    work(&c, "cohort_copy.csv", "grp,n\nA,120\nB,130\n");
    sidecar(&c, "cohort_copy.csv", "analysis_dataset", &[("grp", "label"), ("n", "person_count")]);

    request(&c, "alan", &["persons.csv", "--note", "n"]).fails(3, "persons.csv:patient_level::");
    assert!(violations(&c).is_empty(), "a refused request moved nothing");
    let exception = "patient_level:*:*:these are three summary rows, not people";
    let filed = request(&c, "alan", &["persons.csv", "cohort_copy.csv", "--note", "n", "--exception", exception]).ok();
    assert!(filed.stderr.contains("no reviewer can approve it"), "{}", filed.stderr);
    let filed = filed.json();
    assert_eq!(filed["findings"].as_array().unwrap().len(), 2);
    assert!(
        filed["findings"].as_array().unwrap().iter().all(|f| f["rule"] == "patient_level" && f["verdict"] == "fail")
    );
    let v = violations(&c);
    assert_eq!(v.len(), 1, "filing the attempt is a violation (第14 1(3))");
    assert_eq!([&v[0]["user"], &v[0]["rule"], &v[0]["project"]], ["alan", "non_exportable", "p1"]);

    let refused = review(&c, "rev", "req-1", "--approve").fails(3, "refused (non_exportable)");
    assert!(
        refused.stderr.contains("violation") && refused.stderr.contains("cohort_copy.csv:patient_level"),
        "{}",
        refused.stderr
    );
    let v = violations(&c);
    assert_eq!(v.len(), 2);
    assert_eq!([&v[1]["user"], &v[1]["rule"]], ["rev", "non_exportable"]);
    let records = audit(&c);
    let attempt = records.iter().rev().find(|r| r["command"] == "export review").unwrap();
    assert_eq!([&attempt["result"], &attempt["rule"]], ["refused", "non_exportable"]);
    let shown = c.run("rev", &["audit", "show", "--project", "p1"]).ok().stdout;
    assert!(shown.contains("violation") && shown.contains("refused (non_exportable)"), "{shown}");
    assert_eq!(std::fs::read_dir(c.area("p1").join("released")).unwrap().count(), 0, "nothing was released");
    let ledger = c.run("stella", &["export", "ledger", "--project", "p1", "--json"]).ok().json();
    assert!(ledger["files"].as_array().unwrap().is_empty());

    // The only way out of the request is a rejection.
    review(&c, "rev", "req-1", "--reject").ok();
    // A file that is not statistics is refused the same way.
    work(&c, "book.xlsx", "PK\u{3}\u{4}");
    request(&c, "alan", &["book.xlsx", "--note", "n", "--exception", "file_type:::a spreadsheet of counts"]).ok();
    review(&c, "rev", "req-2", "--approve").fails(3, "book.xlsx:file_type");
}

#[test]
fn names_that_escape_the_work_area_are_refused() {
    let c = gate();
    work(&c, "t.csv", "sex,patients\nM,120\nF,130\n");
    write(&c.area("p1").join("datasets/cohort@1.csv"), "sex,patients\nM,120\nF,130\n");
    std::os::unix::fs::symlink(c.area("p1").join("datasets"), c.area("p1").join("work/data")).unwrap();
    for name in ["../datasets/cohort@1.csv", "/etc/passwd", "data/cohort@1.csv", "sub/../../released/x.csv"] {
        request(&c, "alan", &[name, "--note", "n"]).fails(3, "refused (path)");
        c.run("alan", &["export", "check", "--project", "p1", name]).fails(3, "refused (path)");
    }
    request(&c, "alan", &["t.csv", "--program", "../datasets/cohort@1.csv", "--note", "n"]).fails(3, "refused (path)");
    request(&c, "alan", &["missing.csv", "--note", "n"]).fails(4, "no file missing.csv");
    request(&c, "alan", &["t.csv", "--note", "n"]).ok();
    review(&c, "rev", "req-1", "--approve").ok();

    let into_home = c.area("p1").join("work").display().to_string();
    c.run("stella", &["export", "fetch", "--project", "p1", "t.csv", "--into", &into_home])
        .fails(3, "inside the data center's home");
    c.run("stella", &["export", "fetch", "--project", "p1", "../work/t.csv", "--into", "/tmp"])
        .fails(3, "refused (path)");
    c.run("stella", &["export", "fetch", "--project", "p1", "nothing.csv", "--into", "/tmp"])
        .fails(4, "no released file nothing.csv");
    c.run("rev", &["export", "show", "req-1", "--project", "p1", "--file", "../../datasets/cohort@1.csv"])
        .fails(4, "has no file");
}

#[test]
fn publication_is_checked_reviewed_and_withheld_for_signal_refinement() {
    let c = gate();
    work(&c, "incidence.csv", INCIDENCE);
    sidecar(&c, "incidence.csv", "statistics", ROLES);
    work(&c, "small.csv", "sex,patients\nM,120\nF,8\n");
    request(&c, "alan", &["incidence.csv", "--note", "n"]).ok();
    request(&c, "alan", &["small.csv", "--note", "n", "--exception", "small_cell:2:patients:internal use only"]).ok();
    review(&c, "rev", "req-1", "--approve").ok();
    review(&c, "rev", "req-2", "--approve").ok();

    c.run("carol", &["publish", "check", "--project", "p1", "incidence.csv"]).ok();
    let strict = c.run("stella", &["publish", "check", "--project", "p1", "small.csv", "--json"]);
    assert_eq!(strict.code, 1);
    assert_eq!([&strict.json()["files"][0]["findings"][0]["verdict"], &strict.json()["stage"]], ["fail", "publish"]);
    c.run("alan", &["publish", "request", "--project", "p1", "incidence.csv", "--note", "paper"])
        .fails(3, "needs the contractor role");
    c.run("carol", &["publish", "request", "--project", "p1", "small.csv", "--note", "paper"])
        .fails(3, "refused (exception_required)");

    let filed = c
        .run(
            "carol",
            &["publish", "request", "--project", "p1", "incidence.csv", "--note", "J Pharmacoepi 2027", "--json"],
        )
        .ok()
        .json();
    assert_eq!([&filed["id"], &filed["kind"], &filed["stage"]], ["req-3", "publication", "publish"]);
    assert_eq!(names(&filed["files"]), ["req-1/files/incidence.csv"]);
    assert_eq!(filed["question"], "Is drug A associated with more liver injury than drug B?");
    review(&c, "carol", "req-3", "--approve").fails(3, "refused (role)");
    review(&c, "rev", "req-3", "--approve").ok();
    let ledger = c.run("stella", &["export", "ledger", "--project", "p1", "--json"]).ok().json();
    assert_eq!(ledger["files"][0]["published"][0]["request"], "req-3");

    // Signal refinement: unpublished while monitoring continues (第11 6).
    let refine = ["--drug-name", "drugzumab", "--disclose-drug-from", "2027-01-01"];
    c.run("rev", &create_args("sr", "signal_refinement", "2026-06-01", "2027-05-31", &refine)).ok();
    c.run("carol", &["project", "grant", "sr", "alan", "analyst"]).ok();
    write(&c.area("sr").join("work/hr.csv"), "outcome,patients,events\nliver,1200,40\nkidney,1300,35\n");
    c.run("alan", &["export", "request", "--project", "sr", "hr.csv", "--note", "HR per outcome"]).ok();
    c.run("rev", &["export", "review", "req-1", "--project", "sr", "--approve", "--note", "ok"]).ok();
    c.run("carol", &["publish", "check", "--project", "sr", "hr.csv"]).fails(3, "refused (signal_monitoring)");
    c.run("carol", &["publish", "request", "--project", "sr", "hr.csv", "--note", "paper"])
        .fails(3, "refused (signal_monitoring)");
    c.run("carol", &["publish", "follow-up", "--project", "sr", "--note", "study"]).fails(3, "refused (role)");
    c.run("rev", &["publish", "follow-up", "--project", "p1", "--note", "study"]).fails(2, "not signal refinement");
    c.run("rev", &["publish", "follow-up", "--project", "sr", "--note", "cohort study PV-12 started 2026-06-10"]).ok();
    c.run("carol", &["publish", "request", "--project", "sr", "hr.csv", "--note", "paper"]).ok();
}

#[test]
fn a_file_altered_in_review_is_never_released() {
    let c = gate();
    work(&c, "t.csv", "sex,patients\nM,120\nF,130\n");
    request(&c, "alan", &["t.csv", "--note", "n"]).ok();
    write(&c.area("p1").join("review/req-1/files/t.csv"), "sex,patients\nM,120\nF,3\n");
    review(&c, "rev", "req-1", "--approve").fails(6, "was altered");
    c.run("rev", &["export", "show", "req-1", "--project", "p1", "--file", "t.csv"]).fails(6, "was altered");
    assert_eq!(std::fs::read_dir(c.area("p1").join("released")).unwrap().count(), 0);
    review(&c, "rev", "req-1", "--reject").ok();
}

/// The calls `midnet demo` makes to end with a released table, in-process as the demo runs them.
#[test]
fn the_library_files_and_approves_a_request_as_the_demo_does() {
    use midnet::center::{Actor, Home};
    use midnet::export::{self, Decide, ExportSpec};
    let c = Center::new();
    // In-process logins use the real date: users and the project are made for it.
    let today = chrono::Local::now().date_naive();
    c.set_today(&today.to_string());
    c.add_user("alan", "Alan Analyst");
    c.run_with(
        "rev",
        &["user", "add", "rita", "--name", "Rita Second", "--reviewer"],
        Some(&format!("{}\n", crate::center::PASSWORD)),
    )
    .ok();
    let (start, end) = (today - chrono::Days::new(30), today + chrono::Days::new(300));
    let (start, end) = (start.to_string(), end.to_string());
    let mut create = create_args("p1", "research", &start, &end, &[]);
    create[12] = "alan";
    c.run("rev", &create).ok();
    c.run("rev", &["project", "grant", "p1", "alan", "analyst"]).ok();
    work(&c, "incidence.csv", INCIDENCE);
    sidecar(&c, "incidence.csv", "statistics", ROLES);

    let home = Home::at(&c.home).unwrap();
    let (analyst, _token) = Actor::login(&home, "alan", crate::center::PASSWORD).unwrap();
    let request = analyst
        .run("export request", Some("p1"), |a| {
            export::file_export(a, &ExportSpec::new("p1", &["incidence.csv"], "incidence by age band and sex"))
        })
        .unwrap();
    let (reviewer, _token) = Actor::login(&home, "rita", crate::center::PASSWORD).unwrap();
    let decided = reviewer
        .run("export review", Some("p1"), |a| export::review(a, "p1", &request.id, Decide::Approve, "no small cells"))
        .unwrap();
    assert_eq!(decided.status, export::Status::Approved);
    let released = c.area("p1").join("released").join(&request.id).join("files/incidence.csv");
    assert_eq!(std::fs::read_to_string(released).unwrap(), INCIDENCE);
}

#[test]
fn a_figure_travels_with_the_table_behind_it() {
    let c = gate();
    std::fs::write(c.area("p1").join("work/km.png"), b"\x89PNG\r\n\x1a\n-an image-").unwrap();
    work(&c, "km.csv", "time,at_risk,events\n0,250,0\n30,240,10\n60,220,20\n");
    sidecar(&c, "km.csv", "figure_data", &[("time", "time"), ("at_risk", "at_risk"), ("events", "event_count")]);
    request(&c, "alan", &["km.meta.json", "--note", "n"]).fails(2, "travels with its table");
    let filed = request(&c, "alan", &["km.png", "--note", "Kaplan-Meier curve"]).ok().json();
    assert_eq!(names(&filed["files"]), ["km.png", "km.csv", "km.meta.json", "worklog.txt"]);
    assert_eq!([&filed["files"][0]["verdict"], &filed["files"][1]["verdict"]], ["pass", "pass"]);
    review(&c, "rev", "req-1", "--approve").ok();
    c.run("carol", &["publish", "check", "--project", "p1", "km.png"]).ok();
    let text =
        c.run("rev", &["export", "show", "req-1", "--project", "p1", "--file", "km.png"]).fails(2, "not text").stderr;
    assert!(text.contains("read the table behind it"), "{text}");
}

#[test]
fn copies_still_held_after_the_end_of_a_research_project_are_overdue() {
    let c = gate();
    work(&c, "t.csv", "sex,patients\nM,120\nF,130\n");
    request(&c, "alan", &["t.csv", "--note", "n"]).ok();
    review(&c, "rev", "req-1", "--approve").ok();
    let out = c.root.join("desk");
    std::fs::create_dir_all(&out).unwrap();
    c.run("stella", &["export", "fetch", "--project", "p1", "t.csv", "--into", &out.display().to_string()]).ok();
    let ledger = |who: &str| c.run(who, &["export", "ledger", "--project", "p1", "--json"]);
    assert_eq!(ledger("stella").ok().json()["overdue_copies"], 0);

    c.set_today("2027-06-01");
    ledger("stella").fails(3, "refused (usage_period)");
    assert_eq!(ledger("rev").ok().json()["overdue_copies"], 1);
    std::fs::remove_file(out.join("t.csv")).unwrap();
    c.run(
        "rev",
        &["export", "delete", "--project", "p1", "t.csv", "--note", "deletion confirmed by stella's organisation"],
    )
    .ok();
    let view = ledger("rev").ok().json();
    assert_eq!(
        [&view["overdue_copies"], &view["files"][0]["copies"][0]["closed"]["by"]],
        [&Value::from(0), &Value::from("rev")]
    );

    // Post-marketing and administrative projects keep exported statistics under their own rules.
    let rmp = ["--end-rule", "rmp-report:2028-03-31"];
    c.run("rev", &create_args("pms", "post_marketing", "2026-06-01", "2028-03-31", &rmp)).ok();
    let view = c.run("rev", &["export", "ledger", "--project", "pms", "--json"]).ok().json();
    assert!(view["exported_statistics_delete_by"].is_null());
}
