//! Where a staged reading's time goes (BENCHMARKS.md, issues 20 and 21): with `MIDNET_TIMINGS` set in the
//! environment, each phase timed is summed, a line per batch and the totals are written to stderr.
//! Unset (always, but for a measurement), a phase costs one check of a flag and nothing is written.
//! Phases timed on several threads at once add up their threads' time (`[threads]` in the name).

use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

struct Sums {
    /// Since the last `lap`, in the order first timed.
    lap: Vec<(String, Duration)>,
    total: Vec<(String, Duration)>,
    started: Instant,
}

static SUMS: LazyLock<Option<Mutex<Sums>>> = LazyLock::new(|| {
    std::env::var_os("MIDNET_TIMINGS")
        .map(|_| Mutex::new(Sums { lap: Vec::new(), total: Vec::new(), started: Instant::now() }))
});

fn add(sums: &mut Vec<(String, Duration)>, phase: &str, took: Duration) {
    match sums.iter_mut().find(|(p, _)| p == phase) {
        Some((_, sum)) => *sum += took,
        None => sums.push((phase.to_string(), took)),
    }
}

/// Run `f`, adding its time to `phase` when timings are on.
pub fn time<T>(phase: &str, f: impl FnOnce() -> T) -> T {
    let Some(sums) = SUMS.as_ref() else { return f() };
    let started = Instant::now();
    let result = f();
    let took = started.elapsed();
    let mut sums = sums.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    add(&mut sums.lap, phase, took);
    add(&mut sums.total, phase, took);
    result
}

/// Add `took` to `phase` (a time measured by the caller).
pub fn add_time(phase: &str, took: Duration) {
    if let Some(sums) = SUMS.as_ref() {
        let mut sums = sums.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        add(&mut sums.lap, phase, took);
        add(&mut sums.total, phase, took);
    }
}

fn line(label: &str, at: Duration, sums: &[(String, Duration)]) -> String {
    let phases: Vec<String> = sums.iter().map(|(p, d)| format!("{p} {:.3}", d.as_secs_f64())).collect();
    format!("timings {label} (at {:.3} s): {}", at.as_secs_f64(), phases.join(", "))
}

/// Write the phases' times since the last lap under `label`, and start a new lap.
pub fn lap(label: &str) {
    if let Some(sums) = SUMS.as_ref() {
        let mut sums = sums.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        eprintln!("{}", line(label, sums.started.elapsed(), &sums.lap));
        sums.lap.clear();
    }
}

/// Write the phases' totals.
pub fn totals() {
    if let Some(sums) = SUMS.as_ref() {
        let sums = sums.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        eprintln!("{}", line("total", sums.started.elapsed(), &sums.total));
    }
}
