//! The lineage of a `work sql` result: for each output column, the columns of the project's tables
//! its values are computed from and the functions applied; and the columns the rows were grouped,
//! filtered or partitioned by anywhere in the query. It is read from DuckDB's own parse of the query
//! (`json_serialize_sql`, the parse tree DuckDB runs), so that what the gate is told is what DuckDB
//! did, not what a second parser thinks: output expressions with their column references, `GROUP
//! BY` (also `GROUP BY ALL` and positions), `WHERE`, `HAVING`, `QUALIFY`, join conditions, window
//! `PARTITION BY`, `DISTINCT ON`, `ORDER BY` under a `LIMIT`, subqueries and CTEs; column references
//! are resolved to table columns through the scopes of the query.
//!
//! What it cannot follow it says (`unresolved`): a query DuckDB will not serialise, `COLUMNS(...)`
//! and `PIVOT`, output columns that do not line up with the result. It records references, not
//! meaning: `CASE WHEN site = 'x' THEN 'A' END` is recorded as coming from `site`, which is what the
//! gate needs; a value that depends on a site only through the data (a column that happens to differ
//! between sites) is for the gate to judge from the datasets.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::Project;
use crate::error::Result;
use crate::table::{ColumnLineage, Lineage, SourceColumn};

/// The lineage of `sql` run on `project`'s database, whose result has the columns `result`.
pub fn of_query(project: &Project, sql: &str, result: &[String]) -> Result<Lineage> {
    let catalog = catalog(project)?;
    let tree = match parse(sql) {
        Ok(tree) => tree,
        Err(why) => return Ok(untraced(result, format!("DuckDB did not serialise the query's parse: {why}"))),
    };
    Ok(Resolver::new(&catalog).lineage(&tree, result))
}

/// Every table of the project's database, by lower-case name: its name as the database spells it,
/// and its columns.
type Catalog = HashMap<String, (String, Vec<String>)>;

fn catalog(project: &Project) -> Result<Catalog> {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
    let conn = duckdb::Connection::open_with_flags(project.layout().db(), config)?;
    let mut stmt =
        conn.prepare("SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal ORDER BY column_index")?;
    let mut out: Catalog = HashMap::new();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (table, column) = row?;
        out.entry(table.to_lowercase()).or_insert_with(|| (table.clone(), Vec::new())).1.push(column);
    }
    Ok(out)
}

/// DuckDB's parse tree of `sql` as JSON, or why there is none.
fn parse(sql: &str) -> std::result::Result<Value, String> {
    let conn = duckdb::Connection::open_in_memory().map_err(|e| e.to_string())?;
    let json: String =
        conn.query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0)).map_err(|e| e.to_string())?;
    let tree: Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    if tree["error"].as_bool() == Some(true) {
        return Err(tree["error_message"].as_str().unwrap_or("an error without a message").to_string());
    }
    Ok(tree)
}

/// A lineage that traces nothing: every column unknown, and why.
fn untraced(result: &[String], why: String) -> Lineage {
    Lineage {
        columns: result.iter().map(|name| ColumnLineage { name: name.clone(), ..ColumnLineage::default() }).collect(),
        unresolved: vec![why],
        ..Lineage::default()
    }
}

/// Where one expression's values come from.
#[derive(Debug, Clone, Default)]
struct Sources {
    from: BTreeSet<SourceColumn>,
    functions: BTreeSet<String>,
    levels: Vec<f64>,
}

impl Sources {
    fn add(&mut self, other: &Sources) {
        self.from.extend(other.from.iter().cloned());
        self.functions.extend(other.functions.iter().cloned());
        self.levels.extend(&other.levels);
    }

    fn aggregated(&self) -> bool {
        self.functions.iter().any(|f| AGGREGATES.contains(&f.as_str()))
    }
}

/// Functions that aggregate rows (besides every window function): an output column computed with
/// one of them is not a grouping key under `GROUP BY ALL`.
const AGGREGATES: [&str; 30] = [
    "count",
    "count_star",
    "sum",
    "avg",
    "mean",
    "min",
    "max",
    "median",
    "mode",
    "quantile",
    "quantile_cont",
    "quantile_disc",
    "first",
    "last",
    "any_value",
    "arg_min",
    "arg_max",
    "min_by",
    "max_by",
    "list",
    "array_agg",
    "string_agg",
    "group_concat",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "histogram",
];

/// A relation in scope: its name and its columns with where they come from.
#[derive(Debug, Clone)]
struct Relation {
    alias: String,
    columns: Vec<(String, Sources)>,
}

/// Output columns of a query node.
type Columns = Vec<(String, Sources)>;

struct Resolver<'a> {
    catalog: &'a Catalog,
    grouped: BTreeSet<SourceColumn>,
    filtered: BTreeSet<SourceColumn>,
    partitioned: BTreeSet<SourceColumn>,
    unresolved: Vec<String>,
}

fn lower(v: &Value) -> String {
    v.as_str().unwrap_or("").to_lowercase()
}

fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

impl<'a> Resolver<'a> {
    fn new(catalog: &'a Catalog) -> Resolver<'a> {
        Resolver {
            catalog,
            grouped: BTreeSet::new(),
            filtered: BTreeSet::new(),
            partitioned: BTreeSet::new(),
            unresolved: Vec::new(),
        }
    }

    fn lineage(mut self, tree: &Value, result: &[String]) -> Lineage {
        let mut outputs: Columns = Vec::new();
        for statement in items(&tree["statements"]) {
            outputs = self.node(&statement["node"], &[], &[]);
        }
        let columns = if outputs.len() == result.len() {
            result
                .iter()
                .zip(outputs)
                .map(|(name, (_, s))| ColumnLineage {
                    name: name.clone(),
                    from: s.from.into_iter().collect(),
                    functions: s.functions.into_iter().collect(),
                    levels: s.levels,
                })
                .collect()
        } else {
            // Which expression made which column is not known: the columns are left untraced (the
            // gate judges them by name and content) and the reviewer is told.
            self.unresolved.push(format!(
                "the query's {} output expressions do not line up with the result's {} columns",
                outputs.len(),
                result.len()
            ));
            result.iter().map(|name| ColumnLineage { name: name.clone(), ..ColumnLineage::default() }).collect()
        };
        self.unresolved.dedup();
        Lineage {
            columns,
            grouped_by: self.grouped.into_iter().collect(),
            filtered_by: self.filtered.into_iter().collect(),
            partitioned_by: self.partitioned.into_iter().collect(),
            unresolved: self.unresolved,
        }
    }

    /// The output columns of a query node; `outer` are the scopes of enclosing queries (for
    /// correlated subqueries), `ctes` the common table expressions visible.
    fn node(&mut self, node: &Value, outer: &[Vec<Relation>], ctes: &[(String, Columns)]) -> Columns {
        let mut ctes = ctes.to_vec();
        for entry in items(&node["cte_map"]["map"]) {
            let name = lower(&entry["key"]);
            let mut columns = self.node(&entry["value"]["query"]["node"], outer, &ctes);
            rename(&mut columns, &entry["value"]["aliases"]);
            ctes.push((name, columns));
        }
        match node["type"].as_str().unwrap_or("") {
            "SELECT_NODE" => self.select(node, outer, &ctes),
            "SET_OPERATION_NODE" | "RECURSIVE_CTE_NODE" => {
                let mut parts: Vec<&Value> = items(&node["children"]).iter().collect();
                parts.extend([&node["left"], &node["right"]].into_iter().filter(|v| !v.is_null()));
                let mut out: Columns = Vec::new();
                for part in parts {
                    let columns = self.node(part, outer, &ctes);
                    if out.is_empty() {
                        out = columns;
                    } else {
                        for ((_, into), (_, from)) in out.iter_mut().zip(&columns) {
                            into.add(from);
                        }
                    }
                }
                out
            }
            "CTE_NODE" => {
                let mut columns = self.node(&node["query"], outer, &ctes);
                rename(&mut columns, &node["aliases"]);
                ctes.push((lower(&node["cte_name"]), columns));
                self.node(&node["child"], outer, &ctes)
            }
            other => {
                self.unresolved.push(format!("a query node of type `{other}`"));
                Vec::new()
            }
        }
    }

    fn select(&mut self, node: &Value, outer: &[Vec<Relation>], ctes: &[(String, Columns)]) -> Columns {
        let from = self.table_ref(&node["from_table"], outer, ctes);
        let mut scopes = outer.to_vec();
        scopes.push(from);
        let mut outputs: Columns = Vec::new();
        for e in items(&node["select_list"]) {
            if e["class"] == "STAR" {
                outputs.extend(self.star(e, &scopes, ctes));
            } else {
                let sources = self.expr(e, &scopes, ctes, &[]);
                outputs.push((output_name(e), sources));
            }
        }
        let where_ = self.expr(&node["where_clause"], &scopes, ctes, &outputs);
        self.filtered.extend(where_.from);
        for clause in ["having", "qualify"] {
            let s = self.expr(&node[clause], &scopes, ctes, &outputs);
            self.filtered.extend(s.from);
        }
        for g in items(&node["group_expressions"]) {
            let s = match position(g) {
                Some(k) if k >= 1 && k <= outputs.len() => outputs[k - 1].1.clone(),
                _ => self.expr(g, &scopes, ctes, &outputs),
            };
            self.grouped.extend(s.from);
        }
        if node["aggregate_handling"] == "FORCE_AGGREGATES" {
            for (_, s) in outputs.iter().filter(|(_, s)| !s.aggregated()) {
                self.grouped.extend(s.from.iter().cloned());
            }
        }
        let modifiers = items(&node["modifiers"]);
        let limited = modifiers.iter().any(|m| m["type"].as_str().is_some_and(|t| t.starts_with("LIMIT")));
        for m in modifiers {
            match m["type"].as_str().unwrap_or("") {
                "DISTINCT_MODIFIER" => {
                    for t in items(&m["distinct_on_targets"]) {
                        let s = self.expr(t, &scopes, ctes, &outputs);
                        self.grouped.extend(s.from);
                    }
                }
                // The first rows in some order are rows filtered by that order.
                "ORDER_MODIFIER" if limited => {
                    for o in items(&m["orders"]) {
                        let s = self.expr(&o["expression"], &scopes, ctes, &outputs);
                        self.filtered.extend(s.from);
                    }
                }
                _ => {}
            }
        }
        outputs
    }

    /// `*`, `t.*`, `* EXCLUDE (…)`, `* REPLACE (…)`; `COLUMNS(…)` is taken as every column.
    fn star(&mut self, e: &Value, scopes: &[Vec<Relation>], ctes: &[(String, Columns)]) -> Columns {
        let Some(scope) = scopes.last() else { return Vec::new() };
        let relation = lower(&e["relation_name"]);
        let excluded: Vec<String> = items(&e["exclude_list"])
            .iter()
            .filter_map(|x| {
                x.as_str().map(str::to_lowercase).or_else(|| x["column_names"].as_array().map(|n| last_name(n)))
            })
            .collect();
        if e["columns"].as_bool() == Some(true) || !e["expr"].is_null() {
            self.unresolved.push("a COLUMNS(...) expression: its columns are taken to be all of them".into());
        }
        let mut out = Vec::new();
        for r in scope.iter().filter(|r| relation.is_empty() || r.alias == relation) {
            for (name, sources) in &r.columns {
                if excluded.contains(&name.to_lowercase()) {
                    continue;
                }
                let mut s = sources.clone();
                if let Some(replacement) = replace_entry(&e["replace_list"], name) {
                    let r = self.expr(replacement, scopes, ctes, &[]);
                    s.add(&r);
                }
                out.push((name.clone(), s));
            }
        }
        out
    }

    /// The relations a `FROM` clause brings into scope.
    fn table_ref(&mut self, r: &Value, outer: &[Vec<Relation>], ctes: &[(String, Columns)]) -> Vec<Relation> {
        let alias = lower(&r["alias"]);
        let named = |name: &str| if alias.is_empty() { name.to_string() } else { alias.clone() };
        match r["type"].as_str().unwrap_or("") {
            "BASE_TABLE" => {
                let name = lower(&r["table_name"]);
                let mut columns = if let Some((_, cols)) = ctes.iter().rev().find(|(n, _)| *n == name) {
                    cols.clone()
                } else if let Some((table, cols)) = self.catalog.get(&name) {
                    cols.iter()
                        .map(|c| {
                            let mut s = Sources::default();
                            s.from.insert(SourceColumn { table: table.clone(), column: c.clone() });
                            (c.clone(), s)
                        })
                        .collect()
                } else {
                    self.unresolved.push(format!("a table `{name}` the project's database does not have"));
                    Vec::new()
                };
                rename(&mut columns, &r["column_name_alias"]);
                vec![Relation { alias: named(&name), columns }]
            }
            "SUBQUERY" => {
                let mut columns = self.node(&r["subquery"]["node"], outer, ctes);
                rename(&mut columns, &r["column_name_alias"]);
                vec![Relation { alias, columns }]
            }
            "JOIN" => {
                let mut relations = self.table_ref(&r["left"], outer, ctes);
                relations.extend(self.table_ref(&r["right"], outer, ctes));
                let mut scopes = outer.to_vec();
                scopes.push(relations.clone());
                let on = self.expr(&r["condition"], &scopes, ctes, &[]);
                self.filtered.extend(on.from);
                for using in items(&r["using_columns"]).iter().filter_map(Value::as_str) {
                    for rel in &relations {
                        if let Some((_, s)) = rel.columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(using)) {
                            self.filtered.extend(s.from.iter().cloned());
                        }
                    }
                }
                relations
            }
            "EXPRESSION_LIST" => {
                let names: Vec<String> = items(&r["expected_names"]).iter().map(lower).collect();
                let mut columns: Columns = names.iter().map(|n| (n.clone(), Sources::default())).collect();
                for row in items(&r["values"]) {
                    for (k, e) in items(row).iter().enumerate() {
                        let s = self.expr(e, outer, ctes, &[]);
                        match columns.get_mut(k) {
                            Some((_, into)) => into.add(&s),
                            None => columns.push((format!("col{k}"), s)),
                        }
                    }
                }
                vec![Relation { alias: named("valueslist"), columns }]
            }
            "TABLE_FUNCTION" => {
                let s = self.expr(&r["function"], outer, ctes, &[]);
                let names = items(&r["column_name_alias"]);
                let columns = if names.is_empty() {
                    vec![(alias.clone(), s)]
                } else {
                    names.iter().map(|n| (lower(n), s.clone())).collect()
                };
                vec![Relation { alias, columns }]
            }
            "EMPTY_FROM" | "" => Vec::new(),
            other => {
                // PIVOT, SHOW/SUMMARIZE and the like: the source's columns stay visible, and what
                // the relation computes from them is not followed.
                self.unresolved.push(format!("a FROM item of type `{other}`"));
                let mut relations = Vec::new();
                for inner in [&r["source"], &r["subquery"]].into_iter().filter(|v| !v.is_null()) {
                    relations.extend(self.table_ref(inner, outer, ctes));
                }
                if !r["query"].is_null() {
                    let columns = self.node(&r["query"], outer, ctes);
                    relations.push(Relation { alias: alias.clone(), columns });
                }
                relations
            }
        }
    }

    /// Where an expression's values come from; `outputs` are the select list's columns, which
    /// `GROUP BY`, `HAVING` and `ORDER BY` may name.
    fn expr(
        &mut self,
        e: &Value,
        scopes: &[Vec<Relation>],
        ctes: &[(String, Columns)],
        outputs: &[(String, Sources)],
    ) -> Sources {
        let mut s = Sources::default();
        match e {
            Value::Array(list) => {
                for x in list {
                    s.add(&self.expr(x, scopes, ctes, outputs));
                }
                return s;
            }
            Value::Object(_) => {}
            _ => return s,
        }
        match e["class"].as_str().unwrap_or("") {
            "COLUMN_REF" => {
                let names: Vec<String> = items(&e["column_names"]).iter().map(lower).collect();
                s.add(&self.resolve(&names, scopes, outputs));
                return s;
            }
            "POSITIONAL_REFERENCE" => {
                let k = e["index"].as_u64().unwrap_or(0) as usize;
                let all: Vec<&Sources> =
                    scopes.last().into_iter().flatten().flat_map(|r| r.columns.iter().map(|(_, s)| s)).collect();
                if let Some(found) = k.checked_sub(1).and_then(|i| all.get(i)) {
                    s.add(found);
                }
                return s;
            }
            "SUBQUERY" => {
                let inner = self.node(&e["subquery"]["node"], scopes, ctes);
                for (_, columns) in &inner {
                    s.add(columns);
                }
                s.add(&self.expr(&e["child"], scopes, ctes, outputs));
                return s;
            }
            "STAR" => {
                for (_, columns) in self.star(e, scopes, ctes) {
                    s.add(&columns);
                }
                return s;
            }
            "FUNCTION" | "WINDOW" | "AGGREGATE" => {
                let name = lower(&e["function_name"]);
                if name.contains("quantile") || name.contains("percentile") {
                    for child in items(&e["children"]).iter().skip(1) {
                        s.levels.extend(constants(child));
                    }
                }
                s.functions.insert(name);
                if e["class"] == "WINDOW" {
                    let partitions = self.expr(&e["partitions"], scopes, ctes, outputs);
                    self.partitioned.extend(partitions.from.iter().cloned());
                }
            }
            _ => {}
        }
        if let Value::Object(fields) = e {
            for (key, value) in fields {
                if !matches!(key.as_str(), "class" | "type" | "alias" | "query_location" | "function_name") {
                    s.add(&self.expr(value, scopes, ctes, outputs));
                }
            }
        }
        // Keys of nested objects that are not expressions (`when_expr` inside `case_checks`,
        // `expression` inside `orders`) are walked by the loop above as well.
        s
    }

    /// A column reference: in the innermost scope that has it (qualified `t.col`, or a column of
    /// any relation, also `col.field` of a struct), else an output column of the select list, else
    /// any table column of that name (conservatively).
    fn resolve(&mut self, names: &[String], scopes: &[Vec<Relation>], outputs: &[(String, Sources)]) -> Sources {
        let mut s = Sources::default();
        for scope in scopes.iter().rev() {
            let mut found = false;
            for (i, name) in names.iter().enumerate() {
                for r in scope {
                    let qualified = i + 1 < names.len() && r.alias == *name;
                    let column = if qualified {
                        &names[i + 1]
                    } else if i == 0 {
                        name
                    } else {
                        continue;
                    };
                    if let Some((_, c)) = r.columns.iter().find(|(n, _)| n.eq_ignore_ascii_case(column)) {
                        s.add(c);
                        found = true;
                    }
                }
            }
            if found {
                return s;
            }
        }
        if let Some((_, c)) = names.first().and_then(|n| outputs.iter().find(|(o, _)| o.eq_ignore_ascii_case(n))) {
            s.add(c);
            return s;
        }
        for (table, columns) in self.catalog.values() {
            for c in columns.iter().filter(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n))) {
                s.from.insert(SourceColumn { table: table.clone(), column: c.clone() });
            }
        }
        s
    }
}

/// The integer of `GROUP BY 2`.
fn position(e: &Value) -> Option<usize> {
    (e["class"] == "CONSTANT").then(|| constants(e).first().map(|&v| v as usize)).flatten()
}

/// Numbers written as constants in an expression (`0.25`, `[0.1, 0.9]`).
fn constants(e: &Value) -> Vec<f64> {
    let mut out = Vec::new();
    match e {
        Value::Object(_) if e["class"] == "CONSTANT" => {
            let value = &e["value"];
            let scale = value["type"]["type_info"]["scale"].as_i64().unwrap_or(0) as i32;
            if let Some(v) = value["value"].as_f64() {
                out.push(if value["type"]["id"] == "DECIMAL" { v / 10f64.powi(scale) } else { v });
            }
        }
        Value::Object(fields) => {
            for v in fields.values() {
                out.extend(constants(v));
            }
        }
        Value::Array(list) => {
            for v in list {
                out.extend(constants(v));
            }
        }
        _ => {}
    }
    out
}

fn last_name(names: &[Value]) -> String {
    names.last().map(lower).unwrap_or_default()
}

/// The replacement of `name` in a `* REPLACE (…)` list (a map serialised as key/value entries).
fn replace_entry<'v>(list: &'v Value, name: &str) -> Option<&'v Value> {
    items(list)
        .iter()
        .find(|entry| entry["key"].as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
        .map(|e| &e["value"])
}

/// Column aliases given to a relation (`AS t(a, b)`, a CTE's `x(a, b)`).
fn rename(columns: &mut Columns, aliases: &Value) {
    for ((name, _), alias) in columns.iter_mut().zip(items(aliases)) {
        if let Some(a) = alias.as_str() {
            *name = a.to_string();
        }
    }
}

/// The name DuckDB gives an output column: its alias, or the column's own name.
fn output_name(e: &Value) -> String {
    match e["alias"].as_str().filter(|a| !a.is_empty()) {
        Some(alias) => alias.to_string(),
        None if e["class"] == "COLUMN_REF" => last_name(items(&e["column_names"])),
        None => String::new(),
    }
}
