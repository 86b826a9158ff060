//! Statistics core I: incidence rates, survival (Kaplan-Meier, log-rank, cumulative incidence with
//! competing risks) and Cox proportional-hazards regression.
//!
//! A library first: every method takes plain in-memory columns (`&[f64]` times, `&[bool]` events,
//! [`Categories`](crate::table::Categories) for groups) and returns a typed result, so that the
//! early-safety protocol can run dozens of fits per analysis without files in between. The command
//! line ([`cli`]) reads the columns of a file, calls these functions and prints or writes the result.
//!
//! Every interval is a two-sided 95% interval. docs/statistics.md names each method and its source.
//!
//! The early-safety protocol's model (drug vs comparator, adjusted for sex, age and age², a baseline
//! hazard per site), on columns already in memory:
//!
//! ```text
//! let group = Categories::from_labels(&group_labels);      // "comparator", "drug"
//! let sex = Categories::from_labels(&sex_labels);
//! let site = Categories::from_labels(&site_pseudonyms);
//! let mut terms = Term::categorical("group", &group, Some("comparator"))?;
//! terms.extend(Term::categorical("sex", &sex, Some("F"))?);
//! terms.push(Term::numeric("age", age.clone()));
//! terms.push(Term::numeric("age^2", age.iter().map(|a| a * a).collect()));
//! let fit = cox::fit(&CoxInput { time: &days, event: &event, terms: &terms, strata: Some(&site.codes) },
//!                    &CoxOptions::default())?;       // Err(CoxError::Separation{..}) when a group has no events
//! let hr = &fit.coefficients[0];                      // "group=drug": hr, hr_lo, hr_hi, p
//! let per_group = incidence::tally(&events, &person_years, &group.codes, group.levels());
//! let rate = per_group[1].rate(1000.0, PoissonCi::Exact);   // per 1000 person-years, Garwood interval
//! ```

pub mod check;
pub mod cox;
pub mod cuminc;
pub mod incidence;
pub mod individual;
pub mod km;
pub mod logrank;
pub mod sequential;
pub mod special;
pub mod strata;

mod linalg;
mod timeline;

pub use timeline::{Status, Timeline};
