//! A birth date is output only as a year-month, a year or an age: an output column may use
//! `birth_date` only through `year_month()`, `year()` or `age_at()`. The check follows names to
//! their definitions (and `index` to the entry, outcomes to the follow-up). It is deliberately
//! conservative.
//!
//! What keeps the day of birth at the site is not this check but the site itself: every query sees
//! a birth date as the first day of its month (`sql::generate`'s `patients`, and the reference
//! evaluator's `PatientData::patient_column`), so no output, however computed (ages stepping up
//! day by day, filters, eGFR), can depend on the day. This check keeps that coarsened date from
//! being output as a date, where it would read as a day of birth that it is not; `year_month`
//! says what it is.

use std::collections::{HashMap, HashSet};

use crate::script::ast::{ColumnDecl, Expr, ExprKind, Item, OutputDecl};
use crate::script::diagnostic::{Diagnostic, Span};

const COARSENING: [&str; 3] = ["year_month", "year", "age_at"];

#[derive(Debug, Default)]
pub struct Definitions {
    bodies: HashMap<String, Vec<Expr>>,
    entry: Vec<Expr>,
    follow_up: Vec<Expr>,
    outcomes: Vec<String>,
}

impl Definitions {
    /// Note what an item defines (called in script order).
    pub fn record(&mut self, item: &Item) {
        match item {
            Item::Codelist(n, e) | Item::Events(n, e) | Item::Define(n, e) => {
                self.bodies.insert(n.name.clone(), vec![e.clone()]);
            }
            Item::Exposure(x) => {
                self.bodies.insert(x.name.name.clone(), vec![x.orders.clone(), x.grace.clone()]);
            }
            Item::Outcome(o) => {
                let mut body = vec![o.event.clone()];
                body.extend(o.baseline_normal.clone());
                body.extend(self.follow_up.iter().cloned());
                self.bodies.insert(o.name.name.clone(), body);
                self.outcomes.push(o.name.name.clone());
            }
            Item::Entry { selection, .. } => self.entry = vec![selection.clone()],
            Item::FollowUp(f) => self.follow_up = vec![f.from.clone(), f.until.clone()],
            _ => {}
        }
    }

    /// The first column of an output that would reveal the birth date.
    pub fn check_output(&self, output: &OutputDecl) -> Option<Diagnostic> {
        if let Some(sel) = &output.selection
            && let Some((span, via)) = self.find(sel, &mut HashSet::new())
        {
            return Some(leak(span, &format!("the table `{}`'s events", output.name.name), via));
        }
        for col in &output.columns {
            let (name, span, found) = match col {
                ColumnDecl::Named { name, expr } => {
                    let implicit = Expr { kind: ExprKind::Name(name.name.clone()), span: name.span };
                    let e = expr.as_ref().unwrap_or(&implicit);
                    (name.name.clone(), e.span, self.find(e, &mut HashSet::new()))
                }
                ColumnDecl::Outcomes(span) => {
                    let found = self.outcomes.iter().find_map(|o| {
                        let e = Expr { kind: ExprKind::Name(o.clone()), span: *span };
                        self.find(&e, &mut HashSet::new())
                    });
                    ("outcomes".to_string(), *span, found)
                }
            };
            if let Some((at, via)) = found {
                let at = if via.is_some() { span } else { at };
                return Some(leak(at, &format!("the column `{name}`"), via));
            }
        }
        None
    }

    /// Where `birth_date` is used other than through a coarsening function, and through which
    /// definition.
    fn find(&self, e: &Expr, seen: &mut HashSet<String>) -> Option<(Span, Option<String>)> {
        match &e.kind {
            ExprKind::Call(f, _) if COARSENING.contains(&f.name.as_str()) => None,
            ExprKind::Name(n) if n == "birth_date" => Some((e.span, None)),
            ExprKind::Name(n) => {
                let body = match n.as_str() {
                    "index" | "entry" => &self.entry,
                    other => self.bodies.get(other)?,
                };
                if !seen.insert(n.clone()) {
                    return None;
                }
                body.iter()
                    .find_map(|b| self.find(b, seen))
                    .map(|(span, via)| (span, Some(via.unwrap_or_else(|| n.clone()))))
            }
            _ => e.children().into_iter().find_map(|c| self.find(c, seen)),
        }
    }
}

fn leak(span: Span, what: &str, via: Option<String>) -> Diagnostic {
    let through = via.map(|v| format!(" through `{v}`")).unwrap_or_default();
    Diagnostic::new(span, format!("{what} would output the birth date: it uses `birth_date`{through}"))
        .help("a site knows a birth date only by its year and month (as the first day of the month): output `year_month(birth_date)`, `year(…)`, or ages with `age` / `age_at(…)`")
}
