//! Expressions: the dispatcher that sends each kind of expression to the part of the checker that
//! knows it, the operators that need no more than a line or two, and the kinds of value a statement
//! asks for (a scalar, a patient-level value, a condition, a date, a constant).
//!
//! Inside a selection (`where`, `with`, `of`), bare names are the events' columns first, then
//! definitions and built-ins (see `names`).

use super::*;
use crate::script::ast::ExprKind as K;

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
            K::Not(a) => self.not(a, cx),
            K::Neg(a) => self.neg(a, cx),
            K::Binary(op, a, b) => self.binary(*op, a, b, e.span, cx),
            K::Between(x, lo, hi) => self.between(x, lo, hi, e.span, cx),
            K::In(x, rhs) => self.in_(x, rhs, cx),
            K::If(c, a, b) => self.if_(c, a, b.as_deref(), cx),
            K::Call(f, args) => self.call(f, args, cx),
            K::Days(inner) => {
                let s = self.scalar_of(inner, cx)?;
                self.expect_type(&s, Type::Int, inner.span, "`days` follows a whole number")?;
                Ok(Val::Scalar(s))
            }
            K::Where(s, cond) => self.where_(s, cond, cx),
            K::With(s, name, value) => self.with(s, name, value, cx),
            K::Aggregate(op, of, s) => self.aggregate(*op, of.as_deref(), s, e.span, cx),
            K::Pick(op, by, s) => self.pick(*op, by.as_deref(), s, e.span, cx),
            K::AllOf(parts, within) => self.all_of(parts, within, e.span, cx),
        }
    }

    fn not(&mut self, a: &ast::Expr, cx: Cx) -> CResult<Val> {
        let s = self.scalar_of(a, cx)?;
        self.expect_type(&s, Type::Bool, a.span, "`not` applies to a condition")?;
        Ok(Val::Scalar(Sc::not(&s)))
    }

    fn neg(&mut self, a: &ast::Expr, cx: Cx) -> CResult<Val> {
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

    fn between(&mut self, x: &ast::Expr, lo: &ast::Expr, hi: &ast::Expr, span: Span, cx: Cx) -> CResult<Val> {
        let sx = self.scalar_of(x, cx)?;
        let slo = self.scalar_of(lo, cx)?;
        let shi = self.scalar_of(hi, cx)?;
        let ge = operators::typed_binary(ast::BinOp::Ge, &sx, &slo, span)?;
        let le = operators::typed_binary(ast::BinOp::Le, &sx, &shi, span)?;
        Ok(Val::Scalar(Sc::binary(BinOp::And, &ge, &le, Type::Bool)))
    }

    fn if_(&mut self, c: &ast::Expr, a: &ast::Expr, b: Option<&ast::Expr>, cx: Cx) -> CResult<Val> {
        let sc = self.scalar_of(c, cx)?;
        self.expect_type(&sc, Type::Bool, c.span, "`if` needs a condition")?;
        let sa = self.scalar_of(a, cx)?;
        let sb = match b {
            Some(b) => self.scalar_of(b, cx)?,
            None => Sc::constant(Value::Missing, sa.ty),
        };
        let span = b.map_or(a.span, |b| a.span.to(b.span));
        let (args, ty) = operators::unify(vec![sa, sb], span, "the two branches of `if`")?;
        Ok(Val::Scalar(Sc::if_(&sc, &args[0], &args[1], ty)))
    }

    pub(super) fn scalar_of(&mut self, e: &ast::Expr, cx: Cx) -> CResult<Sc> {
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

    pub(super) fn expect_type(&self, s: &Sc, ty: Type, span: Span, what: &str) -> CResult<()> {
        if s.ty == ty { Ok(()) } else { Err(diag(span, format!("{what}; this is a {}", s.ty.name()))) }
    }

    /// A condition with one answer per cohort row.
    pub(super) fn patient_condition(&mut self, e: &ast::Expr, what: &str) -> CResult<Sc> {
        let v = self.expr(e, Cx::patient())?;
        let sc = self.patient_scalar(v, e, what)?;
        if sc.ty != Type::Bool {
            return Err(Some(
                Diagnostic::new(e.span, format!("{what} must be a condition (true or false), not a {}", sc.ty.name()))
                    .help("compare the value, e.g. `(count …) >= 2`; `exists …` asks whether there is any"),
            ));
        }
        Ok(sc)
    }

    pub(super) fn patient_date(&mut self, e: &ast::Expr, what: &str) -> CResult<Sc> {
        let v = self.expr(e, Cx::patient())?;
        let sc = self.patient_scalar(v, e, what)?;
        if sc.ty != Type::Date {
            return Err(Some(Diagnostic::new(e.span, format!("{what} must be a date, not a {}", sc.ty.name()))));
        }
        Ok(sc)
    }

    /// A date known before any data are read: a date or a date parameter (`None` while only
    /// checking, for an unset parameter).
    pub(super) fn constant_date(&mut self, e: &ast::Expr, what: &str) -> CResult<Option<i32>> {
        let v = self.expr(e, Cx::patient())?;
        match v {
            Val::Scalar(sc) if sc.ty == Type::Date => match &*sc.expr {
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
    pub(super) fn constant_days(&mut self, e: &ast::Expr, what: &str) -> CResult<i64> {
        let v = self.expr(e, Cx::patient())?;
        match v {
            Val::Scalar(sc) if sc.ty == Type::Int => match &*sc.expr {
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
}
