//! Expressions: names resolved, types checked, lowered to the query model.
//!
//! Every scalar is built as an event-level tree ([`Sc`]); one that reads no event column is
//! patient-level and becomes a [`PExpr`] where one is needed. Inside a selection (`where`,
//! `with`, `of`), bare names are the events' columns first, then definitions and built-ins.

use std::sync::Arc;

use super::*;
use crate::query::tables;
use crate::script::ast::{AggOp, ExprKind as K, PickOp};
use crate::script::codes;

/// A scalar: an expression, its type, and whether it reads an event's columns.
#[derive(Debug, Clone)]
pub struct Sc {
    pub expr: EExpr,
    pub ty: Type,
    pub event: bool,
}

fn lift(p: PExpr) -> EExpr {
    match &*p {
        Expr::Const(v) => Arc::new(Expr::Const(v.clone())),
        _ => Arc::new(Expr::Leaf(EventLeaf::Patient(p))),
    }
}

/// A tree that reads no event column, as a patient-level tree.
fn to_patient(e: &Expr<EventLeaf>) -> PExpr {
    Arc::new(match e {
        Expr::Const(v) => Expr::Const(v.clone()),
        Expr::Leaf(EventLeaf::Patient(p)) => return p.clone(),
        Expr::Leaf(EventLeaf::Column(c)) => unreachable!("event column {c} in a patient-level value"),
        Expr::Not(a) => Expr::Not(to_patient(a)),
        Expr::Neg(a) => Expr::Neg(to_patient(a)),
        Expr::Binary(op, a, b) => Expr::Binary(*op, to_patient(a), to_patient(b)),
        Expr::If(c, a, b) => Expr::If(to_patient(c), to_patient(a), to_patient(b)),
        Expr::Func(f, args) => Expr::Func(*f, args.iter().map(|a| to_patient(a)).collect()),
        Expr::InCodes(a, c) => Expr::InCodes(to_patient(a), c.clone()),
        Expr::InList(a, v) => Expr::InList(to_patient(a), v.clone()),
    })
}

impl Sc {
    pub fn constant(v: Value, ty: Type) -> Sc {
        Sc { expr: Arc::new(Expr::Const(v)), ty, event: false }
    }

    pub fn patient_leaf(leaf: PatientLeaf, ty: Type) -> Sc {
        Sc { expr: lift(Arc::new(Expr::Leaf(leaf))), ty, event: false }
    }

    fn column(name: &str, ty: Type) -> Sc {
        Sc { expr: Arc::new(Expr::Leaf(EventLeaf::Column(name.to_string()))), ty, event: true }
    }

    pub fn binary(op: BinOp, a: &Sc, b: &Sc, ty: Type) -> Sc {
        Sc { expr: Arc::new(Expr::Binary(op, a.expr.clone(), b.expr.clone())), ty, event: a.event || b.event }
    }

    pub fn patient_func(f: Func, args: Vec<Sc>, ty: Type) -> Sc {
        let event = args.iter().any(|a| a.event);
        Sc { expr: Arc::new(Expr::Func(f, args.into_iter().map(|a| a.expr).collect())), ty, event }
    }

    pub fn if_(c: &Sc, a: &Sc, b: &Sc, ty: Type) -> Sc {
        Sc {
            expr: Arc::new(Expr::If(c.expr.clone(), a.expr.clone(), b.expr.clone())),
            ty,
            event: c.event || a.event || b.event,
        }
    }

    fn not(a: &Sc) -> Sc {
        Sc { expr: Arc::new(Expr::Not(a.expr.clone())), ty: Type::Bool, event: a.event }
    }

    fn into_float(self) -> Sc {
        match self.ty {
            Type::Int => match &*self.expr {
                Expr::Const(Value::Int(i)) => Sc::constant(Value::Float(*i as f64), Type::Float),
                _ => Sc::patient_func(Func::ToFloat, vec![self], Type::Float),
            },
            _ => self,
        }
    }

    /// The patient-level tree (the value must read no event column).
    pub fn patient(&self) -> PExpr {
        to_patient(&self.expr)
    }

    /// Give an unnamed aggregation this value is made of the definition's name (it names the CTE).
    pub fn named(self, name: &str) -> Sc {
        if let Expr::Leaf(EventLeaf::Patient(p)) = &*self.expr
            && let Expr::Leaf(PatientLeaf::Aggregate(a)) = &**p
            && a.name.is_none()
        {
            let renamed = Arc::new(Aggregate { name: Some(name.to_string()), ..(**a).clone() });
            return Sc::patient_leaf(PatientLeaf::Aggregate(renamed), self.ty);
        }
        self
    }

    /// Does the value use nothing but the patient table's columns and constants? (What an entry
    /// selection may use.)
    fn only_patient_columns(&self) -> bool {
        let mut ok = true;
        self.expr.visit_leaves(&mut |leaf| {
            if let EventLeaf::Patient(p) = leaf {
                p.visit_leaves(&mut |l| ok &= matches!(l, PatientLeaf::Patient(_)));
            }
        });
        ok
    }

    fn const_value(&self) -> Option<&Value> {
        match &*self.expr {
            Expr::Const(v) => Some(v),
            _ => None,
        }
    }
}

/// What an expression is.
#[derive(Debug, Clone)]
pub enum Val {
    Scalar(Sc),
    Frame(FrameRef),
    Row(RowRef),
    Codes(Arc<Codelist>),
    /// A literal list: `["EHR", "DPC"]`.
    List(Vec<(Value, Span)>, Type),
    /// A column of a named selection read outside it (`alt.value`): one value per event.
    Detached {
        text: String,
    },
    /// The outcome-list parameter, which only selects outcomes.
    OutcomeList(String),
}

impl Val {
    pub fn describe(&self) -> String {
        match self {
            Val::Scalar(sc) => format!("a {}", sc.ty.name()),
            Val::Frame(_) => "a selection of events".into(),
            Val::Row(_) => "a whole event".into(),
            Val::Codes(_) => "a codelist".into(),
            Val::List(..) => "a list".into(),
            Val::Detached { text } => format!("`{text}`, one value per event"),
            Val::OutcomeList(n) => format!("the outcome list `{n}`"),
        }
    }
}

/// Where an expression is read.
#[derive(Clone, Copy)]
pub struct Cx<'f> {
    /// Inside a selection: the events whose columns bare names read.
    frame: Option<&'f FrameRef>,
    /// Inside the entry selection, where there is no index date yet.
    entry: bool,
}

impl<'f> Cx<'f> {
    pub fn patient() -> Cx<'static> {
        Cx { frame: None, entry: false }
    }

    pub fn entry() -> Cx<'static> {
        Cx { frame: None, entry: true }
    }

    pub fn events(frame: &'f FrameRef) -> Cx<'f> {
        Cx { frame: Some(frame), entry: false }
    }

    fn inside(self, frame: &FrameRef) -> Cx<'_> {
        Cx { frame: Some(frame), entry: self.entry }
    }

    fn outside(self) -> Cx<'static> {
        Cx { frame: None, entry: self.entry }
    }
}

const FUNCTIONS: [&str; 8] = ["earliest", "latest", "coalesce", "year_month", "year", "age_at", "prefix", "is_missing"];

fn diag(span: Span, message: impl Into<String>) -> Option<Diagnostic> {
    Some(Diagnostic::new(span, message))
}

impl Checker<'_> {
    pub(super) fn expr(&mut self, e: &ast::Expr, cx: Cx) -> CResult<Val> {
        let scalar = |v, ty| Ok(Val::Scalar(Sc::constant(v, ty)));
        match &e.kind {
            K::Name(n) => self.name(n, e.span, cx),
            K::Field(base, field) => self.field(base, field, cx),
            K::Int(i) => scalar(Value::Int(*i), Type::Int),
            K::Number(x) => scalar(Value::Float(*x), Type::Float),
            K::Str(s) => scalar(Value::Text(s.clone()), Type::Text),
            K::Date(d) => scalar(Value::Date(*d), Type::Date),
            K::Bool(b) => scalar(Value::Bool(*b), Type::Bool),
            K::List(items) => self.list(items, e.span),
            K::Codes { system, codes } => self.codes(system, codes),
            K::CodeFile { system, path, column } => self.code_file(system, path, column.as_ref()),
            K::Not(a) => {
                let s = self.scalar_of(a, cx)?;
                self.expect_type(&s, Type::Bool, a.span, "`not` applies to a condition")?;
                Ok(Val::Scalar(Sc::not(&s)))
            }
            K::Neg(a) => {
                let s = self.scalar_of(a, cx)?;
                if !s.ty.is_numeric() {
                    return Err(diag(a.span, format!("`-` applies to a number, not a {}", s.ty.name())));
                }
                Ok(Val::Scalar(match s.const_value() {
                    Some(Value::Int(i)) => Sc::constant(Value::Int(-i), Type::Int),
                    Some(Value::Float(x)) => Sc::constant(Value::Float(-x), Type::Float),
                    _ => Sc { expr: Arc::new(Expr::Neg(s.expr.clone())), ..s },
                }))
            }
            K::Binary(op, a, b) => self.binary(*op, a, b, e.span, cx),
            K::Between(x, lo, hi) => {
                let sx = self.scalar_of(x, cx)?;
                let slo = self.scalar_of(lo, cx)?;
                let shi = self.scalar_of(hi, cx)?;
                let ge = self.typed_binary(ast::BinOp::Ge, &sx, &slo, e.span)?;
                let le = self.typed_binary(ast::BinOp::Le, &sx, &shi, e.span)?;
                Ok(Val::Scalar(Sc::binary(BinOp::And, &ge, &le, Type::Bool)))
            }
            K::In(x, rhs) => self.in_(x, rhs, cx),
            K::If(c, a, b) => {
                let sc = self.scalar_of(c, cx)?;
                self.expect_type(&sc, Type::Bool, c.span, "`if` needs a condition")?;
                let sa = self.scalar_of(a, cx)?;
                let sb = match b {
                    Some(b) => self.scalar_of(b, cx)?,
                    None => Sc::constant(Value::Missing, sa.ty),
                };
                let span = b.as_ref().map_or(a.span, |b| a.span.to(b.span));
                let (args, ty) = self.unify(vec![sa, sb], span, "the two branches of `if`")?;
                Ok(Val::Scalar(Sc::if_(&sc, &args[0], &args[1], ty)))
            }
            K::Call(f, args) => self.call(f, args, cx),
            K::Days(inner) => {
                let s = self.scalar_of(inner, cx)?;
                self.expect_type(&s, Type::Int, inner.span, "`days` follows a whole number")?;
                Ok(Val::Scalar(s))
            }
            K::Where(s, cond) => {
                let frame = self.frame_of(s, cx)?;
                let inner = cx.inside(&frame);
                let c = self.scalar_of(cond, inner)?;
                self.expect_type(&c, Type::Bool, cond.span, "`where` needs a condition")?;
                Ok(Val::Frame(Arc::new(Frame::Filter(frame.clone(), c.expr))))
            }
            K::With(s, name, value) => {
                let frame = self.frame_of(s, cx)?;
                let v = self.scalar_of(value, cx.inside(&frame))?;
                match column_type(&frame, &name.name) {
                    Some(_) if name.name == "date" && v.ty != Type::Date => {
                        return Err(diag(
                            value.span,
                            format!("`date` must stay a date, and this is a {}", v.ty.name()),
                        ));
                    }
                    Some(_) if name.name != "date" => {
                        return Err(Some(
                            Diagnostic::new(name.span, format!("the events already have a column `{}`", name.name))
                                .help("give the computed column another name (only `date` may be replaced)"),
                        ));
                    }
                    _ => {}
                }
                if (KEYWORDS.contains(&name.name.as_str()) || BUILTINS.contains(&name.name.as_str()))
                    && name.name != "date"
                {
                    return Err(diag(
                        name.span,
                        format!("`{}` already means something in scripts; choose another name", name.name),
                    ));
                }
                Ok(Val::Frame(Arc::new(Frame::With(frame, name.name.clone(), v.expr, v.ty))))
            }
            K::Aggregate(op, of, s) => self.aggregate(*op, of.as_deref(), s, e.span, cx),
            K::Pick(op, by, s) => self.pick(*op, by.as_deref(), s, e.span, cx),
            K::AllOf(parts, within) => {
                if cx.entry {
                    return Err(diag(e.span, "an entry cannot be an `all of` combination"));
                }
                let mut frames: Vec<(String, FrameRef)> = Vec::new();
                for (name, sel) in parts {
                    let f = self.frame_of(sel, cx)?;
                    if f.root_table().is_none() {
                        return Err(diag(
                            sel.span,
                            "a part of `all of` must be events of one table, not another combination",
                        ));
                    }
                    if frames.iter().any(|(n, _)| *n == name.name) {
                        return Err(Some(
                            Diagnostic::new(name.span, format!("two parts are named `{}`", name.name))
                                .help("name them: `all of earlier = creatinine, later = creatinine within 2 days`"),
                        ));
                    }
                    frames.push((name.name.clone(), f));
                }
                if frames.len() < 2 {
                    return Err(diag(e.span, "`all of` combines two or more selections"));
                }
                let days = self.constant_days(within, "`within`")?;
                Ok(Val::Frame(Arc::new(Frame::Joint(frames, days))))
            }
        }
    }

    fn scalar_of(&mut self, e: &ast::Expr, cx: Cx) -> CResult<Sc> {
        let v = self.expr(e, cx)?;
        self.scalar(v, e.span, cx)
    }

    /// A value as a scalar, or a message that says what it is instead and what to write.
    pub(super) fn scalar(&self, v: Val, span: Span, cx: Cx) -> CResult<Sc> {
        let d = match v {
            Val::Scalar(sc) => return Ok(sc),
            Val::Detached { text } if cx.frame.is_some() => Diagnostic::new(span, format!("`{text}` belongs to another selection"))
                .help("a condition on events reads their own columns and patient-level values; pick one event of the other selection, e.g. `(last …).column`"),
            Val::Detached { text } => Diagnostic::new(span, format!("`{text}` is event-level (one value per event), and a patient-level value (one per patient) is needed here"))
                .help("say which event with `(first …)`, `(last …)`, `(highest … of …)`, or ask whether any qualifies with `exists … where …`"),
            Val::Frame(_) => Diagnostic::new(span, "a selection of events is not a value")
                .help("ask `exists …` or `count …`, or pick one event with `first …` / `last …` and read a column"),
            Val::Row(_) => Diagnostic::new(span, "a whole event is not a value").help("read one of its columns with `.`, e.g. `baseline_alt.value`"),
            Val::Codes(_) => Diagnostic::new(span, "a codelist is not a value").help("test a code against it: `yj_code in drug`"),
            Val::List(..) => Diagnostic::new(span, "a list is not a value").help("test a value against it: `source in [\"EHR\", \"DPC\"]`"),
            Val::OutcomeList(n) => Diagnostic::new(span, format!("`{n}` is an outcome list: it selects the outcomes a dataset's `outcomes` column lists")),
        };
        Err(Some(d))
    }

    /// A value that is patient-level, for a rule, a definition or a dataset column.
    pub(super) fn patient_scalar(&mut self, v: Val, e: &ast::Expr, what: &str) -> CResult<Sc> {
        match v {
            Val::Row(_) => Err(Some(
                Diagnostic::new(e.span, format!("{what} needs a value, and this is a whole event"))
                    .help("read one of its columns with `.`, e.g. `baseline_alt.value`"),
            )),
            other => {
                let sc = self.scalar(other, e.span, Cx::patient())?;
                debug_assert!(!sc.event, "outside a selection no value reads an event column");
                Ok(sc)
            }
        }
    }

    fn expect_type(&self, s: &Sc, ty: Type, span: Span, what: &str) -> CResult<()> {
        if s.ty == ty { Ok(()) } else { Err(diag(span, format!("{what}; this is a {}", s.ty.name()))) }
    }

    fn frame_of(&mut self, e: &ast::Expr, cx: Cx) -> CResult<FrameRef> {
        match self.expr(e, cx.outside())? {
            Val::Frame(f) => Ok(f),
            other => Err(Some(Diagnostic::new(e.span, format!("expected a selection of events, found {}", other.describe()))
                .help("a selection is a table (drug_order, lab_result, …) or a name defined with `events`, with `where` conditions"))),
        }
    }

    fn name(&mut self, n: &str, span: Span, cx: Cx) -> CResult<Val> {
        if let Some(frame) = cx.frame {
            match column_type(frame, n) {
                Some(ColumnType::Value(t)) => return Ok(Val::Scalar(Sc::column(n, t))),
                Some(ColumnType::Timestamp) => {
                    return Err(Some(Diagnostic::new(span, format!("`{n}` is a time of day; scripts compare the event's `date`"))
                        .help("e.g. `date between index - 90 days and index`; same-day events are ordered by their time")));
                }
                None => {}
            }
            if n == "analyte" && column_type(frame, "jlac10").is_some() && frame.root_table() == Some(Table::LabResult)
            {
                let code = Sc::column("jlac10", Type::Text);
                return Ok(Val::Scalar(Sc::patient_func(Func::Analyte, vec![code], Type::Text)));
            }
        }
        if let Some(v) = self.builtin(n, span, cx)? {
            return Ok(v);
        }
        if let Some((binding, _)) = self.names.get(n).cloned() {
            let entry_only = |what: &str| {
                Some(Diagnostic::new(span, format!("the entry selection cannot use `{n}`, {what}")).help(
                    "the entry decides the index date; put conditions on other values in a `require` or `exclude` rule",
                ))
            };
            return match binding {
                Binding::Param(i) => Ok(self.param_value(i)),
                Binding::Codes(c) => Ok(Val::Codes(c)),
                Binding::Events(f) => Ok(Val::Frame(f)),
                Binding::Scalar(sc) if cx.entry && !sc.only_patient_columns() => {
                    Err(entry_only("which looks beyond the entry event"))
                }
                Binding::Scalar(sc) => Ok(Val::Scalar(sc)),
                Binding::Row(_) if cx.entry => Err(entry_only("which looks beyond the entry event")),
                Binding::Row(r) => Ok(Val::Row(r)),
                Binding::Poisoned => Err(None),
            };
        }
        if let Some(t) = Table::from_name(n) {
            return Ok(Val::Frame(Arc::new(Frame::Table(t))));
        }
        Err(Some(self.unknown_name(n, span, cx)))
    }

    fn unknown_name(&self, n: &str, span: Span, cx: Cx) -> Diagnostic {
        if let Some(def) = self.all_definitions.get(n)
            && def.start > span.start
        {
            let (line, _) = self.source.line_col(def.start);
            return Diagnostic::new(span, format!("`{n}` is defined further down, on line {line}"))
                .help("a name must be defined before it is used; move its definition above this line");
        }
        if cx.frame.is_none()
            && let Some(t) = Table::ALL.iter().find(|t| t.column(n).is_some())
        {
            return Diagnostic::new(
                span,
                format!("`{n}` is a column of {}, and there is no event here to read it from", t.plural()),
            )
            .help(format!(
                "read it inside a selection, e.g. `exists {0} where {n} …`, or from one event: `(last {0}).{n}`",
                t.name()
            ));
        }
        let columns: Vec<String> =
            cx.frame.map(|f| f.columns().into_iter().map(|(c, _)| c).collect()).unwrap_or_default();
        let tables: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
        let mut known: Vec<&str> = columns.iter().map(String::as_str).collect();
        known.extend(self.names.keys().map(String::as_str));
        known.extend(BUILTINS);
        known.extend(tables.iter().copied());
        let guess = did_you_mean(n, known.iter().copied());
        let what = match (guess, cx.frame) {
            (Some(g), _) if tables.contains(&g) => "table",
            (Some(g), Some(_)) if columns.iter().any(|c| c == g) => "column",
            _ => "name",
        };
        let mut d = Diagnostic::new(span, format!("unknown {what} `{n}`"));
        d = match guess {
            Some(g) => d.help(format!("did you mean `{g}`?")),
            None if !columns.is_empty() => d.help(format!("the events here have the columns: {}", columns.join(", "))),
            None => d.help(format!("define it before use, or use a table ({})", tables.join(", "))),
        };
        d
    }

    fn builtin(&mut self, n: &str, span: Span, cx: Cx) -> CResult<Option<Val>> {
        let patient = |col: &'static str, ty| Ok(Some(Val::Scalar(Sc::patient_leaf(PatientLeaf::Patient(col), ty))));
        match n {
            "sex" => return patient("sex", Type::Text),
            "birth_date" => return patient("birth_date", Type::Date),
            "death_date" => return patient("death_date", Type::Date),
            "study_start" | "study_end" => {
                let Some((_, start, end)) = &self.study else {
                    return Err(self.missing(
                        "study",
                        Diagnostic::new(span, format!("`{n}` needs the study block, which comes later"))
                            .help("put the `study` block first"),
                    ));
                };
                let d = if n == "study_start" { *start } else { *end };
                return Ok(Some(Val::Scalar(Sc::constant(d.map(Value::Date).unwrap_or(Value::Missing), Type::Date))));
            }
            "index" | "entry" | "age" | "observation_start" | "observation_end" => {}
            _ => return Ok(None),
        }
        if cx.entry {
            return Err(Some(Diagnostic::new(span, format!("the entry selection cannot use `{n}`: the entry is what decides the index date"))
                .help("use the event's own columns and `age_at(date)`; put other conditions in `require` or `exclude` rules")));
        }
        if self.entry.is_none() {
            return Err(self.missing(
                "entry",
                Diagnostic::new(span, format!("`{n}` needs the index date, which the cohort's `entry` line sets"))
                    .help("use it after `entry first …` (or `entry every …`)"),
            ));
        }
        let index = Sc::patient_leaf(PatientLeaf::Index, Type::Date);
        Ok(Some(match n {
            "index" => Val::Scalar(index),
            "entry" => Val::Row(RowRef::Entry),
            "age" => {
                let birth = Sc::patient_leaf(PatientLeaf::Patient("birth_date"), Type::Date);
                Val::Scalar(Sc::patient_func(Func::AgeAt, vec![birth, index], Type::Int))
            }
            _ => {
                let (start, end) = self.observation();
                Val::Scalar(if n == "observation_start" { start } else { end })
            }
        }))
    }

    /// The earliest start and latest end of the observation periods that contain the index date.
    fn observation(&mut self) -> (Sc, Sc) {
        if let Some(o) = &self.observation {
            return o.clone();
        }
        let index = lift(Arc::new(Expr::Leaf(PatientLeaf::Index)));
        let col = |c: &str| Arc::new(Expr::Leaf(EventLeaf::Column(c.to_string())));
        let covers = Arc::new(Expr::Binary(
            BinOp::And,
            Arc::new(Expr::Binary(BinOp::Le, col("start_date"), index.clone())),
            Arc::new(Expr::Binary(BinOp::Ge, col("end_date"), index)),
        ));
        let frame = Arc::new(Frame::Filter(Arc::new(Frame::Table(Table::ObservationPeriod)), covers));
        let agg = |name: &str, kind| {
            Sc::patient_leaf(
                PatientLeaf::Aggregate(Arc::new(Aggregate { name: Some(name.into()), frame: frame.clone(), kind })),
                Type::Date,
            )
        };
        let o = (
            agg("observation_start", AggKind::Min(col("start_date"))),
            agg("observation_end", AggKind::Max(col("end_date"))),
        );
        self.observation = Some(o.clone());
        o
    }

    fn param_value(&self, i: usize) -> Val {
        let p = &self.params[i];
        let constant = |v: Option<Value>, ty| Val::Scalar(Sc::constant(v.unwrap_or(Value::Missing), ty));
        match (&p.kind, &p.value) {
            (ParamKind::Date | ParamKind::Cutoff, v) => constant(
                match v {
                    Some(ParamValue::Date(d)) => Some(Value::Date(*d)),
                    _ => None,
                },
                Type::Date,
            ),
            (ParamKind::Integer, v) => constant(
                match v {
                    Some(ParamValue::Int(n)) => Some(Value::Int(*n)),
                    _ => None,
                },
                Type::Int,
            ),
            (ParamKind::Number, v) => constant(
                match v {
                    Some(ParamValue::Float(x)) => Some(Value::Float(*x)),
                    _ => None,
                },
                Type::Float,
            ),
            (ParamKind::Codelist(system), v) => {
                let patterns = match v {
                    Some(ParamValue::Codes(list)) => {
                        list.iter().filter_map(|c| codes::entry(*system, c).ok()).collect()
                    }
                    _ => Vec::new(),
                };
                Val::Codes(Arc::new(Codelist::Codes { system: *system, patterns }))
            }
            (ParamKind::Outcomes, _) => Val::OutcomeList(p.name.clone()),
        }
    }

    fn field(&mut self, base: &ast::Expr, field: &ast::Ident, cx: Cx) -> CResult<Val> {
        if let (Some(frame), K::Name(part)) = (cx.frame, &base.kind)
            && let Some(ty) = column_type(frame, &format!("{part}.{}", field.name))
        {
            let name = format!("{part}.{}", field.name);
            return match ty {
                ColumnType::Value(t) => Ok(Val::Scalar(Sc::column(&name, t))),
                ColumnType::Timestamp => {
                    Err(diag(field.span, format!("`{name}` is a time of day; compare `{part}.date`")))
                }
            };
        }
        match self.expr(base, cx)? {
            Val::Row(r) => self.row_field(r, field),
            // `alt.value` inside a selection of `alt`'s own events is just `value`.
            Val::Frame(f) if cx.frame.is_some_and(|own| derives_from(own, &f)) => {
                self.name(&field.name, field.span, cx)
            }
            Val::Frame(f) => match column_type(&f, &field.name) {
                Some(ColumnType::Value(_)) => {
                    let base_text = match &base.kind {
                        K::Name(n) => n.clone(),
                        _ => "…".into(),
                    };
                    Ok(Val::Detached { text: format!("{base_text}.{}", field.name) })
                }
                _ => Err(self.no_column(&f, field)),
            },
            other => Err(Some(
                Diagnostic::new(
                    field.span,
                    format!("`.{}` reads a column of one event, and this is {}", field.name, other.describe()),
                )
                .help("pick an event first, e.g. `(last alt).value`, or use `entry.…`"),
            )),
        }
    }

    fn no_column(&self, frame: &Frame, field: &ast::Ident) -> Option<Diagnostic> {
        let columns: Vec<String> =
            frame.columns().into_iter().filter(|(_, t)| *t != ColumnType::Timestamp).map(|(c, _)| c).collect();
        let mut d = Diagnostic::new(field.span, format!("unknown column `{}`", field.name));
        d = match did_you_mean(&field.name, columns.iter().map(String::as_str)) {
            Some(g) => d.help(format!("did you mean `{g}`?")),
            None => d.help(format!("the columns are: {}", columns.join(", "))),
        };
        Some(d)
    }

    fn row_field(&mut self, row: RowRef, field: &ast::Ident) -> CResult<Val> {
        let f = field.name.as_str();
        let frame_column = |frame: &Frame, leaf: &dyn Fn(String) -> PatientLeaf| match column_type(frame, f) {
            Some(ColumnType::Value(ty)) => Ok(Val::Scalar(Sc::patient_leaf(leaf(f.to_string()), ty))),
            Some(ColumnType::Timestamp) => {
                Err(diag(field.span, format!("`{f}` is a time of day; read the event's `date`")))
            }
            None => Err(self.no_column(frame, field)),
        };
        match row {
            RowRef::Pick(p) => frame_column(&p.frame.clone(), &|c| PatientLeaf::Pick(p.clone(), c)),
            RowRef::Entry => {
                let frame = self.entry.as_ref().expect("`entry` resolves only after the entry").frame.clone();
                frame_column(&frame, &|c| PatientLeaf::Entry(c))
            }
            RowRef::Exposure(x) => {
                let part = |p| Sc::patient_leaf(PatientLeaf::Exposure(x.clone(), p), Type::Date);
                match f {
                    "start" => Ok(Val::Scalar(part(ExposurePart::Start))),
                    "last_supplied" => Ok(Val::Scalar(part(ExposurePart::LastSupplied))),
                    "end" => {
                        let grace = Sc::constant(Value::Int(x.grace), Type::Int);
                        Ok(Val::Scalar(Sc::binary(BinOp::AddDays, &part(ExposurePart::LastSupplied), &grace, Type::Date)))
                    }
                    _ => Err(Some(Diagnostic::new(field.span, format!("an exposure has no `{f}`"))
                        .help("it has `start` (first order), `last_supplied` (last day covered) and `end` (last day covered + grace)"))),
                }
            }
            RowRef::Outcome(i) => {
                let o = &self.outcomes[i];
                match f {
                    "date" => Ok(Val::Scalar(o.date.clone())),
                    "event" => Ok(Val::Scalar(o.event.clone())),
                    "days" => Ok(Val::Scalar(o.days.clone())),
                    _ => Err(Some(Diagnostic::new(field.span, format!("an outcome has no `{f}`"))
                        .help("it has `event` (true or false), `date` (of the event, if any) and `days` (to the event or the end of follow-up)"))),
                }
            }
        }
    }

    fn list(&mut self, items: &[ast::Expr], span: Span) -> CResult<Val> {
        if items.is_empty() {
            return Err(diag(span, "an empty list matches nothing; give at least one item"));
        }
        let mut values = Vec::new();
        let mut ty: Option<Type> = None;
        for item in items {
            let (v, t) = match &item.kind {
                K::Str(s) => (Value::Text(s.clone()), Type::Text),
                K::Int(i) => (Value::Int(*i), Type::Int),
                K::Number(x) => (Value::Float(*x), Type::Float),
                K::Date(d) => (Value::Date(*d), Type::Date),
                K::Neg(inner) => match inner.kind {
                    K::Int(i) => (Value::Int(-i), Type::Int),
                    K::Number(x) => (Value::Float(-x), Type::Float),
                    _ => return Err(diag(item.span, "a list holds values written in the script")),
                },
                _ => {
                    return Err(Some(
                        Diagnostic::new(item.span, "a list holds values written in the script")
                            .help("codes and text go in quotes: [\"E11\", \"E14\"]"),
                    ));
                }
            };
            ty = Some(match ty {
                None => t,
                Some(prev) if prev == t => prev,
                Some(prev) if prev.is_numeric() && t.is_numeric() => Type::Float,
                Some(prev) => {
                    return Err(diag(
                        item.span,
                        format!("a list holds values of one type: this is a {} after a {}", t.name(), prev.name()),
                    ));
                }
            });
            values.push((v, item.span));
        }
        Ok(Val::List(values, ty.expect("the list is not empty")))
    }

    fn codes(&mut self, system_name: &ast::Ident, items: &[ast::Expr]) -> CResult<Val> {
        let system = CodeSystem::from_name(&system_name.name).expect("the parser only reads code systems here");
        let mut patterns = Vec::new();
        for item in items {
            let K::Str(code) = &item.kind else {
                return Err(Some(
                    Diagnostic::new(item.span, "codes are written in quotes").help("e.g. icd10 [\"E11\", \"E14\"]"),
                ));
            };
            patterns.push(codes::entry(system, code).map_err(|why| code_diag(item.span, why, system))?);
        }
        if patterns.is_empty() {
            return Err(diag(system_name.span, "a codelist needs at least one code"));
        }
        Ok(Val::Codes(Arc::new(Codelist::Codes { system, patterns })))
    }

    fn code_file(&mut self, system: &ast::Ident, path: &ast::Text, column: Option<&ast::Text>) -> CResult<Val> {
        let system = CodeSystem::from_name(&system.name).expect("the parser only reads code systems here");
        let file = self.dir.join(&path.text);
        let patterns = codes::read_file(&file, column.map(|c| c.text.as_str()), system).map_err(|why| {
            Some(Diagnostic::new(path.span, why).help(format!(
                "a codelist file has a header and a column `{}` with one {system} code per line (paths are relative to the script)",
                column.map_or("code", |c| c.text.as_str())
            )))
        })?;
        Ok(Val::Codes(Arc::new(Codelist::Codes { system, patterns })))
    }

    fn binary(&mut self, op: ast::BinOp, a: &ast::Expr, b: &ast::Expr, span: Span, cx: Cx) -> CResult<Val> {
        let va = self.expr(a, cx)?;
        // `analyte = "alt"`: the result's JLAC10 code is the analyte's.
        if matches!(op, ast::BinOp::Eq | ast::BinOp::Ne)
            && let Val::Scalar(sa) = &va
            && is_analyte(sa)
        {
            let K::Str(id) = &b.kind else {
                return Err(Some(
                    Diagnostic::new(b.span, "`analyte` is compared with an analyte id in quotes")
                        .help("e.g. analyte = \"alt\""),
                ));
            };
            let codes =
                Arc::new(Codelist::Codes { system: CodeSystem::Jlac10, patterns: vec![analyte_pattern(id, b.span)?] });
            let is = Sc {
                expr: Arc::new(Expr::InCodes(Sc::column("jlac10", Type::Text).expr, codes)),
                ty: Type::Bool,
                event: true,
            };
            return Ok(Val::Scalar(if op == ast::BinOp::Eq { is } else { Sc::not(&is) }));
        }
        let vb = self.expr(b, cx)?;
        if matches!(op, ast::BinOp::Add | ast::BinOp::Sub)
            && let Some(v) = self.codelist_algebra(op, &va, &vb, a, b)?
        {
            return Ok(v);
        }
        // A column of another selection compared with a patient-level value, outside any selection.
        if cx.frame.is_none() {
            for (x, y, xe) in [(&va, &vb, a), (&vb, &va, b)] {
                if let (Val::Detached { text }, Val::Scalar(other)) = (x, y)
                    && !other.event
                {
                    return Err(Some(Diagnostic::new(xe.span, format!(
                        "this compares `{text}`, an event-level value (one per event), with a patient-level value (one per patient)"
                    ))
                    .help(format!(
                        "say which event, e.g. `(last {0}).{1}`, or ask whether any event qualifies: `exists {0} where {1} …`",
                        text.split('.').next().unwrap_or(""),
                        text.split('.').nth(1).unwrap_or("value")
                    ))));
                }
            }
        }
        let sa = self.scalar(va, a.span, cx)?;
        let sb = self.scalar(vb, b.span, cx)?;
        self.typed_binary(op, &sa, &sb, span).map(Val::Scalar)
    }

    fn codelist_algebra(
        &mut self,
        op: ast::BinOp,
        va: &Val,
        vb: &Val,
        a: &ast::Expr,
        b: &ast::Expr,
    ) -> CResult<Option<Val>> {
        let as_codes = |v: &Val, system: Option<CodeSystem>| -> CResult<Option<Arc<Codelist>>> {
            match (v, system) {
                (Val::Codes(c), _) => Ok(Some(c.clone())),
                (Val::List(items, Type::Text), Some(system)) => {
                    let mut patterns = Vec::new();
                    for (v, span) in items {
                        let code = v.as_text().unwrap_or_default();
                        patterns.push(codes::entry(system, code).map_err(|why| code_diag(*span, why, system))?);
                    }
                    Ok(Some(Arc::new(Codelist::Codes { system, patterns })))
                }
                _ => Ok(None),
            }
        };
        let system = match (va, vb) {
            (Val::Codes(c), _) | (_, Val::Codes(c)) => Some(c.system()),
            _ => return Ok(None),
        };
        let (Some(x), Some(y)) = (as_codes(va, system)?, as_codes(vb, system)?) else {
            return Err(Some(
                Diagnostic::new(a.span.to(b.span), "a codelist combines with another codelist or a list of codes")
                    .help("e.g. `drug + comparator`, `diabetes - icd10 [\"E10\"]`"),
            ));
        };
        if x.system() != y.system() {
            return Err(Some(
                Diagnostic::new(
                    a.span.to(b.span),
                    format!("cannot combine a {} codelist with a {} codelist", x.system(), y.system()),
                )
                .help("codelists of one code system combine; keep separate codelists for separate columns"),
            ));
        }
        Ok(Some(Val::Codes(Arc::new(if op == ast::BinOp::Add {
            Codelist::Union(x, y)
        } else {
            Codelist::Minus(x, y)
        }))))
    }

    pub(super) fn typed_binary(&self, op: ast::BinOp, a: &Sc, b: &Sc, span: Span) -> CResult<Sc> {
        use Type::*;
        use ast::BinOp as A;
        let mismatch = |help: &str| {
            let d = Diagnostic::new(
                span,
                format!("`{}` cannot combine a {} and a {}", op.symbol(), a.ty.name(), b.ty.name()),
            );
            Err(Some(if help.is_empty() { d } else { d.help(help) }))
        };
        let numeric = a.ty.is_numeric() && b.ty.is_numeric();
        let both_int = a.ty == Int && b.ty == Int;
        let model = match op {
            A::And | A::Or => {
                if a.ty != Bool || b.ty != Bool {
                    return mismatch("`and` and `or` join conditions");
                }
                return Ok(Sc::binary(if op == A::And { BinOp::And } else { BinOp::Or }, a, b, Bool));
            }
            A::Eq | A::Ne | A::Lt | A::Le | A::Gt | A::Ge => {
                let comparable = numeric || (a.ty == b.ty && (a.ty != Bool || matches!(op, A::Eq | A::Ne)));
                if !comparable {
                    let help = match (a.ty, b.ty) {
                        (Date, Int) | (Int, Date) => {
                            "a date compares with a date: `index + 30 days`, or count days: `date - index`"
                        }
                        (Text, Int) | (Text, Float) | (Int, Text) | (Float, Text) => {
                            "numbers are written without quotes; text and codes with them"
                        }
                        _ => "",
                    };
                    return mismatch(help);
                }
                let m = match op {
                    A::Eq => BinOp::Eq,
                    A::Ne => BinOp::Ne,
                    A::Lt => BinOp::Lt,
                    A::Le => BinOp::Le,
                    A::Gt => BinOp::Gt,
                    _ => BinOp::Ge,
                };
                return Ok(Sc::binary(m, a, b, Bool));
            }
            A::Add => match (a.ty, b.ty) {
                (Date, Int) => return Ok(Sc::binary(BinOp::AddDays, a, b, Date)),
                (Int, Date) => return Ok(Sc::binary(BinOp::AddDays, b, a, Date)),
                (Date, Date) => return mismatch("add days to a date: `index + 30 days`"),
                _ if numeric => BinOp::Add,
                _ => return mismatch(""),
            },
            A::Sub => match (a.ty, b.ty) {
                (Date, Int) => return Ok(Sc::binary(BinOp::SubDays, a, b, Date)),
                (Date, Date) => return Ok(Sc::binary(BinOp::DaysBetween, a, b, Int)),
                _ if numeric => BinOp::Sub,
                _ => return mismatch(""),
            },
            A::Mul => {
                if !numeric {
                    return mismatch("");
                }
                BinOp::Mul
            }
            A::Div => {
                if !numeric {
                    return mismatch("");
                }
                return Ok(Sc::binary(BinOp::Div, a, b, Float));
            }
            A::Pow => {
                if !numeric {
                    return mismatch("");
                }
                if !matches!(b.const_value(), Some(Value::Int(_) | Value::Float(_) | Value::Missing)) {
                    return Err(Some(
                        Diagnostic::new(span, "the exponent of `^` must be a number written in the script")
                            .help("e.g. `value ^ -1.094`"),
                    ));
                }
                return Ok(Sc::binary(BinOp::Pow, a, b, Float));
            }
        };
        if both_int {
            Ok(Sc::binary(model, a, b, Int))
        } else {
            Ok(Sc::binary(model, &a.clone().into_float(), &b.clone().into_float(), Float))
        }
    }

    fn in_(&mut self, x: &ast::Expr, rhs: &ast::Expr, cx: Cx) -> CResult<Val> {
        let sx = self.scalar_of(x, cx)?;
        if is_analyte(&sx) {
            let K::List(items) = &rhs.kind else {
                return Err(Some(
                    Diagnostic::new(rhs.span, "`analyte in` takes a list of analyte ids")
                        .help("e.g. analyte in [\"alt\", \"ast\"]"),
                ));
            };
            let mut patterns = Vec::new();
            for item in items {
                let K::Str(id) = &item.kind else {
                    return Err(diag(item.span, "analyte ids are written in quotes"));
                };
                patterns.push(analyte_pattern(id, item.span)?);
            }
            let codes = Arc::new(Codelist::Codes { system: CodeSystem::Jlac10, patterns });
            return Ok(Val::Scalar(Sc {
                expr: Arc::new(Expr::InCodes(Sc::column("jlac10", Type::Text).expr, codes)),
                ty: Type::Bool,
                event: true,
            }));
        }
        let vr = self.expr(rhs, cx.outside())?;
        let system = self.code_system(&sx, cx);
        let in_codes = |codes: Arc<Codelist>| {
            Val::Scalar(Sc { expr: Arc::new(Expr::InCodes(sx.expr.clone(), codes)), ty: Type::Bool, event: sx.event })
        };
        match vr {
            Val::Codes(codes) => {
                if sx.ty != Type::Text {
                    return Err(diag(
                        x.span,
                        format!("a codelist matches codes (text), and this is a {}", sx.ty.name()),
                    ));
                }
                if let Some(s) = system
                    && s != codes.system()
                {
                    return Err(Some(
                        Diagnostic::new(
                            x.span.to(rhs.span),
                            format!(
                                "`{}` holds {s} codes, but this is a {} codelist",
                                self.source.slice(x.span),
                                codes.system()
                            ),
                        )
                        .help("match each code column against a codelist of its own system"),
                    ));
                }
                Ok(in_codes(codes))
            }
            Val::List(items, ty) => match system {
                Some(s) => {
                    let mut patterns = Vec::new();
                    for (v, span) in &items {
                        let Some(code) = v.as_text() else {
                            return Err(diag(*span, "codes are written in quotes"));
                        };
                        patterns.push(codes::entry(s, code).map_err(|why| code_diag(*span, why, s))?);
                    }
                    Ok(in_codes(Arc::new(Codelist::Codes { system: s, patterns })))
                }
                None => {
                    let fits = ty == sx.ty || (ty.is_numeric() && sx.ty.is_numeric());
                    if !fits {
                        return Err(diag(
                            rhs.span,
                            format!("a list of {} values cannot hold a {}", ty.name(), sx.ty.name()),
                        ));
                    }
                    let values = items.into_iter().map(|(v, _)| v).collect();
                    Ok(Val::Scalar(Sc {
                        expr: Arc::new(Expr::InList(sx.expr.clone(), values)),
                        ty: Type::Bool,
                        event: sx.event,
                    }))
                }
            },
            other => Err(Some(
                Diagnostic::new(rhs.span, format!("`in` takes a codelist or a list, not {}", other.describe()))
                    .help("e.g. `yj_code in drug`, `source in [\"EHR\", \"DPC\"]`"),
            )),
        }
    }

    /// The code system of a value that is a code column (of the events, the entry or a picked event).
    fn code_system(&self, sc: &Sc, cx: Cx) -> Option<CodeSystem> {
        match &*sc.expr {
            Expr::Leaf(EventLeaf::Column(c)) => cx.frame.and_then(|f| column_system(f, c)),
            Expr::Leaf(EventLeaf::Patient(p)) => match &**p {
                Expr::Leaf(PatientLeaf::Entry(c)) => self.entry.as_ref().and_then(|e| column_system(&e.frame, c)),
                Expr::Leaf(PatientLeaf::Pick(pick, c)) => column_system(&pick.frame, c),
                _ => None,
            },
            _ => None,
        }
    }

    /// One type for several values: equal types, or numbers (whole numbers become numbers).
    fn unify(&self, values: Vec<Sc>, span: Span, what: &str) -> CResult<(Vec<Sc>, Type)> {
        let present: Vec<Type> =
            values.iter().filter(|v| v.const_value().is_none_or(|c| !c.is_missing())).map(|v| v.ty).collect();
        let first = present.first().copied().unwrap_or(values[0].ty);
        let ty = if present.iter().all(|t| *t == first) {
            first
        } else if present.iter().all(|t| t.is_numeric()) {
            Type::Float
        } else {
            let names: Vec<&str> = values.iter().map(|v| v.ty.name()).collect();
            return Err(Some(
                Diagnostic::new(span, format!("{what} must have one type, not {}", names.join(" and ")))
                    .help("make them all texts, all numbers or all dates"),
            ));
        };
        let values = values
            .into_iter()
            .map(|v| match v.const_value() {
                Some(Value::Missing) => Sc { ty, ..v },
                _ if ty == Type::Float => v.into_float(),
                _ => v,
            })
            .collect();
        Ok((values, ty))
    }

    fn call(&mut self, f: &ast::Ident, args: &[ast::Expr], cx: Cx) -> CResult<Val> {
        let arity = |n: usize, exact: bool| -> CResult<()> {
            if (exact && args.len() != n) || (!exact && args.len() < n) {
                let count = if exact { format!("{n}") } else { format!("{n} or more") };
                return Err(diag(
                    f.span,
                    format!("`{}` takes {count} argument{}", f.name, if n == 1 && exact { "" } else { "s" }),
                ));
            }
            Ok(())
        };
        let date_arg = |this: &mut Self, e: &ast::Expr| -> CResult<Sc> {
            let s = this.scalar_of(e, cx)?;
            this.expect_type(&s, Type::Date, e.span, &format!("`{}` takes a date", f.name))?;
            Ok(s)
        };
        let sc = match f.name.as_str() {
            "earliest" | "latest" | "coalesce" => {
                arity(2, false)?;
                let values = args.iter().map(|a| self.scalar_of(a, cx)).collect::<CResult<Vec<_>>>()?;
                let span = args[0].span.to(args[args.len() - 1].span);
                let (values, ty) = self.unify(values, span, &format!("the arguments of `{}`", f.name))?;
                if f.name != "coalesce" && !(ty == Type::Date || ty.is_numeric()) {
                    return Err(diag(span, format!("`{}` compares dates or numbers, not {}", f.name, ty.name())));
                }
                let func = match f.name.as_str() {
                    "earliest" => Func::Earliest,
                    "latest" => Func::Latest,
                    _ => Func::Coalesce,
                };
                Sc::patient_func(func, values, ty)
            }
            "year_month" | "year" => {
                arity(1, true)?;
                let d = date_arg(self, &args[0])?;
                if f.name == "year" {
                    Sc::patient_func(Func::Year, vec![d], Type::Int)
                } else {
                    Sc::patient_func(Func::YearMonth, vec![d], Type::Text)
                }
            }
            "age_at" => {
                arity(1, true)?;
                let d = date_arg(self, &args[0])?;
                let birth = Sc::patient_leaf(PatientLeaf::Patient("birth_date"), Type::Date);
                Sc::patient_func(Func::AgeAt, vec![birth, d], Type::Int)
            }
            "prefix" => {
                arity(2, true)?;
                let s = self.scalar_of(&args[0], cx)?;
                self.expect_type(&s, Type::Text, args[0].span, "`prefix` takes a text")?;
                let n = match args[1].kind {
                    K::Int(n) if n > 0 => n as usize,
                    _ => {
                        return Err(diag(
                            args[1].span,
                            "the length of `prefix` is a whole number above 0 written in the script",
                        ));
                    }
                };
                Sc::patient_func(Func::Prefix(n), vec![s], Type::Text)
            }
            "is_missing" => {
                arity(1, true)?;
                let s = self.scalar_of(&args[0], cx)?;
                Sc::patient_func(Func::IsMissing, vec![s], Type::Bool)
            }
            other => {
                let mut d = Diagnostic::new(f.span, format!("unknown function `{other}`"));
                d = match did_you_mean(other, FUNCTIONS) {
                    Some(g) => d.help(format!("did you mean `{g}`?")),
                    None => d.help(format!("the functions are: {}", FUNCTIONS.join(", "))),
                };
                return Err(Some(d));
            }
        };
        Ok(Val::Scalar(sc))
    }

    fn aggregate(&mut self, op: AggOp, of: Option<&ast::Expr>, s: &ast::Expr, span: Span, cx: Cx) -> CResult<Val> {
        self.not_in_entry(span, cx)?;
        let frame = self.frame_of(s, cx)?;
        let of_value = |this: &mut Self, what: &str, allowed: &dyn Fn(Type) -> bool| -> CResult<Sc> {
            let e = of.expect("the parser gives sum, min and max an expression");
            let v = this.scalar_of(e, Cx::events(&frame))?;
            if !allowed(v.ty) {
                return Err(diag(e.span, format!("{what}; this is a {}", v.ty.name())));
            }
            Ok(v)
        };
        let orderable = |t: Type| t.is_numeric() || t == Type::Date || t == Type::Text;
        let (kind, ty) = match op {
            AggOp::Exists | AggOp::No => (AggKind::Exists, Type::Bool),
            AggOp::Count => (AggKind::Count, Type::Int),
            AggOp::Sum => {
                let v = of_value(self, "`sum` adds whole numbers (as days_supply)", &|t| t == Type::Int)?;
                (AggKind::Sum(v.expr), Type::Int)
            }
            AggOp::Min | AggOp::Max => {
                let v = of_value(self, "`min` and `max` compare numbers, dates or text", &orderable)?;
                (if op == AggOp::Min { AggKind::Min(v.expr) } else { AggKind::Max(v.expr) }, v.ty)
            }
        };
        let sc = Sc::patient_leaf(PatientLeaf::Aggregate(Arc::new(Aggregate { name: None, frame, kind })), ty);
        Ok(Val::Scalar(if op == AggOp::No { Sc::not(&sc) } else { sc }))
    }

    fn pick(&mut self, op: PickOp, by: Option<&ast::Expr>, s: &ast::Expr, span: Span, cx: Cx) -> CResult<Val> {
        self.not_in_entry(span, cx)?;
        let frame = self.frame_of(s, cx)?;
        let order = match op {
            PickOp::First => PickOrder::First,
            PickOp::Last => PickOrder::Last,
            PickOp::Highest | PickOp::Lowest => {
                let e = by.expect("the parser gives highest and lowest an expression");
                let v = self.scalar_of(e, Cx::events(&frame))?;
                if !(v.ty.is_numeric() || v.ty == Type::Date || v.ty == Type::Text) {
                    return Err(diag(
                        e.span,
                        format!("`highest` and `lowest` compare numbers, dates or text; this is a {}", v.ty.name()),
                    ));
                }
                if op == PickOp::Highest { PickOrder::Highest(v.expr) } else { PickOrder::Lowest(v.expr) }
            }
        };
        Ok(Val::Row(RowRef::Pick(Arc::new(Pick { name: None, frame, order }))))
    }

    fn not_in_entry(&self, span: Span, cx: Cx) -> CResult<()> {
        if cx.entry {
            return Err(Some(
                Diagnostic::new(span, "the entry selection cannot look at other events")
                    .help("enter on the events themselves, then add `require` or `exclude` rules that look at others"),
            ));
        }
        Ok(())
    }
}

fn is_analyte(sc: &Sc) -> bool {
    matches!(&*sc.expr, Expr::Func(Func::Analyte, _))
}

fn analyte_pattern(id: &str, span: Span) -> CResult<Pattern> {
    match tables::analyte(id) {
        Some(a) => {
            Ok(Pattern::Analyte { analyte_code: a.analyte_code.clone(), specimen_code: a.specimen_code.clone() })
        }
        None => {
            let ids: Vec<&str> = tables::analytes().iter().map(|a| a.id.as_str()).collect();
            let mut d = Diagnostic::new(span, format!("`{id}` is not an analyte of the lab master"));
            d = match did_you_mean(id, ids.iter().copied()) {
                Some(g) => d.help(format!("did you mean \"{g}\"?")),
                None => d.help(format!("the analytes are: {}", ids.join(", "))),
            };
            Err(Some(d))
        }
    }
}

fn code_diag(span: Span, why: String, system: CodeSystem) -> Option<Diagnostic> {
    Some(Diagnostic::new(span, why).help(codes::entry_help(system)))
}

/// Is `frame` the selection `base`, or `base` narrowed by `where` and `with`?
fn derives_from(frame: &Frame, base: &FrameRef) -> bool {
    if std::ptr::eq(frame, &**base) {
        return true;
    }
    match frame {
        Frame::Filter(inner, _) | Frame::With(inner, ..) => derives_from(inner, base),
        Frame::Table(_) | Frame::Joint(..) => false,
    }
}
