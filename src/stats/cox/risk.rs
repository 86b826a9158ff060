//! The partial likelihood, its gradient and information at one β, in one pass over the rows.
//!
//! Rows are sorted once by stratum, then by descending time with events first among equal times.
//! Walking that order, the risk set of a time (everyone in the stratum followed at least that
//! long) is exactly the rows seen so far, so its sums S0 = Σ w, S1 = Σ w x, S2 = Σ w x xᵀ
//! (w = exp(xβ)) only ever grow. The rows are cut into chunks (never inside a stratum's tied
//! block) that run in parallel: a first pass totals each chunk, and each chunk then starts from
//! the totals of the chunks before it in its stratum.
//!
//! Ties (d events at one time, with sums D0, D1, D2 over those d rows): the l-th of them
//! (l = 0..d) sees s = S − f_l D with f_l = l/d (Efron) or 0 (Breslow). Every contribution is
//! linear in S and D with scalar weights Σ 1/s0, Σ f/s0, …, so a block costs O(d + p²).

use std::ops::Range;

use rayon::prelude::*;

use super::design::Design;
use super::{CoxError, CoxInput, Ties};

/// A block of rows sharing a stratum and a time; its events are its first `events` rows.
#[derive(Debug, Clone, Copy)]
struct Block {
    start: usize,
    end: usize,
    events: usize,
}

/// A run of blocks that one thread scans; `first_in_stratum` restarts the risk set.
#[derive(Debug, Clone)]
struct Chunk {
    blocks: Range<usize>,
    rows: Range<usize>,
    first_in_stratum: bool,
}

/// The rows in scan order with their scaled covariates.
pub(super) struct Sorted {
    p: usize,
    /// Centred and scaled covariates, row-major (n × p), in scan order.
    x: Vec<f64>,
    blocks: Vec<Block>,
    chunks: Vec<Chunk>,
    /// The rows where each stratum starts, and the end.
    stratum_starts: Vec<usize>,
    pub n_strata: usize,
    pub events: u64,
}

/// The log partial likelihood, its gradient and the observed information (row-major p × p).
#[derive(Debug, Clone)]
pub(super) struct Eval {
    pub loglik: f64,
    pub gradient: Vec<f64>,
    pub information: Vec<f64>,
}

/// Risk-set sums: S0, S1 (p) and the upper triangle of S2 (p (p + 1) / 2, row by row).
#[derive(Debug, Clone)]
struct Sums {
    s0: f64,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl Sums {
    fn zero(p: usize) -> Sums {
        Sums { s0: 0.0, s1: vec![0.0; p], s2: vec![0.0; p * (p + 1) / 2] }
    }

    #[inline]
    fn add_row(&mut self, w: f64, x: &[f64]) {
        self.s0 += w;
        let mut k = 0;
        for (j, &xj) in x.iter().enumerate() {
            let wx = w * xj;
            self.s1[j] += wx;
            for &xl in &x[j..] {
                self.s2[k] += wx * xl;
                k += 1;
            }
        }
    }

    fn add(&mut self, other: &Sums) {
        self.s0 += other.s0;
        self.s1.iter_mut().zip(&other.s1).for_each(|(a, b)| *a += b);
        self.s2.iter_mut().zip(&other.s2).for_each(|(a, b)| *a += b);
    }
}

/// What one chunk adds to the likelihood; the information is kept as an upper triangle.
struct Part {
    loglik: f64,
    gradient: Vec<f64>,
    information: Vec<f64>,
}

impl Part {
    fn zero(p: usize) -> Part {
        Part { loglik: 0.0, gradient: vec![0.0; p], information: vec![0.0; p * (p + 1) / 2] }
    }

    fn add(mut self, other: Part) -> Part {
        self.loglik += other.loglik;
        self.gradient.iter_mut().zip(&other.gradient).for_each(|(a, b)| *a += b);
        self.information.iter_mut().zip(&other.information).for_each(|(a, b)| *a += b);
        self
    }
}

/// Rows per chunk: enough to make a chunk worth a thread.
const MIN_CHUNK_ROWS: usize = 1 << 14;

impl Sorted {
    /// A term that is constant inside every stratum has nothing to estimate from within-stratum
    /// comparisons (e.g. a site-level covariate stratified by site).
    pub fn check_within_strata(&self, design: &Design) -> Result<(), CoxError> {
        if self.n_strata < 2 {
            return Ok(());
        }
        match (0..design.p()).find(|&j| !self.varies_within_a_stratum(j)) {
            Some(j) => Err(CoxError::Constant {
                name: design.names[j].clone(),
                detail: "it has one value within each stratum".to_string(),
            }),
            None => Ok(()),
        }
    }

    pub fn new(input: &CoxInput, design: &Design) -> Sorted {
        let n = input.time.len();
        let p = design.p();
        assert!(n < (1 << 31), "more than 2^31 rows");
        // One u128 key per row: stratum, then descending time, then events first, then the row.
        let mut keys: Vec<u128> = (0..n)
            .into_par_iter()
            .map(|i| {
                let stratum = input.strata.map_or(0, |s| s[i]) as u128;
                let time = !(input.time[i] + 0.0).to_bits() as u128;
                let censored = (!input.event[i]) as u128;
                (stratum << 96) | (time << 32) | (censored << 31) | i as u128
            })
            .collect();
        keys.par_sort_unstable();
        let row_of = |k: u128| (k & 0x7fff_ffff) as usize;
        let stratum_of = |k: u128| (k >> 96) as u32;
        let block_of = |k: u128| k >> 32; // stratum and time

        let mut x = vec![0.0; n * p];
        x.par_chunks_mut(p.max(1)).zip(&keys).for_each(|(out, &k)| {
            let i = row_of(k);
            for (j, term) in input.terms.iter().enumerate() {
                out[j] = (term.values[i] - design.mean[j]) / design.scale[j];
            }
        });

        let mut blocks = Vec::new();
        let mut stratum_starts = Vec::new();
        let mut events = 0u64;
        let mut start = 0;
        while start < n {
            let key = block_of(keys[start]);
            if start == 0 || stratum_of(keys[start]) != stratum_of(keys[start - 1]) {
                stratum_starts.push(start);
            }
            let mut end = start;
            let mut block_events = 0;
            while end < n && block_of(keys[end]) == key {
                block_events += input.event[row_of(keys[end])] as usize;
                end += 1;
            }
            blocks.push(Block { start, end, events: block_events });
            events += block_events as u64;
            start = end;
        }
        let n_strata = stratum_starts.len();
        stratum_starts.push(n);

        let chunks = chunk(&blocks, &stratum_starts, n);
        Sorted { p, x, blocks, chunks, stratum_starts, n_strata, events }
    }

    /// Whether covariate `j` takes two values inside some stratum.
    pub fn varies_within_a_stratum(&self, j: usize) -> bool {
        let p = self.p;
        self.stratum_starts.windows(2).any(|w| {
            let first = self.x[w[0] * p + j];
            (w[0]..w[1]).any(|r| self.x[r * p + j] != first)
        })
    }

    /// The likelihood and its derivatives at `beta` (on the scaled covariates).
    pub fn evaluate(&self, beta: &[f64], ties: Ties) -> Eval {
        let p = self.p;
        let eta: Vec<f64> = self.x.par_chunks(p).map(|row| row.iter().zip(beta).map(|(x, b)| x * b).sum()).collect();
        // exp(η − max η): the common factor cancels from every ratio and from the likelihood,
        // and keeps the weights finite for large coefficients.
        let top = eta.par_iter().copied().reduce(|| f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = eta.par_iter().map(|e| (e - top).exp()).collect();

        let totals: Vec<Sums> = self
            .chunks
            .par_iter()
            .map(|c| {
                let mut sums = Sums::zero(p);
                for r in c.rows.clone() {
                    sums.add_row(weights[r], &self.x[r * p..(r + 1) * p]);
                }
                sums
            })
            .collect();
        let mut offsets = Vec::with_capacity(self.chunks.len());
        let mut running = Sums::zero(p);
        for (c, total) in self.chunks.iter().zip(&totals) {
            if c.first_in_stratum {
                running = Sums::zero(p);
            }
            offsets.push(running.clone());
            running.add(total);
        }

        let part = self
            .chunks
            .par_iter()
            .zip(offsets)
            .map(|(c, offset)| self.scan(c, offset, &eta, top, &weights, ties))
            .reduce(|| Part::zero(p), Part::add);
        Eval { loglik: part.loglik, gradient: part.gradient, information: unpack(&part.information, p) }
    }

    /// One chunk's contribution, starting from the risk-set sums of the rows before it.
    fn scan(&self, chunk: &Chunk, mut risk: Sums, eta: &[f64], top: f64, weights: &[f64], ties: Ties) -> Part {
        let p = self.p;
        let mut part = Part::zero(p);
        let mut tied = Sums::zero(p);
        for block in &self.blocks[chunk.blocks.clone()] {
            let ev_end = block.start + block.events;
            tied.s0 = 0.0;
            tied.s1.iter_mut().for_each(|v| *v = 0.0);
            tied.s2.iter_mut().for_each(|v| *v = 0.0);
            for r in block.start..ev_end {
                let x = &self.x[r * p..(r + 1) * p];
                tied.add_row(weights[r], x);
                part.loglik += eta[r] - top;
                part.gradient.iter_mut().zip(x).for_each(|(g, x)| *g += x);
            }
            risk.add(&tied);
            for (w, x) in weights[ev_end..block.end].iter().zip(self.x[ev_end * p..block.end * p].chunks_exact(p)) {
                risk.add_row(*w, x);
            }
            if block.events > 0 {
                add_tied_events(&mut part, &risk, &tied, block.events, ties);
            }
        }
        part
    }
}

/// The contribution of d tied events with risk-set sums `risk` and sums `tied` over the events.
fn add_tied_events(part: &mut Part, risk: &Sums, tied: &Sums, d: usize, ties: Ties) {
    // Scalar weights over the d events: a1 = Σ 1/s0, a2 = Σ f/s0, b1 = Σ 1/s0², b2 = Σ f/s0²,
    // b3 = Σ f²/s0² with s0 = S0 − f D0.
    let (mut a1, mut a2, mut b1, mut b2, mut b3) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for l in 0..d {
        let f = match ties {
            Ties::Efron => l as f64 / d as f64,
            Ties::Breslow => 0.0,
        };
        let s0 = risk.s0 - f * tied.s0;
        let inv = 1.0 / s0;
        part.loglik -= s0.ln();
        a1 += inv;
        a2 += f * inv;
        b1 += inv * inv;
        b2 += f * inv * inv;
        b3 += f * f * inv * inv;
    }
    let p = part.gradient.len();
    // gradient −= Σ s1/s0 = S1 a1 − D1 a2
    for j in 0..p {
        part.gradient[j] -= risk.s1[j] * a1 - tied.s1[j] * a2;
    }
    // information += Σ s2/s0 − Σ s1 s1ᵀ / s0²
    //   = S2 a1 − D2 a2 − (S1 S1ᵀ b1 − (S1 D1ᵀ + D1 S1ᵀ) b2 + D1 D1ᵀ b3)
    let mut k = 0;
    for j in 0..p {
        for l in j..p {
            let (sj, sl, dj, dl) = (risk.s1[j], risk.s1[l], tied.s1[j], tied.s1[l]);
            let outer = sj * sl * b1 - (sj * dl + dj * sl) * b2 + dj * dl * b3;
            part.information[k] += risk.s2[k] * a1 - tied.s2[k] * a2 - outer;
            k += 1;
        }
    }
}

/// The full symmetric matrix of an upper triangle stored row by row.
fn unpack(upper: &[f64], p: usize) -> Vec<f64> {
    let mut full = vec![0.0; p * p];
    let mut k = 0;
    for j in 0..p {
        for l in j..p {
            full[j * p + l] = upper[k];
            full[l * p + j] = upper[k];
            k += 1;
        }
    }
    full
}

/// Cut the blocks into chunks of about `n / (4 × threads)` rows, never across a stratum.
fn chunk(blocks: &[Block], stratum_starts: &[usize], n: usize) -> Vec<Chunk> {
    let target = (n / (4 * rayon::current_num_threads())).max(MIN_CHUNK_ROWS);
    let mut chunks = Vec::new();
    let mut first = 0;
    while first < blocks.len() {
        let start_row = blocks[first].start;
        let first_in_stratum = stratum_starts.binary_search(&start_row).is_ok();
        let stratum_end = stratum_starts[stratum_starts.partition_point(|&s| s <= start_row)];
        let mut last = first;
        while last < blocks.len() && blocks[last].start < stratum_end && blocks[last].start - start_row < target {
            last += 1;
        }
        chunks.push(Chunk { blocks: first..last, rows: start_row..blocks[last - 1].end, first_in_stratum });
        first = last;
    }
    chunks
}
