//! Crash points: named moments at which the kill tests have `midnet` killed, to show that a kill
//! there loses nothing and that the next command or a rerun completes (tests/it/crash.rs).
//!
//! `MIDNET_CRASH_AT=NAME` kills the process (SIGKILL, as `kill -9` does) the first time it passes
//! the point `NAME`; `MIDNET_CRASH_AT=NAME:N` the N-th time. The points:
//!
//! | point | where |
//! | --- | --- |
//! | `audit-appended` | an audit record is in the log, the head does not seal it yet |
//! | `load-inserted` | `site load`: a file's rows are inserted, its transaction is open |
//! | `load-committed` | `site load`: the transaction committed, before the checkpoint and the report |
//! | `import-batch` | `site import ss-mix2`: a batch of patients' withdrawals made and rows brought in, its transaction open |
//! | `import-staged` | `site import ss-mix2`: every batch brought in, not yet recorded as a data version, its transaction open |
//! | `import-committed` | `site import ss-mix2`: the transaction committed, before the checkpoint and the report |
//! | `receipt-staged` | `site import receipt`: withdrawals made and the files' rows staged, its transaction open |
//! | `receipt-committed` | `site import receipt`: the transaction committed, before the checkpoint and the report |
//! | `dpc-staged` | `site import dpc`: withdrawals made and the files' rows staged, its transaction open |
//! | `dpc-committed` | `site import dpc`: the transaction committed, before the checkpoint and the report |
//! | `migrate-built` | `site migrate`: the migrated database built beside the old one, not yet renamed over it |
//! | `migrate-renamed` | `site migrate`: the migrated database renamed over the old one, before the report |
//! | `extract-catalog` | `extract`: the project's catalog tables created, not yet committed |
//! | `extract-begun` | `extract`: the extraction recorded, no site run yet |
//! | `extract-received` | `extract`: a site's result received and verified, not yet recorded |
//! | `extract-unioned` | `extract`: the datasets written, not yet recorded in the catalog |
//! | `extract-recorded` | `extract`: the datasets recorded, the sites' copies not yet removed |
//!
//! Harmless in production: passing a point does exactly what a `kill -9` (or a power cut) at that
//! moment does, which every command must survive anyway, and whoever can set a command's
//! environment can already kill it. Under the deployment the docs describe (sudo, which resets
//! the environment) the variable does not even reach the process. Nothing else reads it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

pub const CRASH_VAR: &str = "MIDNET_CRASH_AT";

/// Kill this process here if `MIDNET_CRASH_AT` names this point (and this is its N-th passing).
pub fn point(name: &str) {
    static ARMED: OnceLock<Option<(String, u32)>> = OnceLock::new();
    static PASSED: AtomicU32 = AtomicU32::new(0);
    let armed = ARMED.get_or_init(|| {
        let text = std::env::var(CRASH_VAR).ok()?;
        Some(match text.split_once(':') {
            Some((point, nth)) => (point.to_string(), nth.parse().unwrap_or(1)),
            None => (text, 1),
        })
    });
    let Some((point, nth)) = armed else { return };
    if point == name && PASSED.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
        eprintln!("midnet: killed at crash point {name} (passing {nth}, {CRASH_VAR})");
        // SAFETY: kill(2) on our own pid; SIGKILL ends the process here, as `kill -9` would.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
