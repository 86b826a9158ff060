//! Functions (`earliest`, `age_at`, `prefix`, …), aggregates over a selection (`exists`, `no`,
//! `count`, `sum`, `min`, `max`) and picks of one event (`first`, `last`, `highest … of`,
//! `lowest … of`): each checks its arguments' number and types. Aggregates and picks look at other
//! events, which the entry selection may not: it decides the index date.

use super::*;
use crate::script::ast::{AggOp, ExprKind as K, PickOp};

const FUNCTIONS: [&str; 8] = ["earliest", "latest", "coalesce", "year_month", "year", "age_at", "prefix", "is_missing"];

impl Checker<'_> {
    pub(super) fn call(&mut self, f: &ast::Ident, args: &[ast::Expr], cx: Cx) -> CResult<Val> {
        let sc = match f.name.as_str() {
            "earliest" | "latest" | "coalesce" => {
                arity(f, args, 2, false)?;
                self.choice(f, args, cx)?
            }
            "year_month" | "year" => {
                arity(f, args, 1, true)?;
                let d = self.date_arg(f, &args[0], cx)?;
                if f.name == "year" {
                    Sc::patient_func(Func::Year, vec![d], Type::Int)
                } else {
                    Sc::patient_func(Func::YearMonth, vec![d], Type::Text)
                }
            }
            "age_at" => {
                arity(f, args, 1, true)?;
                Sc::age_at(self.date_arg(f, &args[0], cx)?)
            }
            "prefix" => {
                arity(f, args, 2, true)?;
                self.prefix(&args[0], &args[1], cx)?
            }
            "is_missing" => {
                arity(f, args, 1, true)?;
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

    /// `earliest`, `latest` (of dates or numbers) and `coalesce` (the first present value): two or
    /// more arguments of one type.
    fn choice(&mut self, f: &ast::Ident, args: &[ast::Expr], cx: Cx) -> CResult<Sc> {
        let values = args.iter().map(|a| self.scalar_of(a, cx)).collect::<CResult<Vec<_>>>()?;
        let span = args[0].span.to(args[args.len() - 1].span);
        let (values, ty) = operators::unify(values, span, &format!("the arguments of `{}`", f.name))?;
        if f.name != "coalesce" && !(ty == Type::Date || ty.is_numeric()) {
            return Err(diag(span, format!("`{}` compares dates or numbers, not {}", f.name, ty.name())));
        }
        let func = match f.name.as_str() {
            "earliest" => Func::Earliest,
            "latest" => Func::Latest,
            _ => Func::Coalesce,
        };
        Ok(Sc::patient_func(func, values, ty))
    }

    fn date_arg(&mut self, f: &ast::Ident, e: &ast::Expr, cx: Cx) -> CResult<Sc> {
        let s = self.scalar_of(e, cx)?;
        self.expect_type(&s, Type::Date, e.span, &format!("`{}` takes a date", f.name))?;
        Ok(s)
    }

    /// `prefix(text, n)`: the first `n` characters, `n` written in the script.
    fn prefix(&mut self, text: &ast::Expr, length: &ast::Expr, cx: Cx) -> CResult<Sc> {
        let s = self.scalar_of(text, cx)?;
        self.expect_type(&s, Type::Text, text.span, "`prefix` takes a text")?;
        let n = match length.kind {
            K::Int(n) if n > 0 => n as usize,
            _ => {
                return Err(diag(
                    length.span,
                    "the length of `prefix` is a whole number above 0 written in the script",
                ));
            }
        };
        Ok(Sc::patient_func(Func::Prefix(n), vec![s], Type::Text))
    }

    pub(super) fn aggregate(
        &mut self,
        op: AggOp,
        of: Option<&ast::Expr>,
        s: &ast::Expr,
        span: Span,
        cx: Cx,
    ) -> CResult<Val> {
        not_in_entry(span, cx)?;
        let frame = self.frame_of(s, cx)?;
        let of_value = |this: &mut Self, what: &str, allowed: &dyn Fn(Type) -> bool| -> CResult<Sc> {
            let e = of.expect("the parser gives sum, min and max an expression");
            let v = this.scalar_of(e, Cx::events(&frame))?;
            if !allowed(v.ty) {
                return Err(diag(e.span, format!("{what}; this is a {}", v.ty.name())));
            }
            Ok(v)
        };
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

    pub(super) fn pick(
        &mut self,
        op: PickOp,
        by: Option<&ast::Expr>,
        s: &ast::Expr,
        span: Span,
        cx: Cx,
    ) -> CResult<Val> {
        not_in_entry(span, cx)?;
        let frame = self.frame_of(s, cx)?;
        let order = match op {
            PickOp::First => PickOrder::First,
            PickOp::Last => PickOrder::Last,
            PickOp::Highest | PickOp::Lowest => {
                let e = by.expect("the parser gives highest and lowest an expression");
                let v = self.scalar_of(e, Cx::events(&frame))?;
                if !orderable(v.ty) {
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
}

fn arity(f: &ast::Ident, args: &[ast::Expr], n: usize, exact: bool) -> CResult<()> {
    if (exact && args.len() != n) || (!exact && args.len() < n) {
        let count = if exact { format!("{n}") } else { format!("{n} or more") };
        return Err(diag(
            f.span,
            format!("`{}` takes {count} argument{}", f.name, if n == 1 && exact { "" } else { "s" }),
        ));
    }
    Ok(())
}

/// Can values of this type be ordered (by `min`, `max`, `highest`, `lowest`)?
fn orderable(t: Type) -> bool {
    t.is_numeric() || t == Type::Date || t == Type::Text
}

fn not_in_entry(span: Span, cx: Cx) -> CResult<()> {
    if cx.entry {
        return Err(Some(
            Diagnostic::new(span, "the entry selection cannot look at other events")
                .help("enter on the events themselves, then add `require` or `exclude` rules that look at others"),
        ));
    }
    Ok(())
}
