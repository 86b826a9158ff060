//! Data squashing (DuMouchel et al. 2001) as openEBGM's `squashData` and `autoSquash` do it: for
//! one count n, sort the pairs by E, keep the largest E's as they are, and replace each bin of
//! consecutive others by one point at the bin's mean E weighted by the bin's size.

use crate::bad_input;
use crate::error::Result;

/// Weighted (n, E) points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Weighted {
    pub n: Vec<f64>,
    pub e: Vec<f64>,
    pub w: Vec<f64>,
}

impl Weighted {
    /// Unweighted points.
    pub fn new(n: Vec<f64>, e: Vec<f64>) -> Weighted {
        let w = vec![1.0; n.len()];
        Weighted { n, e, w }
    }

    pub fn len(&self) -> usize {
        self.n.len()
    }

    pub fn is_empty(&self) -> bool {
        self.n.is_empty()
    }

    fn push(&mut self, n: f64, e: f64, w: f64) {
        self.n.push(n);
        self.e.push(e);
        self.w.push(w);
    }
}

/// The parameters of one `squashData` call.
#[derive(Debug, Clone, Copy)]
pub struct SquashCount {
    pub count: f64,
    pub bin_size: usize,
    /// Points with the largest E left as they are.
    pub keep: usize,
    /// Refuse when fewer bins or points than these would result (against oversquashing).
    pub min_bins: usize,
    pub min_points: usize,
}

impl SquashCount {
    /// openEBGM's defaults for `squashData(data, count)`: bins of 50, keep 100, at least 50 bins
    /// from at least 500 points.
    pub fn defaults(count: f64) -> SquashCount {
        SquashCount { count, bin_size: 50, keep: 100, min_bins: 50, min_points: 500 }
    }
}

/// Squash the points with n = `spec.count`.
pub fn squash_count(data: &Weighted, spec: &SquashCount) -> Result<Weighted> {
    let count = spec.count;
    let mut out = Weighted::default();
    let mut chosen: Vec<(f64, f64)> = Vec::new();
    for i in 0..data.len() {
        if data.n[i] == count {
            if data.w[i] > 1.0 {
                return Err(bad_input!("the points with n = {count} are squashed already"));
            }
            chosen.push((data.e[i], data.w[i]));
        } else {
            out.push(data.n[i], data.e[i], data.w[i]);
        }
    }
    if chosen.len() < spec.min_points {
        return Err(bad_input!(
            "{} points with n = {count}, fewer than the {} needed to squash",
            chosen.len(),
            spec.min_points
        ));
    }
    if chosen.len() / spec.bin_size < spec.min_bins {
        return Err(bad_input!(
            "{} points with n = {count} make fewer than {} bins; reduce the bin size",
            chosen.len(),
            spec.min_bins
        ));
    }
    let Some(squashed) = chosen.len().checked_sub(spec.keep).filter(|&s| s >= spec.bin_size) else {
        return Err(bad_input!(
            "{} points with n = {count}: keeping {} leaves less than one bin of {}",
            chosen.len(),
            spec.keep,
            spec.bin_size
        ));
    };
    chosen.sort_by(|a, b| a.0.total_cmp(&b.0));
    for bin in chosen[..squashed].chunks(spec.bin_size) {
        let weight: f64 = bin.iter().map(|p| p.1).sum();
        let mean = bin.iter().map(|p| p.0 * p.1).sum::<f64>() / weight;
        out.push(count, mean, weight);
    }
    for &(e, w) in &chosen[squashed..] {
        out.push(count, e, w);
    }
    Ok(out)
}

/// openEBGM's `autoSquash` defaults: how many points to keep per count (by the count's rank),
/// and how many superpoints to make from a given number of points to squash.
const KEEP: [usize; 4] = [100, 75, 50, 25];
const CUT_OFFS: [usize; 7] = [500, 1_000, 10_000, 100_000, 500_000, 1_000_000, 5_000_000];
const SUPERPOINTS: [usize; 8] = [50, 75, 150, 500, 750, 1_000, 2_000, 5_000];

/// Squash every count that has more than 101 points, as openEBGM's `autoSquash` with its defaults.
pub fn auto_squash(data: &Weighted) -> Result<Weighted> {
    let mut counts: Vec<f64> = data.n.clone();
    counts.sort_by(f64::total_cmp);
    let mut groups: Vec<(f64, usize)> = Vec::new();
    for n in counts {
        match groups.last_mut() {
            Some(g) if g.0 == n => g.1 += 1,
            _ => groups.push((n, 1)),
        }
    }
    let max_keep = *KEEP.iter().max().expect("non-empty");
    let mut result = data.clone();
    for (position, &(count, points)) in groups.iter().filter(|g| g.1 > max_keep + 1).enumerate() {
        let keep = KEEP[position.min(KEEP.len() - 1)];
        let to_squash = points - keep;
        let superpoints = SUPERPOINTS[CUT_OFFS.iter().position(|&c| to_squash < c).unwrap_or(CUT_OFFS.len())];
        let bin_size = (to_squash / superpoints).max(2);
        result = squash_count(&result, &SquashCount { count, bin_size, keep, min_bins: 1, min_points: 1 })?;
    }
    Ok(result)
}
