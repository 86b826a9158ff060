//! DuMouchel's Multi-item Gamma Poisson Shrinker (MGPS).
//!
//! Each pair's count is Poisson(λE) and the relative reporting rates λ follow a two-component
//! gamma mixture P·Gamma(α1, β1) + (1−P)·Gamma(α2, β2), so each count is marginally a mixture of
//! two negative binomials (DuMouchel 1999). The prior θ = (α1, β1, α2, β2, P) is fitted by
//! maximum likelihood over all pairs ([`fit`]), optionally on squashed data ([`squash`]); each pair
//! then gets the posterior summaries EBGM, EB05, EB95 and P(λ ≤ 1) ([`posterior`]).
//!
//! The likelihood comes in the variants tools disagree on, each named ([`Likelihood`]).

pub mod fit;
pub mod likelihood;
pub mod optimize;
pub mod points;
pub mod posterior;
pub mod squash;

use serde::Serialize;

use crate::bad_input;
use crate::error::Result;

/// The hyperparameters of the gamma-mixture prior, θ = (α1, β1, α2, β2, P).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prior {
    pub alpha1: f64,
    pub beta1: f64,
    pub alpha2: f64,
    pub beta2: f64,
    /// The weight of component 1.
    pub p: f64,
}

impl Prior {
    pub fn to_array(self) -> [f64; 5] {
        [self.alpha1, self.beta1, self.alpha2, self.beta2, self.p]
    }

    pub fn from_array(t: [f64; 5]) -> Prior {
        Prior { alpha1: t[0], beta1: t[1], alpha2: t[2], beta2: t[3], p: t[4] }
    }

    /// Parse `a1,b1,a2,b2,p` as given on the command line.
    pub fn parse(text: &str) -> Result<Prior> {
        let values: Vec<f64> = text
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad_input!("--prior `{text}`: give five numbers a1,b1,a2,b2,p, e.g. 0.2,0.1,2,4,0.33"))?;
        let t: [f64; 5] = values
            .try_into()
            .map_err(|v: Vec<f64>| bad_input!("--prior `{text}`: {} numbers; give five: a1,b1,a2,b2,p", v.len()))?;
        let prior = Prior::from_array(t);
        prior.check()?;
        Ok(prior)
    }

    /// Shapes and rates must be positive and finite, and P strictly between 0 and 1.
    pub fn check(&self) -> Result<()> {
        let positive = [self.alpha1, self.beta1, self.alpha2, self.beta2];
        if positive.iter().any(|v| !(v.is_finite() && *v > 0.0)) || !(self.p > 0.0 && self.p < 1.0) {
            return Err(bad_input!(
                "prior ({}, {}, {}, {}, {}): alphas and betas must be positive and P between 0 and 1 (exclusive)",
                self.alpha1,
                self.beta1,
                self.alpha2,
                self.beta2,
                self.p
            ));
        }
        Ok(())
    }

    /// The same mixture with its components listed the other way round.
    pub fn swapped(&self) -> Prior {
        Prior { alpha1: self.alpha2, beta1: self.beta2, alpha2: self.alpha1, beta2: self.beta1, p: 1.0 - self.p }
    }

    /// The labelling with component 1 the one of larger prior mean α/β (the "signal" component,
    /// as openEBGM's published CAERS estimates are labelled), so that fits can be compared.
    pub fn canonical(&self) -> Prior {
        if self.alpha1 / self.beta1 >= self.alpha2 / self.beta2 { *self } else { self.swapped() }
    }
}

/// The likelihood the prior is fitted by. Counts below N* carry no information in the truncated
/// forms, which is what makes fitting on the non-zero pairs alone legitimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum Likelihood {
    /// Every pair including zero counts: Π [P f1(n) + (1−P) f2(n)] (DuMouchel 1999 eq. 12;
    /// openEBGM `negLLzero`).
    Untruncated,
    /// Pairs with n ≥ N*, each component truncated on its own:
    /// Π [P f1(n)/(1−F1(N*−1)) + (1−P) f2(n)/(1−F2(N*−1))] (DuMouchel & Pregibon 2001; openEBGM
    /// `negLL`/`negLLsquash`; PhViD ≥ 1.0.8). The default.
    PerComponent { n_star: u32 },
    /// Pairs with n ≥ N*, the mixture truncated as a whole:
    /// Π [P f1(n) + (1−P) f2(n)] / [1 − P F1(N*−1) − (1−P) F2(N*−1)] (vigipy 3.5.1; PhViD before 1.0.8).
    WholeMixture { n_star: u32 },
}

impl Likelihood {
    /// The smallest count that enters the likelihood.
    pub fn n_star(&self) -> u32 {
        match *self {
            Likelihood::Untruncated => 0,
            Likelihood::PerComponent { n_star } | Likelihood::WholeMixture { n_star } => n_star,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Likelihood::Untruncated => "untruncated (all counts including zeros; openEBGM negLLzero)".to_string(),
            Likelihood::PerComponent { n_star } => {
                format!("truncated at N*={n_star} per component (openEBGM negLL, PhViD >= 1.0.8)")
            }
            Likelihood::WholeMixture { n_star } => {
                format!("truncated at N*={n_star} as a whole mixture (vigipy 3.5.1, PhViD < 1.0.8)")
            }
        }
    }
}
