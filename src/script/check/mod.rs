//! Name resolution, type checking and lowering: the syntax tree and the parameter values become a
//! [`Program`] of the query model. Every problem becomes a [`Diagnostic`] pointing at the place;
//! one per statement, so that one mistake does not drown in the ones it causes.
//!
//! One [`Checker`] walks the script in order; each concern is an `impl Checker` block of its own:
//! - [`statements`]: the blocks and definitions of a script, in order, and what a whole script needs;
//! - [`parameters`]: the declared parameters, their defaults and given values, and their uses;
//! - [`outputs`]: datasets and tables, their columns and sidecar roles;
//! - [`expr`]: the expression dispatcher and the kinds of value a statement asks for;
//! - [`values`]: what a checked expression is ([`Val`], [`Sc`]) and where it is read ([`Cx`]);
//! - [`names`]: what a name may be and what it means (definitions, built-ins, tables, columns);
//! - [`fields`]: `.column` of a picked event, the entry, an exposure or an outcome;
//! - [`operators`]: the types operators combine and the one type several values share;
//! - [`codelists`]: code lists, codelist files and algebra, lists, `in`, analytes;
//! - [`selections`]: `where`, `with` and `all of`;
//! - [`calls`]: functions, aggregates (`exists`, `count`, `sum`, …) and picks (`first`, `highest`, …);
//! - [`leak`]: a birth date is output only coarsened.
//!
//! This file holds the state they share and the helpers more than one of them uses.

mod calls;
mod codelists;
mod expr;
mod fields;
mod leak;
mod names;
mod operators;
mod outputs;
mod parameters;
mod selections;
mod statements;
mod values;

use std::collections::HashMap;
use std::sync::Arc;

use super::Bundle;
use super::ast::{self, ColumnDecl, Item, ParamKind};
use super::diagnostic::{Diagnostic, Source, Span, did_you_mean};
use super::params::{ParamValue, ParamValues};
use crate::query::model::*;
use crate::query::tables::{ColumnType, Table};
use crate::query::value::{Type, Value};
use crate::schema::CodeSystem;
use crate::schema::ColumnRole;

use values::{Cx, Sc, Val};

/// `Err(None)`: the problem was already reported (a use of a definition that failed).
type CResult<T> = Result<T, Option<Diagnostic>>;

/// A declared parameter and its value (`None` while only checking, when no value was given).
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub span: Span,
    pub value: Option<ParamValue>,
}

/// What a checked script gives.
#[derive(Debug, Clone)]
pub struct Checked {
    pub program: Program,
    pub params: Vec<Param>,
    /// The ids of the script's outcomes, in order.
    pub outcomes: Vec<String>,
}

/// A name's meaning.
#[derive(Debug, Clone)]
enum Binding {
    Param(usize),
    Codes(Arc<Codelist>),
    Events(FrameRef),
    Scalar(Sc),
    Row(RowRef),
    /// The definition failed; uses are not reported again.
    Poisoned,
}

/// A patient-level record whose columns are read with `.`.
#[derive(Debug, Clone)]
enum RowRef {
    Pick(Arc<Pick>),
    Entry,
    Exposure(Arc<Exposure>),
    Outcome(usize),
}

#[derive(Debug, Clone)]
struct Outcome {
    id: String,
    date: Sc,
    event: Sc,
    days: Sc,
    baseline_normal: Option<Sc>,
}

struct Checker<'a> {
    source: &'a Source,
    /// The script's codelist files, read with it.
    bundle: &'a Bundle,
    params: Vec<Param>,
    names: HashMap<String, (Binding, Span)>,
    /// Every name the script defines somewhere, for "defined later" messages.
    all_definitions: HashMap<String, Span>,
    /// Name, start and end (`None` while only checking, for an unset date parameter).
    study: Option<(String, Option<i32>, Option<i32>)>,
    entry: Option<Entry>,
    rules: Vec<Rule>,
    observation: Option<(Sc, Sc)>,
    follow_up: Option<(Sc, Sc)>,
    outcomes: Vec<Outcome>,
    outputs: Vec<Output>,
    leaks: leak::Definitions,
    /// Blocks whose statement failed (`study`, `entry`, `follow-up`): what needs them is not
    /// reported again.
    failed: Vec<&'static str>,
    diags: Vec<Diagnostic>,
}

/// Check a script and lower it to the query model. With `values` (compiling), every parameter
/// must have a value; without (only checking), unset parameters are allowed.
pub fn check(
    script: &ast::Script,
    source: &Source,
    bundle: &Bundle,
    values: Option<&ParamValues>,
) -> Result<Checked, Vec<Diagnostic>> {
    let mut c = Checker {
        source,
        bundle,
        params: Vec::new(),
        names: HashMap::new(),
        all_definitions: HashMap::new(),
        study: None,
        entry: None,
        rules: Vec::new(),
        observation: None,
        follow_up: None,
        outcomes: Vec::new(),
        outputs: Vec::new(),
        leaks: leak::Definitions::default(),
        failed: Vec::new(),
        diags: Vec::new(),
    };
    c.collect_definitions(&script.items);
    c.parameters(script, values);
    for item in &script.items {
        c.item(item);
    }
    c.finish(script);
    if !c.diags.is_empty() {
        return Err(c.diags);
    }
    let entry = c.entry.expect("finish reports a missing entry");
    let (name, start, end) = c.study.expect("finish reports a missing study");
    // Only while checking can a date be unknown; the program is then never run.
    let (start, end) = (start.unwrap_or(i32::MIN), end.unwrap_or(i32::MAX));
    Ok(Checked {
        program: Program { study: Study { name, start, end }, entry, rules: c.rules, outputs: c.outputs },
        outcomes: c.outcomes.iter().map(|o| o.id.clone()).collect(),
        params: c.params,
    })
}

/// Words a definition may not take: they have a meaning already.
const BUILTINS: [&str; 12] = [
    "index",
    "entry",
    "age",
    "sex",
    "birth_date",
    "death_date",
    "observation_start",
    "observation_end",
    "study_start",
    "study_end",
    "analyte",
    "patient_key",
];
const KEYWORDS: [&str; 35] = [
    "and", "or", "not", "in", "between", "if", "then", "else", "exists", "no", "count", "sum", "min", "max", "first",
    "last", "highest", "lowest", "of", "where", "with", "within", "all", "days", "day", "true", "false", "end", "to",
    "from", "column", "date", "every", "by", "until",
];

impl Checker<'_> {
    fn report(&mut self, result: CResult<()>) {
        if let Err(Some(d)) = result {
            self.diags.push(d);
        }
    }

    fn report_block(&mut self, result: CResult<()>, block: &'static str) {
        if result.is_err() {
            self.failed.push(block);
        }
        self.report(result);
    }

    /// `Err(None)` when `block` failed (already reported), else the diagnostic.
    fn missing(&self, block: &'static str, d: Diagnostic) -> Option<Diagnostic> {
        if self.failed.contains(&block) { None } else { Some(d) }
    }
}

/// A diagnostic without help, as the error of a [`CResult`].
fn diag(span: Span, message: impl Into<String>) -> Option<Diagnostic> {
    Some(Diagnostic::new(span, message))
}

/// The code system of a frame's column, if it holds codes.
fn column_system(frame: &Frame, column: &str) -> Option<CodeSystem> {
    match frame {
        Frame::Table(t) => t.column(column).and_then(|c| c.system),
        Frame::Filter(f, _) => column_system(f, column),
        Frame::With(f, name, ..) => {
            if name == column {
                None
            } else {
                column_system(f, column)
            }
        }
        Frame::Joint(parts, _) => {
            let (part, col) = column.split_once('.')?;
            parts.iter().find(|(n, _)| n == part).and_then(|(_, f)| column_system(f, col))
        }
    }
}

fn column_type(frame: &Frame, column: &str) -> Option<ColumnType> {
    frame.columns().into_iter().find(|(n, _)| n == column).map(|(_, t)| t)
}
