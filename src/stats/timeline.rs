//! The distinct times of a right-censored sample and what happened at each: the one summary that
//! Kaplan-Meier, the log-rank test and the Aalen-Johansen estimator are computed from.
//!
//! Built by sorting the times of each outcome separately (as the bits of a non-negative `f64`,
//! which order like the numbers) and merging the runs, so the cost is one parallel sort of the
//! data and the result is as long as the number of distinct times.

use rayon::prelude::*;

/// How a patient's follow-up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Still event-free when follow-up ended.
    Censored,
    /// The event of interest.
    Event,
    /// A competing event (death) that makes the event of interest impossible afterwards.
    Competing,
}

impl Status {
    const ALL: [Status; 3] = [Status::Censored, Status::Event, Status::Competing];

    fn index(self) -> usize {
        self as usize
    }

    /// The status of a patient with event flag `event` (and no competing events).
    pub fn of_event(event: bool) -> Status {
        if event { Status::Event } else { Status::Censored }
    }
}

/// What happened at each distinct time, in ascending order of time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub times: Vec<f64>,
    /// Patients still followed just before each time (follow-up time ≥ the time).
    pub at_risk: Vec<u64>,
    pub events: Vec<u64>,
    pub competing: Vec<u64>,
    pub censored: Vec<u64>,
}

impl Timeline {
    /// The timeline of one sample. Times must be finite and ≥ 0 (see [`super::check`]).
    pub fn new(time: &[f64], status: &[Status]) -> Timeline {
        Self::grouped(time, status, None, 1).pop().unwrap_or_default()
    }

    /// One timeline per group: `groups[i]` (< `n_groups`) is row i's group; `None` puts every row
    /// in group 0.
    pub fn grouped(time: &[f64], status: &[Status], groups: Option<&[u32]>, n_groups: usize) -> Vec<Timeline> {
        debug_assert_eq!(time.len(), status.len());
        let bucket = |i: usize| groups.map_or(0, |g| g[i] as usize) * 3 + status[i].index();
        // Count first so that each bucket is allocated once: tens of millions of keys otherwise
        // cost as much in reallocation as in sorting.
        let mut sizes = vec![0usize; n_groups * 3];
        (0..time.len()).for_each(|i| sizes[bucket(i)] += 1);
        let mut keys: Vec<Vec<u64>> = sizes.iter().map(|&n| Vec::with_capacity(n)).collect();
        for (i, &t) in time.iter().enumerate() {
            keys[bucket(i)].push(sort_key(t));
        }
        for k in keys.iter_mut() {
            k.par_sort_unstable();
        }
        keys.chunks(3).map(merge_runs).collect()
    }

    /// Patients in the sample.
    pub fn n(&self) -> u64 {
        self.at_risk.first().copied().unwrap_or(0)
    }

    /// Patients still followed at time `t` (follow-up time ≥ `t`).
    pub fn at_risk_at(&self, t: f64) -> u64 {
        let i = self.times.partition_point(|&s| s < t);
        self.at_risk.get(i).copied().unwrap_or(0)
    }

    pub fn total_events(&self) -> u64 {
        self.events.iter().sum()
    }

    pub fn total_competing(&self) -> u64 {
        self.competing.iter().sum()
    }
}

/// A non-negative time as bits that sort like the numbers (-0.0 becomes 0.0).
fn sort_key(t: f64) -> u64 {
    (t + 0.0).to_bits()
}

/// Merge the sorted times of each outcome (censored, event, competing) into one timeline.
fn merge_runs(sorted: &[Vec<u64>]) -> Timeline {
    let runs: Vec<Vec<(u64, u64)>> = sorted.iter().map(|k| run_lengths(k)).collect();
    let n: u64 = sorted.iter().map(|k| k.len() as u64).sum();
    let mut pos = [0usize; 3];
    let mut line = Timeline::default();
    let mut remaining = n;
    loop {
        let next = (0..3).filter_map(|s| runs[s].get(pos[s]).map(|r| r.0)).min();
        let Some(key) = next else { break };
        let mut counts = [0u64; 3];
        for s in Status::ALL.map(Status::index) {
            if let Some(&(k, count)) = runs[s].get(pos[s])
                && k == key
            {
                counts[s] = count;
                pos[s] += 1;
            }
        }
        line.times.push(f64::from_bits(key));
        line.at_risk.push(remaining);
        line.censored.push(counts[Status::Censored.index()]);
        line.events.push(counts[Status::Event.index()]);
        line.competing.push(counts[Status::Competing.index()]);
        remaining -= counts.iter().sum::<u64>();
    }
    line
}

/// A sorted list as (value, how many times it occurs).
fn run_lengths(sorted: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &k in sorted {
        match runs.last_mut() {
            Some((last, count)) if *last == k => *count += 1,
            _ => runs.push((k, 1)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_distinct_time() {
        use Status::*;
        let line =
            Timeline::new(&[3.0, 1.0, 3.0, 2.0, 3.0, 0.0], &[Event, Censored, Competing, Event, Event, Censored]);
        assert_eq!(line.times, [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(line.at_risk, [6, 5, 4, 3]);
        assert_eq!(line.events, [0, 0, 1, 2]);
        assert_eq!(line.competing, [0, 0, 0, 1]);
        assert_eq!(line.censored, [1, 1, 0, 0]);
        assert_eq!(line.at_risk_at(2.5), 3);
        assert_eq!(line.at_risk_at(3.5), 0);
        assert_eq!(line.at_risk_at(-1.0), 6);
    }

    #[test]
    fn groups_get_their_own_timelines() {
        let lines = Timeline::grouped(&[1.0, 2.0, 3.0], &[Status::Event; 3], Some(&[1, 0, 1]), 2);
        assert_eq!(lines[0].times, [2.0]);
        assert_eq!(lines[1].times, [1.0, 3.0]);
        assert_eq!(lines[1].at_risk, [2, 1]);
    }

    #[test]
    fn negative_zero_is_zero() {
        let line = Timeline::new(&[-0.0, 0.0], &[Status::Event, Status::Event]);
        assert_eq!(line.times, [0.0]);
        assert_eq!(line.events, [2]);
    }
}
