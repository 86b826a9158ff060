//! Expressions, codelists and frames of the query model as SQL text.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use super::plan::Plan;
use crate::query::model::*;
use crate::query::tables::{self, ColumnType, Table};
use crate::query::value::Value;
use crate::sql::dialect::{Dialect, SortKey, SqlType};

/// Where patient-level values come from in the SELECT being written.
#[derive(Clone, Copy)]
pub enum Scope<'s> {
    /// Finding entry events: only the patient table, joined as this alias.
    Entry { patient: &'s str },
    /// A cohort row, as this alias, with the steps it reads joined under their own names.
    Cohort { cohort: &'s str },
}

/// A column of a frame's events: a stored column of a table alias, or an expression.
#[derive(Debug, Clone)]
enum Col {
    Stored { alias: String, table: Table, column: &'static str },
    Sql(String),
}

/// The columns of a frame's events in the SELECT being written.
#[derive(Debug, Clone, Default)]
pub struct Env {
    columns: Vec<(String, Col)>,
}

impl Env {
    fn set(&mut self, name: &str, col: Col) {
        match self.columns.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = col,
            None => self.columns.push((name.to_string(), col)),
        }
    }
}

/// A frame as SQL: tables joined (each `JOIN … ON … = <cohort>.patient_key`), conditions, columns.
#[derive(Debug, Default)]
pub struct FrameSql {
    pub joins: Vec<String>,
    pub conditions: Vec<String>,
    pub env: Env,
}

/// Whether a frame reads a site table directly (entry) or the cohort's rows CTE of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Table,
    Rows,
}

pub fn rows_cte(table: Table) -> String {
    format!("rows_{}", table.name())
}

pub struct Renderer<'a> {
    pub dialect: &'a dyn Dialect,
    pub plan: &'a Plan,
    /// The stored columns each table's rows CTE must carry.
    pub used: RefCell<BTreeMap<Table, BTreeSet<&'static str>>>,
    aliases: RefCell<usize>,
}

impl<'a> Renderer<'a> {
    pub fn new(dialect: &'a dyn Dialect, plan: &'a Plan) -> Renderer<'a> {
        Renderer { dialect, plan, used: RefCell::new(BTreeMap::new()), aliases: RefCell::new(0) }
    }

    /// Event aliases restart in each SELECT.
    pub fn reset_aliases(&self) {
        *self.aliases.borrow_mut() = 0;
    }

    fn next_alias(&self) -> String {
        let mut n = self.aliases.borrow_mut();
        *n += 1;
        if *n == 1 { "e".to_string() } else { format!("e{n}") }
    }

    pub fn column(&self, env: &Env, name: &str) -> String {
        let (_, col) =
            env.columns.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("column {name} is not in the frame"));
        match col {
            Col::Stored { alias, table, column } => self.stored(alias, *table, column),
            Col::Sql(sql) => sql.clone(),
        }
    }

    /// A stored column, noted as one the table's rows CTE must carry.
    fn stored(&self, alias: &str, table: Table, column: &'static str) -> String {
        self.used.borrow_mut().entry(table).or_default().insert(column);
        format!("{alias}.{}", self.dialect.ident(column))
    }

    pub fn value(&self, v: &Value) -> String {
        let d = self.dialect;
        match v {
            Value::Missing => "NULL".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => d.int(*i),
            Value::Float(x) => d.double(*x),
            Value::Text(s) => d.string(s),
            Value::Date(days) => d.date(*days),
            Value::Timestamp(_) => unreachable!("scripts have no timestamp values"),
        }
    }

    pub fn patient(&self, e: &Expr<PatientLeaf>, scope: Scope) -> String {
        self.expr(e, &|leaf| self.patient_leaf(leaf, scope))
    }

    pub fn event(&self, e: &Expr<EventLeaf>, env: &Env, scope: Scope) -> String {
        self.expr(e, &|leaf| match leaf {
            EventLeaf::Column(name) => self.column(env, name),
            EventLeaf::Patient(p) => self.patient(p, scope),
        })
    }

    fn patient_leaf(&self, leaf: &PatientLeaf, scope: Scope) -> String {
        let cohort = match (scope, leaf) {
            (Scope::Entry { patient }, PatientLeaf::Patient(col)) => {
                return format!("{patient}.{}", self.dialect.ident(col));
            }
            (Scope::Entry { .. }, _) => unreachable!("the compiler keeps cohort values out of the entry"),
            (Scope::Cohort { cohort }, _) => cohort,
        };
        let ident = |name: &str| self.dialect.ident(name);
        let step = |id: usize, col: &str| format!("{}.{}", ident(self.plan.name(id)), ident(col));
        match leaf {
            PatientLeaf::Patient(col) => format!("{cohort}.{}", ident(col)),
            PatientLeaf::Index => format!("{cohort}.{}", ident("index_date")),
            PatientLeaf::Entry(col) => format!("{cohort}.{}", ident(&format!("entry.{col}"))),
            PatientLeaf::Aggregate(a) => {
                let v = step(std::sync::Arc::as_ptr(a) as *const () as usize, "value");
                match a.kind {
                    AggKind::Exists => format!("coalesce({v}, false)"),
                    AggKind::Count | AggKind::Sum(_) => format!("coalesce({v}, 0)"),
                    AggKind::Min(_) | AggKind::Max(_) => v,
                }
            }
            PatientLeaf::Pick(p, col) => step(std::sync::Arc::as_ptr(p) as *const () as usize, col),
            PatientLeaf::Exposure(x, part) => step(
                std::sync::Arc::as_ptr(x) as *const () as usize,
                match part {
                    ExposurePart::Start => "start",
                    ExposurePart::LastSupplied => "last_supplied",
                },
            ),
        }
    }

    fn expr<L>(&self, e: &Expr<L>, leaf: &dyn Fn(&L) -> String) -> String {
        let d = self.dialect;
        let r = |x: &Expr<L>| self.expr(x, leaf);
        match e {
            Expr::Const(v) => self.value(v),
            Expr::Leaf(l) => leaf(l),
            Expr::Not(a) => format!("(NOT {})", r(a)),
            Expr::Neg(a) => format!("(- {})", r(a)),
            Expr::Binary(op, a, b) => {
                let (a, b) = (r(a), r(b));
                match op {
                    BinOp::And => format!("({a} AND {b})"),
                    BinOp::Or => format!("({a} OR {b})"),
                    BinOp::Eq => format!("({a} = {b})"),
                    BinOp::Ne => format!("({a} <> {b})"),
                    BinOp::Lt => format!("({a} < {b})"),
                    BinOp::Le => format!("({a} <= {b})"),
                    BinOp::Gt => format!("({a} > {b})"),
                    BinOp::Ge => format!("({a} >= {b})"),
                    BinOp::Add => format!("({a} + {b})"),
                    BinOp::Sub => format!("({a} - {b})"),
                    BinOp::Mul => format!("({a} * {b})"),
                    BinOp::Div => {
                        format!("({} / NULLIF({}, 0))", d.cast(&a, SqlType::Double), d.cast(&b, SqlType::Double))
                    }
                    BinOp::Pow => {
                        format!("(CASE WHEN {a} > 0 THEN {} END)", d.power(&d.cast(&a, SqlType::Double), &b))
                    }
                    BinOp::AddDays => d.add_days(&a, &b),
                    BinOp::SubDays => d.add_days(&a, &format!("(- {b})")),
                    BinOp::DaysBetween => d.days_between(&a, &b),
                }
            }
            Expr::If(c, a, b) => format!("(CASE WHEN {} THEN {} ELSE {} END)", r(c), r(a), r(b)),
            Expr::Func(f, args) => {
                let args: Vec<String> = args.iter().map(|a| r(a)).collect();
                match f {
                    Func::AgeAt => d.age_at(&args[0], &args[1]),
                    Func::YearMonth => d.year_month(&args[0]),
                    Func::Year => d.year(&args[0]),
                    Func::Earliest => d.least(&args),
                    Func::Latest => d.greatest(&args),
                    Func::Coalesce => format!("coalesce({})", args.join(", ")),
                    Func::Prefix(n) => d.left(&args[0], *n),
                    Func::ToFloat => d.cast(&args[0], SqlType::Double),
                    Func::Analyte => self.analyte_of(&args[0]),
                    Func::IsMissing => format!("({} IS NULL)", args[0]),
                }
            }
            Expr::InCodes(x, codes) => self.codelist(&r(x), codes),
            Expr::InList(x, values) => {
                let values: Vec<String> = values.iter().map(|v| self.value(v)).collect();
                format!("({} IN ({}))", r(x), values.join(", "))
            }
        }
    }

    /// The lab master's analyte id of a JLAC10 code.
    fn analyte_of(&self, code: &str) -> String {
        let whens: Vec<String> = tables::analytes()
            .iter()
            .map(|a| {
                let pattern =
                    Pattern::Analyte { analyte_code: a.analyte_code.clone(), specimen_code: a.specimen_code.clone() };
                format!("WHEN {} THEN {}", self.pattern(code, &pattern), self.dialect.string(&a.id))
            })
            .collect();
        format!("(CASE {} END)", whens.join(" "))
    }

    fn pattern(&self, x: &str, pattern: &Pattern) -> String {
        let d = self.dialect;
        match pattern {
            Pattern::Prefix(p) => format!("{} = {}", d.left(x, p.chars().count()), d.string(p)),
            Pattern::Analyte { analyte_code, specimen_code } => format!(
                "({} = {} AND {} = {})",
                d.left(x, analyte_code.chars().count()),
                d.string(analyte_code),
                d.substring(x, 10, specimen_code.chars().count()),
                d.string(specimen_code)
            ),
        }
    }

    /// Prefixes grouped by length, so a long codelist is a few `IN` lists.
    pub fn codelist(&self, x: &str, codes: &Codelist) -> String {
        // A union of plain code lists is one list.
        if let Codelist::Union(a, b) = codes
            && let (Some(pa), Some(pb)) = (plain_patterns(a), plain_patterns(b))
        {
            let patterns = pa.into_iter().chain(pb).collect();
            return self.codelist(x, &Codelist::Codes { system: codes.system(), patterns });
        }
        match codes {
            Codelist::Codes { patterns, .. } => {
                let mut by_length: BTreeMap<usize, Vec<String>> = BTreeMap::new();
                let mut others = Vec::new();
                for p in patterns {
                    match p {
                        Pattern::Prefix(s) => {
                            by_length.entry(s.chars().count()).or_default().push(self.dialect.string(s))
                        }
                        analyte => others.push(self.pattern(x, analyte)),
                    }
                }
                let mut parts: Vec<String> = by_length
                    .into_iter()
                    .map(|(n, list)| match list.len() {
                        1 => format!("{} = {}", self.dialect.left(x, n), list[0]),
                        _ => format!("{} IN ({})", self.dialect.left(x, n), list.join(", ")),
                    })
                    .collect();
                parts.extend(others);
                format!("({})", parts.join(" OR "))
            }
            Codelist::Union(a, b) => format!("({} OR {})", self.codelist(x, a), self.codelist(x, b)),
            Codelist::Minus(a, b) => format!("({} AND NOT {})", self.codelist(x, a), self.codelist(x, b)),
        }
    }

    /// A frame's events. For `Source::Rows` each table joins the cohort alias of `scope`; for
    /// `Source::Table` (the entry) the frame is a single table under the alias `e`.
    pub fn frame(&self, frame: &Frame, source: Source, scope: Scope) -> FrameSql {
        match frame {
            Frame::Table(table) => {
                let alias = self.next_alias();
                let mut env = Env::default();
                let date = match source {
                    Source::Rows => Col::Sql(format!("{alias}.{}", self.dialect.ident("date"))),
                    Source::Table => {
                        let date_col = table.column(table.date_column()).expect("the date column is in the table");
                        let stored = self.stored(&alias, *table, date_col.name);
                        Col::Sql(match date_col.ty {
                            ColumnType::Timestamp => self.dialect.timestamp_date(&stored),
                            ColumnType::Value(_) => stored,
                        })
                    }
                };
                env.set("date", date);
                for c in table.columns() {
                    env.set(c.name, Col::Stored { alias: alias.clone(), table: *table, column: c.name });
                }
                let joins = match (source, scope) {
                    (Source::Rows, Scope::Cohort { cohort }) => {
                        vec![format!("JOIN {} {alias} ON {alias}.patient_key = {cohort}.patient_key", rows_cte(*table))]
                    }
                    (Source::Table, _) => vec![format!("{} {alias}", self.dialect.ident(table.name()))],
                    (Source::Rows, Scope::Entry { .. }) => unreachable!("rows CTEs exist only for the cohort"),
                };
                FrameSql { joins, conditions: Vec::new(), env }
            }
            Frame::Filter(inner, cond) => {
                let mut f = self.frame(inner, source, scope);
                for c in conjuncts(cond) {
                    let sql = self.event(c, &f.env, scope);
                    f.conditions.push(sql);
                }
                f
            }
            Frame::With(inner, name, expr, _) => {
                let mut f = self.frame(inner, source, scope);
                let sql = self.event(expr, &f.env, scope);
                f.env.set(name, Col::Sql(sql));
                f
            }
            Frame::Joint(parts, within) => {
                let mut joint = FrameSql::default();
                let mut dates = Vec::new();
                for (name, part) in parts {
                    let f = self.frame(part, source, scope);
                    dates.push(self.column(&f.env, "date"));
                    joint.joins.extend(f.joins);
                    joint.conditions.extend(f.conditions);
                    for (col, sql) in f.env.columns {
                        joint.env.set(&format!("{name}.{col}"), sql);
                    }
                }
                for i in 0..dates.len() {
                    for j in i + 1..dates.len() {
                        let (a, b) = (&dates[i], &dates[j]);
                        let lo = self.dialect.add_days(a, &format!("(- {within})"));
                        let hi = self.dialect.add_days(a, &within.to_string());
                        joint.conditions.push(format!("{b} BETWEEN {lo} AND {hi}"));
                    }
                }
                joint.env.set("date", Col::Sql(self.dialect.greatest(&dates)));
                joint
            }
        }
    }

    /// The ORDER BY of a frame's stated order (`reverse`: last first).
    pub fn order_by(&self, frame: &Frame, env: &Env, reverse: bool) -> Vec<SortKey> {
        self.order_by_key(&frame.order_key(), env, reverse)
    }

    /// The ORDER BY of these key columns, each ascending with missing last (`reverse`: the exact
    /// reverse).
    pub fn order_by_key(&self, key: &[String], env: &Env, reverse: bool) -> Vec<SortKey> {
        key.iter().map(|c| SortKey { expr: self.column(env, c), descending: reverse }).collect()
    }
}

/// The patterns of a codelist made of plain lists and their unions.
fn plain_patterns(codes: &Codelist) -> Option<Vec<Pattern>> {
    match codes {
        Codelist::Codes { patterns, .. } => Some(patterns.clone()),
        Codelist::Union(a, b) => Some(plain_patterns(a)?.into_iter().chain(plain_patterns(b)?).collect()),
        Codelist::Minus(..) => None,
    }
}

/// The conditions that must all hold: `a and b and c` is `[a, b, c]`.
fn conjuncts(e: &Expr<EventLeaf>) -> Vec<&Expr<EventLeaf>> {
    match e {
        Expr::Binary(BinOp::And, a, b) => {
            let mut out = conjuncts(a);
            out.extend(conjuncts(b));
            out
        }
        other => vec![other],
    }
}
