//! The points the prior is fitted on: (n, E, weight) triples, sorted by n so that everything that
//! depends on n alone (log-gamma and digamma terms) is computed once per distinct count, and the
//! per-pair work is a straight loop over E and the weights.

/// A run of points sharing one count n: indices `start..end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub n: f64,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    pub e: Vec<f64>,
    pub w: Vec<f64>,
    pub ln_e: Vec<f64>,
    pub runs: Vec<Run>,
    /// Σ w·n·ln E: the part of the log-likelihood that does not depend on the prior.
    pub constant: f64,
}

impl Points {
    /// The points with count n >= `n_star`, sorted by (n, E). Weights default to 1.
    pub fn new(n: &[f64], e: &[f64], w: Option<&[f64]>, n_star: u32) -> Points {
        let mut order: Vec<usize> = (0..n.len()).filter(|&i| n[i] >= n_star as f64).collect();
        order.sort_unstable_by(|&i, &j| n[i].total_cmp(&n[j]).then(e[i].total_cmp(&e[j])));
        let weight = |i: usize| w.map_or(1.0, |w| w[i]);
        let mut runs: Vec<Run> = Vec::new();
        for (pos, &i) in order.iter().enumerate() {
            match runs.last_mut() {
                Some(run) if run.n == n[i] => run.end = pos + 1,
                _ => runs.push(Run { n: n[i], start: pos, end: pos + 1 }),
            }
        }
        let e_sorted: Vec<f64> = order.iter().map(|&i| e[i]).collect();
        let ln_e: Vec<f64> = e_sorted.iter().map(|v| v.ln()).collect();
        let w_sorted: Vec<f64> = order.iter().map(|&i| weight(i)).collect();
        let constant = order.iter().zip(&ln_e).map(|(&i, le)| weight(i) * n[i] * le).sum();
        Points { e: e_sorted, w: w_sorted, ln_e, runs, constant }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.e.len()
    }

    pub fn is_empty(&self) -> bool {
        self.e.is_empty()
    }

    /// The count of each point, in order.
    pub fn counts(&self) -> Vec<f64> {
        self.runs.iter().flat_map(|r| std::iter::repeat_n(r.n, r.end - r.start)).collect()
    }

    /// Sum of the weights: the number of pairs the points stand for.
    pub fn total_weight(&self) -> f64 {
        self.w.iter().sum()
    }
}
