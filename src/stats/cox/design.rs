//! The covariates of a model: numeric terms, indicators of categorical covariates against a
//! reference level, their validation, and the centring and scaling the fit works in.

use super::{CoxError, CoxInput};
use crate::stats::check;
use crate::table::Categories;

/// One column of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The covariate's name; an indicator is named `covariate=level`.
    pub name: String,
    /// One value per row.
    pub values: Vec<f64>,
    /// For an indicator: the reference level of its categorical covariate.
    pub reference: Option<String>,
}

impl Term {
    pub fn numeric(name: impl Into<String>, values: Vec<f64>) -> Term {
        Term { name: name.into(), values, reference: None }
    }

    /// The indicators of a categorical covariate, one per level other than the reference (the
    /// first level when `reference` is `None`), in level order.
    pub fn categorical(name: &str, levels: &Categories, reference: Option<&str>) -> Result<Vec<Term>, CoxError> {
        let reference_code = match reference {
            None => 0,
            Some(r) => levels.code_of(r).ok_or_else(|| {
                CoxError::Input(format!(
                    "covariate `{name}` has no level `{r}` to use as the reference; its levels are: {}",
                    levels.labels.join(", ")
                ))
            })?,
        };
        if levels.levels() < 2 {
            return Err(CoxError::Constant {
                name: name.to_string(),
                detail: format!("it has one level, `{}`", levels.labels.first().map_or("", String::as_str)),
            });
        }
        let reference_label = levels.labels[reference_code as usize].clone();
        Ok((0..levels.levels() as u32)
            .filter(|&code| code != reference_code)
            .map(|code| Term {
                name: format!("{name}={}", levels.labels[code as usize]),
                values: levels.codes.iter().map(|&c| if c == code { 1.0 } else { 0.0 }).collect(),
                reference: Some(reference_label.clone()),
            })
            .collect())
    }
}

/// The validated design: term names and the centring and scaling of each term.
pub(super) struct Design {
    pub names: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Design {
    pub fn new(input: &CoxInput) -> Result<Design, CoxError> {
        let n = input.time.len();
        let input_error = |e: crate::error::Error| CoxError::Input(e.to_string());
        check::same_length(("time", n), ("event", input.event.len())).map_err(input_error)?;
        if let Some(strata) = input.strata {
            check::same_length(("time", n), ("strata", strata.len())).map_err(input_error)?;
        }
        check::times(input.time).map_err(input_error)?;
        if input.terms.is_empty() {
            return Err(CoxError::Input("give at least one covariate".to_string()));
        }
        if !input.event.contains(&true) {
            return Err(CoxError::NoEvents);
        }
        let mut mean = Vec::with_capacity(input.terms.len());
        let mut scale = Vec::with_capacity(input.terms.len());
        for term in input.terms {
            check::same_length(("time", n), (term.name.as_str(), term.values.len())).map_err(input_error)?;
            if let Some(row) = term.values.iter().position(|v| !v.is_finite()) {
                return Err(CoxError::Input(format!(
                    "covariate `{}`, row {}: value {} is not a finite number",
                    term.name,
                    row + 1,
                    crate::withhold::cell(term.values[row])
                )));
            }
            let m = term.values.iter().sum::<f64>() / n as f64;
            let var = term.values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64;
            if term.values.iter().all(|&v| v == term.values[0]) {
                return Err(CoxError::Constant {
                    name: term.name.clone(),
                    detail: format!("every value is {}", term.values[0]),
                });
            }
            mean.push(m);
            scale.push(var.sqrt());
        }
        Ok(Design { names: input.terms.iter().map(|t| t.name.clone()).collect(), mean, scale })
    }

    pub fn p(&self) -> usize {
        self.names.len()
    }
}
