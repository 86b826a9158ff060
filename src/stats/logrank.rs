//! The log-rank test of equal survival in two or more groups (Mantel 1966; Peto & Peto 1972), with
//! the hypergeometric variance: at each distinct event time t with n patients at risk of whom d
//! have the event, group g contributes O_g − E_g = d_g − d n_g / n and
//! V_gh = d (n − d) / (n − 1) · n_g / n · (δ_gh − n_h / n). The statistic (O − E)ᵀ V⁻¹ (O − E)
//! over the first G − 1 groups is χ² with G − 1 degrees of freedom.

use serde::Serialize;

use super::check;
use super::linalg::Cholesky;
use super::special::gamma::chi2_sf;
use super::timeline::{Status, Timeline};
use crate::bad_input;
use crate::error::{Error, Result};
use crate::table::Categories;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupCounts {
    pub group: String,
    pub n: u64,
    pub observed: u64,
    pub expected: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRank {
    pub chi2: f64,
    pub df: usize,
    pub p: f64,
    pub groups: Vec<GroupCounts>,
}

/// The log-rank test across the groups of `groups`.
pub fn test(time: &[f64], event: &[bool], groups: &Categories) -> Result<LogRank> {
    check::same_length(("time", time.len()), ("event", event.len()))?;
    check::same_length(("time", time.len()), ("group", groups.codes.len()))?;
    check::times(time)?;
    let status: Vec<Status> = event.iter().map(|&e| Status::of_event(e)).collect();
    let lines = Timeline::grouped(time, &status, Some(&groups.codes), groups.levels());
    from_timelines(&lines, &groups.labels)
}

/// The test from per-group timelines (`labels[g]` names group g).
pub fn from_timelines(lines: &[Timeline], labels: &[String]) -> Result<LogRank> {
    let g = lines.len();
    if g < 2 {
        return Err(bad_input!("the log-rank test compares groups, but there is only {g} group"));
    }
    let mut observed = vec![0u64; g];
    let mut expected = vec![0.0; g];
    let mut var = vec![0.0; g * g];
    let mut pos = vec![0usize; g];
    let mut n_g = vec![0.0; g];
    loop {
        // The next distinct time in any group.
        let next = (0..g).filter_map(|k| lines[k].times.get(pos[k]).copied()).min_by(f64::total_cmp);
        let Some(t) = next else { break };
        let mut d = 0.0;
        let mut d_g = vec![0.0; g];
        for k in 0..g {
            n_g[k] = lines[k].at_risk.get(pos[k]).copied().unwrap_or(0) as f64;
            if lines[k].times.get(pos[k]) == Some(&t) {
                d_g[k] = lines[k].events[pos[k]] as f64;
                d += d_g[k];
                pos[k] += 1;
            }
        }
        if d == 0.0 {
            continue;
        }
        let n: f64 = n_g.iter().sum();
        let spread = if n > 1.0 { d * (n - d) / (n - 1.0) } else { 0.0 };
        for a in 0..g {
            observed[a] += d_g[a] as u64;
            expected[a] += d * n_g[a] / n;
            for b in 0..g {
                let delta = if a == b { 1.0 } else { 0.0 };
                var[a * g + b] += spread * n_g[a] / n * (delta - n_g[b] / n);
            }
        }
    }
    // The G − 1 first groups carry all the information (the sums over groups are zero).
    let df = g - 1;
    let u: Vec<f64> = (0..df).map(|a| observed[a] as f64 - expected[a]).collect();
    let v: Vec<f64> = (0..df).flat_map(|a| (0..df).map(move |b| (a, b))).map(|(a, b)| var[a * g + b]).collect();
    let chol = Cholesky::new(&v, df).map_err(|_| {
        Error::Failed("the log-rank test is undefined: some group has no one at risk at any event time".to_string())
    })?;
    let chi2: f64 = u.iter().zip(chol.solve(&u)).map(|(a, b)| a * b).sum();
    let p = chi2_sf(chi2, df as f64);
    let groups = (0..g)
        .map(|k| GroupCounts {
            group: labels[k].clone(),
            n: lines[k].n(),
            observed: observed[k],
            expected: expected[k],
        })
        .collect();
    Ok(LogRank { chi2, df, p, groups })
}
