//! `--json` on the commands that produce a result: each prints the object its help documents, and
//! the values in it are the ones the command acted on.

use crate::center::{Center, PASSWORD, TODAY, create_args, write};
use crate::common::{midnet_with, tempdir};

fn with_password(password: &str) -> Option<String> {
    Some(format!("{password}\n"))
}

#[test]
fn home_commands_print_their_results_as_json() {
    let dir = tempdir();
    let home = dir.path().join("new-home");
    let init = ["center", "init", "--user", "rev", "--name", "Rita", "--simulated-clock", TODAY, "--json"];
    let env = [("MIDNET_HOME", home.to_str().unwrap())];
    let created = midnet_with(dir.path(), &init, &env, Some(PASSWORD)).ok().json();
    assert_eq!(created["home"], home.to_str().unwrap());
    assert_eq!(created["reviewer"], "rev");

    let c = Center::with_users();
    let session =
        c.run_with("alan", &["login", "--user", "alan", "--json"], with_password(PASSWORD).as_deref()).ok().json();
    assert_eq!([&session["user"], &session["name"]], ["alan", "Alan Analyst"]);
    assert_eq!(session["token_variable"], "MIDNET_SESSION");
    let token = session["token"].as_str().unwrap();
    c.run_env("alan", &["project", "list"], &[("MIDNET_SESSION", token)], None).ok();

    let added =
        c.run_with("rev", &["user", "add", "dora", "--name", "Dora", "--json"], with_password(PASSWORD).as_deref());
    assert_eq!(added.ok().json(), serde_json::json!({"user": "dora", "action": "added", "reviewer": false}));
    let disabled = c.run("rev", &["user", "disable", "dora", "--json"]).ok().json();
    assert_eq!(disabled, serde_json::json!({"user": "dora", "action": "disabled"}));
    let unlocked = c.run("rev", &["user", "unlock", "carol", "--json"]).ok().json();
    assert_eq!(unlocked, serde_json::json!({"user": "carol", "action": "unlocked"}));
    let reset = c.run_with("rev", &["user", "passwd", "carol", "--reset", "--json"], Some("another-staple-7q\n"));
    assert_eq!(reset.ok().json(), serde_json::json!({"user": "carol", "action": "password reset"}));

    let clock = c.run("rev", &["center", "clock", "set", "2026-05-02", "--json"]).ok().json();
    assert_eq!([&clock["date"], &clock["before"]], ["2026-05-02", TODAY]);
    assert_eq!(clock["home"], c.home.to_str().unwrap());

    assert_eq!(c.run("stella", &["logout", "--json"]).ok().json(), serde_json::json!({"user": "stella"}));
    c.run("stella", &["project", "list"]).fails(3, "session is closed");
}

#[test]
fn project_lifecycle_results_as_json() {
    let c = Center::with_users();
    let created = c.run("rev", &create_args("p1", "research", TODAY, "2027-04-30", &["--json"])).ok().json();
    assert_eq!([&created["id"], &created["start"], &created["end"]], ["p1", TODAY, "2027-04-30"]);

    let granted = c.run("carol", &["project", "grant", "p1", "stella", "statistics_user", "--json"]).ok().json();
    assert_eq!(granted, serde_json::json!({"project": "p1", "user": "stella", "role": "statistics_user"}));
    let revoked = c.run("carol", &["project", "revoke", "p1", "stella", "statistics_user", "--json"]).ok().json();
    assert_eq!(revoked, serde_json::json!({"project": "p1", "user": "stella", "role": "statistics_user"}));

    let changed = c
        .run("carol", &["project", "change", "p1", "--title", "Drug A and the liver", "--reason", "clearer", "--json"]);
    let changed = changed.ok().json();
    assert_eq!([&changed["project"], &changed["extended_to"]], [&serde_json::json!("p1"), &serde_json::Value::Null]);
    assert_eq!([&changed["changes"][0]["field"], &changed["changes"][0]["to"]], ["title", "Drug A and the liver"]);

    let extended = c.run("carol", &["project", "extend", "p1", "--to", "2027-10-31", "--reason", "more", "--json"]);
    let extended = extended.ok().json();
    assert_eq!([&extended["project"], &extended["from"], &extended["to"]], ["p1", "2027-04-30", "2027-10-31"]);
    assert_eq!([&extended["by"], &extended["reason"]], ["carol", "more"]);
    assert_eq!(extended["late_accepted"], false);

    let suspended = c.run("rev", &["project", "suspend", "p1", "--reason", "audit finding", "--json"]).ok().json();
    assert_eq!(suspended, serde_json::json!({"project": "p1", "state": "suspended"}));
    let resumed = c.run("rev", &["project", "resume", "p1", "--json"]).ok().json();
    assert_eq!(resumed, serde_json::json!({"project": "p1", "state": "active"}));

    let refine = ["--drug-name", "drugzumab", "--disclose-drug-from", "2027-01-01"];
    c.run("rev", &create_args("sr", "signal_refinement", TODAY, "2027-04-30", &refine)).ok();
    let follow_up = c.run("rev", &["publish", "follow-up", "--project", "sr", "--note", "cohort study", "--json"]);
    let follow_up = follow_up.ok().json();
    assert_eq!([&follow_up["date"], &follow_up["by"], &follow_up["note"]], [TODAY, "rev", "cohort study"]);
}

#[test]
fn audit_verify_as_json() {
    let c = Center::new();
    let verified = c.run("rev", &["audit", "verify", "--json"]).ok().json();
    assert_eq!(verified["log"], c.audit_log().to_str().unwrap());
    assert!(verified["records"].as_u64().unwrap() >= 2, "{verified}");
    assert!(verified["last_hash"].as_str().is_some_and(|h| !h.is_empty()), "{verified}");
    assert!(verified["recovered"].is_null() && verified["anchor"].is_null(), "{verified}");

    let anchor = c.root.join("anchor.json");
    write(&anchor, &c.run("rev", &["audit", "anchor"]).ok().stdout);
    let anchored = c.run("rev", &["audit", "verify", "--anchor", anchor.to_str().unwrap(), "--json"]).ok().json();
    let statement: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&anchor).unwrap()).unwrap();
    assert_eq!(anchored["anchor"]["record"], statement["seq"]);
    assert_eq!(anchored["anchor"]["file"], anchor.to_str().unwrap());
}

#[test]
fn workbench_results_as_json() {
    let c = Center::with_users();
    c.run("rev", &create_args("p1", "research", TODAY, "2027-04-30", &[])).ok();
    c.run("carol", &["project", "grant", "p1", "alan", "analyst"]).ok();

    let sql = ["work", "sql", "--project", "p1", "--out", "one.csv", "--json", "SELECT 1 AS one, 'x' AS two"];
    let written = c.run("alan", &sql).ok().json();
    assert_eq!(written, serde_json::json!({"file": "work/one.csv", "rows": 1, "columns": ["one", "two"]}));
    assert!(c.area("p1").join("work/one.csv").exists());
    c.run("alan", &["work", "sql", "--project", "p1", "--json", "SELECT 1"]).fails(2, "--out");

    let codes = c.root.join("codes.csv");
    write(&codes, "code,label\nK71,toxic liver disease\n");
    let import = ["work", "import", "--project", "p1", "--as", "liver.csv", codes.to_str().unwrap(), "--json"];
    let imported = c.run("alan", &import).ok().json();
    assert_eq!(imported, serde_json::json!({"file": codes.to_str().unwrap(), "imported_as": "work/liver.csv"}));
}

#[test]
fn report_says_where_it_wrote_as_json() {
    let dir = tempdir();
    let results = dir.path().join("results.csv");
    write(
        &results,
        "outcome,subgroup,hr,hr_lo95,hr_hi95,status,flagged\nalt_gt_3uln,whole cohort,1.2,0.9,1.6,estimated,no\n",
    );
    let out = dir.path().join("r.html");
    let args = ["report", "--out", out.to_str().unwrap(), results.to_str().unwrap(), "--json"];
    let written = crate::common::midnet(dir.path(), &args).ok().json();
    assert_eq!(written, serde_json::json!({"report": out.to_str().unwrap()}));
    assert!(std::fs::read_to_string(&out).unwrap().contains("<html"));
}

/// `site init --json`: the directory and database made, no data version before the first load, and
/// every table with its rows, as the new database holds them (the masters filled, the rest empty).
#[test]
fn site_init_says_what_it_created_as_json() {
    let dir = tempdir();
    let site = dir.path().join("hospital-a");
    let created = crate::common::midnet(dir.path(), &["site", "init", "--site", "hospital-a", "--json"]).ok().json();
    assert_eq!(created["site"], site.to_str().unwrap());
    assert_eq!(created["database"], site.join("site.duckdb").to_str().unwrap());
    assert!(created["data_version"].is_null(), "no data version before a load: {created}");
    let conn = duckdb::Connection::open(site.join("site.duckdb")).unwrap();
    let rows_of = |table: &str| -> u64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap() as u64
    };
    let tables = created["tables"].as_array().unwrap();
    let named: Vec<(&str, u64)> =
        tables.iter().map(|t| (t["table"].as_str().unwrap(), t["rows"].as_u64().unwrap())).collect();
    for (table, rows) in &named {
        assert_eq!(*rows, rows_of(table), "{table}");
    }
    let names: Vec<&str> = named.iter().map(|(t, _)| *t).collect();
    for table in ["patient", "lab_result", "drug_master", "load_history", "quarantine"] {
        assert!(names.contains(&table), "{table} missing from {names:?}");
    }
    assert!(named.iter().any(|(t, rows)| *t == "drug_master" && *rows > 0), "the masters come filled: {named:?}");
    assert!(named.contains(&("schema_version", 1)), "the schema records its version: {named:?}");
    let filled = |t: &str| t.ends_with("master") || t == "unit_conversion" || t == "schema_version";
    assert!(named.iter().all(|(t, rows)| filled(t) || *rows == 0), "every other table empty: {named:?}");

    let again = crate::common::midnet(dir.path(), &["site", "init", "--site", "hospital-a", "--json"]);
    again.fails(2, "already a site data source");
}
