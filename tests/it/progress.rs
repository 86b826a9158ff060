//! Progress bars: drawn on a terminal (a real pseudo-terminal, given by util-linux `script`), silent
//! with `--quiet`, and nothing of a bar when stderr is not a terminal (a script reading the output).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::center::Center;
use crate::common::{midnet, midnet_bin, tempdir};
use crate::protocol::{Monitoring, NOVAGLIPTIN, SITAGLIPTIN};

/// `word` quoted for `sh`.
fn shell_word(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Run `midnet ARGS` in `dir` on a pseudo-terminal (`script -qec COMMAND /dev/null`, util-linux) with
/// `env` added; returns everything the command wrote to the terminal (stdout and stderr together).
fn in_terminal(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let words: Vec<String> = std::iter::once(midnet_bin().display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .map(|w| shell_word(&w))
        .collect();
    let output = Command::new("script")
        .args(["-qec", &words.join(" "), "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .env_remove("MIDNET_HOME")
        .env_remove("MIDNET_SESSION")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("util-linux `script` runs (it gives the command a pseudo-terminal)");
    let terminal = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "midnet {args:?} failed on the terminal:\n{terminal}");
    terminal
}

/// What a drawn bar leaves on a terminal: a cursor or line-erasing escape sequence, or a carriage
/// return that is not the terminal's end of line (`\r\n`).
fn has_drawing(text: &str) -> bool {
    text.contains('\x1b') || text.split("\r\n").any(|piece| piece.contains('\r'))
}

/// `text` without its terminal escape sequences (`ESC [ … final byte`).
fn without_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                chars.by_ref().find(|c| ('@'..='~').contains(c));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The bar labelled `label` as last drawn (`label [====] … message`), if one was. indicatif pads a
/// bar's last line to the terminal's width, so what the command prints next follows it in the byte
/// stream (the terminal wraps it onto the next line).
fn bar_line(terminal: &str, label: &str) -> Option<String> {
    let start = format!("{label} [");
    without_escapes(terminal).split(['\r', '\n']).map(str::trim).rfind(|l| l.starts_with(&start)).map(str::to_string)
}

/// A site with a synthesised hospital's files to load.
fn site_to_load(dir: &Path) {
    midnet(dir, &["synth", "--site-count", "1", "--patients", "300", "--seed", "4", "--dir", "net", "--quiet"]).ok();
    midnet(dir, &["site", "init", "--site", "net/site01", "--quiet"]).ok();
}

#[test]
fn site_load_draws_a_bar_over_its_bytes_on_a_terminal() {
    let dir = tempdir();
    site_to_load(dir.path());
    let terminal = in_terminal(dir.path(), &["site", "load", "--site", "net/site01", "net/site01/import"], &[]);
    let bar = bar_line(&terminal, "site01").unwrap_or_else(|| panic!("no bar labelled site01 was drawn:\n{terminal}"));
    // `site01 [====] 1.61 MiB/1.61 MiB done`: the bytes read of all, full at the end.
    let counts = bar.split("] ").nth(1).and_then(|rest| rest.split(" done").next()).unwrap_or_default();
    let (read, total) = counts.split_once('/').unwrap_or_else(|| panic!("no bytes read/total in {bar:?}"));
    assert!(total.ends_with('B') && read == total, "the bar counts bytes and ends full and done: {bar:?}");
    assert!(terminal.contains("data version 1"), "the report still follows the bar:\n{terminal}");
}

#[test]
fn site_load_is_quiet_with_quiet_and_when_stderr_is_not_a_terminal() {
    let dir = tempdir();
    site_to_load(dir.path());
    let load = ["site", "load", "--site", "net/site01", "net/site01/import"];
    let quiet = in_terminal(dir.path(), &[&load[..], &["--quiet"]].concat(), &[]);
    assert!(!has_drawing(&quiet) && bar_line(&quiet, "site01").is_none(), "--quiet drew a bar:\n{quiet:?}");

    let dir = tempdir();
    site_to_load(dir.path());
    let piped = midnet(dir.path(), &load).ok();
    for (stream, text) in [("stdout", &piped.stdout), ("stderr", &piped.stderr)] {
        assert!(!text.contains('\r') && !text.contains('\x1b'), "{stream} has a bar's drawing:\n{text:?}");
        assert!(bar_line(text, "site01").is_none(), "{stream} has a bar:\n{text}");
    }
}

/// `protocol run` on a terminal: the sites' extraction bars, then one bar over the estimates (each
/// outcome in each subgroup); with --quiet none.
#[test]
fn protocol_run_draws_a_bar_over_its_estimates() {
    let m = Monitoring::new(2, 600, 12, "signal_detection");
    m.approve(NOVAGLIPTIN, SITAGLIPTIN, None);
    let run = |cutoff: &str, quiet: &[&str]| {
        let args = [
            &["protocol", "run", "--project", "p1", "--drug", NOVAGLIPTIN, "--comparator", SITAGLIPTIN][..],
            &["--cutoff", cutoff],
            quiet,
        ]
        .concat();
        in_terminal(
            &m.c.root,
            &args,
            &session_env(&m.c, "alan").iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        )
    };
    let terminal = run("2024-09-30", &[]);
    let bar = bar_line(&terminal, "estimate").unwrap_or_else(|| panic!("no estimate bar was drawn:\n{terminal}"));
    let tests: u64 = bar.split('/').nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(tests >= 2 && bar.contains(&format!("] {tests}/{tests} done")), "the bar ends full: {bar:?}");

    let quiet = run("2025-03-31", &["--quiet"]);
    assert!(!has_drawing(&quiet) && bar_line(&quiet, "estimate").is_none(), "--quiet drew a bar:\n{quiet:?}");
    assert!(quiet.contains("analysis 2"), "the run's results still print:\n{quiet}");
}

/// The environment a command of `user` runs with on the fixture's home.
fn session_env(c: &Center, user: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MIDNET_HOME", c.home.display().to_string()),
        ("HOME", c.os_home(user).display().to_string()),
        ("MIDNET_SESSION", c.token(user)),
    ]
}
