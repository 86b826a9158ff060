//! One person's value inside a statistic. A quantile is computed from one or two people's values,
//! a Kaplan-Meier curve steps at the times people's events happened: each is shown only when at
//! least `min_count` people (the small-cell threshold of the export gate) lie on each side of it,
//! so that it does not single out the first, the last or a lone person. The statistics commands
//! and the protocol apply these rules to what they print and write; the export gate's
//! `individual_value` check applies the same functions to the tables it reads.

/// The people strictly below and strictly above the order statistics that the type-7 quantile
/// (linear interpolation, R's default) at level `p` of `n` values is computed from. The quantile
/// lies between the values of order statistics ⌊h⌋ and ⌈h⌉ (from 0), h = (n − 1) p.
pub fn around_quantile(n: u64, p: f64) -> (u64, u64) {
    if n == 0 {
        return (0, 0);
    }
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as u64, h.ceil() as u64);
    (lo, n - 1 - hi)
}

/// Whether the quantile at level `p` of `n` values has at least `min_count` people on each side.
pub fn quantile_shown(n: u64, p: f64, min_count: u64) -> bool {
    let (below, above) = around_quantile(n, p);
    below >= min_count && above >= min_count
}

/// The people whose times lie before and after a step of a curve over `n` people, where
/// `at_risk` have a time at or after the step and `leaving` of them leave at the step (events,
/// censorings, competing events).
pub fn around_step(n: u64, at_risk: u64, leaving: u64) -> (u64, u64) {
    (n.saturating_sub(at_risk), at_risk.saturating_sub(leaving))
}

/// Whether a step of a curve has at least `min_count` people on each side of its time.
pub fn step_shown(n: u64, at_risk: u64, leaving: u64, min_count: u64) -> bool {
    let (before, after) = around_step(n, at_risk, leaving);
    before >= min_count && after >= min_count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_median_needs_twenty_one_values_and_a_quartile_forty_one() {
        assert_eq!(around_quantile(21, 0.5), (10, 10));
        assert_eq!(around_quantile(20, 0.5), (9, 9));
        assert!(quantile_shown(21, 0.5, 10) && !quantile_shown(20, 0.5, 10));
        assert!(quantile_shown(41, 0.25, 10) && !quantile_shown(40, 0.25, 10));
        assert!(quantile_shown(41, 0.75, 10) && !quantile_shown(40, 0.75, 10));
        assert_eq!(around_quantile(1000, 0.0), (0, 999));
        assert_eq!(around_quantile(0, 0.5), (0, 0));
    }

    #[test]
    fn a_step_needs_people_before_and_after_it() {
        // 100 people; at a step 80 are at risk and 2 leave: 20 before, 78 after.
        assert_eq!(around_step(100, 80, 2), (20, 78));
        assert!(step_shown(100, 80, 2, 10));
        assert!(!step_shown(100, 95, 1, 10)); // the fifth person's time
        assert!(!step_shown(100, 12, 3, 10)); // nine left after it
    }
}
