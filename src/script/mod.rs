//! The extraction-script language: what an analyst writes, a site approves and runs.
//!
//! The flow is script text → tokens ([`lexer`]) → syntax tree ([`parser`], [`ast`]) → checked and
//! lowered to the query model ([`check`], `crate::query::model`) → SQL (`crate::sql`). The
//! language reference is `docs/script-language.md`; its examples are the spec tests.
//!
//! What extraction uses:
//! ```no_run
//! # use midnet::script::{Script, ParamValues};
//! # fn main() -> midnet::Result<()> {
//! let script = Script::load("study.midnet".as_ref())?;        // parse and check
//! let hash = script.sha256();                                    // script + codelist files
//! let cutoff = script.cutoff().map(|p| p.name.clone());          // the parameter --cutoff sets
//! let mut values = ParamValues::new();
//! values.set("cutoff", "2024-03-31");
//! let compiled = script.compile(&values)?;                        // one SQL per output + attrition
//! for output in &compiled.queries.outputs { /* output.sql, output.columns */ }
//! let approved = compiled.approval_params();                      // every parameter but the cut-off
//! # Ok(()) }
//! ```

mod ast;
mod bundle;
mod check;
mod codes;
mod diagnostic;
mod explain;
mod lexer;
mod params;
mod parser;

use std::collections::BTreeMap;
use std::path::Path;

pub use ast::ParamKind;
pub use bundle::{Bundle, Shipped};
pub use diagnostic::{Diagnostic, Source, Span};
pub use params::{ParamValue, ParamValues};

use crate::error::{Error, Result};
use crate::query::model::Program;
use crate::sql::Queries;

/// A script that parses and type-checks, with the codelist files it reads.
#[derive(Debug, Clone)]
pub struct Script {
    source: Source,
    ast: ast::Script,
    bundle: Bundle,
    sha256: String,
    parameters: Vec<Parameter>,
    outcomes: Vec<String>,
    study: String,
}

/// A parameter the script declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub kind: ParamKind,
    /// The default's canonical text, if the script gives one.
    pub default: Option<String>,
}

impl Parameter {
    pub fn is_cutoff(&self) -> bool {
        self.kind == ParamKind::Cutoff
    }
}

/// A script compiled with its parameter values.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub program: Program,
    pub queries: Queries,
    /// Every parameter's value (given or default), as canonical text.
    pub params: BTreeMap<String, String>,
    /// The name of the cut-off parameter, if the script has one.
    pub cutoff: Option<String>,
}

impl Compiled {
    /// The parameters a site's approval covers: all but the cut-off, whose later values need no
    /// new approval.
    pub fn approval_params(&self) -> BTreeMap<String, String> {
        self.params
            .iter()
            .filter(|(k, _)| Some(*k) != self.cutoff.as_ref())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Script {
    /// Read, parse and check a script file (and the codelist files it names).
    pub fn load(path: &Path) -> Result<Script> {
        Script::from_bundle(Bundle::read(path)?)
    }

    /// Parse and check script text; `dir` is where relative codelist paths start.
    pub fn from_text(name: &str, text: &str, dir: &Path) -> Result<Script> {
        Script::from_bundle(Bundle::of_text(name, text, dir))
    }

    /// Parse and check a script read with its codelist files.
    pub fn from_bundle(bundle: Bundle) -> Result<Script> {
        let source = Source::new(&bundle.name, &bundle.text);
        let fail = |d: Vec<Diagnostic>| Error::BadInput(diagnostic::render_all(&d, &source));
        let ast = bundle.parsed.clone().map_err(|d| fail(vec![d]))?;
        let checked = check::check(&ast, &source, &bundle, None).map_err(fail)?;
        let sha256 = bundle.sha256()?;
        let parameters = checked
            .params
            .iter()
            .map(|p| Parameter {
                name: p.name.clone(),
                kind: p.kind.clone(),
                default: p.value.as_ref().map(ParamValue::canonical),
            })
            .collect();
        Ok(Script {
            study: checked.program.study.name.clone(),
            source,
            ast,
            bundle,
            sha256,
            parameters,
            outcomes: checked.outcomes,
        })
    }

    /// SHA-256 of the script bundle: the script text and every codelist file it reads. A site
    /// approves this hash; any change to the script or a codelist changes it.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn study(&self) -> &str {
        &self.study
    }

    pub fn parameters(&self) -> &[Parameter] {
        &self.parameters
    }

    /// The cut-off parameter (`midnet extract --cutoff` sets it).
    pub fn cutoff(&self) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.is_cutoff())
    }

    /// The ids of the script's outcomes, in order.
    pub fn outcomes(&self) -> &[String] {
        &self.outcomes
    }

    fn checked(&self, values: &ParamValues) -> Result<check::Checked> {
        check::check(&self.ast, &self.source, &self.bundle, Some(values))
            .map_err(|d| Error::BadInput(diagnostic::render_all(&d, &self.source)))
    }

    /// Bind the parameters and compile: the query model and its SQL.
    pub fn compile(&self, values: &ParamValues) -> Result<Compiled> {
        let checked = self.checked(values)?;
        let params =
            checked.params.iter().filter_map(|p| Some((p.name.clone(), p.value.as_ref()?.canonical()))).collect();
        let queries = crate::sql::generate(&checked.program, &crate::sql::DuckDb);
        Ok(Compiled { program: checked.program, queries, params, cutoff: self.cutoff().map(|p| p.name.clone()) })
    }

    /// The script in plain words, with the values of the parameters that are set.
    pub fn explain(&self, values: &ParamValues) -> Result<String> {
        let params = match check::check(&self.ast, &self.source, &self.bundle, None) {
            Ok(c) => c.params,
            Err(d) => return Err(Error::BadInput(diagnostic::render_all(&d, &self.source))),
        };
        // Values given on the command line replace the defaults (checked when compiling).
        let params: Vec<check::Param> = params
            .into_iter()
            .map(|mut p| {
                if let Some(v) = values.get(&p.name).and_then(|t| ParamValue::parse(&p.kind, t).ok()) {
                    p.value = Some(v);
                }
                p
            })
            .collect();
        Ok(explain::explain(&self.ast, &params))
    }
}
