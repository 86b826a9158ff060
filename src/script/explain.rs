//! `midnet script explain`: the script in plain words, step by step, with the parameter values
//! filled in, so a site reviewer can approve what it does without reading the SQL.

use std::fmt::Write;

use super::ast::{self, AggOp, BinOp, ColumnDecl, ExprKind as K, Item, PickOp};
use super::check::Param;
use crate::query::tables::Table;
use crate::query::value::format_date;

pub fn explain(script: &ast::Script, params: &[Param]) -> String {
    let mut out = String::new();
    let mut step = 0;
    for item in &script.items {
        explain_item(item, params, &mut out, &mut step);
    }
    out.trim_end().to_string() + "\n"
}

fn explain_item(item: &Item, params: &[Param], out: &mut String, step: &mut usize) {
    let mut next = || {
        *step += 1;
        *step
    };
    match item {
        Item::Study(s) => {
            let _ = writeln!(out, "Study \"{}\"", s.name.text);
            let _ = writeln!(
                out,
                "  Index dates fall from {} to {} (both included).\n",
                words(&s.start, params),
                words(&s.end, params)
            );
        }
        Item::Parameters(decls) => {
            let _ = writeln!(out, "Parameters (set with --param NAME=VALUE)");
            for d in decls {
                let value = params
                    .iter()
                    .find(|p| p.name == d.name.name)
                    .and_then(|p| p.value.as_ref())
                    .map(|v| v.canonical())
                    .unwrap_or_else(|| "not set".into());
                let note = if d.kind == ast::ParamKind::Cutoff {
                    " (the data cut-off: `midnet extract --cutoff` sets it)"
                } else {
                    ""
                };
                let _ = writeln!(out, "  {} ({}) = {value}{note}", d.name.name, d.kind.describe());
            }
            out.push('\n');
        }
        Item::Codelist(n, e) => {
            let _ = writeln!(out, "{}. Codelist `{}`: {}.", next(), n.name, codelist_words(e, params));
        }
        Item::Events(n, e) => {
            let _ = writeln!(out, "{}. Events `{}`: {}.", next(), n.name, words(e, params));
        }
        Item::Define(n, e) => {
            let _ = writeln!(out, "{}. `{}` is {}.", next(), n.name, words(e, params));
        }
        Item::Cohort(items) => {
            let _ = writeln!(out, "Cohort");
            for inner in items {
                explain_item(inner, params, out, step);
            }
            out.push('\n');
        }
        Item::Entry { every, selection, .. } => {
            let which = if *every {
                "every one of these events whose date falls in the study period; each is a row of the cohort"
            } else {
                "for each patient, the first of these events (earliest date; same-day events are ordered by time, then by their other columns) whose date falls in the study period"
            };
            let _ = writeln!(
                out,
                "{}. Entry: {}: {}. Its date is the index date.",
                next(),
                which,
                words(selection, params)
            );
        }
        Item::Rule { exclude, label, condition, .. } => {
            let (verb, what) =
                if *exclude { ("Exclude", "remove the patient if") } else { ("Require", "keep the patient only if") };
            let _ = writeln!(
                out,
                "{}. {verb} \"{}\": {what} {} (the attrition table counts who this removes).",
                next(),
                label.text,
                words(condition, params)
            );
        }
        Item::Exposure(x) => {
            let stock = if x.carry_over {
                "supply carries over: an order started early is used after the earlier supply runs out"
            } else {
                "no stockpiling: supply that overlaps earlier supply is lost"
            };
            let _ = writeln!(
                out,
                "{}. Exposure `{name}`: the episode of continuous use of {}, starting with the first such order on or after the index date; each order covers its days supplied from its date; the episode goes on while the next order starts at most {} after the last covered day; {stock}. `{name}.end` is the last covered day plus the grace period.",
                next(),
                words(&x.orders, params),
                words(&x.grace, params),
                name = x.name.name,
            );
        }
        Item::FollowUp(f) => {
            let _ = writeln!(
                out,
                "Follow-up: from {} until {}. Days are counted from the index date.",
                words(&f.from, params),
                words(&f.until, params)
            );
            let _ = writeln!(
                out,
                "Each outcome is the first qualifying event on or after the start of follow-up; it counts as an event if it is on or before the end of follow-up, and the patient is censored at the end of follow-up otherwise.\n"
            );
        }
        Item::Outcome(o) => {
            let label = o.label.as_ref().map(|l| format!(" \"{}\"", l.text)).unwrap_or_default();
            let _ = writeln!(out, "Outcome `{}`{label}: {}.", o.name.name, words(&o.event, params));
            if let Some(b) = &o.baseline_normal {
                let _ = writeln!(out, "  Baseline normal (the subgroup flag) when {}.", words(b, params));
            }
        }
        Item::Dataset(o) | Item::Table(o) => {
            match &o.selection {
                None => {
                    let _ = writeln!(out, "\nOutput `{}`: one row per cohort row, with the columns:", o.name.name);
                }
                Some(sel) => {
                    let _ = writeln!(
                        out,
                        "\nOutput `{}`: one row per event of {} of each patient in the cohort, with the columns:",
                        o.name.name,
                        words(sel, params)
                    );
                }
            }
            let _ = writeln!(
                out,
                "  patient_key: the site's patient key, which extraction replaces with a fresh random person id"
            );
            for c in &o.columns {
                match c {
                    ColumnDecl::Named { name, expr: Some(e) } => {
                        let _ = writeln!(out, "  {}: {}", name.name, words(e, params));
                    }
                    ColumnDecl::Named { name, expr: None } => {
                        let e = ast::Expr { kind: K::Name(name.name.clone()), span: name.span };
                        let _ = writeln!(out, "  {}: {}", name.name, words(&e, params));
                    }
                    ColumnDecl::Outcomes(_) => {
                        let _ = writeln!(
                            out,
                            "  outcomes: for each selected outcome ID, ID_event (1 if the outcome happened in follow-up, else 0), ID_days (days from the index date to the event or to the end of follow-up) and, if it has one, ID_baseline_normal (1 if the baseline condition holds, else 0)"
                        );
                    }
                }
            }
            let _ = writeln!(out, "  (a condition is written 1 or 0; a missing value stays empty)");
        }
    }
}

/// An expression in words.
fn words(e: &ast::Expr, params: &[Param]) -> String {
    let w = |x: &ast::Expr| words(x, params);
    match &e.kind {
        K::Name(n) => match n.as_str() {
            "index" => "the index date".into(),
            "age" => "the age at the index date (completed years)".into(),
            "birth_date" => "the birth date (the first day of the birth month)".into(),
            "death_date" => "the death date".into(),
            "observation_start" => "the start of observation around the index date".into(),
            "observation_end" => "the end of observation around the index date".into(),
            "study_start" => "the start of the study period".into(),
            "study_end" => "the end of the study period".into(),
            "entry" => "the entry event".into(),
            other => match (Table::from_name(other), params.iter().find(|p| p.name == other)) {
                (Some(t), _) => t.plural().into(),
                (None, Some(p)) => {
                    let value = p.value.as_ref().map(|v| format!(" ({})", v.canonical())).unwrap_or_default();
                    if p.kind == ast::ParamKind::Cutoff {
                        format!("the cut-off date `{other}`{value}")
                    } else {
                        format!("`{other}`{value}")
                    }
                }
                (None, None) => format!("`{other}`"),
            },
        },
        K::Field(base, f) => match &base.kind {
            K::Name(n) if n == "entry" => format!("the entry event's {}", f.name),
            _ => format!("{}.{}", bare(base, params), f.name),
        },
        K::Int(i) => i.to_string(),
        K::Number(x) => format!("{x}"),
        K::Str(s) => format!("\"{s}\""),
        K::Date(d) => format_date(*d),
        K::Bool(b) => b.to_string(),
        K::List(items) => format!("[{}]", items.iter().map(w).collect::<Vec<_>>().join(", ")),
        K::Codes { system, codes } => {
            format!("{} codes beginning with {}", system.name, codes.iter().map(w).collect::<Vec<_>>().join(", "))
        }
        K::CodeFile { system, path, column } => format!(
            "the {} codes in column `{}` of {} (prefix match)",
            system.name,
            column.as_ref().map_or("code", |c| c.text.as_str()),
            path.text
        ),
        K::Not(a) => format!("not ({})", w(a)),
        K::Neg(a) => format!("-{}", w(a)),
        K::Binary(op, a, b) => match (op, &b.kind) {
            (BinOp::Sub, K::Days(n)) => format!("{} before {}", days(n, params), w(a)),
            (BinOp::Add, K::Days(n)) => format!("{} after {}", days(n, params), w(a)),
            _ => {
                let verb = match op {
                    BinOp::Or => "or",
                    BinOp::And => "and",
                    BinOp::Eq => "is",
                    BinOp::Ne => "is not",
                    BinOp::Lt => "is less than",
                    BinOp::Le => "is at most",
                    BinOp::Gt => "is greater than",
                    BinOp::Ge => "is at least",
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "×",
                    BinOp::Div => "/",
                    BinOp::Pow => "^",
                };
                let (l, r) = (w(a), w(b));
                match op {
                    BinOp::Or | BinOp::And => format!("{l} {verb} {r}"),
                    _ if op.is_comparison() => format!("{l} {verb} {r}"),
                    _ => format!("({l} {verb} {r})"),
                }
            }
        },
        K::Between(x, lo, hi) => format!("{} is from {} to {} (both included)", w(x), w(lo), w(hi)),
        K::In(x, rhs) => match &rhs.kind {
            K::List(_) => format!("{} is one of {}", w(x), w(rhs)),
            _ => format!("{} is in {}", w(x), codelist_words(rhs, params)),
        },
        K::If(c, a, b) => match b {
            Some(b) => format!("{} if {}, otherwise {}", w(a), w(c), w(b)),
            None => format!("{} if {}, otherwise missing", w(a), w(c)),
        },
        K::Call(f, args) => {
            let args: Vec<String> = args.iter().map(w).collect();
            match f.name.as_str() {
                "earliest" => format!("the earliest of: {} (ignoring missing ones)", args.join(", ")),
                "latest" => format!("the latest of: {} (ignoring missing ones)", args.join(", ")),
                "coalesce" => format!("the first present of: {}", args.join(", ")),
                "year_month" => format!("the year and month of {}", args.join("")),
                "year" => format!("the year of {}", args.join("")),
                "age_at" => format!("the age (completed years) on {}", args.join("")),
                "prefix" => format!("the first {} characters of {}", args.get(1).cloned().unwrap_or_default(), args[0]),
                "is_missing" => format!("{} is missing", args.join("")),
                other => format!("{other}({})", args.join(", ")),
            }
        }
        K::Days(n) => days(n, params),
        K::Where(s, c) => format!("{} where {}", w(s), w(c)),
        K::With(s, n, v) => format!("{}, with {} = {}", w(s), n.name, w(v)),
        K::Aggregate(op, of, s) => {
            let of = of.as_ref().map(|o| w(o)).unwrap_or_default();
            match op {
                AggOp::Exists => format!("there is at least one of: {}", w(s)),
                AggOp::No => format!("there is none of: {}", w(s)),
                AggOp::Count => format!("the number of {}", w(s)),
                AggOp::Sum => format!("the sum of {of} over {}", w(s)),
                AggOp::Min => format!("the least {of} among {}", w(s)),
                AggOp::Max => format!("the greatest {of} among {}", w(s)),
            }
        }
        K::Pick(op, by, s) => {
            let by = by.as_ref().map(|b| w(b)).unwrap_or_default();
            match op {
                PickOp::First => format!("the first (earliest) of {}", w(s)),
                PickOp::Last => format!("the last (latest) of {}", w(s)),
                PickOp::Highest => format!("the one of {} with the highest {by} (ties: the latest)", w(s)),
                PickOp::Lowest => format!("the one of {} with the lowest {by} (ties: the latest)", w(s)),
            }
        }
        K::AllOf(parts, within) => {
            let parts: Vec<String> = parts.iter().map(|(n, s)| format!("{} = {}", n.name, w(s))).collect();
            format!(
                "combinations of one event of each of ({}) all within {} of each other, dated by the latest of them",
                parts.join("; "),
                w(within)
            )
        }
    }
}

/// A name as written (for `name.column`).
fn bare(e: &ast::Expr, params: &[Param]) -> String {
    match &e.kind {
        K::Name(n) => n.clone(),
        _ => format!("({})", words(e, params)),
    }
}

/// `1 day`, `365 days`.
fn days(n: &ast::Expr, params: &[Param]) -> String {
    match n.kind {
        K::Int(1) => "1 day".into(),
        _ => format!("{} days", words(n, params)),
    }
}

/// A codelist expression: `+` is a union, `-` a difference.
fn codelist_words(e: &ast::Expr, params: &[Param]) -> String {
    match &e.kind {
        K::Binary(BinOp::Add, a, b) => format!("{} or {}", codelist_words(a, params), codelist_words(b, params)),
        K::Binary(BinOp::Sub, a, b) => format!("{} but not {}", codelist_words(a, params), codelist_words(b, params)),
        _ => words(e, params),
    }
}
