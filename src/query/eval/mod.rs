//! The reference evaluator: runs a [`Program`] over a site's data held in memory, one patient at a
//! time, by the plain reading of each node's documented meaning. It shares nothing with the SQL
//! generator but the model; the property tests require the two to give identical rows.
//!
//! It is written for clarity, not speed: frames are materialised per cohort row, picks sort, and
//! only aggregations, picks and exposures are cached (per cohort row) so that a baseline used
//! inside an outcome's condition is not recomputed for every event.

mod data;

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub use data::{PatientData, SiteData};

use super::model::*;
use super::tables::{ColumnType, Table};
use super::value::{self, Value};

/// What a program gives: each output's rows (the site's `patient_key` first, conditions as 1/0)
/// and the attrition table.
#[derive(Debug, Clone)]
pub struct Results {
    pub outputs: Vec<(String, Vec<Vec<Value>>)>,
    pub attrition: Vec<AttritionRow>,
}

/// One line of the attrition table: patients before a step, removed by it, and left after it.
/// The first line is the entry (`before` = patients in the patient table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttritionRow {
    pub step: i64,
    pub rule: String,
    pub kind: String,
    pub before: i64,
    pub removed: i64,
    pub after: i64,
}

/// Run a program.
pub fn run(program: &Program, data: &SiteData) -> Results {
    let mut cohort: Vec<(usize, CohortRow)> = Vec::new();
    for (p, patient) in data.patients.iter().enumerate() {
        for row in entries(program, patient) {
            cohort.push((p, row));
        }
    }
    // Which rules each cohort row passes, in order.
    let passes: Vec<Vec<bool>> = cohort
        .iter()
        .map(|(p, row)| {
            let ctx = Ctx::cohort(&data.patients[*p], row);
            program
                .rules
                .iter()
                .map(|rule| {
                    let holds = ctx.patient(&rule.condition).as_bool() == Some(true);
                    match rule.kind {
                        RuleKind::Require => holds,
                        RuleKind::Exclude => !holds,
                    }
                })
                .collect()
        })
        .collect();
    let patients_after = |k: usize| -> i64 {
        let kept: BTreeSet<usize> =
            cohort.iter().zip(&passes).filter(|(_, pass)| pass[..k].iter().all(|&b| b)).map(|((p, _), _)| *p).collect();
        kept.len() as i64
    };
    let mut attrition = vec![AttritionRow {
        step: 0,
        rule: "entry".into(),
        kind: "entry".into(),
        before: data.patients.len() as i64,
        removed: data.patients.len() as i64 - patients_after(0),
        after: patients_after(0),
    }];
    for (k, rule) in program.rules.iter().enumerate() {
        let before = attrition[k].after;
        let after = patients_after(k + 1);
        let kind = match rule.kind {
            RuleKind::Require => "require",
            RuleKind::Exclude => "exclude",
        };
        attrition.push(AttritionRow {
            step: k as i64 + 1,
            rule: rule.name.clone(),
            kind: kind.into(),
            before,
            removed: before - after,
            after,
        });
    }
    let kept: Vec<&(usize, CohortRow)> =
        cohort.iter().zip(&passes).filter(|(_, pass)| pass.iter().all(|&b| b)).map(|(row, _)| row).collect();
    let outputs = program
        .outputs
        .iter()
        .map(|output| {
            let mut rows = Vec::new();
            for (p, row) in &kept {
                let patient = &data.patients[*p];
                let ctx = Ctx::cohort(patient, row);
                match output {
                    Output::Patients { columns, .. } => {
                        let mut out = vec![Value::Text(patient.key.clone())];
                        out.extend(columns.iter().map(|c| as_output(ctx.patient(&c.expr))));
                        rows.push(out);
                    }
                    Output::Events { frame, columns, .. } => {
                        let events = ctx.frame(frame);
                        for e in 0..events.rows.len() {
                            let mut out = vec![Value::Text(patient.key.clone())];
                            out.extend(columns.iter().map(|c| as_output(ctx.event(&c.expr, &events, e))));
                            rows.push(out);
                        }
                    }
                }
            }
            (output.name().to_string(), rows)
        })
        .collect();
    Results { outputs, attrition }
}

/// Conditions are written as 1/0.
fn as_output(v: Value) -> Value {
    match v {
        Value::Bool(b) => Value::Int(b as i64),
        other => other,
    }
}

/// A cohort row: the entry event and its date.
#[derive(Debug, Clone)]
struct CohortRow {
    index: i32,
    entry: Events,
}

/// The cohort rows of one patient: the first (or every) qualifying event in the study period.
fn entries(program: &Program, patient: &PatientData) -> Vec<CohortRow> {
    let ctx = Ctx::patient_only(patient);
    let events = ctx.frame(&program.entry.frame);
    let date = events.col("date");
    let mut rows: Vec<usize> = (0..events.rows.len())
        .filter(|&r| events.rows[r][date].as_date().is_some_and(|d| d >= program.study.start && d <= program.study.end))
        .collect();
    let key = events.order_key(&program.entry.frame);
    rows.sort_by(|&a, &b| events.compare(a, b, &key));
    if program.entry.which == Which::First {
        rows.truncate(1);
    }
    rows.into_iter()
        .map(|r| CohortRow {
            index: events.rows[r][date].as_date().expect("entry dates are present"),
            entry: Events { columns: events.columns.clone(), rows: vec![events.rows[r].clone()] },
        })
        .collect()
}

/// The events of a frame for one cohort row: named columns, one vector of values per event.
#[derive(Debug, Clone)]
struct Events {
    columns: Arc<Vec<String>>,
    rows: Vec<Vec<Value>>,
}

impl Events {
    fn col(&self, name: &str) -> usize {
        self.columns.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name} in {:?}", self.columns))
    }

    fn order_key(&self, frame: &Frame) -> Vec<usize> {
        frame.order_key().iter().map(|c| self.col(c)).collect()
    }

    /// The stated order: the key columns in turn, ascending, missing last.
    fn compare(&self, a: usize, b: usize, key: &[usize]) -> Ordering {
        key.iter().map(|&c| self.rows[a][c].order(&self.rows[b][c])).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    }
}

enum Cached {
    Value(Value),
    Row(Option<Vec<(String, Value)>>),
    Exposure(Option<(i32, i32)>),
}

/// Evaluation context: a patient, and the cohort row when there is one (there is none while the
/// entry events are being found).
struct Ctx<'a> {
    patient: &'a PatientData,
    row: Option<&'a CohortRow>,
    cache: RefCell<HashMap<usize, Cached>>,
}

impl<'a> Ctx<'a> {
    fn patient_only(patient: &'a PatientData) -> Ctx<'a> {
        Ctx { patient, row: None, cache: RefCell::new(HashMap::new()) }
    }

    fn cohort(patient: &'a PatientData, row: &'a CohortRow) -> Ctx<'a> {
        Ctx { patient, row: Some(row), cache: RefCell::new(HashMap::new()) }
    }

    fn row(&self) -> &CohortRow {
        self.row.expect("the compiler only lets cohort values appear after the entry")
    }

    fn patient(&self, expr: &Expr<PatientLeaf>) -> Value {
        eval(expr, &mut |leaf| self.patient_leaf(leaf))
    }

    fn event(&self, expr: &Expr<EventLeaf>, events: &Events, r: usize) -> Value {
        eval(expr, &mut |leaf| match leaf {
            EventLeaf::Column(name) => events.rows[r][events.col(name)].clone(),
            EventLeaf::Patient(p) => self.patient(p),
        })
    }

    fn patient_leaf(&self, leaf: &PatientLeaf) -> Value {
        match leaf {
            PatientLeaf::Patient(col) => self.patient.patient_column(col),
            PatientLeaf::Index => Value::Date(self.row().index),
            PatientLeaf::Entry(col) => {
                let entry = &self.row().entry;
                entry.rows[0][entry.col(col)].clone()
            }
            PatientLeaf::Aggregate(agg) => {
                let id = Arc::as_ptr(agg) as usize;
                if let Some(Cached::Value(v)) = self.cache.borrow().get(&id) {
                    return v.clone();
                }
                let v = self.aggregate(agg);
                self.cache.borrow_mut().insert(id, Cached::Value(v.clone()));
                v
            }
            PatientLeaf::Pick(pick, col) => {
                let id = Arc::as_ptr(pick) as usize;
                if !self.cache.borrow().contains_key(&id) {
                    let chosen = self.pick(pick);
                    self.cache.borrow_mut().insert(id, Cached::Row(chosen));
                }
                match self.cache.borrow().get(&id) {
                    Some(Cached::Row(Some(row))) => {
                        row.iter().find(|(c, _)| c == col).map(|(_, v)| v.clone()).expect("picked column exists")
                    }
                    _ => Value::Missing,
                }
            }
            PatientLeaf::Exposure(exposure, part) => {
                let id = Arc::as_ptr(exposure) as usize;
                if !self.cache.borrow().contains_key(&id) {
                    let episode = self.exposure(exposure);
                    self.cache.borrow_mut().insert(id, Cached::Exposure(episode));
                }
                match self.cache.borrow().get(&id) {
                    Some(Cached::Exposure(Some((start, last)))) => Value::Date(match part {
                        ExposurePart::Start => *start,
                        ExposurePart::LastSupplied => *last,
                    }),
                    _ => Value::Missing,
                }
            }
        }
    }

    fn frame(&self, frame: &Frame) -> Events {
        match frame {
            Frame::Table(table) => self.table(*table),
            Frame::Filter(inner, cond) => {
                let mut events = self.frame(inner);
                let keep: Vec<bool> =
                    (0..events.rows.len()).map(|r| self.event(cond, &events, r).as_bool() == Some(true)).collect();
                let mut i = 0;
                events.rows.retain(|_| {
                    i += 1;
                    keep[i - 1]
                });
                events
            }
            Frame::With(inner, name, expr, _) => {
                let mut events = self.frame(inner);
                let values: Vec<Value> = (0..events.rows.len()).map(|r| self.event(expr, &events, r)).collect();
                match events.columns.iter().position(|c| c == name) {
                    Some(c) => {
                        for (row, v) in events.rows.iter_mut().zip(values) {
                            row[c] = v;
                        }
                    }
                    None => {
                        let mut columns = (*events.columns).clone();
                        columns.push(name.clone());
                        events.columns = Arc::new(columns);
                        for (row, v) in events.rows.iter_mut().zip(values) {
                            row.push(v);
                        }
                    }
                }
                events
            }
            Frame::Joint(parts, within) => self.joint(parts, *within),
        }
    }

    fn table(&self, table: Table) -> Events {
        let mut columns = vec!["date".to_string()];
        columns.extend(table.columns().iter().map(|c| c.name.to_string()));
        let date_col = table.columns().iter().position(|c| c.name == table.date_column()).expect("date column");
        let rows = self
            .patient
            .events(table)
            .iter()
            .map(|stored| {
                let date = match (&stored[date_col], table.columns()[date_col].ty) {
                    (Value::Timestamp(t), ColumnType::Timestamp) => Value::Date(value::timestamp_date(*t)),
                    (v, _) => v.clone(),
                };
                std::iter::once(date).chain(stored.iter().cloned()).collect()
            })
            .collect();
        Events { columns: Arc::new(columns), rows }
    }

    /// Every combination of one event per part whose dates lie within `within` days.
    fn joint(&self, parts: &[(String, FrameRef)], within: i64) -> Events {
        let evaluated: Vec<Events> = parts.iter().map(|(_, f)| self.frame(f)).collect();
        let mut columns = vec!["date".to_string()];
        for ((name, _), events) in parts.iter().zip(&evaluated) {
            columns.extend(events.columns.iter().map(|c| format!("{name}.{c}")));
        }
        let mut rows = Vec::new();
        let mut combination = vec![0usize; parts.len()];
        if evaluated.iter().any(|e| e.rows.is_empty()) {
            return Events { columns: Arc::new(columns), rows };
        }
        loop {
            let dates: Vec<Option<i32>> = combination
                .iter()
                .zip(&evaluated)
                .map(|(&r, events)| events.rows[r][events.col("date")].as_date())
                .collect();
            if dates.iter().all(Option::is_some) {
                let dates: Vec<i32> = dates.into_iter().flatten().collect();
                let (lo, hi) = (*dates.iter().min().unwrap(), *dates.iter().max().unwrap());
                if (hi - lo) as i64 <= within {
                    let mut row = vec![Value::Date(hi)];
                    for (&r, events) in combination.iter().zip(&evaluated) {
                        row.extend(events.rows[r].iter().cloned());
                    }
                    rows.push(row);
                }
            }
            // Next combination, the last part fastest.
            let mut p = parts.len();
            loop {
                if p == 0 {
                    return Events { columns: Arc::new(columns), rows };
                }
                p -= 1;
                combination[p] += 1;
                if combination[p] < evaluated[p].rows.len() {
                    break;
                }
                combination[p] = 0;
            }
        }
    }

    fn aggregate(&self, agg: &Aggregate) -> Value {
        let events = self.frame(&agg.frame);
        let values = |e: &EExpr| -> Vec<Value> {
            (0..events.rows.len()).map(|r| self.event(e, &events, r)).filter(|v| !v.is_missing()).collect()
        };
        match &agg.kind {
            AggKind::Exists => Value::Bool(!events.rows.is_empty()),
            AggKind::Count => Value::Int(events.rows.len() as i64),
            AggKind::Sum(e) => Value::Int(values(e).iter().filter_map(Value::as_int).sum()),
            AggKind::Min(e) => values(e).into_iter().min_by(|a, b| a.order(b)).unwrap_or(Value::Missing),
            AggKind::Max(e) => values(e).into_iter().max_by(|a, b| a.order(b)).unwrap_or(Value::Missing),
        }
    }

    fn pick(&self, pick: &Pick) -> Option<Vec<(String, Value)>> {
        let events = self.frame(&pick.frame);
        let key = events.order_key(&pick.frame);
        let mut order: Vec<usize> = (0..events.rows.len()).collect();
        order.sort_by(|&a, &b| events.compare(a, b, &key));
        let chosen = match &pick.order {
            PickOrder::First => order.first().copied(),
            PickOrder::Last => order.last().copied(),
            PickOrder::Highest(e) | PickOrder::Lowest(e) => {
                let highest = matches!(pick.order, PickOrder::Highest(_));
                let mut best: Option<(usize, Value)> = None;
                // Walking in the stated order, a tie replaces the best: ties go to the last event.
                for r in order {
                    let v = self.event(e, &events, r);
                    if v.is_missing() {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        Some((_, b)) => {
                            let o = v.order(b);
                            if highest { o.is_ge() } else { o.is_le() }
                        }
                    };
                    if better {
                        best = Some((r, v));
                    }
                }
                best.map(|(r, _)| r)
            }
        };
        chosen.map(|r| events.columns.iter().cloned().zip(events.rows[r].iter().cloned()).collect())
    }

    /// The episode of continuous use starting at the first order on or after the index date, by
    /// walking the orders one by one: (start, last day supplied).
    fn exposure(&self, exposure: &Exposure) -> Option<(i32, i32)> {
        let events = self.frame(&exposure.orders);
        let (date, days) = (events.col("date"), events.col("days_supply"));
        let index = self.row().index;
        // An order without days supplied (an injection order) covers no days: it is not used.
        let mut orders: Vec<(i32, i64)> = events
            .rows
            .iter()
            .filter_map(|r| Some((r[date].as_date()?, r[days].as_int()?)))
            .filter(|(d, _)| *d >= index)
            .collect();
        orders.sort();
        let (&(start, first_days), rest) = orders.split_first()?;
        // `uncovered`: the first day not covered by supply so far.
        let mut uncovered = start as i64 + first_days;
        for &(s, d) in rest {
            let s = s as i64;
            if s - uncovered > exposure.grace {
                break;
            }
            uncovered = match exposure.stockpiling {
                Stockpiling::None => uncovered.max(s + d),
                Stockpiling::CarryOver => uncovered.max(s) + d,
            };
        }
        Some((start, (uncovered - 1) as i32))
    }
}

/// Evaluate an expression, with `leaf` giving the value of each leaf.
fn eval<L>(expr: &Expr<L>, leaf: &mut dyn FnMut(&L) -> Value) -> Value {
    use Value::*;
    match expr {
        Expr::Const(v) => v.clone(),
        Expr::Leaf(l) => leaf(l),
        Expr::Not(e) => match eval(e, leaf) {
            Bool(b) => Bool(!b),
            _ => Missing,
        },
        Expr::Neg(e) => match eval(e, leaf) {
            Int(i) => Int(-i),
            Float(f) => Float(-f),
            _ => Missing,
        },
        Expr::Binary(op, a, b) => binary(*op, eval(a, leaf), eval(b, leaf)),
        Expr::If(c, a, b) => {
            if eval(c, leaf).as_bool() == Some(true) {
                eval(a, leaf)
            } else {
                eval(b, leaf)
            }
        }
        Expr::Func(f, args) => {
            let args: Vec<Value> = args.iter().map(|a| eval(a, leaf)).collect();
            func(*f, args)
        }
        Expr::InCodes(e, codes) => match eval(e, leaf) {
            Text(code) => Bool(codes.matches(&code)),
            _ => Missing,
        },
        Expr::InList(e, list) => match eval(e, leaf) {
            Missing => Missing,
            v => Bool(list.iter().any(|item| compare(&v, item) == Some(Ordering::Equal))),
        },
    }
}

/// SQL comparison: `None` when either side is missing (or a double is NaN).
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Missing, _) | (_, Missing) => None,
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Text(x), Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (x, y) => x.as_float()?.partial_cmp(&y.as_float()?),
    }
}

fn binary(op: BinOp, a: Value, b: Value) -> Value {
    use Value::*;
    match op {
        BinOp::And => match (a.as_bool(), b.as_bool()) {
            (Some(false), _) | (_, Some(false)) => Bool(false),
            (Some(true), Some(true)) => Bool(true),
            _ => Missing,
        },
        BinOp::Or => match (a.as_bool(), b.as_bool()) {
            (Some(true), _) | (_, Some(true)) => Bool(true),
            (Some(false), Some(false)) => Bool(false),
            _ => Missing,
        },
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            if a.is_missing() || b.is_missing() {
                return Missing;
            }
            // IEEE: a NaN is unordered, so only `!=` holds for it.
            let Some(o) = compare(&a, &b) else { return Bool(op == BinOp::Ne) };
            Bool(match op {
                BinOp::Eq => o.is_eq(),
                BinOp::Ne => o.is_ne(),
                BinOp::Lt => o.is_lt(),
                BinOp::Le => o.is_le(),
                BinOp::Gt => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        BinOp::Add => match (a, b) {
            (Int(x), Int(y)) => Int(x + y),
            (x, y) => float2(&x, &y, |x, y| x + y),
        },
        BinOp::Sub => match (a, b) {
            (Int(x), Int(y)) => Int(x - y),
            (x, y) => float2(&x, &y, |x, y| x - y),
        },
        BinOp::AddDays => match (a, b) {
            (Date(d), Int(n)) => Date(d + n as i32),
            _ => Missing,
        },
        BinOp::SubDays => match (a, b) {
            (Date(d), Int(n)) => Date(d - n as i32),
            _ => Missing,
        },
        BinOp::DaysBetween => match (a, b) {
            (Date(x), Date(y)) => Int(x as i64 - y as i64),
            _ => Missing,
        },
        BinOp::Mul => match (a, b) {
            (Int(x), Int(y)) => Int(x * y),
            (x, y) => float2(&x, &y, |x, y| x * y),
        },
        BinOp::Div => match (a.as_float(), b.as_float()) {
            (Some(_), Some(0.0)) => Missing,
            (Some(x), Some(y)) => Float(x / y),
            _ => Missing,
        },
        BinOp::Pow => match (a.as_float(), b.as_float()) {
            (Some(x), Some(y)) if x > 0.0 => Float(x.powf(y)),
            _ => Missing,
        },
    }
}

fn float2(a: &Value, b: &Value, f: impl Fn(f64, f64) -> f64) -> Value {
    match (a.as_float(), b.as_float()) {
        (Some(x), Some(y)) => Value::Float(f(x, y)),
        _ => Value::Missing,
    }
}

fn func(f: Func, args: Vec<Value>) -> Value {
    use Value::*;
    match f {
        Func::AgeAt => match (args[0].as_date(), args[1].as_date()) {
            (Some(birth), Some(at)) => Int(value::completed_years(birth, at)),
            _ => Missing,
        },
        Func::YearMonth => args[0].as_date().map(|d| Text(value::year_month(d))).unwrap_or(Missing),
        Func::Year => args[0].as_date().map(|d| Int(value::year(d))).unwrap_or(Missing),
        Func::Earliest => args.into_iter().filter(|v| !v.is_missing()).min_by(|a, b| a.order(b)).unwrap_or(Missing),
        Func::Latest => args.into_iter().filter(|v| !v.is_missing()).max_by(|a, b| a.order(b)).unwrap_or(Missing),
        Func::Coalesce => args.into_iter().find(|v| !v.is_missing()).unwrap_or(Missing),
        Func::Prefix(n) => match &args[0] {
            Text(s) => Text(s.chars().take(n).collect()),
            _ => Missing,
        },
        Func::ToFloat => match &args[0] {
            Int(i) => Float(*i as f64),
            other => other.clone(),
        },
        Func::Analyte => match &args[0] {
            Text(code) => super::tables::analytes()
                .iter()
                .find(|a| {
                    Pattern::Analyte { analyte_code: a.analyte_code.clone(), specimen_code: a.specimen_code.clone() }
                        .matches(code)
                })
                .map(|a| Text(a.id.clone()))
                .unwrap_or(Missing),
            _ => Missing,
        },
        Func::IsMissing => Bool(args[0].is_missing()),
    }
}
