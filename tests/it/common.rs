//! Running the real binary from tests.

#![allow(dead_code)] // each test module uses its own subset of these helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test: cargo's build of it, or `MIDNET_TEST_BIN`, a copy taken out of the shared
/// target directory so that a long test can run outside the team's build lock on the binary it was
/// built with (the shared `release/midnet` is overwritten by whoever builds next).
pub fn midnet_bin() -> PathBuf {
    std::env::var_os("MIDNET_TEST_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_midnet")), PathBuf::from)
}

/// The result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panic with both streams unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Panic unless the command failed with `code` and its stderr contains `needle`.
    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Run {
        assert_eq!(self.code, code, "expected exit code {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(self.stderr.contains(needle), "expected stderr to contain {needle:?}\nstderr:\n{}", self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

/// Run `midnet ARGS` in `dir` with no `MIDNET_HOME`, session or sudo identity from the environment.
pub fn midnet(dir: &Path, args: &[&str]) -> Run {
    midnet_with(dir, args, &[], None)
}

/// Run `midnet ARGS` in `dir` with extra environment variables and optional standard input.
pub fn midnet_with(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(midnet_bin());
    cmd.args(args).current_dir(dir).envs(env.iter().copied());
    for inherited in ["MIDNET_HOME", "MIDNET_SESSION", "SUDO_UID", "SUDO_GID", "SUDO_USER"] {
        if !env.iter().any(|(k, _)| *k == inherited) {
            cmd.env_remove(inherited);
        }
    }
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the midnet binary starts");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    Run::from(child.wait_with_output().unwrap())
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("midnet-test-").tempdir().unwrap()
}

/// The clone's root. Read when the tests run, not when they compile: a test binary built in one
/// checkout and found fresh by cargo in another (a shared target directory) must read the files of
/// the checkout it runs in.
pub fn repo_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The reference values (`testdata/reference/`, a checked copy of `../shared/reference/`).
pub fn reference_dir() -> PathBuf {
    repo_root().join("testdata/reference")
}

/// A file of the repository's `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    repo_root().join("testdata").join(rel)
}

/// Number of proptest cases: bounded in CI, more on demand with MIDNET_PROPTEST_CASES.
pub fn proptest_cases() -> u32 {
    std::env::var("MIDNET_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}
