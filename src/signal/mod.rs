//! Signal detection over every drug-event pair: disproportionality of each 2×2 table
//! ([`contingency`]), DuMouchel's MGPS empirical Bayes ([`mgps`]), and sequence symmetry
//! analysis ([`ssa`]).
//!
//! Counts come from a file of one of four shapes ([`counts`]) or from patient-level data
//! ([`screen`]); [`score`] computes every statistic for every pair into one table
//! ([`pair_table`]); [`cli`] is the `midnet signal` command line.

pub mod contingency;
pub mod counts;
pub mod dates;
pub mod mgps;
pub mod pair_table;
pub mod score;
pub mod screen;
pub mod ssa;
