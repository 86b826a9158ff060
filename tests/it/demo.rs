//! `midnet demo` runs the main job end to end with no arguments.

use crate::common::{midnet, tempdir};

#[test]
fn demo_runs_end_to_end() {
    let dir = tempdir();
    let run = midnet(dir.path(), &["demo", "--dir", "run", "--patients", "1500"]).ok();
    for step in ["1. synthesise", "2. each site", "3. data quality", "4. the data center"] {
        assert!(run.stdout.contains(step), "demo output lacks `{step}`:\n{}", run.stdout);
    }
    assert!(dir.path().join("run/center").is_dir());
    assert!(dir.path().join("run/network/site01/site.duckdb").is_file());
    // The demo's home is a real one: its audit trail verifies.
    midnet(dir.path(), &["--home", "run/center", "audit", "verify"]).ok();
}
