//! Selections of events: a table or an `events` definition narrowed by `where`, given a computed
//! column by `with`, or combined by `all of` (one event of each part, within some days of each
//! other). Inside a selection bare names read its events' columns.

use super::*;

impl Checker<'_> {
    /// An expression that must be a selection of events (read outside any other selection).
    pub(super) fn frame_of(&mut self, e: &ast::Expr, cx: Cx) -> CResult<FrameRef> {
        match self.expr(e, cx.outside())? {
            Val::Frame(f) => Ok(f),
            other => Err(Some(Diagnostic::new(e.span, format!("expected a selection of events, found {}", other.describe()))
                .help("a selection is a table (drug_order, lab_result, …) or a name defined with `events`, with `where` conditions"))),
        }
    }

    pub(super) fn where_(&mut self, s: &ast::Expr, cond: &ast::Expr, cx: Cx) -> CResult<Val> {
        let frame = self.frame_of(s, cx)?;
        let c = self.scalar_of(cond, cx.inside(&frame))?;
        self.expect_type(&c, Type::Bool, cond.span, "`where` needs a condition")?;
        Ok(Val::Frame(Arc::new(Frame::Filter(frame.clone(), c.expr))))
    }

    /// `with NAME = VALUE`: a computed column; only `date` may be replaced, by a date.
    pub(super) fn with(&mut self, s: &ast::Expr, name: &ast::Ident, value: &ast::Expr, cx: Cx) -> CResult<Val> {
        let frame = self.frame_of(s, cx)?;
        let v = self.scalar_of(value, cx.inside(&frame))?;
        match column_type(&frame, &name.name) {
            Some(_) if name.name == "date" && v.ty != Type::Date => {
                return Err(diag(value.span, format!("`date` must stay a date, and this is a {}", v.ty.name())));
            }
            Some(_) if name.name != "date" => {
                return Err(Some(
                    Diagnostic::new(name.span, format!("the events already have a column `{}`", name.name))
                        .help("give the computed column another name (only `date` may be replaced)"),
                ));
            }
            _ => {}
        }
        if (KEYWORDS.contains(&name.name.as_str()) || BUILTINS.contains(&name.name.as_str())) && name.name != "date" {
            return Err(diag(
                name.span,
                format!("`{}` already means something in scripts; choose another name", name.name),
            ));
        }
        Ok(Val::Frame(Arc::new(Frame::With(frame, name.name.clone(), v.expr, v.ty))))
    }

    /// `all of A = …, B = … within N days`: parts of one table each, named once each.
    pub(super) fn all_of(
        &mut self,
        parts: &[(ast::Ident, ast::Expr)],
        within: &ast::Expr,
        span: Span,
        cx: Cx,
    ) -> CResult<Val> {
        if cx.entry {
            return Err(diag(span, "an entry cannot be an `all of` combination"));
        }
        let mut frames: Vec<(String, FrameRef)> = Vec::new();
        for (name, sel) in parts {
            let f = self.frame_of(sel, cx)?;
            if f.root_table().is_none() {
                return Err(diag(sel.span, "a part of `all of` must be events of one table, not another combination"));
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
            return Err(diag(span, "`all of` combines two or more selections"));
        }
        let days = self.constant_days(within, "`within`")?;
        Ok(Val::Frame(Arc::new(Frame::Joint(frames, days))))
    }
}
