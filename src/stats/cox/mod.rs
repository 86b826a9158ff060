//! Cox proportional-hazards regression (Cox 1972) by Newton-Raphson on the partial likelihood,
//! with Efron's (1977, the default) or Breslow's (1974) handling of tied event times, any number of
//! covariates, categorical covariates expanded against a stated reference level, and strata
//! (a separate baseline hazard per stratum).
//!
//! A fit either converges to the maximum of the partial likelihood or fails with a [`CoxError`]
//! that says why (no events, a constant or collinear covariate, a monotone likelihood whose
//! estimate is infinite, no convergence): never a silent wrong number.
//!
//! How: covariates are centred and scaled (so that tolerances mean the same for every
//! covariate and exp(xβ) stays in range); rows are sorted once by stratum and descending time, so
//! each iteration is one pass of running risk-set sums, split into chunks that run in parallel
//! (the sums of earlier chunks are added as an offset, see [`risk`]).

mod design;
mod newton;
mod profile;
mod risk;

use serde::Serialize;

pub use design::Term;
pub use profile::{CHI2_1_95, ProfileInterval, profile_interval};

use crate::error::Error;
use crate::stats::linalg::Cholesky;
use crate::stats::special::normal::{Z_975, two_sided_p};
use design::Design;

/// How tied event times share the risk set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ties {
    /// Efron (1977): the tied events leave the risk set a fraction at a time.
    #[default]
    Efron,
    /// Breslow (1974): every tied event sees the full risk set.
    Breslow,
}

impl Ties {
    pub fn name(self) -> &'static str {
        match self {
            Ties::Efron => "efron",
            Ties::Breslow => "breslow",
        }
    }
}

/// The data of one fit: one row per patient.
#[derive(Debug, Clone, Copy)]
pub struct CoxInput<'a> {
    /// Follow-up time, ≥ 0.
    pub time: &'a [f64],
    /// true: the event ended follow-up; false: censored.
    pub event: &'a [bool],
    /// The covariates (see [`Term::numeric`] and [`Term::categorical`]).
    pub terms: &'a [Term],
    /// Each row's stratum (any codes, e.g. [`Categories::codes`](crate::table::Categories)), or
    /// `None` for one common baseline hazard.
    pub strata: Option<&'a [u32]>,
}

#[derive(Debug, Clone, Copy)]
pub struct CoxOptions {
    pub ties: Ties,
    /// Newton-Raphson iterations before giving up.
    pub max_iterations: usize,
}

impl Default for CoxOptions {
    fn default() -> CoxOptions {
        CoxOptions { ties: Ties::Efron, max_iterations: 50 }
    }
}

/// One covariate's estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coefficient {
    pub name: String,
    /// For an indicator of a categorical covariate: the reference level it is compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub coef: f64,
    pub se: f64,
    pub hr: f64,
    pub hr_lo: f64,
    pub hr_hi: f64,
    pub z: f64,
    /// Two-sided Wald p-value.
    pub p: f64,
}

/// A converged fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoxFit {
    /// Patients used.
    pub n: u64,
    pub events: u64,
    /// Log partial likelihood at the estimate, and with every coefficient 0.
    pub loglik: f64,
    pub loglik_null: f64,
    pub iterations: usize,
    pub ties: Ties,
    /// Number of strata (1 when unstratified).
    pub strata: usize,
    pub coefficients: Vec<Coefficient>,
    /// The covariance matrix of the coefficients, row-major, in the order of `coefficients`.
    #[serde(skip)]
    pub covariance: Vec<f64>,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq)]
pub enum CoxError {
    /// The columns are unusable (lengths differ, a bad time or covariate value, no covariates).
    Input(String),
    NoEvents,
    /// A covariate has one value (or one value within each stratum).
    Constant {
        name: String,
        detail: String,
    },
    /// A covariate is a linear combination of the ones before it.
    Collinear {
        name: String,
        others: Vec<String>,
    },
    /// The likelihood is monotone in these covariates: their estimates are infinite.
    Separation {
        names: Vec<String>,
    },
    NotConverged {
        iterations: usize,
        step: f64,
    },
}

impl std::fmt::Display for CoxError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let quoted = |names: &[String]| format!("`{}`", names.join("`, `"));
        match self {
            CoxError::Input(message) => write!(f, "{message}"),
            CoxError::NoEvents => {
                write!(f, "there are no events (the event column has no 1s), so there is nothing to fit")
            }
            CoxError::Constant { name, detail } => {
                write!(f, "covariate `{name}` is constant ({detail}); a constant has no hazard ratio: leave it out")
            }
            CoxError::Collinear { name, others } if others.is_empty() => write!(
                f,
                "covariate `{name}` carries no information: it does not vary within any risk set \
                 (the patients at risk at each event time all share one value); leave it out"
            ),
            CoxError::Collinear { name, others } => write!(
                f,
                "covariate `{name}` carries no information of its own: it is a linear combination of {} \
                 (or does not vary within any risk set); leave one of them out",
                quoted(others)
            ),
            CoxError::Separation { names } => write!(
                f,
                "the partial likelihood keeps increasing as the coefficient of {} grows without bound (monotone \
                 likelihood, e.g. no events in one level of a covariate): its hazard ratio is infinite or zero and \
                 cannot be estimated; leave the covariate out or merge levels",
                quoted(names)
            ),
            CoxError::NotConverged { iterations, step } => write!(
                f,
                "Newton-Raphson did not converge in {iterations} iterations (last step {step:.3e}); check the \
                 covariates for extreme values or near-collinearity"
            ),
        }
    }
}

impl std::error::Error for CoxError {}

impl From<CoxError> for Error {
    fn from(e: CoxError) -> Error {
        match e {
            CoxError::Input(_) | CoxError::NoEvents | CoxError::Constant { .. } | CoxError::Collinear { .. } => {
                Error::BadInput(e.to_string())
            }
            CoxError::Separation { .. } | CoxError::NotConverged { .. } => Error::Failed(e.to_string()),
        }
    }
}

/// Fit the model.
pub fn fit(input: &CoxInput, options: &CoxOptions) -> Result<CoxFit, CoxError> {
    let design = Design::new(input)?;
    let sorted = risk::Sorted::new(input, &design);
    sorted.check_within_strata(&design)?;
    let solution = newton::maximise(&sorted, &design.names, options)?;
    report(&design, input, &sorted, solution, options.ties)
}

/// The fit on the original scale of the covariates.
fn report(
    design: &Design,
    input: &CoxInput,
    sorted: &risk::Sorted,
    solution: newton::Solution,
    ties: Ties,
) -> Result<CoxFit, CoxError> {
    let p = design.p();
    let beta = &solution.beta;
    let chol = Cholesky::new(&solution.information, p)
        .map_err(|j| CoxError::Separation { names: vec![design.names[j].clone()] })?;
    let inverse = chol.inverse();
    let covariance: Vec<f64> = (0..p * p).map(|i| inverse[i] / (design.scale[i / p] * design.scale[i % p])).collect();
    let coefficients = (0..p)
        .map(|j| {
            let coef = beta[j] / design.scale[j];
            let se = covariance[j * p + j].sqrt();
            let z = coef / se;
            Coefficient {
                name: design.names[j].clone(),
                reference: input.terms[j].reference.clone(),
                coef,
                se,
                hr: coef.exp(),
                hr_lo: (coef - Z_975 * se).exp(),
                hr_hi: (coef + Z_975 * se).exp(),
                z,
                p: two_sided_p(z),
            }
        })
        .collect();
    Ok(CoxFit {
        n: input.time.len() as u64,
        events: sorted.events,
        loglik: solution.loglik,
        loglik_null: solution.loglik_null,
        iterations: solution.iterations,
        ties,
        strata: sorted.n_strata,
        coefficients,
        covariance,
    })
}
