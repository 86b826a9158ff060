//! `.column`: a column of one event (a picked event, the entry event, a column of a part of an
//! `all of` inside its selection), the dates of an exposure, the values of an outcome. A column of
//! a whole selection read outside it is kept as [`Val::Detached`], so that the message where it is
//! used can say to pick one event.

use super::*;
use crate::script::ast::ExprKind as K;

impl Checker<'_> {
    pub(super) fn field(&mut self, base: &ast::Expr, field: &ast::Ident, cx: Cx) -> CResult<Val> {
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
                _ => Err(no_column(&f, field)),
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

    fn row_field(&mut self, row: RowRef, field: &ast::Ident) -> CResult<Val> {
        match row {
            RowRef::Pick(p) => event_field(&p.frame.clone(), field, &|c| PatientLeaf::Pick(p.clone(), c)),
            RowRef::Entry => {
                let frame = self.entry.as_ref().expect("`entry` resolves only after the entry").frame.clone();
                event_field(&frame, field, &|c| PatientLeaf::Entry(c))
            }
            RowRef::Exposure(x) => exposure_field(&x, field),
            RowRef::Outcome(i) => {
                let o = &self.outcomes[i];
                match field.name.as_str() {
                    "date" => Ok(Val::Scalar(o.date.clone())),
                    "event" => Ok(Val::Scalar(o.event.clone())),
                    "days" => Ok(Val::Scalar(o.days.clone())),
                    f => Err(Some(Diagnostic::new(field.span, format!("an outcome has no `{f}`"))
                        .help("it has `event` (true or false), `date` (of the event, if any) and `days` (to the event or the end of follow-up)"))),
                }
            }
        }
    }
}

/// A column of one event of `frame`, read through `leaf`.
fn event_field(frame: &Frame, field: &ast::Ident, leaf: &dyn Fn(String) -> PatientLeaf) -> CResult<Val> {
    let f = field.name.as_str();
    match column_type(frame, f) {
        Some(ColumnType::Value(ty)) => Ok(Val::Scalar(Sc::patient_leaf(leaf(f.to_string()), ty))),
        Some(ColumnType::Timestamp) => {
            Err(diag(field.span, format!("`{f}` is a time of day; read the event's `date`")))
        }
        None => Err(no_column(frame, field)),
    }
}

fn exposure_field(x: &Arc<Exposure>, field: &ast::Ident) -> CResult<Val> {
    let part = |p| Sc::patient_leaf(PatientLeaf::Exposure(x.clone(), p), Type::Date);
    match field.name.as_str() {
        "start" => Ok(Val::Scalar(part(ExposurePart::Start))),
        "last_supplied" => Ok(Val::Scalar(part(ExposurePart::LastSupplied))),
        "end" => {
            let grace = Sc::constant(Value::Int(x.grace), Type::Int);
            Ok(Val::Scalar(Sc::binary(BinOp::AddDays, &part(ExposurePart::LastSupplied), &grace, Type::Date)))
        }
        f => Err(Some(Diagnostic::new(field.span, format!("an exposure has no `{f}`")).help(
            "it has `start` (first order), `last_supplied` (last day covered) and `end` (last day covered + grace)",
        ))),
    }
}

fn no_column(frame: &Frame, field: &ast::Ident) -> Option<Diagnostic> {
    let columns: Vec<String> =
        frame.columns().into_iter().filter(|(_, t)| *t != ColumnType::Timestamp).map(|(c, _)| c).collect();
    let mut d = Diagnostic::new(field.span, format!("unknown column `{}`", field.name));
    d = match did_you_mean(&field.name, columns.iter().map(String::as_str)) {
        Some(g) => d.help(format!("did you mean `{g}`?")),
        None => d.help(format!("the columns are: {}", columns.join(", "))),
    };
    Some(d)
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
