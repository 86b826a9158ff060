//! Outputs: a `dataset` (one row per patient: patient-level values, and the outcomes' columns) or
//! a `table` (one row per event of a selection). Every output starts with `patient_key`, has a
//! name of its own and columns of their own names, and passes the leak check; each column gets the
//! sidecar role that says what it holds.

use super::*;

impl Checker<'_> {
    pub(super) fn dataset(&mut self, o: &ast::OutputDecl) -> CResult<()> {
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

    /// `outcomes` in a dataset: event, days and (if it has one) baseline condition of each outcome
    /// the outcome-list parameter selects.
    fn outcome_columns(&mut self, span: Span) -> CResult<Vec<OutputColumn<PExpr>>> {
        if self.outcomes.is_empty() {
            return Err(Some(
                Diagnostic::new(span, "`outcomes` lists the script's outcomes, and it has none yet")
                    .help("declare outcomes before the dataset"),
            ));
        }
        let mut cols = Vec::new();
        for o in self.selected_outcomes() {
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

    /// The outcomes the outcome-list parameter selects (all when there is none).
    fn selected_outcomes(&self) -> impl Iterator<Item = &Outcome> {
        let chosen = self.params.iter().find_map(|p| match &p.value {
            Some(ParamValue::Outcomes(Some(ids))) => Some(ids),
            _ => None,
        });
        self.outcomes.iter().filter(move |o| chosen.is_none_or(|ids| ids.contains(&o.id)))
    }

    fn dataset_column(&mut self, name: &ast::Ident, e: Option<&ast::Expr>) -> CResult<OutputColumn<PExpr>> {
        let e = column_expr(name, e);
        let v = self.expr(&e, Cx::patient())?;
        let sc = self.patient_scalar(v, &e, "a dataset column")?.named(&name.name);
        Ok(OutputColumn { name: name.name.clone(), expr: sc.patient(), ty: sc.ty, role: role_of(&e, sc.ty) })
    }

    pub(super) fn table(&mut self, o: &ast::OutputDecl) -> CResult<()> {
        self.needs_entry(o.span, "a table")?;
        self.output_name(&o.name)?;
        let selection = o.selection.as_ref().expect("the parser gives a table its selection");
        let frame = match self.expr(selection, Cx::patient())? {
            Val::Frame(f) => f,
            other => {
                return Err(Some(
                    Diagnostic::new(selection.span, format!("a table lists events, and this is {}", other.describe()))
                        .help("write `table NAME = SELECTION`"),
                ));
            }
        };
        let mut columns: Vec<OutputColumn<EExpr>> = Vec::new();
        for col in &o.columns {
            let (name, e) = match col {
                ColumnDecl::Outcomes(span) => {
                    return Err(Some(Diagnostic::new(*span, "`outcomes` belongs in a dataset (one row per patient)")));
                }
                ColumnDecl::Named { name, expr } => (name, column_expr(name, expr.as_ref())),
            };
            let sc = match self.expr(&e, Cx::events(&frame))? {
                Val::Scalar(sc) => sc,
                other => {
                    return Err(diag(e.span, format!("a table column needs a value, not {}", other.describe())));
                }
            };
            if name.name == "patient_key" || columns.iter().any(|c| c.name == name.name) {
                return Err(diag(name.span, format!("the column `{}` appears twice in `{}`", name.name, o.name.name)));
            }
            columns.push(OutputColumn { name: name.name.clone(), role: role_of(&e, sc.ty), expr: sc.expr, ty: sc.ty });
        }
        if let Some(d) = self.leaks.check_output(o) {
            return Err(Some(d));
        }
        self.outputs.push(Output::Events { name: o.name.name.clone(), frame, columns });
        Ok(())
    }
}

/// A column's expression: the one written, or its name (`dataset … age end`).
fn column_expr(name: &ast::Ident, e: Option<&ast::Expr>) -> ast::Expr {
    e.cloned().unwrap_or(ast::Expr { kind: ast::ExprKind::Name(name.name.clone()), span: name.span })
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
