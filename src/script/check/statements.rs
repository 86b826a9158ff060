//! Statements: the blocks and definitions of a script, in order (`study`, `codelist`, `events`,
//! `define`, the cohort's `entry` and rules, `exposure`, `follow-up`, `outcome`; the outputs are in
//! `outputs`), and what a whole script must have. A block that failed is remembered, so that what
//! needs it is not reported again; a definition that failed poisons its name likewise.

use super::*;

impl Checker<'_> {
    pub(super) fn item(&mut self, item: &Item) {
        match item {
            Item::Parameters(_) => {}
            Item::Study(s) => {
                let r = self.study(s);
                self.report_block(r, "study");
            }
            Item::Codelist(name, e) => {
                let r = self.codelist_definition(name, e);
                self.define(name, r);
            }
            Item::Events(name, e) => {
                let r = self.events_definition(name, e);
                self.define(name, r);
            }
            Item::Define(name, e) => {
                let r = self.expr(e, Cx::patient()).and_then(|v| self.definition_value(name, e, v));
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

    fn codelist_definition(&mut self, name: &ast::Ident, e: &ast::Expr) -> CResult<Binding> {
        match self.expr(e, Cx::patient())? {
            Val::Codes(c) => Ok(Binding::Codes(c)),
            _ => Err(Some(Diagnostic::new(e.span, format!("`{}` is not a codelist", name.name)).help(
                "a codelist is `SYSTEM [\"code\", …]`, `SYSTEM from \"file.csv\"`, a codelist parameter, or codelists joined with + and -",
            ))),
        }
    }

    fn events_definition(&mut self, name: &ast::Ident, e: &ast::Expr) -> CResult<Binding> {
        match self.expr(e, Cx::patient())? {
            Val::Frame(f) => Ok(Binding::Events(f)),
            other => Err(Some(
                Diagnostic::new(
                    e.span,
                    format!("`{}` is not a selection of events but {}", name.name, other.describe()),
                )
                .help("`events NAME = TABLE where CONDITION`; values are defined with `define`"),
            )),
        }
    }

    /// A `define`: a patient-level value or a picked event, named after the definition.
    fn definition_value(&mut self, name: &ast::Ident, e: &ast::Expr, v: Val) -> CResult<Binding> {
        match v {
            Val::Scalar(sc) if sc.event => Err(Some(
                Diagnostic::new(e.span, format!("`{}` would have one value per event, not one per patient", name.name))
                    .help(
                        "pick one event (`first`, `last`, `highest … of`) or aggregate (`count`, `exists`, `min … of`)",
                    ),
            )),
            Val::Scalar(sc) => Ok(Binding::Scalar(sc.named(&name.name))),
            Val::Row(RowRef::Pick(p)) => {
                let named =
                    if p.name.is_none() { Arc::new(Pick { name: Some(name.name.clone()), ..(*p).clone() }) } else { p };
                Ok(Binding::Row(RowRef::Pick(named)))
            }
            Val::Row(r) => Ok(Binding::Row(r)),
            Val::Frame(_) => Err(Some(
                Diagnostic::new(e.span, format!("`{}` is a selection of events", name.name))
                    .help(format!("define it with `events {} = …`", name.name)),
            )),
            Val::Codes(_) => Err(Some(
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

    fn entry(&mut self, every: bool, selection: &ast::Expr, span: Span) -> CResult<()> {
        if self.entry.is_some() {
            return Err(Some(Diagnostic::new(span, "the cohort has two entry lines").help("keep one `entry` line")));
        }
        let frame = match self.expr(selection, Cx::entry())? {
            Val::Frame(f) if f.root_table().is_some() => f,
            Val::Frame(_) => {
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

    /// What comes after the entry line needs the index date it sets.
    pub(super) fn needs_entry(&self, span: Span, what: &str) -> CResult<()> {
        if self.entry.is_none() {
            return Err(self.missing(
                "entry",
                Diagnostic::new(span, format!("{what} needs the index date, which the cohort's `entry` line sets"))
                    .help("put it after `entry first …` (or `entry every …`) in the cohort block"),
            ));
        }
        Ok(())
    }

    fn exposure(&mut self, x: &ast::ExposureDecl) -> CResult<Binding> {
        self.needs_entry(x.span, "an exposure")?;
        let orders = match self.expr(&x.orders, Cx::patient())? {
            Val::Frame(f) if f.root_table() == Some(Table::DrugOrder) => f,
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
        let frame = match self.expr(&o.event, Cx::patient())? {
            Val::Frame(f) => f,
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
        let event = Sc::or_false(Sc::binary(BinOp::Le, &first, &until, Type::Bool));
        let index = Sc::index();
        let date = Sc::if_(&event, &first, &Sc::constant(Value::Missing, Type::Date), Type::Date);
        let days = Sc::if_(
            &event,
            &Sc::binary(BinOp::DaysBetween, &first, &index, Type::Int),
            &Sc::binary(BinOp::DaysBetween, &until, &index, Type::Int),
            Type::Int,
        );
        let baseline_normal = match &o.baseline_normal {
            Some(e) => Some(Sc::or_false(self.patient_condition(e, "a baseline condition")?)),
            None => None,
        };
        self.outcomes.push(Outcome { id: o.name.name.clone(), date, event, days, baseline_normal });
        Ok(Binding::Row(RowRef::Outcome(self.outcomes.len() - 1)))
    }

    /// What the whole script lacks (a study, an entry, an output) and outcome-list values that name
    /// no outcome; the diagnostics in the order of the script.
    pub(super) fn finish(&mut self, script: &ast::Script) {
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
        self.unknown_outcomes();
        self.diags.sort_by_key(|d| d.span.start);
    }

    /// The ids an outcome list names must be outcomes of the script.
    fn unknown_outcomes(&mut self) {
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
    }
}
