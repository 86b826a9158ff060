//! The data center's home: init, users and the password policy, login sessions, the site registry.
//! Also the fixture the project and audit tests share: a home on a simulated clock with a reviewer
//! and a few users, each acting as a person of their own through their session token.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::common::{Run, midnet_with, tempdir};

pub const PASSWORD: &str = "battery-staple-9x";
/// The date the fixture's simulated clock starts at.
pub const TODAY: &str = "2026-05-01";

/// A home in a temporary directory, on a simulated clock, its reviewer `rev` logged in.
pub struct Center {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    /// Each person's session token (all the tests' people are one OS user: tokens tell them apart).
    tokens: Mutex<HashMap<String, String>>,
}

impl Center {
    pub fn new() -> Center {
        let dir = tempdir();
        let root = dir.path().to_path_buf();
        let center = Center { home: root.join("home"), root, _dir: dir, tokens: Mutex::default() };
        let init = ["center", "init", "--user", "rev", "--name", "Rita Reviewer", "--simulated-clock", TODAY];
        center.run_with("rev", &init, Some(PASSWORD)).ok();
        center.login("rev", PASSWORD).ok();
        center
    }

    /// A home with users carol (contractor-to-be), alan (analyst-to-be), stella (statistics user-to-be).
    pub fn with_users() -> Center {
        let center = Center::new();
        for (id, name) in [("carol", "Carol Contractor"), ("alan", "Alan Analyst"), ("stella", "Stella Stats")] {
            center.add_user(id, name);
            center.login(id, PASSWORD).ok();
        }
        center
    }

    /// Move the home's simulated clock to `date` (as its reviewer, rev, who must be logged in).
    pub fn set_today(&self, date: &str) {
        self.run("rev", &["center", "clock", "set", date]).ok();
    }

    /// The OS home directory of `user` (their `HOME`; no session is kept there).
    pub fn os_home(&self, user: &str) -> PathBuf {
        let dir = self.root.join("os-homes").join(user);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Run `midnet ARGS` as person `user` on this home: with their session token, or none.
    pub fn run(&self, user: &str, args: &[&str]) -> Run {
        self.run_with(user, args, None)
    }

    pub fn run_with(&self, user: &str, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_env(user, args, &[], stdin)
    }

    /// Like [`Center::run_with`], with extra environment variables (which may replace the session).
    pub fn run_env(&self, user: &str, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let home = self.home.display().to_string();
        let os_home = self.os_home(user).display().to_string();
        let token = self.tokens.lock().unwrap().get(user).cloned().unwrap_or_default();
        let mut env =
            vec![("MIDNET_HOME", home.as_str()), ("HOME", os_home.as_str()), ("MIDNET_SESSION", token.as_str())];
        env.extend_from_slice(extra);
        midnet_with(&self.root, args, &env, stdin)
    }

    /// Log `user` in; on success the token `midnet login` printed becomes theirs.
    pub fn login(&self, user: &str, password: &str) -> Run {
        let run = self.run_with(user, &["login", "--user", user], Some(&format!("{password}\n")));
        if let Some(token) = run.stdout.lines().find_map(|l| l.strip_prefix("MIDNET_SESSION=")) {
            self.tokens.lock().unwrap().insert(user.to_string(), token.to_string());
        }
        run
    }

    pub fn add_user(&self, id: &str, name: &str) {
        self.run_with("rev", &["user", "add", id, "--name", name], Some(&format!("{PASSWORD}\n"))).ok();
    }

    /// The session token of person `user` (from their last successful login).
    pub fn token(&self, user: &str) -> String {
        self.tokens.lock().unwrap().get(user).cloned().unwrap_or_else(|| panic!("{user} never logged in"))
    }

    pub fn area(&self, project: &str) -> PathBuf {
        self.home.join("areas").join(project)
    }

    pub fn audit_log(&self) -> PathBuf {
        self.home.join("audit/log.jsonl")
    }

    /// Register the sites of registry `toml` (as rev) and have each pin this home's public key, as
    /// its staff would with the copy given to them out of band.
    pub fn add_sites(&self, toml: &Path) {
        self.run("rev", &["center", "sites", "add", &toml.display().to_string()]).ok();
        let sites = self.run("rev", &["center", "sites", "list", "--json"]).ok().json();
        for site in sites.as_array().unwrap() {
            self.trust_center(Path::new(site["path"].as_str().unwrap()));
        }
    }

    /// `midnet site trust-center --site SITE --key HOME/keys/center.pub`.
    pub fn trust_center(&self, site: &Path) {
        let key = self.home.join("keys/center.pub").display().to_string();
        self.run("rev", &["site", "trust-center", "--site", &site.display().to_string(), "--key", &key]).ok();
    }

    /// Create a research project `id` with contractor carol: 2026-06-01 to 2027-05-31.
    pub fn research_project(&self, id: &str) {
        self.run("rev", &create_args(id, "research", "2026-06-01", "2027-05-31", &[])).ok();
    }
}

/// The arguments of `project create` with the usual fields, plus `extra`.
pub fn create_args<'a>(id: &'a str, purpose: &'a str, start: &'a str, end: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "project",
        "create",
        id,
        "--title",
        "Liver injury on drug A",
        "--question",
        "Is drug A associated with more liver injury than drug B?",
        "--purpose",
        purpose,
        "--organization",
        "Example University",
        "--contractor",
        "carol",
        "--start",
        start,
        "--end",
        end,
        "--extraction-from",
        "2018-01-01",
        "--extraction-to",
        "2025-12-31",
    ];
    args.extend_from_slice(extra);
    args
}

/// Whether the tests run as root (and so can act as other OS users).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Give `home` to a service account (uid and gid 65534) and let every OS user reach the temporary
/// `root` above it, as a deployment has it. Only root can; otherwise the home stays the tests'.
pub fn serve_home(root: &Path, home: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if !running_as_root() {
        return;
    }
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let chown = std::process::Command::new("chown").args(["-R", "65534:65534"]).arg(home).status().unwrap();
    assert!(chown.success());
}

/// The environment of OS user `uid` running `midnet` on `home` through sudo, with `os_home` as HOME.
pub fn sudo_env(home: &Path, uid: &str, os_home: &Path) -> Vec<(String, String)> {
    std::fs::create_dir_all(os_home).unwrap();
    vec![
        ("MIDNET_HOME".into(), home.display().to_string()),
        ("HOME".into(), os_home.display().to_string()),
        ("SUDO_UID".into(), uid.into()),
        ("SUDO_GID".into(), uid.into()),
    ]
}

/// `midnet ARGS` with the environment `env` (owned pairs).
pub fn midnet_env(dir: &Path, args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    midnet_with(dir, args, &env, stdin)
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn commands_on_the_home_need_a_home_and_a_session() {
    let dir = tempdir();
    crate::common::midnet(dir.path(), &["project", "list"]).fails(2, "--home");
    let missing = dir.path().join("nowhere").display().to_string();
    crate::common::midnet(dir.path(), &["project", "list", "--home", &missing]).fails(4, "not a midnet home");

    let c = Center::new();
    c.run("nobody", &["project", "list"]).fails(3, "refused (login)");
    c.login("rev", "wrong-password-123").fails(3, "refused (login)");
    c.login("ghost", PASSWORD).fails(3, "refused (login)");
    c.run("rev", &["project", "list"]).ok();
    c.run("rev", &["logout"]).ok();
    c.run("rev", &["project", "list"]).fails(3, "session is closed");

    // A session token given in MIDNET_SESSION works whatever HOME the same OS user has.
    c.login("rev", PASSWORD).ok();
    let token = c.token("rev");
    c.run_env("nobody", &["project", "list"], &[("MIDNET_SESSION", &token)], None).ok();
    c.run_env("nobody", &["project", "list"], &[("MIDNET_SESSION", "forged")], None).fails(3, "session is closed");

    // The refusals were audited, with the rule.
    let show = c.run("rev", &["audit", "show", "--json"]).ok().json();
    let refused: Vec<_> = show.as_array().unwrap().iter().filter(|r| r["result"] == "refused").collect();
    assert!(refused.len() >= 5, "{refused:?}");
    assert!(refused.iter().all(|r| r["rule"] == "login"));
}

#[test]
fn init_refuses_a_used_directory_and_leaves_nothing_on_failure() {
    let c = Center::new();
    c.run_with("rev", &["center", "init", "--user", "rev2", "--name", "R"], Some(PASSWORD))
        .fails(2, "already a midnet home");
    let dir = tempdir();
    let home = dir.path().join("h").display().to_string();
    let env = [("MIDNET_HOME", home.as_str())];
    midnet_with(dir.path(), &["center", "init", "--user", "rev", "--name", "R"], &env, Some("short\n"))
        .fails(3, "refused (password_policy)");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a failed init leaves nothing behind");
    midnet_with(dir.path(), &["center", "init", "--user", "rev", "--name", "R"], &env, None)
        .fails(2, "no password on standard input");
}

#[test]
fn the_home_is_owner_only_and_keeps_no_password_or_token() {
    use std::os::unix::fs::PermissionsExt;
    let c = Center::with_users();
    for dir in [c.home.clone(), c.home.join("seal")] {
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700, "{}", dir.display());
    }
    assert_eq!(std::fs::metadata(c.home.join("seal/key")).unwrap().permissions().mode() & 0o777, 0o600);
    let users = std::fs::read_to_string(c.home.join("users.json")).unwrap();
    assert!(!users.contains(PASSWORD) && users.contains("$argon2id$"));
    let sessions = std::fs::read_to_string(c.home.join("sessions.json")).unwrap();
    assert!(!sessions.contains(&c.token("carol")));
}

#[test]
fn password_policy_history_and_expiry() {
    let c = Center::new();
    let add = |id: &str, pw: &str| c.run_with("rev", &["user", "add", id, "--name", "Dana"], Some(&format!("{pw}\n")));
    add("dana", "too-short").fails(3, "refused (password_policy)");
    add("dana", "xx-DANA-long-enough").fails(3, "contains the user id");
    add("dana", "first-password-1").ok();
    add("dana", "first-password-1").fails(2, "already exists");
    c.run("dana", &["user", "add", "eve", "--name", "Eve"]).fails(3, "refused (login)");
    c.login("dana", "first-password-1").ok();
    c.run_with("dana", &["user", "add", "eve", "--name", "Eve"], Some("some-password-1\n")).fails(3, "refused (role)");

    // Changing one's password needs the current one; the last 5 cannot come back.
    let passwd = |current: &str, new: &str| {
        c.run_with("dana", &["user", "passwd", "dana"], Some(&format!("{current}\n{new}\n")))
    };
    passwd("wrong-current-pw", "second-password-2").fails(3, "refused (login)");
    passwd("first-password-1", "second-password-2").ok();
    passwd("second-password-2", "first-password-1").fails(3, "last 5 passwords");

    // Expiry: 90 days after it was set, login is refused until the password is changed.
    c.set_today("2026-07-30");
    c.login("dana", "second-password-2").fails(3, "refused (password_expired)");
    passwd("second-password-2", "third-password-3").ok();
    c.login("dana", "third-password-3").ok();

    // A reviewer resets and disables; a disabled user's sessions close.
    c.run_with("rev", &["user", "passwd", "dana", "--reset"], Some("reset-password-4\n")).ok();
    c.login("dana", "reset-password-4").ok();
    c.run("rev", &["user", "disable", "dana"]).ok();
    c.run("dana", &["project", "list"]).fails(3, "session is closed");
    c.login("dana", "reset-password-4").fails(3, "refused (user_disabled)");
    let users = c.run("rev", &["user", "list", "--json"]).ok().json();
    assert!(users.as_array().unwrap().iter().any(|u| u["id"] == "dana" && u["disabled"] == true));
}

#[test]
fn an_expired_session_is_refused() {
    let dir = tempdir();
    let home = dir.path().join("h").display().to_string();
    let os_home = dir.path().display().to_string();
    let env = [("MIDNET_HOME", home.as_str()), ("HOME", os_home.as_str())];
    let init = ["center", "init", "--user", "rev", "--name", "R", "--session-minutes", "0"];
    midnet_with(dir.path(), &init, &env, Some(PASSWORD)).ok();
    midnet_with(dir.path(), &["login", "--user", "rev"], &env, Some(PASSWORD)).ok();
    midnet_with(dir.path(), &["project", "list"], &env, None).fails(3, "refused (session_expired)");
}

#[test]
fn sites_are_imported_with_absolute_paths_and_checked() {
    let c = Center::with_users();
    let net = c.root.join("network");
    for site in ["s01", "s02", "s03"] {
        std::fs::create_dir_all(net.join(site)).unwrap();
    }
    let entry = |id: &str| {
        format!(
            "[[site]]\nid = \"{id}\"\nname = \"{id} 大学病院\"\naliases = [\"{id} Univ. Hospital\"]\npath = \"{id}\"\n\n"
        )
    };
    write(&net.join("sites.toml"), &(entry("s01") + &entry("s02")));
    write(&net.join("bad.toml"), &(entry("s01") + &entry("s09")));
    write(&net.join("twice.toml"), &(entry("s01") + &entry("s01")));
    write(&net.join("broken.toml"), "[[site]]\nid = \"s01\"\nname = 3\n");
    let toml = |name: &str| net.join(name).display().to_string();

    c.run("carol", &["center", "sites", "add", &toml("sites.toml")]).fails(3, "refused (role)");
    c.run("rev", &["center", "sites", "add", &toml("bad.toml")]).fails(2, "site #2 (\"s09\"): path");
    c.run("rev", &["center", "sites", "add", &toml("twice.toml")]).fails(2, "appears twice");
    c.run("rev", &["center", "sites", "add", &toml("broken.toml")]).fails(2, "broken.toml");
    c.run("rev", &["center", "sites", "add", &toml("sites.toml")]).ok();
    let sites = c.run("rev", &["center", "sites", "list", "--json"]).ok().json();
    assert_eq!(sites[0]["path"], net.join("s01").display().to_string());
    assert_eq!(sites[1]["aliases"][0], "s02 Univ. Hospital");

    // Each project draws its own pseudonyms; sites added later get one in every project; only
    // a reviewer sees them, and no hospital name reaches a work area.
    c.research_project("p1");
    c.research_project("p2");
    write(&net.join("more.toml"), &entry("s03"));
    c.run("rev", &["center", "sites", "add", &toml("more.toml")]).ok();
    let pseudonyms = |p: &str| c.run("rev", &["project", "show", p, "--json"]).ok().json()["pseudonyms"].clone();
    let (a, b) = (pseudonyms("p1"), pseudonyms("p2"));
    assert_eq!(a.as_object().unwrap().len(), 3);
    for site in ["s01", "s02", "s03"] {
        assert!(a[site].as_str().unwrap().starts_with("site-"));
        assert_ne!(a[site], b[site], "{site} has unrelated pseudonyms in two projects");
    }
    let shown = c.run("carol", &["project", "show", "p1", "--json"]).ok().json();
    assert!(shown["pseudonyms"].as_object().unwrap().is_empty());
    assert!(!c.area("p1").join("project.duckdb").display().to_string().contains("大学"));
}

#[test]
fn a_session_serves_only_the_os_user_who_opened_it_even_with_a_shared_home() {
    let c = Center::new();
    serve_home(&c.root, &c.home);
    let shared = c.root.join("service-account-home");
    let (first, second) = (sudo_env(&c.home, "1001", &shared), sudo_env(&c.home, "1002", &shared));
    let login = midnet_env(&c.root, &["login", "--user", "rev"], &first, Some(&format!("{PASSWORD}\n"))).ok();
    midnet_env(&c.root, &["project", "list"], &first, None).ok();
    midnet_env(&c.root, &["project", "list"], &second, None).fails(3, "refused (login)");
    // Nor does the first person's token serve the second.
    let token = login.stdout.lines().find_map(|l| l.strip_prefix("MIDNET_SESSION=")).expect("login prints the token");
    let mut with_token = second.clone();
    with_token.push(("MIDNET_SESSION".into(), token.to_string()));
    midnet_env(&c.root, &["project", "list"], &with_token, None).fails(3, "another OS user");
}

#[test]
fn repeated_wrong_passwords_lock_the_account_until_a_reviewer_unlocks_it() {
    let c = Center::with_users();
    for _ in 0..30 {
        c.login("alan", "wrong-password-123").fails(3, "refused (login");
    }
    c.login("alan", PASSWORD).fails(3, "refused (login_locked)");
    let records = c.run("rev", &["audit", "show", "--user", "alan", "--json"]).ok().json();
    assert!(records.as_array().unwrap().iter().any(|r| r["rule"] == "login_locked"), "{records}");
    c.run("alan", &["user", "unlock", "alan"]).fails(3, "refused (");
    c.run("rev", &["user", "unlock", "alan"]).ok();
    c.login("alan", PASSWORD).ok();
}

#[test]
fn passwords_are_judged_by_how_easy_they_are_to_guess() {
    let c = Center::new();
    for weak in ["            ", "aaaaaaaaaaaa", "password1234"] {
        c.run_with("rev", &["user", "add", "dana", "--name", "Dana"], Some(&format!("{weak}\n")))
            .fails(3, "refused (password_policy)")
            .fails(3, "easy to guess");
    }
    c.run_with("rev", &["user", "add", "dana", "--name", "Dana"], Some("plum-orbit-kettle-42\n")).ok();
}

#[test]
fn a_lock_grows_but_never_keeps_the_last_reviewer_out_for_long() {
    let c = Center::with_users();
    c.run_with(
        "rev",
        &["user", "add", "rev2", "--name", "Second Reviewer", "--reviewer"],
        Some(&format!("{PASSWORD}\n")),
    )
    .ok();
    c.login("rev2", PASSWORD).ok();
    // Five wrong passwords in a row; the seconds the lock has left, read from the home.
    let lock = |user: &str| {
        for _ in 0..5 {
            c.login(user, "wrong-password-123").fails(3, "refused (login");
        }
        let users: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(c.home.join("users.json")).unwrap()).unwrap();
        let entry = users["users"].as_array().unwrap().iter().find(|u| u["id"] == user).unwrap().clone();
        let until = chrono::DateTime::parse_from_rfc3339(entry["locked_until"].as_str().unwrap()).unwrap();
        (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
    };
    let minutes = |seconds: i64| (seconds + 59) / 60;
    assert_eq!(minutes(lock("alan")), 15);
    c.run("rev", &["user", "unlock", "alan"]).ok();
    assert_eq!(minutes(lock("alan")), 30, "each lock lasts twice the one before");
    assert_eq!(minutes(lock("rev")), 15);
    c.run("rev2", &["user", "unlock", "rev"]).ok();
    assert_eq!(minutes(lock("rev2")), 15);
    // rev's second lock would last 30 minutes, but the only other reviewer is locked too.
    assert_eq!(minutes(lock("rev")), 15, "the last reviewer who could unlock the others is never locked long");
    c.login("rev", PASSWORD).fails(3, "refused (login_locked)");
}
