//! Sequence symmetry analysis (Hallas 1996) of an index drug A and a marker (a second drug, or an
//! outcome) B among persons who start both within a window of each other.
//!
//! - Crude sequence ratio: persons starting A then B over persons starting B then A; same-day
//!   starts are not counted in either.
//! - Null-effect sequence ratio (Tsiropoulos et al. 2009): the ratio expected with no causal link,
//!   from the daily incidence of A and B alone. With a_t and b_t the persons starting A and B on
//!   day t and d the window, P_A = Σ_t a_t·B(t+1…t+d) / Σ_t a_t·[B(t−d…t−1) + B(t+1…t+d)] is the
//!   chance that A comes first given both start within d days, and NSR = P_A/(1−P_A). The
//!   incidence counts every person of the input with that date, including persons with only one
//!   of the two.
//! - Adjusted sequence ratio: crude over null-effect.
//!
//! Confidence limits are exact: Clopper-Pearson limits for the proportion of A-first sequences,
//! mapped to the ratio p/(1−p), and divided by the NSR for the adjusted ratio.
//!
//! A ratio that cannot be estimated (no sequence at all, no B-then-A sequence, a null-effect ratio
//! of 0 or infinity) is None, and `not_estimable` says why; the counts are always given.

use serde::Serialize;

use crate::bad_input;
use crate::error::Result;
use crate::stats::special::beta::clopper_pearson;

/// Each person's first A and first B, as day numbers; either may be missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Starts {
    pub first_a: Vec<Option<i32>>,
    pub first_b: Vec<Option<i32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SsaOptions {
    /// Largest number of days between the two starts for a sequence to count.
    pub window_days: i32,
    /// Confidence level of the intervals.
    pub level: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SsaResult {
    pub window_days: i32,
    pub level: f64,
    /// Persons starting A then B within the window.
    pub a_then_b: u64,
    pub b_then_a: u64,
    /// Persons starting both on the same day (counted in neither direction).
    pub same_day: u64,
    /// Persons starting both further apart than the window.
    pub outside_window: u64,
    pub crude: Option<f64>,
    pub crude_lo: Option<f64>,
    pub crude_hi: Option<f64>,
    /// P_A of the null-effect model.
    pub p_a_first: Option<f64>,
    pub null_effect: Option<f64>,
    pub adjusted: Option<f64>,
    pub adjusted_lo: Option<f64>,
    pub adjusted_hi: Option<f64>,
    /// Why each statistic that is None could not be estimated: `names: reason`.
    pub not_estimable: Vec<String>,
}

/// Analyse the starts with the given window.
pub fn analyse(starts: &Starts, options: &SsaOptions) -> Result<SsaResult> {
    if options.window_days < 1 {
        return Err(bad_input!("window of {} days: give a window of at least 1 day", options.window_days));
    }
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(bad_input!("confidence level {}: give a level between 0 and 1, e.g. 0.95", options.level));
    }
    let d = options.window_days;
    let (mut a_then_b, mut b_then_a, mut same_day, mut outside_window) = (0u64, 0u64, 0u64, 0u64);
    for (a, b) in starts.first_a.iter().zip(&starts.first_b) {
        if let (Some(a), Some(b)) = (a, b) {
            let gap = b - a;
            match gap {
                0 => same_day += 1,
                g if g.abs() > d => outside_window += 1,
                g if g > 0 => a_then_b += 1,
                _ => b_then_a += 1,
            }
        }
    }
    let (k, n) = (a_then_b as f64, (a_then_b + b_then_a) as f64);
    let odds = |p: f64| p / (1.0 - p);
    let (p_lo, p_hi) = if n > 0.0 { clopper_pearson(k, n, options.level) } else { (f64::NAN, f64::NAN) };
    let crude = [k / (n - k), odds(p_lo), odds(p_hi)];
    let p_a_first = null_effect_probability(starts, d);
    let null_effect = p_a_first / (1.0 - p_a_first);
    // An infinite or zero null-effect ratio adjusts nothing: the adjusted ratio is undefined then.
    let adjusting = if null_effect.is_finite() && null_effect > 0.0 { null_effect } else { f64::NAN };
    let adjusted = crude.map(|c| c / adjusting);
    let defined = |v: f64| v.is_finite().then_some(v);
    let crude_why = if n == 0.0 {
        format!("no person starts both A and B on different days within {d} days of each other: there is no sequence")
    } else {
        "no person starts B before A within the window (b_then_a = 0): the ratio is infinite".to_string()
    };
    let null_why = if p_a_first.is_nan() {
        format!("no A start has a B start within {d} days of it")
    } else {
        format!(
            "every B start within {d} days of an A start comes {} it (p_a_first = {p_a_first}): the null-effect ratio is {}",
            if p_a_first == 1.0 { "after" } else { "before" },
            if p_a_first == 1.0 { "infinite" } else { "zero" }
        )
    };
    let adjusted_why = if adjusting.is_nan() { &null_why } else { &crude_why };
    let groups: [(&[(&str, f64)], &String); 3] = [
        (&[("crude", crude[0]), ("crude_lo", crude[1]), ("crude_hi", crude[2])], &crude_why),
        (&[("p_a_first", p_a_first), ("null_effect", null_effect)], &null_why),
        (&[("adjusted", adjusted[0]), ("adjusted_lo", adjusted[1]), ("adjusted_hi", adjusted[2])], adjusted_why),
    ];
    let not_estimable = groups
        .iter()
        .filter_map(|(statistics, why)| {
            let names: Vec<&str> = statistics.iter().filter(|(_, v)| !v.is_finite()).map(|(name, _)| *name).collect();
            (!names.is_empty()).then(|| format!("{}: {why}", names.join(", ")))
        })
        .collect();
    Ok(SsaResult {
        window_days: d,
        level: options.level,
        a_then_b,
        b_then_a,
        same_day,
        outside_window,
        crude: defined(crude[0]),
        crude_lo: defined(crude[1]),
        crude_hi: defined(crude[2]),
        p_a_first: defined(p_a_first),
        null_effect: defined(null_effect),
        adjusted: defined(adjusted[0]),
        adjusted_lo: defined(adjusted[1]),
        adjusted_hi: defined(adjusted[2]),
        not_estimable,
    })
}

/// P_A of Tsiropoulos et al. (2009) restricted to the window, by prefix sums over days.
fn null_effect_probability(starts: &Starts, d: i32) -> f64 {
    let days = starts.first_a.iter().chain(&starts.first_b).flatten();
    let (Some(&first), Some(&last)) = (days.clone().min(), days.max()) else {
        return f64::NAN;
    };
    let span = (last - first + 1) as usize;
    let mut a_by_day = vec![0.0; span];
    let mut b_cumulative = vec![0.0; span + 1]; // b_cumulative[i] = persons starting B before day first+i
    for a in starts.first_a.iter().flatten() {
        a_by_day[(a - first) as usize] += 1.0;
    }
    for b in starts.first_b.iter().flatten() {
        b_cumulative[(b - first) as usize + 1] += 1.0;
    }
    for i in 0..span {
        b_cumulative[i + 1] += b_cumulative[i];
    }
    // B starts on days lo..=hi, clipped to the data
    let b_between = |lo: i64, hi: i64| {
        let lo = lo.max(0) as usize;
        let hi = hi.min(span as i64 - 1);
        if hi < lo as i64 { 0.0 } else { b_cumulative[hi as usize + 1] - b_cumulative[lo] }
    };
    let (mut after, mut around) = (0.0, 0.0);
    for (t, &a) in a_by_day.iter().enumerate() {
        if a == 0.0 {
            continue;
        }
        let t = t as i64;
        let later = b_between(t + 1, t + d as i64);
        let earlier = b_between(t - d as i64, t - 1);
        after += a * later;
        around += a * (later + earlier);
    }
    after / around
}
