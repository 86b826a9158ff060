//! Operators and the types they combine: `and`/`or` join conditions, comparisons need comparable
//! types, arithmetic works on numbers and on dates with days; several values that must share a type
//! (the branches of `if`, the arguments of `coalesce`) are unified. A comparison between an
//! event-level column of another selection and a patient-level value is caught here, because
//! the message must say which event to pick.

use super::*;
use crate::script::ast::BinOp as A;

impl Checker<'_> {
    pub(super) fn binary(&mut self, op: A, a: &ast::Expr, b: &ast::Expr, span: Span, cx: Cx) -> CResult<Val> {
        let va = self.expr(a, cx)?;
        if matches!(op, A::Eq | A::Ne)
            && let Val::Scalar(sa) = &va
            && codelists::is_analyte(sa)
        {
            return codelists::analyte_equals(op, b);
        }
        let vb = self.expr(b, cx)?;
        if matches!(op, A::Add | A::Sub)
            && let Some(v) = codelists::codelist_algebra(op, &va, &vb, a, b)?
        {
            return Ok(v);
        }
        if cx.frame.is_none() {
            detached_comparison(&va, &vb, a, b)?;
        }
        let sa = self.scalar(va, a.span, cx)?;
        let sb = self.scalar(vb, b.span, cx)?;
        typed_binary(op, &sa, &sb, span).map(Val::Scalar)
    }
}

/// A column of another selection compared with a patient-level value, outside any selection.
fn detached_comparison(va: &Val, vb: &Val, a: &ast::Expr, b: &ast::Expr) -> CResult<()> {
    for (x, y, xe) in [(va, vb, a), (vb, va, b)] {
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
    Ok(())
}

/// Two scalars combined by an operator, with the type of the result.
pub(super) fn typed_binary(op: A, a: &Sc, b: &Sc, span: Span) -> CResult<Sc> {
    match op {
        A::And | A::Or => logical(op, a, b, span),
        A::Eq | A::Ne | A::Lt | A::Le | A::Gt | A::Ge => comparison(op, a, b, span),
        A::Add | A::Sub | A::Mul | A::Div | A::Pow => arithmetic(op, a, b, span),
    }
}

fn mismatch(op: A, a: &Sc, b: &Sc, span: Span, help: &str) -> CResult<Sc> {
    let d = Diagnostic::new(span, format!("`{}` cannot combine a {} and a {}", op.symbol(), a.ty.name(), b.ty.name()));
    Err(Some(if help.is_empty() { d } else { d.help(help) }))
}

fn logical(op: A, a: &Sc, b: &Sc, span: Span) -> CResult<Sc> {
    if a.ty != Type::Bool || b.ty != Type::Bool {
        return mismatch(op, a, b, span, "`and` and `or` join conditions");
    }
    Ok(Sc::binary(if op == A::And { BinOp::And } else { BinOp::Or }, a, b, Type::Bool))
}

fn comparison(op: A, a: &Sc, b: &Sc, span: Span) -> CResult<Sc> {
    use Type::*;
    let numeric = a.ty.is_numeric() && b.ty.is_numeric();
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
        return mismatch(op, a, b, span, help);
    }
    let model = match op {
        A::Eq => BinOp::Eq,
        A::Ne => BinOp::Ne,
        A::Lt => BinOp::Lt,
        A::Le => BinOp::Le,
        A::Gt => BinOp::Gt,
        _ => BinOp::Ge,
    };
    Ok(Sc::binary(model, a, b, Bool))
}

/// Numbers with numbers (whole numbers stay whole except through `/` and `^`), days added to or
/// taken from a date, and the days between two dates.
fn arithmetic(op: A, a: &Sc, b: &Sc, span: Span) -> CResult<Sc> {
    use Type::*;
    let numeric = a.ty.is_numeric() && b.ty.is_numeric();
    let model = match (op, a.ty, b.ty) {
        (A::Add, Date, Int) => return Ok(Sc::binary(BinOp::AddDays, a, b, Date)),
        (A::Add, Int, Date) => return Ok(Sc::binary(BinOp::AddDays, b, a, Date)),
        (A::Add, Date, Date) => return mismatch(op, a, b, span, "add days to a date: `index + 30 days`"),
        (A::Sub, Date, Int) => return Ok(Sc::binary(BinOp::SubDays, a, b, Date)),
        (A::Sub, Date, Date) => return Ok(Sc::binary(BinOp::DaysBetween, a, b, Int)),
        _ if !numeric => return mismatch(op, a, b, span, ""),
        (A::Add, ..) => BinOp::Add,
        (A::Sub, ..) => BinOp::Sub,
        (A::Mul, ..) => BinOp::Mul,
        (A::Div, ..) => return Ok(Sc::binary(BinOp::Div, a, b, Float)),
        _ => {
            if !matches!(b.const_value(), Some(Value::Int(_) | Value::Float(_) | Value::Missing)) {
                return Err(Some(
                    Diagnostic::new(span, "the exponent of `^` must be a number written in the script")
                        .help("e.g. `value ^ -1.094`"),
                ));
            }
            return Ok(Sc::binary(BinOp::Pow, a, b, Float));
        }
    };
    if a.ty == Int && b.ty == Int {
        Ok(Sc::binary(model, a, b, Int))
    } else {
        Ok(Sc::binary(model, &a.clone().into_float(), &b.clone().into_float(), Float))
    }
}

/// One type for several values: equal types, or numbers (whole numbers become numbers).
pub(super) fn unify(values: Vec<Sc>, span: Span, what: &str) -> CResult<(Vec<Sc>, Type)> {
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
