//! Parameter values: `--param name=value` on the command line, or a script's default. One
//! approved script serves many runs; only the parameters change.

use std::collections::BTreeMap;

use super::ast::ParamKind;
use super::codes;
use crate::bad_input;
use crate::error::Result;
use crate::query::value::{format_date, parse_date};

/// Values given for a script's parameters, as text, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamValues {
    values: BTreeMap<String, String>,
}

impl ParamValues {
    pub fn new() -> ParamValues {
        ParamValues::default()
    }

    /// From `name=value` arguments. A name given twice is an error.
    pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<ParamValues> {
        let mut values = ParamValues::new();
        for arg in args {
            let arg = arg.as_ref();
            let Some((name, value)) = arg.split_once('=') else {
                return Err(bad_input!("--param {arg}: write --param name=value, e.g. --param cutoff=2024-03-31"));
            };
            let name = name.trim();
            if values.values.contains_key(name) {
                return Err(bad_input!("--param {name} is given twice; give each parameter once"));
            }
            values.values.insert(name.to_string(), value.trim().to_string());
        }
        Ok(values)
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// A parameter's value, parsed for its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Date(i32),
    Int(i64),
    Float(f64),
    /// Codelist entries, each checked against the parameter's code system.
    Codes(Vec<String>),
    /// Outcome ids; `None` is `all`.
    Outcomes(Option<Vec<String>>),
}

impl ParamValue {
    /// Parse the text of a value (`--param` or the canonical form) for a parameter of `kind`.
    /// Outcome ids are checked later, against the script's outcomes.
    pub fn parse(kind: &ParamKind, text: &str) -> std::result::Result<ParamValue, String> {
        let text = text.trim();
        match kind {
            ParamKind::Date | ParamKind::Cutoff => parse_date(text).map(ParamValue::Date),
            ParamKind::Integer => {
                text.parse().map(ParamValue::Int).map_err(|_| format!("`{text}` is not a whole number"))
            }
            ParamKind::Number => match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(ParamValue::Float(x)),
                _ => Err(format!("`{text}` is not a number")),
            },
            ParamKind::Codelist(system) => {
                let list: Vec<String> =
                    text.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
                if list.is_empty() {
                    return Err("the codelist is empty; give codes separated by commas, e.g. 3969099,3969010".into());
                }
                for code in &list {
                    codes::entry(*system, code)?;
                }
                Ok(ParamValue::Codes(list))
            }
            ParamKind::Outcomes => {
                if text == "all" {
                    return Ok(ParamValue::Outcomes(None));
                }
                let ids: Vec<String> =
                    text.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
                if ids.is_empty() {
                    return Err("give outcome ids separated by commas, or `all`".into());
                }
                Ok(ParamValue::Outcomes(Some(ids)))
            }
        }
    }

    /// The canonical text of the value: what `--param` takes and approvals record.
    pub fn canonical(&self) -> String {
        match self {
            ParamValue::Date(d) => format_date(*d),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Float(x) => format!("{x}"),
            ParamValue::Codes(codes) => codes.join(","),
            ParamValue::Outcomes(None) => "all".into(),
            ParamValue::Outcomes(Some(ids)) => ids.join(","),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::CodeSystem;

    #[test]
    fn values_parse_by_kind() {
        assert_eq!(ParamValue::parse(&ParamKind::Cutoff, "2024-03-31").unwrap().canonical(), "2024-03-31");
        assert!(ParamValue::parse(&ParamKind::Date, "2023-02-30").unwrap_err().contains("28 days"));
        let codes = ParamValue::parse(&ParamKind::Codelist(CodeSystem::Yj), "3969099, 3969010").unwrap();
        assert_eq!(codes.canonical(), "3969099,3969010");
        assert!(ParamValue::parse(&ParamKind::Codelist(CodeSystem::Yj), "3969099,E11").is_err());
        assert_eq!(ParamValue::parse(&ParamKind::Outcomes, "all").unwrap(), ParamValue::Outcomes(None));
        assert!(ParamValues::parse_args(&["a=1", "a=2"]).is_err());
        assert!(ParamValues::parse_args(&["cutoff"]).is_err());
    }
}
