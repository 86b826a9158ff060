//! Least privilege under sudo: a command that needs no login runs as the person who invoked it
//! (`SUDO_UID`/`SUDO_GID`), so it reads only what that person could read anyway; run through sudo
//! as another account that cannot switch to them, it is refused. These tests act as other OS users
//! and so need root; run as anyone else they say loudly that they were skipped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::center::{Center, running_as_root};
use crate::common::{Run, midnet_bin, midnet_with};

/// The unprivileged person who invokes `midnet` through sudo in these tests.
const NOBODY: &str = "65534";
/// A value only the project's dataset holds.
const SECRET: &str = "SECRET-PATIENT-7731";
const HEAD: &str = "study \"s\"\n  period: 2020-01-01 to 2020-12-31\nend\n";

fn skipped(test: &str) -> bool {
    if running_as_root() {
        return false;
    }
    eprintln!("SKIPPED {test}: it must run as root to act as other OS users; it proved nothing here");
    true
}

/// A home with project p1 whose datasets/ holds a patient-level file, and a directory `public/`
/// every OS user can read (the temporary root is opened to all; the home stays owner-only).
fn home_with_a_dataset() -> (Center, PathBuf, PathBuf) {
    let c = Center::with_users();
    c.research_project("p1");
    let dataset = c.area("p1").join("datasets/cohort@1.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT '{SECRET}' AS person_id, DATE '1950-03-17' AS birth_date, 1 AS e, 2.5 AS t) TO '{}' (FORMAT parquet)",
        dataset.display()
    ))
    .unwrap();
    let public = c.root.join("public");
    std::fs::create_dir_all(&public).unwrap();
    for dir in [&c.root, &public] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (c, dataset, public)
}

/// A script whose codelist is read from `file`, written (world-readable) into `dir`.
fn script_reading(dir: &Path, file: &Path) -> String {
    let path = dir.join("reads.midnet");
    let text = format!(
        "{HEAD}codelist dx = icd10 from \"{}\"\ncohort\n  entry first diagnosis where icd10 in dx\nend\ndataset d\n  index_date = index\nend\n",
        file.display()
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path.display().to_string()
}

/// `midnet ARGS` run by root through sudo for OS user `uid`.
fn sudo_for(uid: &str, dir: &Path, args: &[&str]) -> Run {
    midnet_with(dir, args, &[("SUDO_UID", uid), ("SUDO_GID", uid), ("SUDO_USER", "someone")], None)
}

/// The run failed to open `file` and showed nothing of it: neither its rows nor its columns.
#[track_caller]
fn assert_denied(run: &Run, what: &str, file: &Path) {
    assert_ne!(run.code, 0, "{what} succeeded\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !output.contains(SECRET) && !output.contains("birth_date"),
        "{what} showed the project's data or its columns\n{output}"
    );
    let unreadable = ["permission denied", "no such file"].iter().any(|m| run.stderr.to_lowercase().contains(m));
    assert!(unreadable && run.stderr.contains(&file.display().to_string()), "{what}: {}", run.stderr);
}

#[test]
fn a_command_without_a_login_reads_only_what_the_invoking_person_can() {
    if skipped("a_command_without_a_login_reads_only_what_the_invoking_person_can") {
        return;
    }
    let (_c, dataset, public) = home_with_a_dataset();
    let script = script_reading(&public, &dataset);
    let check = sudo_for(NOBODY, &public, &["script", "check", &script]);
    assert_denied(&check, "script check of a codelist in the home", &dataset);
    let input = dataset.display().to_string();
    let stats = sudo_for(NOBODY, &public, &["stats", "incidence", "--input", &input, "--events", "e", "--time", "t"]);
    assert_denied(&stats, "stats --input on a project dataset", &dataset);

    // What the person may read, they still can: a copy in their own directory.
    let copy = public.join("copy.parquet");
    std::fs::copy(&dataset, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).unwrap();
    let own = sudo_for(NOBODY, &public, &["script", "check", &script_reading(&public, &copy)]);
    assert!(
        own.stderr.contains("the columns are: person_id, birth_date"),
        "the person's own file is read\n{}",
        own.stderr
    );
}

#[test]
fn through_sudo_a_home_owned_by_root_is_refused() {
    if skipped("through_sudo_a_home_owned_by_root_is_refused") {
        return;
    }
    let (c, _, public) = home_with_a_dataset();
    let home = c.home.display().to_string();
    sudo_for(NOBODY, &public, &["project", "list", "--home", &home]).fails(3, "refused (privilege)");
}

/// A copy of the binary every OS user may run (the build's own lies under root's home).
fn shared_binary(root: &Path) -> PathBuf {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let copy = bin.join("midnet");
    std::fs::copy(midnet_bin(), &copy).unwrap();
    for (path, mode) in [(&bin, 0o755), (&copy, 0o755)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    copy
}

#[test]
fn through_sudo_as_an_account_that_cannot_switch_a_command_without_a_login_is_refused() {
    if skipped("through_sudo_as_an_account_that_cannot_switch_a_command_without_a_login_is_refused") {
        return;
    }
    let (c, _, public) = home_with_a_dataset();
    let bin = shared_binary(&c.root);
    let script = public.join("plain.midnet");
    let text = format!(
        "{HEAD}cohort\n  entry first drug_order where yj_code in yj [\"3969099\"]\nend\ndataset d\n  index_date = index\nend\n"
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    // `sudo -u service midnet …`: the process is the service account (here 65534), not the person.
    let as_service = |sudo: &[(&str, &str)]| {
        let output = std::process::Command::new("setpriv")
            .args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"])
            .arg(&bin)
            .args(["script", "check"])
            .arg(&script)
            .current_dir(&public)
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .envs(sudo.iter().copied())
            .output()
            .expect("setpriv runs");
        (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (code, stderr) = as_service(&[("SUDO_UID", "1001"), ("SUDO_GID", "1001")]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("refused (privilege)") && stderr.contains("1001"), "{stderr}");
    // The same account running it for itself (no sudo) is its own person.
    let (code, stderr) = as_service(&[]);
    assert_eq!(code, 0, "{stderr}");
}

/// The attack: an analyst of project p2 names, on a command on the home, a file of project p1
/// (whose work area only the service account can read). The command must read it with the
/// person's rights, so it fails, naming the file and showing nothing of it, and p2 gains nothing.
#[test]
fn a_file_named_on_a_command_on_the_home_is_read_with_the_persons_rights() {
    use crate::center::{PASSWORD, midnet_env, serve_home, sudo_env, write};
    if skipped("a_file_named_on_a_command_on_the_home_is_read_with_the_persons_rights") {
        return;
    }
    let c = Center::with_users();
    c.set_today("2026-06-15");
    c.research_project("p1");
    c.research_project("p2");
    c.run("carol", &["project", "grant", "p2", "alan", "analyst"]).ok();
    let other = c.area("p1").join("work/by_site.csv");
    write(&other, &format!("code,n\n{SECRET},3\n"));
    let public = c.root.join("public");
    std::fs::create_dir_all(&public).unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = script_reading(&public, &other);
    serve_home(&c.root, &c.home);
    let alan = sudo_env(&c.home, "1001", &c.os_home("alan"));
    midnet_env(&c.root, &["login", "--user", "alan"], &alan, Some(&format!("{PASSWORD}\n"))).ok();

    let path = other.display().to_string();
    let import = midnet_env(&c.root, &["work", "import", "--project", "p2", &path], &alan, None);
    assert_named_file_denied(&import, "work import of p1's table", &other);
    assert!(!c.area("p2").join("work/by_site.csv").exists(), "p1's table came into p2");
    let extract = midnet_env(&c.root, &["extract", "--project", "p2", &script], &alan, None);
    assert_named_file_denied(&extract, "extract with a codelist of p1's", &other);

    // The reviewer's commands too: a site's key file is read as the person who names it.
    let rev = sudo_env(&c.home, "1002", &c.os_home("rev"));
    midnet_env(&c.root, &["login", "--user", "rev"], &rev, Some(&format!("{PASSWORD}\n"))).ok();
    let key = midnet_env(&c.root, &["center", "sites", "key", "site01", &path], &rev, None);
    assert_named_file_denied(&key, "center sites key with p1's table", &other);
    let registry = public.join("sites.toml");
    std::fs::write(&registry, format!("[[site]]\nid = \"h1\"\nname = \"H\"\npath = \".\"\nkey_file = \"{path}\"\n"))
        .unwrap();
    std::fs::set_permissions(&registry, std::fs::Permissions::from_mode(0o644)).unwrap();
    let add = midnet_env(&c.root, &["center", "sites", "add", &registry.display().to_string()], &rev, None);
    assert_named_file_denied(&add, "center sites add with a key file of p1's", &other);
}

/// The run failed because the person cannot read `file`, and showed nothing of what it holds.
#[track_caller]
fn assert_named_file_denied(run: &Run, what: &str, file: &Path) {
    assert_ne!(run.code, 0, "{what} succeeded\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(!output.contains(SECRET), "{what} showed what the file holds\n{output}");
    assert!(
        run.stderr.to_lowercase().contains("permission denied") && run.stderr.contains(&file.display().to_string()),
        "{what}: {}",
        run.stderr
    );
}
