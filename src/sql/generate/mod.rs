//! The query model as SQL, in an engine's dialect: one query per output and one for the attrition
//! table, each a single `WITH` statement with one CTE per named step, so a reviewer can read what
//! runs.
//!
//! The shape of every query:
//! - `patients`: the patient table as every query reads it, each birth date moved to the first day
//!   of its month ([`patients_cte`]), so that no output can depend on the day of birth. Nothing
//!   else in a query reads the patient table;
//! - `entry_events`, `entry`, `cohort_base`: qualifying events in the study period, the first (or
//!   every) one per patient, joined with `patients`: one row per cohort row;
//! - `rows_<table>`: the events of the cohort's patients that any step can use (narrowed by the
//!   steps' codelists when they all name one), computed once;
//! - one CTE per step that a rule reads, keyed by cohort row (`patient_key`, `entry_no`);
//! - `cohort`: the rows the rules keep;
//! - one CTE per step the output reads, for the kept rows only; the final SELECT.
//!
//! No correlated subqueries: every step is a join of the cohort with a rows CTE, grouped or
//! windowed by cohort row, which DuckDB runs as hash joins and sorts.

mod plan;
mod render;

use std::collections::BTreeMap;
use std::sync::Arc;

use plan::{Group, Level, Plan, Root, Step, StepNode, frames_by_table, overrides_date, refs_e, refs_frame, refs_p};
use render::{Renderer, Scope, Source, rows_cte};

use super::dialect::{Dialect, SortKey, SqlType};
use crate::query::model::*;
use crate::query::tables::{ColumnType, Table};
use crate::query::value::Type;
use crate::schema::ColumnRole;

/// The compiled SQL of a program.
#[derive(Debug, Clone)]
pub struct Queries {
    pub outputs: Vec<OutputQuery>,
    /// Rows (step, rule, kind, patients_before, removed, patients_after), step 0 being the entry.
    pub attrition: String,
    /// The attrition query as its steps.
    pub attrition_steps: Steps,
}

/// A query as its named steps, in order, and its final SELECT: each step a SELECT that reads the
/// tables and the earlier steps by name. The same query as the one `WITH` statement, for an engine
/// that runs the steps one at a time (Spark, which plans a CTE again at each reference:
/// `crate::spark::Session::query_in_steps`).
#[derive(Debug, Clone)]
pub struct Steps {
    /// (name, SELECT)
    pub steps: Vec<(String, String)>,
    pub select: String,
}

#[derive(Debug, Clone)]
pub struct OutputQuery {
    pub name: String,
    /// One row per cohort row (`true`) or per event.
    pub patient_level: bool,
    pub sql: String,
    /// The same query as its steps.
    pub steps: Steps,
    /// The columns after `patient_key`, which always comes first.
    pub columns: Vec<QueryColumn>,
}

#[derive(Debug, Clone)]
pub struct QueryColumn {
    pub name: String,
    pub ty: Type,
    /// The SQL type of the column in the result; a condition is an INTEGER 1/0.
    pub sql_type: &'static str,
    pub role: ColumnRole,
}

/// Compile a program to the SQL of an engine.
pub fn generate(program: &Program, dialect: &dyn Dialect) -> Queries {
    let (attrition, attrition_steps) = attrition_query(program, dialect);
    Queries {
        outputs: program.outputs.iter().map(|o| output_query(program, o, dialect)).collect(),
        attrition,
        attrition_steps,
    }
}

struct Cte {
    name: String,
    comment: String,
    body: String,
    materialized: bool,
}

fn cte(name: impl Into<String>, comment: impl Into<String>, body: String) -> Cte {
    Cte { name: name.into(), comment: comment.into(), body, materialized: false }
}

fn rule_conditions(program: &Program) -> Vec<&PExpr> {
    program.rules.iter().map(|r| &r.condition).collect()
}

fn output_query(program: &Program, output: &Output, dialect: &dyn Dialect) -> OutputQuery {
    let rules = rule_conditions(program);
    let roots: Vec<Root> = match output {
        Output::Patients { columns, .. } => columns.iter().map(|c| Root::Patient(&c.expr)).collect(),
        Output::Events { frame, columns, .. } => {
            std::iter::once(Root::Frame(frame)).chain(columns.iter().map(|c| Root::Event(&c.expr))).collect()
        }
    };
    let plan = Plan::new(&rules, &roots);
    let r = Renderer::new(dialect, &plan);
    let mut head = entry_ctes(program, &r);
    let base = steps_at(&r, Level::Base);
    let cohort = cohort_cte(program, &r);
    let rest = steps_at(&r, Level::Final);
    r.reset_aliases();
    let (select, columns, patient_level, extra_frame) = match output {
        Output::Patients { columns, .. } => {
            let items: Vec<String> = std::iter::once("c.patient_key".to_string())
                .chain(columns.iter().map(|c| output_item(dialect, &r.patient(&c.expr, COHORT), c)))
                .collect();
            let deps = step_ids(columns.iter().flat_map(|c| refs_p(&c.expr, &mut Default::default())));
            let sql = format!(
                "{}\nFROM cohort c{}\nORDER BY c.patient_key, c.entry_no",
                select_list(&items),
                dep_joins(&r, &deps)
            );
            (sql, query_columns(dialect, columns), true, None)
        }
        Output::Events { frame, columns, .. } => {
            let f = r.frame(frame, Source::Rows, COHORT);
            let items: Vec<String> = std::iter::once("c.patient_key".to_string())
                .chain(columns.iter().map(|c| output_item(dialect, &r.event(&c.expr, &f.env, COHORT), c)))
                .collect();
            let mut refs = refs_frame(frame, &mut Default::default());
            refs.extend(columns.iter().flat_map(|c| refs_e(&c.expr, &mut Default::default())));
            let order = r.order_by(frame, &f.env, false);
            let sql = format!(
                "{}\nFROM cohort c{}\n{}{}\nORDER BY c.patient_key, c.entry_no, {}",
                select_list(&items),
                dep_joins(&r, &step_ids(refs.into_iter())),
                f.joins.join("\n"),
                where_clause(&f.conditions),
                dialect.order_by(&order)
            );
            (sql, query_columns(dialect, columns), false, Some(frame.clone()))
        }
    };
    head.extend(rows_ctes(&r, extra_frame.as_ref(), Level::Base));
    head.extend(base);
    head.push(cohort);
    head.extend(rows_ctes(&r, extra_frame.as_ref(), Level::Final));
    head.extend(rest);
    let (sql, steps) = assemble(dialect, head, &select);
    OutputQuery { name: output.name().to_string(), patient_level, sql, steps, columns }
}

fn attrition_query(program: &Program, dialect: &dyn Dialect) -> (String, Steps) {
    let rules = rule_conditions(program);
    let plan = Plan::new(&rules, &[]);
    let r = Renderer::new(dialect, &plan);
    let mut ctes = entry_ctes(program, &r);
    let base = steps_at(&r, Level::Base);
    let mut flags = vec!["c.patient_key".to_string()];
    for (k, rule) in program.rules.iter().enumerate() {
        flags.push(format!("{} AS r{}", passes(&r, rule), k + 1));
    }
    let deps = step_ids(rules.iter().flat_map(|e| refs_p(e, &mut Default::default())));
    let flags_sql = format!("{}\nFROM cohort_base c{}", select_list(&flags), dep_joins(&r, &deps));
    let mut counts = vec!["count(DISTINCT patient_key) AS after_0".to_string()];
    for k in 1..=program.rules.len() {
        let all: Vec<String> = (1..=k).map(|j| format!("r{j}")).collect();
        counts.push(format!("count(DISTINCT patient_key) FILTER (WHERE {}) AS after_{k}", all.join(" AND ")));
    }
    let entry = dialect.string("entry");
    let mut lines = vec![format!(
        "SELECT 0 AS step, {entry} AS rule, {entry} AS kind, (SELECT count(*) FROM {PATIENTS}) AS patients_before, after_0 AS patients_after FROM attrition_counts"
    )];
    for (k, rule) in program.rules.iter().enumerate() {
        let kind = match rule.kind {
            RuleKind::Require => "require",
            RuleKind::Exclude => "exclude",
        };
        lines.push(format!(
            "UNION ALL SELECT {}, {}, {}, after_{k}, after_{} FROM attrition_counts",
            k + 1,
            dialect.string(&rule.name),
            dialect.string(kind),
            k + 1
        ));
    }
    ctes.extend(rows_ctes(&r, None, Level::Base));
    ctes.extend(base);
    ctes.push(cte("attrition_flags", "whether each entry passes each rule", flags_sql));
    ctes.push(cte(
        "attrition_counts",
        "patients left after each rule",
        select_list(&counts) + "\nFROM attrition_flags",
    ));
    let select = format!(
        "SELECT step, rule, kind, patients_before, patients_before - patients_after AS removed, patients_after\nFROM (\n{}\n)\nORDER BY step",
        indent(&lines.join("\n"))
    );
    assemble(dialect, ctes, &select)
}

const COHORT: Scope<'static> = Scope::Cohort { cohort: "c" };

/// A rule as a condition that is true when the row passes it.
fn passes(r: &Renderer, rule: &Rule) -> String {
    let cond = r.patient(&rule.condition, COHORT);
    match rule.kind {
        RuleKind::Require => format!("coalesce({cond}, false)"),
        RuleKind::Exclude => format!("NOT coalesce({cond}, false)"),
    }
}

fn output_item(dialect: &dyn Dialect, sql: &str, column: &OutputColumn<impl Sized>) -> String {
    format!("{} AS {}", dialect.cast(sql, SqlType::of(column.ty)), dialect.ident(&column.name))
}

fn query_columns<E>(dialect: &dyn Dialect, columns: &[OutputColumn<E>]) -> Vec<QueryColumn> {
    columns
        .iter()
        .map(|c| QueryColumn {
            name: c.name.clone(),
            ty: c.ty,
            sql_type: dialect.type_name(SqlType::of(c.ty)),
            role: c.role,
        })
        .collect()
}

fn step_ids(nodes: impl Iterator<Item = StepNode>) -> Vec<usize> {
    let mut ids: Vec<usize> = Vec::new();
    for n in nodes {
        if !ids.contains(&n.id()) {
            ids.push(n.id());
        }
    }
    ids
}

fn dep_joins(r: &Renderer, deps: &[usize]) -> String {
    deps.iter()
        .map(|&id| {
            let name = r.dialect.ident(r.plan.name(id));
            format!("\nLEFT JOIN {name} ON {name}.patient_key = c.patient_key AND {name}.entry_no = c.entry_no")
        })
        .collect()
}

fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() { String::new() } else { format!("\nWHERE {}", conditions.join("\n  AND ")) }
}

fn select_list(items: &[String]) -> String {
    if items.len() <= 3 {
        format!("SELECT {}", items.join(", "))
    } else {
        format!("SELECT\n{}", indent(&items.join(",\n")))
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { String::new() } else { format!("    {l}") }).collect::<Vec<_>>().join("\n")
}

/// The query as one `WITH` statement, and as its steps.
fn assemble(dialect: &dyn Dialect, ctes: Vec<Cte>, select: &str) -> (String, Steps) {
    let steps = Steps { steps: ctes.iter().map(|c| (c.name.clone(), c.body.clone())).collect(), select: select.into() };
    let parts: Vec<String> = ctes
        .into_iter()
        .map(|c| {
            let name = dialect.ident(&c.name);
            let as_ = if c.materialized { dialect.materialized() } else { "AS" };
            format!("-- {}\n{name} {as_} (\n{}\n)", c.comment, indent(&c.body))
        })
        .collect();
    (format!("WITH\n{}\n{select}\n", parts.join(",\n")), steps)
}

/// The name under which every query reads the patient table (see [`patients_cte`]).
const PATIENTS: &str = "patients";

/// The patient table as every query reads it: each birth date is the first day of its month.
/// Ages, rules, derived values and outputs all start from here, so that no script, whatever it
/// computes, can make a result depend on the day of birth (only the birth year-month may leave a
/// site). The query model has no other way to the patient table.
fn patients_cte(dialect: &dyn Dialect) -> Cte {
    let body = format!(
        "SELECT patient_key, sex, {} AS birth_date, death_date\nFROM patient",
        dialect.first_of_month("birth_date")
    );
    cte(PATIENTS, "the patient table with each birth date as the first day of its month", body)
}

/// The cohort rows before the rules: `patients`, `entry_events`, `entry`, `cohort_base`.
fn entry_ctes(program: &Program, r: &Renderer) -> Vec<Cte> {
    r.reset_aliases();
    let frame = &program.entry.frame;
    let f = r.frame(frame, Source::Table, Scope::Entry { patient: "p" });
    // The entry event's columns that are read, and the part of the stated order that decides
    // which event is first among those that differ in them.
    let read: std::collections::BTreeSet<String> =
        std::iter::once("date".to_string()).chain(r.plan.reads.entry.iter().cloned()).collect();
    let key = pick_key(frame, &read);
    let columns: Vec<String> =
        frame.columns().into_iter().map(|(name, _)| name).filter(|c| read.contains(c) || key.contains(c)).collect();
    let mut items = vec!["e.patient_key".to_string()];
    items.extend(columns.iter().map(|c| format!("{} AS {}", r.column(&f.env, c), r.dialect.ident(c))));
    items.extend(["p.sex", "p.birth_date", "p.death_date"].map(String::from));
    let mut conditions = f.conditions.clone();
    let date = r.column(&f.env, "date");
    conditions.push(format!(
        "{date} BETWEEN {} AND {}",
        r.dialect.date(program.study.start),
        r.dialect.date(program.study.end)
    ));
    let events = format!(
        "{}\nFROM {}\nJOIN {PATIENTS} p ON p.patient_key = e.patient_key{}",
        select_list(&items),
        f.joins.join("\n"),
        where_clause(&conditions)
    );
    let order: Vec<SortKey> = key.iter().map(|c| SortKey::ascending(r.dialect.ident(c))).collect();
    let window = format!("PARTITION BY patient_key ORDER BY {}", r.dialect.order_by(&order));
    let entry = match program.entry.which {
        Which::First => r.dialect.first_row_per("SELECT *, 1 AS entry_no", "FROM entry_events", "patient_key", &order),
        Which::Every => format!("SELECT *, row_number() OVER ({window}) AS entry_no\nFROM entry_events"),
    };
    let index_date = format!("{} AS index_date", r.dialect.ident("date"));
    let mut base = vec!["patient_key", "entry_no", &index_date, "sex", "birth_date", "death_date"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    base.extend(read.iter().map(|c| format!("{} AS {}", r.dialect.ident(c), r.dialect.ident(&format!("entry.{c}")))));
    let which = match program.entry.which {
        Which::First => "the first qualifying event of each patient",
        Which::Every => "every qualifying event, numbered per patient",
    };
    // Columns the entry frame used are the raw table's; the rows CTEs start afresh.
    r.used.borrow_mut().clear();
    vec![
        patients_cte(r.dialect),
        cte("entry_events", "qualifying events in the study period", events),
        cte("entry", which, entry),
        cte("cohort_base", "one row per cohort entry, before the rules", format!("{}\nFROM entry", select_list(&base))),
    ]
}

/// `rows_<table>`: the events that the query's frames read, of the patients entered (for a table
/// a rule reads: `Level::Base`) or of the patients the rules keep (for the other tables:
/// `Level::Final`).
fn rows_ctes(r: &Renderer, extra: Option<&FrameRef>, level: Level) -> Vec<Cte> {
    let frames = r.plan.steps.iter().map(|s| s.node.frame().clone()).chain(extra.cloned());
    let by_table = frames_by_table(frames);
    let base_tables =
        frames_by_table(r.plan.steps.iter().filter(|s| s.level == Level::Base).map(|s| s.node.frame().clone()));
    let used = r.used.borrow();
    by_table
        .into_iter()
        .filter(|(table, _)| base_tables.contains_key(table) == (level == Level::Base))
        .map(|(table, frames)| {
            let mut items = vec!["e.patient_key".to_string()];
            let date_col = table.column(table.date_column()).expect("the date column is in the table");
            let date = match date_col.ty {
                ColumnType::Timestamp => r.dialect.timestamp_date(&format!("e.{}", r.dialect.ident(date_col.name))),
                ColumnType::Value(_) => format!("e.{}", r.dialect.ident(date_col.name)),
            };
            items.push(format!("{date} AS {}", r.dialect.ident("date")));
            let wanted = used.get(&table);
            for c in table.columns() {
                if wanted.is_some_and(|w| w.contains(c.name)) {
                    items.push(format!("e.{}", r.dialect.ident(c.name)));
                }
            }
            let mut conditions = vec![format!("e.patient_key IN (SELECT patient_key FROM {})", cohort_of(level))];
            let narrowed = prefilter(r, table, &frames);
            conditions.extend(narrowed.clone());
            let comment = match narrowed {
                Some(_) => format!("{} of the cohort's patients with codes any step can match", table.plural()),
                None => format!("{} of the cohort's patients", table.plural()),
            };
            let body = format!(
                "{}\nFROM {} e{}",
                select_list(&items),
                r.dialect.ident(table.name()),
                where_clause(&conditions)
            );
            Cte { name: rows_cte(table), comment, body, materialized: frames.len() > 1 }
        })
        .collect()
}

/// When every frame over a table requires a codelist on the same code column, the rows CTE keeps
/// only codes that could match one of them (prefixes of the codelists' included patterns).
fn prefilter(r: &Renderer, table: Table, frames: &[FrameRef]) -> Option<String> {
    let per_frame: Vec<BTreeMap<&'static str, Arc<Codelist>>> =
        frames.iter().map(|f| code_conjuncts(table, f)).collect();
    let column = table.columns().iter().map(|c| c.name).find(|c| per_frame.iter().all(|m| m.contains_key(c)))?;
    let mut patterns = Vec::new();
    for m in &per_frame {
        included_prefixes(&m[column], &mut patterns);
    }
    patterns.sort();
    patterns.dedup();
    let system = per_frame[0][column].system();
    let union = Codelist::Codes { system, patterns: patterns.into_iter().map(Pattern::Prefix).collect() };
    Some(r.codelist(&format!("e.{}", r.dialect.ident(column)), &union))
}

/// The codelists a frame's conditions imply for its code columns: an event passes only if its
/// code matches them.
fn code_conjuncts(table: Table, frame: &Frame) -> BTreeMap<&'static str, Arc<Codelist>> {
    let mut found = BTreeMap::new();
    let mut node = frame;
    loop {
        match node {
            Frame::Filter(inner, cond) => {
                for (column, codes) in implied_codes(table, cond) {
                    found.entry(column).or_insert(codes);
                }
                node = inner;
            }
            Frame::With(inner, ..) => node = inner,
            Frame::Table(_) | Frame::Joint(..) => return found,
        }
    }
}

/// `column in codes` implies the codes; `a and b` what either side implies; `a or b` the union of
/// what both sides imply for the same column.
fn implied_codes(table: Table, e: &Expr<EventLeaf>) -> BTreeMap<&'static str, Arc<Codelist>> {
    match e {
        Expr::InCodes(x, codes) => match x.as_ref() {
            Expr::Leaf(EventLeaf::Column(name)) => match table.column(name) {
                Some(col) if col.system.is_some() => BTreeMap::from([(col.name, codes.clone())]),
                _ => BTreeMap::new(),
            },
            _ => BTreeMap::new(),
        },
        Expr::Binary(BinOp::And, a, b) => {
            let mut found = implied_codes(table, a);
            for (column, codes) in implied_codes(table, b) {
                found.entry(column).or_insert(codes);
            }
            found
        }
        Expr::Binary(BinOp::Or, a, b) => {
            let right = implied_codes(table, b);
            implied_codes(table, a)
                .into_iter()
                .filter_map(|(column, codes)| {
                    right.get(column).map(|other| (column, Arc::new(Codelist::Union(codes, other.clone()))))
                })
                .collect()
        }
        _ => BTreeMap::new(),
    }
}

/// Prefixes that every code the codelist matches begins with (a superset of its matches).
fn included_prefixes(codes: &Codelist, out: &mut Vec<String>) {
    match codes {
        Codelist::Codes { patterns, .. } => out.extend(patterns.iter().map(|p| match p {
            Pattern::Prefix(s) => s.clone(),
            Pattern::Analyte { analyte_code, .. } => analyte_code.clone(),
        })),
        Codelist::Union(a, b) => {
            included_prefixes(a, out);
            included_prefixes(b, out);
        }
        Codelist::Minus(a, _) => included_prefixes(a, out),
    }
}

fn cohort_cte(program: &Program, r: &Renderer) -> Cte {
    let conditions: Vec<String> = program.rules.iter().map(|rule| passes(r, rule)).collect();
    let deps = step_ids(rule_conditions(program).into_iter().flat_map(|e| refs_p(e, &mut Default::default())));
    let body = format!("SELECT c.*\nFROM cohort_base c{}{}", dep_joins(r, &deps), where_clause(&conditions));
    cte("cohort", "the cohort rows every rule keeps", body)
}

/// The steps of a level, layer by layer: one pass over each table's rows for the aggregations and
/// picks of a layer, then the steps that need their own query (joint events, exposures).
fn steps_at(r: &Renderer, level: Level) -> Vec<Cte> {
    let mut ctes = Vec::new();
    for layer in r.plan.layers(level) {
        for group in r.plan.groups.iter().filter(|g| g.level == level && g.layer == layer) {
            ctes.extend(group_ctes(r, group));
        }
        for step in r.plan.steps.iter().filter(|s| s.level == level && s.layer == layer && s.shared_table().is_none()) {
            ctes.extend(step_ctes(r, step));
        }
    }
    ctes
}

fn cohort_of(level: Level) -> &'static str {
    match level {
        Level::Base => "cohort_base",
        Level::Final => "cohort",
    }
}

/// The aggregations and picks of one layer over one table as conditional aggregates of a single
/// join of the cohort with the table's rows, then one small CTE per step under its own name.
///
/// The conditions all steps share become the pass's WHERE; the rest filter each aggregate. Picks,
/// which sort, have a pass of their own, so that their shared conditions (a baseline window)
/// narrow the events before any sort key is made. (Conditions on the events' columns alone are
/// never OR-ed into a WHERE: DuckDB would push such a union into the rows CTE, where it costs
/// more than it saves.)
fn group_ctes(r: &Renderer, group: &Group) -> Vec<Cte> {
    /// A step's aggregate, before the conditions that are its own.
    enum Head {
        /// An aggregate call, which a FILTER clause follows.
        Call(String),
        /// A record of the group's first row in this order (the dialect applies the conditions).
        FirstInOrder(String, Vec<SortKey>),
    }
    struct Part {
        head: Head,
        conditions: Vec<String>,
        projection: Vec<String>,
        comment: &'static str,
    }
    let steps: Vec<&Step> = group.steps.iter().map(|&i| &r.plan.steps[i]).collect();
    let mut join = String::new();
    let mut parts = Vec::new();
    for step in &steps {
        r.reset_aliases();
        let f = r.frame(step.node.frame(), Source::Rows, COHORT);
        join = f.joins.join("\n");
        let mut conditions = f.conditions.clone();
        let name = r.dialect.ident(&step.name);
        let (head, projection, comment) = match &step.node {
            StepNode::Aggregate(a) => {
                let head = match &a.kind {
                    AggKind::Exists | AggKind::Count => "count(*)".to_string(),
                    AggKind::Sum(e) => format!("sum({})", r.event(e, &f.env, COHORT)),
                    AggKind::Min(e) => format!("min({})", r.event(e, &f.env, COHORT)),
                    AggKind::Max(e) => format!("max({})", r.event(e, &f.env, COHORT)),
                };
                (Head::Call(head), vec![format!("{name} AS {}", r.dialect.ident("value"))], aggregate_comment(&a.kind))
            }
            StepNode::Pick(p) => {
                let wanted = r.plan.reads.picks.get(&step.node.id()).cloned().unwrap_or_default();
                if let Some(agg) = date_aggregate(p, &wanted) {
                    let head = Head::Call(format!("{agg}({})", r.column(&f.env, "date")));
                    (head, vec![format!("{name} AS {}", r.dialect.ident("date"))], pick_comment(&p.order))
                } else {
                    let fields: Vec<(String, String)> =
                        wanted.iter().enumerate().map(|(i, c)| (format!("c{}", i + 1), r.column(&f.env, c))).collect();
                    let key = pick_key(&p.frame, &wanted);
                    let order = match &p.order {
                        PickOrder::First => r.order_by_key(&key, &f.env, false),
                        PickOrder::Last => r.order_by_key(&key, &f.env, true),
                        PickOrder::Highest(e) | PickOrder::Lowest(e) => {
                            let v = r.event(e, &f.env, COHORT);
                            conditions.push(format!("{v} IS NOT NULL"));
                            let first = SortKey { expr: v, descending: matches!(p.order, PickOrder::Highest(_)) };
                            std::iter::once(first).chain(r.order_by_key(&key, &f.env, true)).collect()
                        }
                    };
                    let head = Head::FirstInOrder(r.dialect.record(&fields), order);
                    let projection = wanted
                        .iter()
                        .zip(&fields)
                        .map(|(c, (field, _))| {
                            format!("{} AS {}", r.dialect.record_field(&name, field), r.dialect.ident(c))
                        })
                        .collect();
                    (head, projection, pick_comment(&p.order))
                }
            }
            StepNode::Exposure(_) => unreachable!("exposures are not grouped"),
        };
        parts.push(Part { head, conditions, projection, comment });
    }
    let common: Vec<String> =
        parts[0].conditions.iter().filter(|c| parts.iter().all(|p| p.conditions.contains(c))).cloned().collect();
    let mut items = vec!["c.patient_key".to_string(), "c.entry_no".to_string()];
    let mut projections = Vec::new();
    for (step, part) in steps.iter().zip(&parts) {
        let own: Vec<&String> = part.conditions.iter().filter(|c| !common.contains(c)).collect();
        let condition = (!own.is_empty()).then(|| own.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" AND "));
        let filter = condition.as_ref().map(|c| format!(" FILTER (WHERE {c})")).unwrap_or_default();
        let value = match (&part.head, &step.node) {
            (Head::FirstInOrder(record, order), _) => r.dialect.first_in_order(record, order, condition.as_deref()),
            (Head::Call(head), StepNode::Aggregate(a)) => match &a.kind {
                AggKind::Exists => format!("({head}{filter} > 0)"),
                AggKind::Sum(_) => r.dialect.cast(&format!("{head}{filter}"), SqlType::Int64),
                _ => format!("{head}{filter}"),
            },
            (Head::Call(head), _) => format!("{head}{filter}"),
        };
        items.push(format!("{value} AS {}", r.dialect.ident(&step.name)));
        let body = format!(
            "SELECT patient_key, entry_no, {}\nFROM {}",
            part.projection.join(", "),
            r.dialect.ident(&group.name)
        );
        projections.push(cte(&step.name, part.comment, body));
    }
    let deps: Vec<usize> = step_ids_of(steps.iter().flat_map(|s| s.deps.iter().copied()));
    let body = format!(
        "{}\nFROM {} c{}\n{join}{}\nGROUP BY c.patient_key, c.entry_no",
        select_list(&items),
        cohort_of(group.level),
        dep_joins(r, &deps),
        where_clause(&common)
    );
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    let comment = format!("one pass over the {} for: {}", group.table.plural(), names.join(", "));
    std::iter::once(cte(&group.name, comment, body)).chain(projections).collect()
}

fn step_ids_of(ids: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

fn aggregate_comment(kind: &AggKind) -> &'static str {
    match kind {
        AggKind::Exists => "whether each cohort row has such events",
        AggKind::Count => "how many such events each cohort row has",
        AggKind::Sum(_) => "the sum over each cohort row's events",
        AggKind::Min(_) => "the least value among each cohort row's events",
        AggKind::Max(_) => "the greatest value among each cohort row's events",
    }
}

fn pick_comment(order: &PickOrder) -> &'static str {
    match order {
        PickOrder::First => "each cohort row's first such event (by date, then the other columns)",
        PickOrder::Last => "each cohort row's last such event (by date, then the other columns)",
        PickOrder::Highest(_) => "each cohort row's event with the highest value (ties: the latest)",
        PickOrder::Lowest(_) => "each cohort row's event with the lowest value (ties: the latest)",
    }
}

/// When only the date of a first (last) event is read, it is the least (greatest) date; for the
/// last event only when a computed date cannot be missing (missing sorts last).
fn date_aggregate(p: &Pick, wanted: &std::collections::BTreeSet<String>) -> Option<&'static str> {
    let date_only = wanted.iter().all(|c| c == "date");
    match p.order {
        PickOrder::First if date_only => Some("min"),
        PickOrder::Last if date_only && !overrides_date(&p.frame) => Some("max"),
        _ => None,
    }
}

/// The part of the stated order a pick needs: up to the last key column that the read columns
/// depend on. Events that tie on it agree on every column read, so which of them comes first in
/// the full order does not change the result, and the rows CTE need not carry the rest.
fn pick_key(frame: &Frame, wanted: &std::collections::BTreeSet<String>) -> Vec<String> {
    let mut needed: Vec<String> = wanted.iter().cloned().collect();
    let mut node = frame;
    loop {
        match node {
            Frame::With(inner, name, expr, _) => {
                if needed.contains(name) {
                    expr.visit_leaves(&mut |leaf| {
                        if let EventLeaf::Column(c) = leaf {
                            needed.push(c.clone());
                        }
                    });
                }
                node = inner;
            }
            Frame::Filter(inner, _) => node = inner,
            Frame::Table(_) | Frame::Joint(..) => break,
        }
    }
    let key = frame.order_key();
    let last = key.iter().rposition(|k| needed.contains(k)).unwrap_or(0);
    key[..=last].to_vec()
}

/// A step with a query of its own: an aggregation or pick of joint events, or an exposure.
fn step_ctes(r: &Renderer, step: &Step) -> Vec<Cte> {
    r.reset_aliases();
    let f = r.frame(step.node.frame(), Source::Rows, COHORT);
    let from = format!("FROM {} c{}\n{}", cohort_of(step.level), dep_joins(r, &step.deps), f.joins.join("\n"));
    let key = "c.patient_key, c.entry_no";
    match &step.node {
        StepNode::Aggregate(a) => {
            let value = match &a.kind {
                AggKind::Exists => "true".to_string(),
                AggKind::Count => "count(*)".to_string(),
                AggKind::Sum(e) => r.dialect.cast(&format!("sum({})", r.event(e, &f.env, COHORT)), SqlType::Int64),
                AggKind::Min(e) => format!("min({})", r.event(e, &f.env, COHORT)),
                AggKind::Max(e) => format!("max({})", r.event(e, &f.env, COHORT)),
            };
            let body = format!(
                "SELECT {key}, {value} AS {}\n{from}{}\nGROUP BY {key}",
                r.dialect.ident("value"),
                where_clause(&f.conditions)
            );
            vec![cte(&step.name, aggregate_comment(&a.kind), body)]
        }
        StepNode::Pick(p) => {
            let wanted = r.plan.reads.picks.get(&step.node.id()).cloned().unwrap_or_default();
            let aggregate = date_aggregate(p, &wanted);
            if let Some(agg) = aggregate {
                let body = format!(
                    "SELECT {key}, {agg}({}) AS {}\n{from}{}\nGROUP BY {key}",
                    r.column(&f.env, "date"),
                    r.dialect.ident("date"),
                    where_clause(&f.conditions)
                );
                return vec![cte(&step.name, pick_comment(&p.order), body)];
            }
            let mut items: Vec<String> = vec!["c.patient_key".into(), "c.entry_no".into()];
            items.extend(wanted.iter().map(|c| format!("{} AS {}", r.column(&f.env, c), r.dialect.ident(c))));
            let mut conditions = f.conditions.clone();
            let order = match &p.order {
                PickOrder::First => r.order_by(&p.frame, &f.env, false),
                PickOrder::Last => r.order_by(&p.frame, &f.env, true),
                PickOrder::Highest(e) | PickOrder::Lowest(e) => {
                    let v = r.event(e, &f.env, COHORT);
                    conditions.push(format!("{v} IS NOT NULL"));
                    let first = SortKey { expr: v, descending: matches!(p.order, PickOrder::Highest(_)) };
                    std::iter::once(first).chain(r.order_by(&p.frame, &f.env, true)).collect()
                }
            };
            let body = r.dialect.first_row_per(
                &select_list(&items),
                &format!("{from}{}", where_clause(&conditions)),
                key,
                &order,
            );
            vec![cte(&step.name, pick_comment(&p.order), body)]
        }
        StepNode::Exposure(x) => exposure_ctes(r, step, x, &f, &from),
    }
}

/// An exposure episode in four steps: supply per day of orders; the first day not covered after
/// each order day (stockpiling decides how); where a gap exceeds the grace; the first episode.
fn exposure_ctes(r: &Renderer, step: &Step, x: &Exposure, f: &render::FrameSql, from: &str) -> Vec<Cte> {
    let d = r.dialect;
    let name = &step.name;
    let date = r.column(&f.env, "date");
    let days = r.column(&f.env, "days_supply");
    let mut conditions = f.conditions.clone();
    conditions.push(format!("{date} >= c.index_date"));
    // An order without days supplied (an injection order) covers no days: it is not used.
    conditions.push(format!("{days} IS NOT NULL"));
    let per_day = format!(
        "SELECT c.patient_key, c.entry_no, {date} AS day, {} AS supply, max({}) AS reach\n{from}{}\nGROUP BY c.patient_key, c.entry_no, {date}",
        d.cast(&format!("sum({days})"), SqlType::Int32),
        d.add_days(&date, &days),
        where_clause(&conditions)
    );
    let window = "PARTITION BY patient_key, entry_no ORDER BY day ROWS UNBOUNDED PRECEDING";
    let (cover, comment) = match x.stockpiling {
        Stockpiling::None => (
            format!("SELECT *, max(reach) OVER ({window}) AS uncovered\nFROM {}", d.ident(&format!("{name}_days"))),
            "first day not covered after each order day: supply never carries over",
        ),
        // First uncovered day = max over earlier order days s of (s - supply before s) + supply so far.
        Stockpiling::CarryOver => (
            format!(
                "SELECT *, {} AS uncovered\nFROM (\n    SELECT *, {} AS supplied\n    FROM {}\n)",
                d.add_days(&format!("max({}) OVER ({window})", d.add_days("day", "supply - supplied")), "supplied"),
                d.cast(&format!("sum(supply) OVER ({window})"), SqlType::Int32),
                d.ident(&format!("{name}_days"))
            ),
            "first day not covered after each order day: early refills carry over",
        ),
    };
    let gaps = format!(
        "SELECT *, sum(CASE WHEN gap > {grace} THEN 1 ELSE 0 END) OVER ({window}) AS episode\nFROM (\n    SELECT *, {} AS gap\n    FROM {}\n)",
        d.days_between("day", "lag(uncovered) OVER (PARTITION BY patient_key, entry_no ORDER BY day)"),
        d.ident(&format!("{name}_cover")),
        grace = x.grace
    );
    let episode = format!(
        "SELECT patient_key, entry_no, min(day) AS start, {} AS last_supplied\nFROM {}\nWHERE episode = 0\nGROUP BY patient_key, entry_no",
        d.add_days("max(uncovered)", "(- 1)"),
        d.ident(&format!("{name}_gaps"))
    );
    vec![
        cte(format!("{name}_days"), "supply per order day on or after the index date", per_day),
        cte(format!("{name}_cover"), comment, cover),
        cte(format!("{name}_gaps"), "episodes: a gap longer than the grace period starts a new one", gaps),
        cte(name.clone(), "the first episode of continuous use", episode),
    ]
}
