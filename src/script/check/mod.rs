//! Name resolution, type checking and lowering: the syntax tree and the parameter values become a
//! [`Program`] of the query model. Every problem becomes a [`Diagnostic`] pointing at the place;
//! one per statement, so that one mistake does not drown in the ones it causes.

mod expr;
mod leak;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::ast::{self, ColumnDecl, Item, ParamKind};
use super::diagnostic::{Diagnostic, Source, Span, did_you_mean};
use super::params::{ParamValue, ParamValues};
use crate::query::model::*;
use crate::query::tables::{ColumnType, Table};
use crate::query::value::{Type, Value};
use crate::schema::CodeSystem;
use crate::schema::ColumnRole;

use expr::Sc;

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
    dir: &'a Path,
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
    dir: &Path,
    values: Option<&ParamValues>,
) -> Result<Checked, Vec<Diagnostic>> {
    let mut c = Checker {
        source,
        dir,
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

impl<'a> Checker<'a> {
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
    pub(super) fn missing(&self, block: &'static str, d: Diagnostic) -> Option<Diagnostic> {
        if self.failed.contains(&block) { None } else { Some(d) }
    }

    fn collect_definitions(&mut self, items: &[Item]) {
        for item in items {
            match item {
                Item::Codelist(n, _) | Item::Events(n, _) | Item::Define(n, _) => {
                    self.all_definitions.entry(n.name.clone()).or_insert(n.span);
                }
                Item::Exposure(x) => {
                    self.all_definitions.entry(x.name.name.clone()).or_insert(x.name.span);
                }
                Item::Outcome(o) => {
                    self.all_definitions.entry(o.name.name.clone()).or_insert(o.name.span);
                }
                Item::Cohort(inner) => self.collect_definitions(inner),
                _ => {}
            }
            self.leaks.record(item);
        }
    }

    /// Declare the parameters (all of them, wherever the block is) with their values.
    fn parameters(&mut self, script: &ast::Script, values: Option<&ParamValues>) {
        let decls: Vec<&ast::ParamDecl> = script
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Parameters(d) => Some(d),
                _ => None,
            })
            .flatten()
            .collect();
        let mut cutoff: Option<Span> = None;
        for decl in decls {
            let name = &decl.name;
            if let Err(d) = self.definable(name) {
                self.diags.push(d);
                continue;
            }
            if self.params.iter().any(|p| p.name == name.name) {
                self.diags.push(
                    Diagnostic::new(name.span, format!("the parameter `{}` is declared twice", name.name))
                        .help("keep one"),
                );
                continue;
            }
            if decl.kind == ParamKind::Cutoff {
                if cutoff.is_some() {
                    self.diags.push(
                        Diagnostic::new(decl.kind_span, "a script has one cut-off date").help(
                            "make the other parameter a plain `date`; `midnet extract --cutoff` sets the cut-off",
                        ),
                    );
                    continue;
                }
                cutoff = Some(decl.kind_span);
            }
            if decl.kind == ParamKind::Outcomes && self.params.iter().any(|p| p.kind == ParamKind::Outcomes) {
                self.diags.push(Diagnostic::new(decl.kind_span, "a script has one outcome list").help("keep one"));
                continue;
            }
            // A parameter whose value is wrong is still declared: its uses are not reported again
            // as unknown names, and it is not reported as unset.
            let errors_before = self.diags.len();
            let default = match &decl.default {
                Some(e) => match default_text(&decl.kind, e) {
                    Ok(text) => match ParamValue::parse(&decl.kind, &text) {
                        Ok(v) => Some(v),
                        Err(why) => {
                            self.diags.push(Diagnostic::new(e.span, format!("the default of `{}`: {why}", name.name)));
                            None
                        }
                    },
                    Err(d) => {
                        self.diags.push(d);
                        None
                    }
                },
                None => None,
            };
            let given = values.and_then(|v| v.get(&name.name));
            let value =
                match given {
                    Some(text) => match ParamValue::parse(&decl.kind, text) {
                        Ok(v) => Some(v),
                        Err(why) => {
                            self.diags.push(
                                Diagnostic::new(name.span, format!("--param {}={text}: {why}", name.name))
                                    .help(format!("`{}` is a {}", name.name, decl.kind.describe())),
                            );
                            None
                        }
                    },
                    None => default,
                };
            if value.is_none() && values.is_some() && self.diags.len() == errors_before {
                self.diags.push(Diagnostic::new(name.span, format!("the parameter `{}` is not set", name.name)).help(
                    format!("add `--param {}={}` (a {})", name.name, example_value(&decl.kind), decl.kind.describe()),
                ));
            }
            let index = self.params.len();
            self.params.push(Param { name: name.name.clone(), kind: decl.kind.clone(), span: name.span, value });
            self.names.insert(name.name.clone(), (Binding::Param(index), name.span));
        }
        if let Some(values) = values {
            for given in values.names() {
                if !self.params.iter().any(|p| p.name == given) {
                    let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                    let mut d = Diagnostic::new(
                        Span::default(),
                        format!("--param {given}: the script has no parameter `{given}`"),
                    );
                    d = match did_you_mean(given, known.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None if known.is_empty() => d.help("the script declares no parameters"),
                        None => d.help(format!("its parameters are: {}", known.join(", "))),
                    };
                    self.diags.push(d);
                }
            }
        }
    }

    /// May a definition take this name?
    fn definable(&self, name: &ast::Ident) -> Result<(), Diagnostic> {
        let n = name.name.as_str();
        let taken = if KEYWORDS.contains(&n) {
            Some("a word of the language".to_string())
        } else if BUILTINS.contains(&n) {
            Some("a built-in value".to_string())
        } else if Table::from_name(n).is_some() {
            Some("a table".to_string())
        } else if let Some(t) = Table::ALL.iter().find(|t| t.column(n).is_some()) {
            Some(format!("a column of {}: inside selections it would be ambiguous", t.name()))
        } else {
            CodeSystem::from_name(n).map(|_| "a code system".to_string())
        };
        match taken {
            Some(what) => Err(Diagnostic::new(name.span, format!("`{n}` is {what}")).help("choose another name")),
            None => Ok(()),
        }
    }

    fn bind(&mut self, name: &ast::Ident, binding: Binding) -> Result<(), Diagnostic> {
        self.definable(name)?;
        if self.names.contains_key(&name.name) {
            return Err(Diagnostic::new(name.span, format!("`{}` is defined twice", name.name))
                .help("give the second definition another name"));
        }
        self.names.insert(name.name.clone(), (binding, name.span));
        Ok(())
    }

    fn poison(&mut self, name: &ast::Ident) {
        self.names.entry(name.name.clone()).or_insert((Binding::Poisoned, name.span));
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Parameters(_) => {}
            Item::Study(s) => {
                let r = self.study(s);
                self.report_block(r, "study");
            }
            Item::Codelist(name, e) => {
                let r = self.expr(e, expr::Cx::patient()).and_then(|v| match v {
                    expr::Val::Codes(c) => Ok(Binding::Codes(c)),
                    _ => Err(Some(Diagnostic::new(e.span, format!("`{}` is not a codelist", name.name)).help(
                        "a codelist is `SYSTEM [\"code\", …]`, `SYSTEM from \"file.csv\"`, a codelist parameter, or codelists joined with + and -",
                    ))),
                });
                self.define(name, r);
            }
            Item::Events(name, e) => {
                let r = self.expr(e, expr::Cx::patient()).and_then(|v| match v {
                    expr::Val::Frame(f) => Ok(Binding::Events(f)),
                    other => Err(Some(
                        Diagnostic::new(
                            e.span,
                            format!("`{}` is not a selection of events but {}", name.name, other.describe()),
                        )
                        .help("`events NAME = TABLE where CONDITION`; values are defined with `define`"),
                    )),
                });
                self.define(name, r);
            }
            Item::Define(name, e) => {
                let r = self.expr(e, expr::Cx::patient()).and_then(|v| self.definition_value(name, e, v));
                self.define(name, r);
            }
            Item::Cohort(items) => {
                for inner in items {
                    self.item(inner);
                }
            }
            Item::Entry { every, selection, span } => {
                let r = self.entry(*every, selection, *span);
                self.report_block(r, "entry");
            }
            Item::Rule { exclude, label, condition, span } => {
                let r = self.rule(*exclude, label, condition, *span);
                self.report(r);
            }
            Item::Exposure(x) => {
                let r = self.exposure(x);
                self.define(&x.name, r);
            }
            Item::FollowUp(f) => {
                let r = self.follow_up(f);
                self.report_block(r, "follow-up");
            }
            Item::Outcome(o) => {
                let r = self.outcome(o);
                self.define(&o.name, r);
            }
            Item::Dataset(o) => {
                let r = self.dataset(o);
                self.report(r);
            }
            Item::Table(o) => {
                let r = self.table(o);
                self.report(r);
            }
        }
    }

    fn define(&mut self, name: &ast::Ident, result: CResult<Binding>) {
        let bound = result.and_then(|b| self.bind(name, b).map_err(Some));
        if let Err(problem) = bound {
            if let Some(d) = problem {
                self.diags.push(d);
            }
            self.poison(name);
        }
    }

    /// A `define`: a patient-level value or a picked event, named after the definition.
    fn definition_value(&mut self, name: &ast::Ident, e: &ast::Expr, v: expr::Val) -> CResult<Binding> {
        match v {
            expr::Val::Scalar(sc) if sc.event => Err(Some(
                Diagnostic::new(e.span, format!("`{}` would have one value per event, not one per patient", name.name))
                    .help(
                        "pick one event (`first`, `last`, `highest … of`) or aggregate (`count`, `exists`, `min … of`)",
                    ),
            )),
            expr::Val::Scalar(sc) => Ok(Binding::Scalar(sc.named(&name.name))),
            expr::Val::Row(RowRef::Pick(p)) => {
                let named =
                    if p.name.is_none() { Arc::new(Pick { name: Some(name.name.clone()), ..(*p).clone() }) } else { p };
                Ok(Binding::Row(RowRef::Pick(named)))
            }
            expr::Val::Row(r) => Ok(Binding::Row(r)),
            expr::Val::Frame(_) => Err(Some(
                Diagnostic::new(e.span, format!("`{}` is a selection of events", name.name))
                    .help(format!("define it with `events {} = …`", name.name)),
            )),
            expr::Val::Codes(_) => Err(Some(
                Diagnostic::new(e.span, format!("`{}` is a codelist", name.name))
                    .help(format!("define it with `codelist {} = …`", name.name)),
            )),
            other => Err(Some(Diagnostic::new(e.span, format!("`{}` cannot be {}", name.name, other.describe())))),
        }
    }

    fn study(&mut self, s: &ast::Study) -> CResult<()> {
        if self.study.is_some() {
            return Err(Some(Diagnostic::new(s.span, "the script has two study blocks").help("keep one")));
        }
        let start = self.constant_date(&s.start, "the study period's start")?;
        let end = self.constant_date(&s.end, "the study period's end")?;
        if let (Some(start), Some(end)) = (start, end)
            && start > end
        {
            return Err(Some(Diagnostic::new(s.start.span.to(s.end.span), "the study period ends before it starts")));
        }
        self.study = Some((s.name.text.clone(), start, end));
        Ok(())
    }

    /// A date known before any data are read: a date or a date parameter (`None` while only
    /// checking, for an unset parameter).
    fn constant_date(&mut self, e: &ast::Expr, what: &str) -> CResult<Option<i32>> {
        let v = self.expr(e, expr::Cx::patient())?;
        match v {
            expr::Val::Scalar(sc) if sc.ty == Type::Date => match &*sc.expr {
                Expr::Const(Value::Date(d)) => Ok(Some(*d)),
                Expr::Const(Value::Missing) => Ok(None),
                _ => Err(Some(Diagnostic::new(
                    e.span,
                    format!("{what} must be a date written in the script or a date parameter"),
                ))),
            },
            _ => Err(Some(
                Diagnostic::new(e.span, format!("{what} must be a date")).help("write YYYY-MM-DD or a date parameter"),
            )),
        }
    }

    /// A whole number known before any data are read (a number written in the script or an
    /// integer parameter), not negative.
    fn constant_days(&mut self, e: &ast::Expr, what: &str) -> CResult<i64> {
        let v = self.expr(e, expr::Cx::patient())?;
        match v {
            expr::Val::Scalar(sc) if sc.ty == Type::Int => match &*sc.expr {
                Expr::Const(Value::Int(n)) if *n >= 0 => Ok(*n),
                Expr::Const(Value::Missing) => Ok(0),
                _ => Err(Some(Diagnostic::new(
                    e.span,
                    format!(
                        "{what} must be a whole number of days, 0 or more, written in the script or an integer parameter"
                    ),
                ))),
            },
            _ => Err(Some(
                Diagnostic::new(e.span, format!("{what} must be a whole number of days")).help("e.g. `30 days`"),
            )),
        }
    }

    fn entry(&mut self, every: bool, selection: &ast::Expr, span: Span) -> CResult<()> {
        if self.entry.is_some() {
            return Err(Some(Diagnostic::new(span, "the cohort has two entry lines").help("keep one `entry` line")));
        }
        let v = self.expr(selection, expr::Cx::entry())?;
        let frame = match v {
            expr::Val::Frame(f) if f.root_table().is_some() => f,
            expr::Val::Frame(_) => {
                return Err(Some(
                    Diagnostic::new(selection.span, "an entry cannot be an `all of` combination")
                        .help("enter on the events of one table; combinations belong in outcomes and rules"),
                ));
            }
            other => {
                return Err(Some(
                    Diagnostic::new(
                        selection.span,
                        format!("the entry must be a selection of events, not {}", other.describe()),
                    )
                    .help("e.g. `entry first drug_order where yj_code in drug`"),
                ));
            }
        };
        self.entry = Some(Entry { frame, which: if every { Which::Every } else { Which::First } });
        Ok(())
    }

    fn rule(&mut self, exclude: bool, label: &ast::Text, condition: &ast::Expr, span: Span) -> CResult<()> {
        self.needs_entry(span, "a rule")?;
        if label.text.trim().is_empty() || self.rules.iter().any(|r| r.name == label.text) {
            return Err(Some(
                Diagnostic::new(label.span, "each rule needs a name of its own")
                    .help("the attrition table lists rules by name"),
            ));
        }
        let sc = self.patient_condition(condition, "a rule")?;
        self.rules.push(Rule {
            name: label.text.clone(),
            kind: if exclude { RuleKind::Exclude } else { RuleKind::Require },
            condition: sc.patient(),
        });
        Ok(())
    }

    fn needs_entry(&self, span: Span, what: &str) -> CResult<()> {
        if self.entry.is_none() {
            return Err(self.missing(
                "entry",
                Diagnostic::new(span, format!("{what} needs the index date, which the cohort's `entry` line sets"))
                    .help("put it after `entry first …` (or `entry every …`) in the cohort block"),
            ));
        }
        Ok(())
    }

    /// A condition with one answer per cohort row.
    fn patient_condition(&mut self, e: &ast::Expr, what: &str) -> CResult<Sc> {
        let v = self.expr(e, expr::Cx::patient())?;
        let sc = self.patient_scalar(v, e, what)?;
        if sc.ty != Type::Bool {
            return Err(Some(
                Diagnostic::new(e.span, format!("{what} must be a condition (true or false), not a {}", sc.ty.name()))
                    .help("compare the value, e.g. `(count …) >= 2`; `exists …` asks whether there is any"),
            ));
        }
        Ok(sc)
    }

    fn exposure(&mut self, x: &ast::ExposureDecl) -> CResult<Binding> {
        self.needs_entry(x.span, "an exposure")?;
        let v = self.expr(&x.orders, expr::Cx::patient())?;
        let orders = match v {
            expr::Val::Frame(f) if f.root_table() == Some(Table::DrugOrder) => f,
            _ => {
                return Err(Some(
                    Diagnostic::new(x.orders.span, "an exposure is built from drug orders")
                        .help("write `orders: drug_order where …` (start date + days supplied make the episodes)"),
                ));
            }
        };
        let grace = self.constant_days(&x.grace, "the grace period")?;
        let exposure = Exposure {
            name: x.name.name.clone(),
            orders,
            grace,
            stockpiling: if x.carry_over { Stockpiling::CarryOver } else { Stockpiling::None },
        };
        Ok(Binding::Row(RowRef::Exposure(Arc::new(exposure))))
    }

    fn follow_up(&mut self, f: &ast::FollowUp) -> CResult<()> {
        self.needs_entry(f.span, "the follow-up")?;
        if self.follow_up.is_some() {
            return Err(Some(Diagnostic::new(f.span, "the script has two follow-up blocks").help("keep one")));
        }
        let from = self.patient_date(&f.from, "the follow-up's start")?;
        let until = self.patient_date(&f.until, "the follow-up's end")?;
        self.follow_up = Some((from, until));
        Ok(())
    }

    fn patient_date(&mut self, e: &ast::Expr, what: &str) -> CResult<Sc> {
        let v = self.expr(e, expr::Cx::patient())?;
        let sc = self.patient_scalar(v, e, what)?;
        if sc.ty != Type::Date {
            return Err(Some(Diagnostic::new(e.span, format!("{what} must be a date, not a {}", sc.ty.name()))));
        }
        Ok(sc)
    }

    /// An outcome: the first event of the selection on or after the follow-up's start; an event if
    /// it is on or before the follow-up's end. Days count from the index date.
    fn outcome(&mut self, o: &ast::OutcomeDecl) -> CResult<Binding> {
        let Some((from, until)) = self.follow_up.clone() else {
            return Err(self.missing(
                "follow-up",
                Diagnostic::new(o.span, "an outcome needs the follow-up, which is not declared yet")
                    .help("put the `follow-up … end` block before the outcomes"),
            ));
        };
        let v = self.expr(&o.event, expr::Cx::patient())?;
        let frame = match v {
            expr::Val::Frame(f) => f,
            other => {
                return Err(Some(
                    Diagnostic::new(
                        o.event.span,
                        format!("an outcome's event must be a selection of events, not {}", other.describe()),
                    )
                    .help("e.g. `event: lab_result where analyte = \"alt\" and value > 3 * ref_high`"),
                ));
            }
        };
        let at_risk = Arc::new(Frame::Filter(
            frame,
            Arc::new(Expr::Binary(
                BinOp::Ge,
                Arc::new(Expr::Leaf(EventLeaf::Column("date".into()))),
                from.expr.clone(),
            )),
        ));
        let pick = Arc::new(Pick { name: Some(o.name.name.clone()), frame: at_risk, order: PickOrder::First });
        let first = Sc::patient_leaf(PatientLeaf::Pick(pick, "date".into()), Type::Date);
        let event = Sc::patient_func(
            Func::Coalesce,
            vec![Sc::binary(BinOp::Le, &first, &until, Type::Bool), Sc::constant(Value::Bool(false), Type::Bool)],
            Type::Bool,
        );
        let index = Sc::patient_leaf(PatientLeaf::Index, Type::Date);
        let date = Sc::if_(&event, &first, &Sc::constant(Value::Missing, Type::Date), Type::Date);
        let days = Sc::if_(
            &event,
            &Sc::binary(BinOp::DaysBetween, &first, &index, Type::Int),
            &Sc::binary(BinOp::DaysBetween, &until, &index, Type::Int),
            Type::Int,
        );
        let baseline_normal = match &o.baseline_normal {
            Some(e) => {
                let cond = self.patient_condition(e, "a baseline condition")?;
                Some(Sc::patient_func(
                    Func::Coalesce,
                    vec![cond, Sc::constant(Value::Bool(false), Type::Bool)],
                    Type::Bool,
                ))
            }
            None => None,
        };
        self.outcomes.push(Outcome { id: o.name.name.clone(), date, event, days, baseline_normal });
        Ok(Binding::Row(RowRef::Outcome(self.outcomes.len() - 1)))
    }

    /// The outcomes the outcome-list parameter selects (all when there is none).
    fn selected_outcomes(&self) -> Vec<usize> {
        let chosen = self.params.iter().find_map(|p| match &p.value {
            Some(ParamValue::Outcomes(Some(ids))) => Some(ids.clone()),
            _ => None,
        });
        (0..self.outcomes.len())
            .filter(|&i| chosen.as_ref().is_none_or(|ids| ids.contains(&self.outcomes[i].id)))
            .collect()
    }

    fn dataset(&mut self, o: &ast::OutputDecl) -> CResult<()> {
        self.needs_entry(o.span, "a dataset")?;
        self.output_name(&o.name)?;
        let mut columns: Vec<OutputColumn<PExpr>> = Vec::new();
        let mut problems = Vec::new();
        for col in &o.columns {
            let result = match col {
                ColumnDecl::Outcomes(span) => self.outcome_columns(*span),
                ColumnDecl::Named { name, expr } => self.dataset_column(name, expr.as_ref()).map(|c| vec![c]),
            };
            match result {
                Ok(cols) => {
                    for c in cols {
                        if c.name == "patient_key" || columns.iter().any(|x| x.name == c.name) {
                            problems.push(
                                Diagnostic::new(
                                    column_span(col),
                                    format!("the column `{}` appears twice in `{}`", c.name, o.name.name),
                                )
                                .help("every output already starts with patient_key; give each column its own name"),
                            );
                        }
                        columns.push(c);
                    }
                }
                Err(Some(d)) => problems.push(d),
                Err(None) => {}
            }
        }
        if let Some(d) = problems.into_iter().next() {
            return Err(Some(d));
        }
        if let Some(d) = self.leaks.check_output(o) {
            return Err(Some(d));
        }
        self.outputs.push(Output::Patients { name: o.name.name.clone(), columns });
        Ok(())
    }

    fn output_name(&self, name: &ast::Ident) -> CResult<()> {
        if self.outputs.iter().any(|o| o.name() == name.name) {
            return Err(Some(
                Diagnostic::new(name.span, format!("there are two outputs named `{}`", name.name))
                    .help("give each its own name"),
            ));
        }
        Ok(())
    }

    fn outcome_columns(&mut self, span: Span) -> CResult<Vec<OutputColumn<PExpr>>> {
        if self.outcomes.is_empty() {
            return Err(Some(
                Diagnostic::new(span, "`outcomes` lists the script's outcomes, and it has none yet")
                    .help("declare outcomes before the dataset"),
            ));
        }
        let mut cols = Vec::new();
        for i in self.selected_outcomes() {
            let o = &self.outcomes[i];
            cols.push(OutputColumn {
                name: format!("{}_event", o.id),
                expr: o.event.patient(),
                ty: Type::Bool,
                role: ColumnRole::Other,
            });
            cols.push(OutputColumn {
                name: format!("{}_days", o.id),
                expr: o.days.patient(),
                ty: Type::Int,
                role: ColumnRole::Time,
            });
            if let Some(b) = &o.baseline_normal {
                cols.push(OutputColumn {
                    name: format!("{}_baseline_normal", o.id),
                    expr: b.patient(),
                    ty: Type::Bool,
                    role: ColumnRole::Other,
                });
            }
        }
        Ok(cols)
    }

    fn dataset_column(&mut self, name: &ast::Ident, e: Option<&ast::Expr>) -> CResult<OutputColumn<PExpr>> {
        let e = e.cloned().unwrap_or(ast::Expr { kind: ast::ExprKind::Name(name.name.clone()), span: name.span });
        let v = self.expr(&e, expr::Cx::patient())?;
        let sc = self.patient_scalar(v, &e, "a dataset column")?.named(&name.name);
        Ok(OutputColumn { name: name.name.clone(), expr: sc.patient(), ty: sc.ty, role: role_of(&e, sc.ty) })
    }

    fn table(&mut self, o: &ast::OutputDecl) -> CResult<()> {
        self.needs_entry(o.span, "a table")?;
        self.output_name(&o.name)?;
        let selection = o.selection.as_ref().expect("the parser gives a table its selection");
        let frame = match self.expr(selection, expr::Cx::patient())? {
            expr::Val::Frame(f) => f,
            other => {
                return Err(Some(
                    Diagnostic::new(selection.span, format!("a table lists events, and this is {}", other.describe()))
                        .help("write `table NAME = SELECTION`"),
                ));
            }
        };
        let mut columns = Vec::new();
        for col in &o.columns {
            let (name, e) = match col {
                ColumnDecl::Outcomes(span) => {
                    return Err(Some(Diagnostic::new(*span, "`outcomes` belongs in a dataset (one row per patient)")));
                }
                ColumnDecl::Named { name, expr } => (
                    name,
                    expr.clone().unwrap_or(ast::Expr { kind: ast::ExprKind::Name(name.name.clone()), span: name.span }),
                ),
            };
            let v = self.expr(&e, expr::Cx::events(&frame))?;
            let sc = match v {
                expr::Val::Scalar(sc) => sc,
                other => {
                    return Err(Some(Diagnostic::new(
                        e.span,
                        format!("a table column needs a value, not {}", other.describe()),
                    )));
                }
            };
            if name.name == "patient_key" || columns.iter().any(|c: &OutputColumn<EExpr>| c.name == name.name) {
                return Err(Some(Diagnostic::new(
                    name.span,
                    format!("the column `{}` appears twice in `{}`", name.name, o.name.name),
                )));
            }
            columns.push(OutputColumn {
                name: name.name.clone(),
                expr: sc.expr.clone(),
                ty: sc.ty,
                role: role_of(&e, sc.ty),
            });
        }
        if let Some(d) = self.leaks.check_output(o) {
            return Err(Some(d));
        }
        self.outputs.push(Output::Events { name: o.name.name.clone(), frame, columns });
        Ok(())
    }

    fn finish(&mut self, script: &ast::Script) {
        let start = Span::default();
        if self.study.is_none() && !script.items.iter().any(|i| matches!(i, Item::Study(_))) {
            self.diags.push(
                Diagnostic::new(start, "the script has no `study` block")
                    .help("start with:\nstudy \"NAME\"\n  period: 2021-06-01 to cutoff\nend"),
            );
        }
        let has_entry_line = |items: &[Item]| {
            items.iter().any(|i| match i {
                Item::Cohort(inner) => inner.iter().any(|i| matches!(i, Item::Entry { .. })),
                _ => false,
            })
        };
        if self.entry.is_none() && !has_entry_line(&script.items) {
            self.diags.push(
                Diagnostic::new(start, "the script has no cohort entry")
                    .help("add a block:\ncohort\n  entry first drug_order where yj_code in drug\nend"),
            );
        }
        let has_output = script.items.iter().any(|i| matches!(i, Item::Dataset(_) | Item::Table(_)));
        if !has_output {
            self.diags.push(Diagnostic::new(start, "the script has no output").help(
                "add a `dataset NAME … end` (one row per patient) or a `table NAME = … end` (one row per event)",
            ));
        }
        // The ids an outcome list names must be outcomes of the script.
        let ids: Vec<String> = self.outcomes.iter().map(|o| o.id.clone()).collect();
        for p in &self.params {
            if let Some(ParamValue::Outcomes(Some(chosen))) = &p.value {
                for id in chosen {
                    if !ids.contains(id) {
                        let mut d = Diagnostic::new(
                            p.span,
                            format!("`{}` names the outcome `{id}`, which the script does not define", p.name),
                        );
                        d = match did_you_mean(id, ids.iter().map(String::as_str)) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d.help(format!("the outcomes are: {}", ids.join(", "))),
                        };
                        self.diags.push(d);
                    }
                }
            }
        }
        self.diags.sort_by_key(|d| d.span.start);
    }
}

fn column_span(col: &ColumnDecl) -> Span {
    match col {
        ColumnDecl::Named { name, expr } => expr.as_ref().map_or(name.span, |e| name.span.to(e.span)),
        ColumnDecl::Outcomes(span) => *span,
    }
}

/// The sidecar role of an output column, from what it holds.
fn role_of(e: &ast::Expr, ty: Type) -> ColumnRole {
    match (&e.kind, ty) {
        (ast::ExprKind::Name(n), _) if n == "sex" => ColumnRole::Sex,
        (ast::ExprKind::Field(_, f), Type::Int) if f.name == "days" => ColumnRole::Time,
        (_, Type::Date) => ColumnRole::Date,
        (_, Type::Text) => ColumnRole::Label,
        _ => ColumnRole::Other,
    }
}

/// The text of a parameter's default, in the form `--param` takes.
fn default_text(kind: &ParamKind, e: &ast::Expr) -> Result<String, Diagnostic> {
    use ast::ExprKind as K;
    let wrong = || {
        Diagnostic::new(e.span, format!("this default does not fit a {}", kind.describe()))
            .help(format!("e.g. `= {}`", example_default(kind)))
    };
    Ok(match (kind, &e.kind) {
        (ParamKind::Date | ParamKind::Cutoff, K::Date(d)) => crate::query::value::format_date(*d),
        (ParamKind::Integer, K::Int(i)) => i.to_string(),
        (ParamKind::Integer, K::Days(inner)) => match inner.kind {
            K::Int(i) => i.to_string(),
            _ => return Err(wrong()),
        },
        (ParamKind::Number, K::Int(i)) => i.to_string(),
        (ParamKind::Number, K::Number(x)) => format!("{x}"),
        (ParamKind::Outcomes, K::Name(n)) if n == "all" => "all".into(),
        (ParamKind::Codelist(_) | ParamKind::Outcomes, K::List(items)) => {
            let mut texts = Vec::new();
            for item in items {
                match &item.kind {
                    K::Str(s) => texts.push(s.clone()),
                    _ => {
                        return Err(Diagnostic::new(item.span, "list items are written in quotes")
                            .help("e.g. [\"3969099\", \"3969010\"]"));
                    }
                }
            }
            texts.join(",")
        }
        _ => return Err(wrong()),
    })
}

fn example_default(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Date | ParamKind::Cutoff => "2024-03-31",
        ParamKind::Integer => "30",
        ParamKind::Number => "1.5",
        ParamKind::Codelist(_) => "[\"3969099\"]",
        ParamKind::Outcomes => "all",
    }
}

fn example_value(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Date | ParamKind::Cutoff => "2024-03-31",
        ParamKind::Integer => "30",
        ParamKind::Number => "1.5",
        ParamKind::Codelist(_) => "CODE,CODE",
        ParamKind::Outcomes => "all",
    }
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
