//! Codelists and `in`: code lists written in the script (`icd10 ["E11"]`), read from a file, or
//! combined with `+` and `-`; literal lists; and `in`, which matches a code column against a
//! codelist or a list of codes of the column's own system, any other value against a list, and
//! `analyte` against analyte ids of the lab master. Every code is checked against its system here,
//! so that a mistyped code is an error at the place it is written, never an empty result.

use super::*;
use crate::query::tables;
use crate::script::ast::ExprKind as K;
use crate::script::codes;

impl Checker<'_> {
    /// A literal list: values written in the script, of one type (whole numbers and numbers mix).
    pub(super) fn list(&mut self, items: &[ast::Expr], span: Span) -> CResult<Val> {
        if items.is_empty() {
            return Err(diag(span, "an empty list matches nothing; give at least one item"));
        }
        let mut values = Vec::new();
        let mut ty: Option<Type> = None;
        for item in items {
            let (v, t) = list_item(item)?;
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

    pub(super) fn codes(&mut self, system_name: &ast::Ident, items: &[ast::Expr]) -> CResult<Val> {
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

    pub(super) fn code_file(
        &mut self,
        system: &ast::Ident,
        path: &ast::Text,
        column: Option<&ast::Text>,
    ) -> CResult<Val> {
        let system = CodeSystem::from_name(&system.name).expect("the parser only reads code systems here");
        let (file, content) = self.bundle.codelist(&path.text);
        let patterns = content
            .and_then(|bytes| codes::read_file(bytes, &file, column.map(|c| c.text.as_str()), system))
            .map_err(|why| {
                Some(Diagnostic::new(path.span, why).help(format!(
                    "a codelist file has a header and a column `{}` with one {system} code per line (paths are relative to the script)",
                    column.map_or("code", |c| c.text.as_str())
                )))
            })?;
        Ok(Val::Codes(Arc::new(Codelist::Codes { system, patterns })))
    }

    pub(super) fn in_(&mut self, x: &ast::Expr, rhs: &ast::Expr, cx: Cx) -> CResult<Val> {
        let sx = self.scalar_of(x, cx)?;
        if is_analyte(&sx) {
            return in_analytes(rhs);
        }
        let vr = self.expr(rhs, cx.outside())?;
        let system = self.code_system(&sx, cx);
        match vr {
            Val::Codes(codes) => self.in_codelist(&sx, codes, system, x, rhs),
            Val::List(items, ty) => match system {
                Some(s) => Ok(Val::Scalar(
                    sx.in_codes(Arc::new(Codelist::Codes { system: s, patterns: code_patterns(s, &items)? })),
                )),
                None => in_list(&sx, items, ty, rhs),
            },
            other => Err(Some(
                Diagnostic::new(rhs.span, format!("`in` takes a codelist or a list, not {}", other.describe()))
                    .help("e.g. `yj_code in drug`, `source in [\"EHR\", \"DPC\"]`"),
            )),
        }
    }

    /// A code column (or any text, when its system is not known) against a codelist.
    fn in_codelist(
        &self,
        sx: &Sc,
        codes: Arc<Codelist>,
        system: Option<CodeSystem>,
        x: &ast::Expr,
        rhs: &ast::Expr,
    ) -> CResult<Val> {
        if sx.ty != Type::Text {
            return Err(diag(x.span, format!("a codelist matches codes (text), and this is a {}", sx.ty.name())));
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
        Ok(Val::Scalar(sx.in_codes(codes)))
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
}

/// One item of a literal list and its type.
fn list_item(item: &ast::Expr) -> CResult<(Value, Type)> {
    Ok(match &item.kind {
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
    })
}

/// A value that is not a code against a literal list of its type.
fn in_list(sx: &Sc, items: Vec<(Value, Span)>, ty: Type, rhs: &ast::Expr) -> CResult<Val> {
    let fits = ty == sx.ty || (ty.is_numeric() && sx.ty.is_numeric());
    if !fits {
        return Err(diag(rhs.span, format!("a list of {} values cannot hold a {}", ty.name(), sx.ty.name())));
    }
    let values = items.into_iter().map(|(v, _)| v).collect();
    Ok(Val::Scalar(Sc { expr: Arc::new(Expr::InList(sx.expr.clone(), values)), ty: Type::Bool, event: sx.event }))
}

/// The codes of a literal list, each checked against `system`.
fn code_patterns(system: CodeSystem, items: &[(Value, Span)]) -> CResult<Vec<Pattern>> {
    let mut patterns = Vec::new();
    for (v, span) in items {
        let Some(code) = v.as_text() else {
            return Err(diag(*span, "codes are written in quotes"));
        };
        patterns.push(codes::entry(system, code).map_err(|why| code_diag(*span, why, system))?);
    }
    Ok(patterns)
}

/// `A + B` and `A - B` where one side is a codelist: the union or the difference, of one code
/// system; `None` when neither side is a codelist (plain arithmetic).
pub(super) fn codelist_algebra(
    op: ast::BinOp,
    va: &Val,
    vb: &Val,
    a: &ast::Expr,
    b: &ast::Expr,
) -> CResult<Option<Val>> {
    let as_codes = |v: &Val, system: CodeSystem| -> CResult<Option<Arc<Codelist>>> {
        match v {
            Val::Codes(c) => Ok(Some(c.clone())),
            Val::List(items, Type::Text) => {
                Ok(Some(Arc::new(Codelist::Codes { system, patterns: code_patterns(system, items)? })))
            }
            _ => Ok(None),
        }
    };
    let system = match (va, vb) {
        (Val::Codes(c), _) | (_, Val::Codes(c)) => c.system(),
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
    Ok(Some(Val::Codes(Arc::new(if op == ast::BinOp::Add { Codelist::Union(x, y) } else { Codelist::Minus(x, y) }))))
}

/// Is the value `analyte` (a lab result's analyte, read from its JLAC10 code)?
pub(super) fn is_analyte(sc: &Sc) -> bool {
    matches!(&*sc.expr, Expr::Func(Func::Analyte, _))
}

/// `analyte = "alt"` (or `!=`): the result's JLAC10 code is the analyte's.
pub(super) fn analyte_equals(op: ast::BinOp, id: &ast::Expr) -> CResult<Val> {
    let K::Str(name) = &id.kind else {
        return Err(Some(
            Diagnostic::new(id.span, "`analyte` is compared with an analyte id in quotes")
                .help("e.g. analyte = \"alt\""),
        ));
    };
    let is = analyte_codes(vec![analyte_pattern(name, id.span)?]);
    Ok(Val::Scalar(if op == ast::BinOp::Eq { is } else { Sc::not(&is) }))
}

/// `analyte in ["alt", "ast"]`.
fn in_analytes(rhs: &ast::Expr) -> CResult<Val> {
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
    Ok(Val::Scalar(analyte_codes(patterns)))
}

/// Is the event's JLAC10 code one of these analytes'?
fn analyte_codes(patterns: Vec<Pattern>) -> Sc {
    Sc::column("jlac10", Type::Text).in_codes(Arc::new(Codelist::Codes { system: CodeSystem::Jlac10, patterns }))
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
