//! Special functions for every statistic of `stats` and `signal`, each in one place: vectorisable
//! elementary functions for the hot loop ([`lanes`]), the gamma family and the chi-square tail
//! ([`gamma`]), gamma quantiles ([`quantile`]), the normal distribution ([`normal`]), beta quantiles
//! ([`beta`]), and the hypergeometric distribution behind Fisher's exact test ([`hypergeom`]).
//! statrs supplies log-gamma, digamma and the regularized incomplete beta function underneath.

pub mod beta;
pub mod gamma;
pub mod hypergeom;
pub mod lanes;
pub mod normal;
pub mod quantile;
