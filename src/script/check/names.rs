//! Names: what a definition may be called (not a word of the language, a built-in, a table, a
//! column or a code system, and not twice), and what a name means where it is read: inside a
//! selection the events' columns first, then built-ins (`index`, `age`, `study_start`, …), the
//! script's definitions and parameters, and tables. A name that means nothing gets the nearest
//! known one, or is said to be defined further down.

use super::*;

impl Checker<'_> {
    /// Note every name the script defines, wherever, for "defined further down" messages, and what
    /// the leak check needs to follow names to their definitions.
    pub(super) fn collect_definitions(&mut self, items: &[Item]) {
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

    /// May a definition take this name?
    pub(super) fn definable(&self, name: &ast::Ident) -> Result<(), Diagnostic> {
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

    /// Give a definition its name; a definition that failed (reported or not) poisons the name,
    /// so that its uses are not reported again.
    pub(super) fn define(&mut self, name: &ast::Ident, result: CResult<Binding>) {
        let bound = result.and_then(|b| self.bind(name, b).map_err(Some));
        if let Err(problem) = bound {
            if let Some(d) = problem {
                self.diags.push(d);
            }
            self.names.entry(name.name.clone()).or_insert((Binding::Poisoned, name.span));
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

    /// What a bare name means here.
    pub(super) fn name(&mut self, n: &str, span: Span, cx: Cx) -> CResult<Val> {
        if let Some(frame) = cx.frame
            && let Some(v) = event_column(frame, n, span)?
        {
            return Ok(v);
        }
        if let Some(v) = self.builtin(n, span, cx)? {
            return Ok(v);
        }
        if let Some((binding, _)) = self.names.get(n).cloned() {
            return self.bound(binding, n, span, cx);
        }
        if let Some(t) = Table::from_name(n) {
            return Ok(Val::Frame(Arc::new(Frame::Table(t))));
        }
        Err(Some(self.unknown_name(n, span, cx)))
    }

    /// The value of a defined name; the entry selection may use only what the entry event holds.
    fn bound(&self, binding: Binding, n: &str, span: Span, cx: Cx) -> CResult<Val> {
        let beyond_entry = || {
            Some(
                Diagnostic::new(
                    span,
                    format!("the entry selection cannot use `{n}`, which looks beyond the entry event"),
                )
                .help(
                    "the entry decides the index date; put conditions on other values in a `require` or `exclude` rule",
                ),
            )
        };
        match binding {
            Binding::Param(i) => Ok(self.param_value(i)),
            Binding::Codes(c) => Ok(Val::Codes(c)),
            Binding::Events(f) => Ok(Val::Frame(f)),
            Binding::Scalar(sc) if cx.entry && !sc.only_patient_columns() => Err(beyond_entry()),
            Binding::Scalar(sc) => Ok(Val::Scalar(sc)),
            Binding::Row(_) if cx.entry => Err(beyond_entry()),
            Binding::Row(r) => Ok(Val::Row(r)),
            Binding::Poisoned => Err(None),
        }
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

    /// A built-in value; `None` when `n` is not one.
    fn builtin(&mut self, n: &str, span: Span, cx: Cx) -> CResult<Option<Val>> {
        let patient = |col: &'static str, ty| Ok(Some(Val::Scalar(Sc::patient_leaf(PatientLeaf::Patient(col), ty))));
        match n {
            "sex" => return patient("sex", Type::Text),
            "birth_date" => return patient("birth_date", Type::Date),
            "death_date" => return patient("death_date", Type::Date),
            "study_start" | "study_end" => return self.study_date(n, span).map(Some),
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
        Ok(Some(match n {
            "index" => Val::Scalar(Sc::index()),
            "entry" => Val::Row(RowRef::Entry),
            "age" => Val::Scalar(Sc::age_at(Sc::index())),
            _ => {
                let (start, end) = self.observation();
                Val::Scalar(if n == "observation_start" { start } else { end })
            }
        }))
    }

    /// `study_start` or `study_end`: a constant (missing while only checking, for an unset parameter).
    fn study_date(&self, n: &str, span: Span) -> CResult<Val> {
        let Some((_, start, end)) = &self.study else {
            return Err(self.missing(
                "study",
                Diagnostic::new(span, format!("`{n}` needs the study block, which comes later"))
                    .help("put the `study` block first"),
            ));
        };
        let d = if n == "study_start" { *start } else { *end };
        Ok(Val::Scalar(Sc::constant(d.map(Value::Date).unwrap_or(Value::Missing), Type::Date)))
    }

    /// The earliest start and latest end of the observation periods that contain the index date.
    fn observation(&mut self) -> (Sc, Sc) {
        if let Some(o) = &self.observation {
            return o.clone();
        }
        let index = Sc::index().expr;
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
}

/// A column of the events a bare name reads inside a selection; `None` when it is none of theirs.
fn event_column(frame: &FrameRef, n: &str, span: Span) -> CResult<Option<Val>> {
    match column_type(frame, n) {
        Some(ColumnType::Value(t)) => return Ok(Some(Val::Scalar(Sc::column(n, t)))),
        Some(ColumnType::Timestamp) => {
            return Err(Some(
                Diagnostic::new(span, format!("`{n}` is a time of day; scripts compare the event's `date`"))
                    .help("e.g. `date between index - 90 days and index`; same-day events are ordered by their time"),
            ));
        }
        None => {}
    }
    if n == "analyte" && column_type(frame, "jlac10").is_some() && frame.root_table() == Some(Table::LabResult) {
        let code = Sc::column("jlac10", Type::Text);
        return Ok(Some(Val::Scalar(Sc::patient_func(Func::Analyte, vec![code], Type::Text))));
    }
    Ok(None)
}
