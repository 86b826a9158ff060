//! Statistics core I: incidence rates, survival (Kaplan-Meier, log-rank, cumulative incidence with
//! competing risks) and Cox proportional-hazards regression.
//!
//! A library first: every method takes plain in-memory columns (`&[f64]` times, `&[bool]` events,
//! [`Categories`](crate::table::Categories) for groups) and returns a typed result, so that the
//! early-safety protocol can run dozens of fits per analysis without files in between. The command
//! line ([`cli`]) reads the columns of a file, calls these functions and prints or writes the result.
//!
//! Every interval is a two-sided 95% interval. docs/statistics.md names each method and its source.

pub mod check;
pub mod cli;
pub mod cox;
pub mod cuminc;
pub mod incidence;
pub mod km;
pub mod logrank;
pub mod strata;

mod linalg;
mod timeline;

pub use timeline::{Status, Timeline};

/// The 0.975 quantile of the standard normal distribution (scipy.stats.norm.ppf(0.975)): the
/// multiplier of every Wald-type 95% interval.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// The two-sided p-value of a standard normal statistic.
pub fn normal_two_sided_p(z: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    let standard = Normal::standard();
    2.0 * standard.sf(z.abs())
}
