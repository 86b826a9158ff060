//! The project lifecycle as users drive it: creation rules, roles, changes, extensions,
//! suspension, the end of the usage period, termination, retention and purge, the register, and
//! two commands on one project at once.

use crate::center::{Center, create_args, write};

#[test]
fn create_refuses_what_the_guideline_forbids_and_leaves_nothing() {
    let c = Center::with_users();
    let areas = || std::fs::read_dir(c.home.join("areas")).unwrap().count();
    let projects = || std::fs::read_dir(c.home.join("projects")).unwrap().count();

    c.run("carol", &create_args("p1", "research", "2026-06-01", "2027-05-31", &[])).fails(3, "refused (role)");
    // Two years end the day before the second anniversary.
    c.run("rev", &create_args("p1", "research", "2026-06-01", "2028-06-01", &[])).fails(3, "refused (usage_period)");
    c.run("rev", &create_args("p1", "signal_detection", "2026-06-01", "2028-06-01", &[])).fails(3, "at most 2 years");
    c.run("rev", &create_args("p1", "post_marketing", "2026-06-01", "2029-06-01", &[])).fails(3, "refused (end_rule)");
    let late = ["--end-rule", "reexamination:2029-01-31"];
    c.run("rev", &create_args("p1", "post_marketing", "2026-06-01", "2029-06-01", &late))
        .fails(3, "2029-04-30 at the latest");
    c.run("rev", &create_args("p1", "research", "2026-06-01", "2027-05-31", &late))
        .fails(2, "post-marketing studies only");
    c.run("rev", &create_args("p1", "signal_refinement", "2026-06-01", "2027-05-31", &[])).fails(2, "--drug-name");
    c.run("rev", &create_args("p1", "research", "2026-06-01", "2026-05-31", &[])).fails(2, "before --start");
    c.run("rev", &create_args("../p1", "research", "2026-06-01", "2027-05-31", &[])).fails(2, "project id");
    let mut nobody = create_args("p1", "research", "2026-06-01", "2027-05-31", &[]);
    nobody[12] = "nobody";
    c.run("rev", &nobody).fails(4, "no user \"nobody\"");
    c.run("rev", &["project", "create", "p1", "--title", "t"]).fails(2, "--question");
    assert_eq!((areas(), projects()), (0, 0), "refused creations leave no directory and no entry");

    c.run("rev", &create_args("p1", "research", "2026-06-01", "2028-05-31", &[])).ok();
    let rmp = ["--end-rule", "rmp-report:2028-03-31"];
    c.run("rev", &create_args("pms", "post_marketing", "2026-06-01", "2030-03-31", &rmp)).ok();
    c.run("rev", &create_args("p1", "research", "2026-06-01", "2027-05-31", &[])).fails(2, "already exists");

    use std::os::unix::fs::PermissionsExt;
    let area = c.area("p1");
    assert_eq!(std::fs::metadata(&area).unwrap().permissions().mode() & 0o777, 0o700);
    for sub in ["datasets", "work", "review", "released", "project.duckdb"] {
        assert!(area.join(sub).exists(), "{sub}");
    }
    let list = c.run("carol", &["project", "list", "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["roles"][0], "contractor");
    assert_eq!(c.run("alan", &["project", "list", "--json"]).ok().json().as_array().unwrap().len(), 0);
    c.run("alan", &["project", "show", "p1"]).fails(3, "refused (role)");
    c.run("rev", &["project", "show", "nope"]).fails(4, "no project nope");
}

#[test]
fn roles_are_granted_by_the_contractor_or_reviewer() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    c.run("alan", &["project", "grant", "p1", "alan", "analyst"]).fails(3, "refused (role)");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).fails(2, "already has");
    c.run("carol", &["project", "grant", "p1", "stella", "statistics_user"]).ok();
    c.run("carol", &["project", "grant", "p1", "alan", "contractor"]).fails(3, "only a reviewer names the contractors");
    c.run("carol", &["project", "grant", "p1", "alan", "reviewer"]).fails(2, "center-wide");
    c.run("carol", &["project", "grant", "p1", "ghost", "analyst"]).fails(4, "no user");
    c.run("alan", &["project", "grant", "p1", "stella", "analyst"])
        .fails(3, "needs the reviewer or contractor role in project p1; alan has analyst");
    c.run("stella", &["project", "show", "p1"]).ok();
    c.run("carol", &["project", "revoke", "p1", "carol", "contractor"])
        .fails(3, "only a reviewer names the contractors");
    c.run("rev", &["project", "revoke", "p1", "carol", "contractor"]).fails(2, "at least one contractor");
    c.run("carol", &["project", "revoke", "p1", "stella", "statistics_user"]).ok();
    c.run("carol", &["project", "revoke", "p1", "stella", "statistics_user"]).fails(4, "no statistics_user role");
    let shown = c.run("carol", &["project", "show", "p1", "--json"]).ok().json();
    assert_eq!(shown["members"].as_array().unwrap().len(), 2);
}

#[test]
fn changes_are_recorded_and_the_question_is_fixed_outside_post_marketing() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    let rmp = ["--end-rule", "rmp-report:2028-03-31"];
    c.run("rev", &create_args("pms", "post_marketing", "2026-06-01", "2028-03-31", &rmp)).ok();

    c.run("carol", &["project", "change", "p1", "--question", "Another question?"])
        .fails(3, "refused (research_question)");
    c.run("carol", &["project", "change", "p1", "--end", "2027-12-31", "--title", "New"])
        .fails(3, "refused (extension_alone)");
    c.run("carol", &["project", "change", "p1"]).fails(2, "nothing to change");
    c.run("carol", &["project", "change", "p1", "--extraction-from", "2026-01-01"]).fails(2, "before it starts");
    c.run(
        "carol",
        &["project", "change", "p1", "--title", "A better title", "--extraction-to", "2024-12-31", "--reason", "minor"],
    )
    .ok();
    c.run("carol", &["project", "change", "pms", "--question", "A second question?"]).ok();
    c.run("carol", &["project", "change", "p1", "--end", "2027-12-31"]).ok();

    let p1 = c.run("carol", &["project", "show", "p1", "--json"]).ok().json();
    assert_eq!(p1["title"], "A better title");
    assert_eq!(p1["end"], "2027-12-31");
    let changes = p1["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(
        [&changes[0]["field"], &changes[0]["from"], &changes[0]["by"]],
        ["title", "Liver injury on drug A", "carol"]
    );
    assert_eq!(changes[1]["to"], "2024-12-31");
    let pms = c.run("rev", &["project", "show", "pms", "--json"]).ok().json();
    assert_eq!(pms["question"], "A second question?");
    assert_eq!(pms["changes"][0]["field"], "question");
}

#[test]
fn extensions_are_limited_in_length_count_and_timing() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1"); // ends 2027-05-31
    let extend = |who: &str, to: &str, extra: &[&str]| {
        let mut args = vec!["project", "extend", "p1", "--to", to];
        args.extend_from_slice(extra);
        c.run(who, &args)
    };
    extend("alan", "2028-05-31", &[]).fails(3, "refused (role)");
    extend("carol", "2029-06-01", &[]).fails(3, "refused (extension_length)");
    extend("carol", "2027-05-31", &[]).fails(2, "not after the current end");
    extend("carol", "2029-05-31", &[]).ok();
    // Second extension, filed 3 months before the end: too late unless a reviewer accepts it.
    c.set_today("2029-03-01");
    extend("carol", "2030-05-31", &[]).fails(3, "refused (extension_deadline)");
    extend("carol", "2030-05-31", &["--accept-late"]).fails(3, "only a reviewer accepts");
    extend("rev", "2030-05-31", &["--accept-late"]).ok();
    c.set_today("2029-06-01");
    extend("carol", "2031-05-31", &[]).fails(3, "refused (extension_limit)");
    let shown = c.run("carol", &["project", "show", "p1", "--json"]).ok().json();
    assert_eq!(shown["end"], "2030-05-31");
    assert_eq!(shown["approved_end"], "2027-05-31");
    assert_eq!(shown["extensions"][1]["late_accepted"], true);
}

#[test]
fn after_the_end_or_while_suspended_only_termination_and_the_reviewer_pass() {
    let c = Center::with_users();
    c.set_today("2026-05-15");
    c.research_project("p1"); // 2026-06-01 to 2027-05-31
    c.research_project("p2");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).fails(3, "starts on 2026-06-01");

    c.set_today("2026-07-01");
    c.run("carol", &["project", "suspend", "p1", "--reason", "violation"]).fails(3, "refused (role)");
    c.run("rev", &["project", "suspend", "p1", "--reason", "violation of 第14 1(3)"]).ok();
    c.run("rev", &["project", "suspend", "p1", "--reason", "again"]).fails(2, "already suspended");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).fails(3, "refused (suspended)");
    c.run("carol", &["project", "extend", "p1", "--to", "2028-05-31"])
        .fails(3, "is suspended (since 2026-07-01: violation");
    c.run("rev", &["project", "grant", "p1", "alan", "analyst"]).ok();
    c.run("rev", &["project", "resume", "p1"]).ok();
    c.run("rev", &["project", "resume", "p1"]).fails(2, "not suspended");
    c.run("carol", &["project", "grant", "p1", "stella", "statistics_user"]).ok();

    c.set_today("2027-06-01");
    c.run("carol", &["project", "grant", "p1", "stella", "analyst"]).fails(3, "refused (usage_period)");
    c.run("carol", &["project", "change", "p1", "--title", "late"]).fails(3, "ended on 2027-05-31");
    c.run("rev", &["project", "grant", "p1", "stella", "analyst"]).ok();
    c.run("carol", &["project", "terminate", "p1"]).ok();
    c.run("carol", &["project", "terminate", "p1"]).fails(3, "refused (terminated)");
    c.run("carol", &["project", "grant", "p1", "alan", "statistics_user"]).fails(3, "terminated on 2027-06-01");

    // Termination by the contractor also passes while suspended.
    c.run("rev", &["project", "suspend", "p2", "--reason", "audit"]).ok();
    c.run("carol", &["project", "terminate", "p2"]).ok();
    c.run("rev", &["project", "suspend", "p2", "--reason", "again"]).fails(3, "refused (terminated)");
}

#[test]
fn terminate_keeps_datasets_and_statistics_and_purge_deletes_them_after_retention() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1"); // ends 2027-05-31
    let rmp = ["--end-rule", "rmp-report:2028-03-31"];
    c.run("rev", &create_args("pms", "post_marketing", "2026-06-01", "2027-05-31", &rmp)).ok();
    // What analysts and the extraction would have left in the work area.
    let area = c.area("p1");
    write(&area.join("datasets/cohort@1.parquet"), "patient-level");
    write(&area.join("work/notes/km.csv"), "time,survival\n");
    write(&area.join("review/req-1/table.csv"), "a,b\n");
    write(&area.join("released/table.csv"), "a,b\n");

    // A longer retention is requested at least 6 months before the end.
    c.run("carol", &["project", "change", "p1", "--retention-years", "11"]).fails(2, "10 at most");
    c.set_today("2026-12-01");
    c.run("carol", &["project", "change", "p1", "--retention-years", "10"]).fails(3, "refused (retention_request)");
    c.run("carol", &["project", "change", "pms", "--retention-years", "6"]).fails(3, "by 2026-11-30");
    c.set_today("2026-11-30");
    c.run("carol", &["project", "change", "pms", "--retention-years", "6"]).ok();

    c.set_today("2027-01-10");
    let t = c.run("carol", &["project", "terminate", "p1", "--json"]).ok().json();
    assert_eq!(t["deleted"], serde_json::json!(["work/notes/km.csv", "review/req-1/table.csv"]));
    assert_eq!(t["kept"], serde_json::json!(["datasets/cohort@1.parquet", "project.duckdb", "released/table.csv"]));
    assert_eq!(t["retained_until"], "2032-01-10");
    assert_eq!(t["exported_statistics_delete_by"], "2027-01-10");
    assert!(!area.join("work/notes").exists() && area.join("work").is_dir());
    let pms = c.run("carol", &["project", "terminate", "pms"]).ok();
    assert!(pms.stdout.contains("kept until 2033-01-10"), "{}", pms.stdout);
    assert!(!pms.stdout.contains("marked for deletion"), "post-marketing keeps its exported statistics");

    // The deletions are in the audit trail, file by file, with their hashes.
    let deleted = c.run("rev", &["audit", "show", "--project", "p1", "--json"]).ok().json();
    let files: Vec<_> = deleted.as_array().unwrap().iter().filter(|r| r["command"] == "file deleted").collect();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["file"]["direction"], "deleted");
    assert_eq!(files[0]["file"]["sha256"].as_str().unwrap().len(), 64);

    c.set_today("2032-01-10");
    c.run("carol", &["project", "purge", "p1"]).fails(3, "refused (role)");
    c.run("rev", &["project", "purge", "p1"]).fails(3, "retained until 2032-01-10");
    let none = c.run("rev", &["project", "purge"]).ok();
    assert!(none.stdout.contains("nothing is past its retention date"));
    c.set_today("2032-01-11");
    let purged = c.run("rev", &["project", "purge", "--json"]).ok().json();
    assert_eq!(purged.as_array().unwrap().len(), 1, "pms is kept until 2033");
    assert_eq!(purged[0]["project"], "p1");
    assert_eq!(purged[0]["deleted"].as_array().unwrap().len(), 3);
    assert!(!area.exists());
    c.run("rev", &["project", "purge", "p1"]).fails(2, "already purged");
    let shown = c.run("rev", &["project", "show", "p1", "--json"]).ok().json();
    assert_eq!([&shown["state"], &shown["purged"]], ["purged", "2032-01-11"]);
    c.run("rev", &["project", "grant", "p1", "alan", "analyst"]).fails(3, "purged on 2032-01-11");
}

#[test]
fn the_register_withholds_a_signal_refinement_drug_until_its_date() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    let refine =
        ["--drug-name", "drugzumab", "--disclose-drug-from", "2027-01-01", "--summary", "Refining a hepatic signal"];
    c.run("rev", &create_args("sr", "signal_refinement", "2026-06-01", "2027-05-31", &refine)).ok();
    c.run("rev", &create_args("rs", "research", "2026-06-01", "2027-05-31", &["--drug-name", "otherdrug"])).ok();
    let register = c.run("stella", &["project", "register", "--json"]).ok().json();
    assert_eq!(register[1]["project"], "sr");
    assert_eq!(register[1]["drug"], "(withheld until 2027-01-01)");
    assert_eq!(register[1]["summary"], "Refining a hepatic signal");
    assert_eq!(register[1]["contractors"][0], "Carol Contractor");
    assert_eq!(register[0]["drug"], "otherdrug");
    let text = c.run("stella", &["project", "register"]).ok().stdout;
    assert!(!text.contains("drugzumab"), "{text}");
    c.set_today("2027-01-01");
    let register = c.run("stella", &["project", "register", "--json"]).ok().json();
    assert_eq!(register[1]["drug"], "drugzumab");
    c.run_env("nobody", &["project", "register"], &[], None).fails(3, "refused (login)");
}

#[test]
fn a_second_command_on_a_busy_project_is_refused_and_nothing_is_corrupted() {
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");

    // While another midnet process holds the project (here: this test, through the same lock).
    let lock_path = c.home.join("locks/project-p1.lock");
    let held =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&lock_path).unwrap();
    held.lock().unwrap();
    std::fs::write(&lock_path, "user alan, pid 1, since now").unwrap();
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"])
        .fails(5, "project p1 is busy: another midnet command is working on it (user alan");
    drop(held);
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();

    // Real midnet processes racing on one project: each finishes or is told the project is busy,
    // and every change that finished is recorded exactly once.
    let results: Vec<crate::common::Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let c = &c;
                s.spawn(move || c.run("carol", &["project", "change", "p1", "--summary", &format!("summary {i}")]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let finished = results.iter().filter(|r| r.code == 0).count();
    for r in results.iter().filter(|r| r.code != 0) {
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert!(r.stderr.contains("is busy"));
    }
    let shown = c.run("carol", &["project", "show", "p1", "--json"]).ok().json();
    let summaries = shown["changes"].as_array().unwrap().iter().filter(|ch| ch["field"] == "summary").count();
    assert_eq!(summaries, finished);
    c.run("rev", &["audit", "verify"]).ok();
}

#[test]
fn a_production_home_takes_its_dates_from_the_system_clock_alone() {
    use crate::center::{PASSWORD, midnet_env, serve_home, sudo_env};
    let dir = crate::common::tempdir();
    let root = dir.path();
    let home = root.join("home");
    let init = ["center", "init", "--user", "rev", "--name", "Rita Reviewer"];
    let env = [("MIDNET_HOME", home.to_str().unwrap())];
    crate::common::midnet_with(root, &init, &env, Some(&format!("{PASSWORD}\n"))).ok();
    serve_home(root, &home);
    // `today` is what a user would slip in with MIDNET_TODAY, which older versions honoured: ignored.
    let person = |uid: &str, name: &str, today: Option<&str>| {
        let mut env = sudo_env(&home, uid, &root.join("os").join(name));
        env.extend(today.map(|t| ("MIDNET_TODAY".to_string(), t.to_string())));
        env
    };
    let rev = |today: Option<&str>| person("1001", "rev", today);
    let alan = |today: Option<&str>| person("1002", "alan", today);
    let run = |env: &[(String, String)], args: &[&str], stdin: Option<&str>| midnet_env(root, args, env, stdin);
    let password = format!("{PASSWORD}\n");
    run(&rev(None), &["login", "--user", "rev"], Some(&password)).ok();
    run(&rev(None), &["user", "add", "alan", "--name", "Alan Analyst"], Some(&password)).ok();
    run(&alan(None), &["login", "--user", "alan"], Some(&password)).ok();

    // A project whose usage period ended a month ago and whose retention runs five more years.
    let today = chrono::Local::now().date_naive();
    let (start, end) = ((today - chrono::Days::new(400)).to_string(), (today - chrono::Days::new(30)).to_string());
    let mut create = create_args("p1", "research", &start, &end, &[]);
    create[12] = "rev"; // the contractor
    run(&rev(None), &create, None).ok();
    run(&rev(None), &["project", "grant", "p1", "alan", "analyst"], None).ok();

    // Nobody moves the date: not the analyst back into the usage period, nor the password expiry,
    // nor the reviewer past the retention period.
    let inside = (today - chrono::Days::new(60)).to_string();
    run(&alan(Some(&inside)), &["datasets", "--project", "p1"], None).fails(3, "refused (usage_period)");
    let new_password = format!("{PASSWORD}\nplum-orbit-kettle-42\n");
    run(&alan(Some("2099-01-01")), &["user", "passwd", "alan"], Some(&new_password)).ok();
    let users = run(&rev(None), &["user", "list", "--json"], None).ok().json();
    let alan_entry = users.as_array().unwrap().iter().find(|u| u["id"] == "alan").unwrap().clone();
    assert_eq!(alan_entry["password_expires"], (today + chrono::Days::new(90)).to_string(), "{alan_entry}");
    let later = (today + chrono::Days::new(6 * 366)).to_string();
    run(&rev(Some(&later)), &["project", "purge", "p1"], None).fails(3, "refused (retention)");
    run(&rev(None), &["center", "clock", "set", "2030-01-01"], None).fails(3, "refused (clock)");
}

/// `work sql --out sub/a.csv` writes into a subdirectory of `work/` it creates owner-only, as the
/// docs say; a name that leaves `work/`, or passes through a file, is still refused.
#[test]
fn work_sql_out_creates_its_subdirectories_inside_work() {
    use std::os::unix::fs::PermissionsExt;
    let c = Center::with_users();
    c.set_today("2026-06-02");
    c.research_project("p1");
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();
    let sql = |out: &str| c.run("alan", &["work", "sql", "--project", "p1", "--out", out, "SELECT 42 AS answer"]);
    sql("sub/deeper/a.csv").ok();
    let work = c.area("p1").join("work");
    let text = std::fs::read_to_string(work.join("sub/deeper/a.csv")).unwrap();
    assert_eq!(text, "answer\n42\n");
    for dir in ["sub", "sub/deeper"] {
        assert_eq!(std::fs::metadata(work.join(dir)).unwrap().permissions().mode() & 0o777, 0o700, "{dir}");
    }
    sql("sub/b.csv").ok();
    sql("../a.csv").fails(3, "refused (path)");
    write(&work.join("plain"), "");
    sql("plain/a.csv").fails(3, "plain is not a directory");
}
