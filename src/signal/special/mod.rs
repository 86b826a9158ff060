//! Special functions for the signal statistics: vectorisable elementary functions for the hot loop
//! ([`lanes`]), the gamma family, its quantiles ([`quantile`]), the normal and beta distributions, and the
//! hypergeometric distribution behind Fisher's exact test.

pub mod beta;
pub mod gamma;
pub mod hypergeom;
pub mod lanes;
pub mod normal;
pub mod quantile;
