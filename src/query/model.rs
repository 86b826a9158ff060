//! The typed, frozen query model a script compiles to. Both engines read it: the SQL generator
//! (`crate::sql`) and the reference evaluator (`super::eval`).
//!
//! Like ehrQL's, the model separates two kinds of series by type: a [`PExpr`] has one value per
//! cohort row (a patient, or one entry of a patient when the cohort takes every qualifying event),
//! an [`EExpr`] has one value per event of a selection ([`Frame`]). An event-level expression can
//! use a patient-level one ([`EventLeaf::Patient`]); the way back is only through an aggregation
//! or a pick, so a patient-level answer can never silently depend on which event was looked at.
//! Nodes are immutable and shared by `Arc`: a named definition used twice is one node, which the
//! SQL generator turns into one CTE.

use std::sync::Arc;

use crate::schema::CodeSystem;
use crate::schema::ColumnRole;

use super::tables::{ColumnType, Table};
use super::value::{Type, Value};

/// A compiled script with its parameters bound.
#[derive(Debug, Clone)]
pub struct Program {
    pub study: Study,
    pub entry: Entry,
    pub rules: Vec<Rule>,
    pub outputs: Vec<Output>,
}

#[derive(Debug, Clone)]
pub struct Study {
    pub name: String,
    /// First and last day (inclusive) on which an entry event may fall.
    pub start: i32,
    pub end: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first qualifying event in the study period: one cohort row per patient.
    First,
    /// Every qualifying event in the study period: one cohort row per event.
    Every,
}

/// Cohort entry: the qualifying events of `frame` whose `date` lies in the study period, for
/// patients in the patient table. The entry event's date is the index date.
#[derive(Debug, Clone)]
pub struct Entry {
    pub frame: FrameRef,
    pub which: Which,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// Keep the cohort rows whose condition is true.
    Require,
    /// Remove the cohort rows whose condition is true.
    Exclude,
}

/// A named inclusion or exclusion rule. Rules apply in order; the attrition table counts the
/// patients each one removes.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub kind: RuleKind,
    pub condition: PExpr,
}

#[derive(Debug, Clone)]
pub enum Output {
    /// One row per cohort row.
    Patients { name: String, columns: Vec<OutputColumn<PExpr>> },
    /// One row per event of `frame` of each cohort row.
    Events { name: String, frame: FrameRef, columns: Vec<OutputColumn<EExpr>> },
}

impl Output {
    pub fn name(&self) -> &str {
        match self {
            Output::Patients { name, .. } | Output::Events { name, .. } => name,
        }
    }
}

/// An output column. Besides these, every output starts with the site's `patient_key`, which
/// extraction replaces with a fresh random person id. A condition is written as 1/0.
#[derive(Debug, Clone)]
pub struct OutputColumn<E> {
    pub name: String,
    pub expr: E,
    pub ty: Type,
    pub role: ColumnRole,
}

pub type PExpr = Arc<Expr<PatientLeaf>>;
pub type EExpr = Arc<Expr<EventLeaf>>;
pub type FrameRef = Arc<Frame>;

/// An expression over leaves `L`: patient-level ([`PatientLeaf`]) or event-level ([`EventLeaf`]).
/// Semantics (both engines): a missing operand makes arithmetic and comparisons missing; `and`,
/// `or`, `not` are three-valued (Kleene); a missing condition never passes a filter or rule.
#[derive(Debug, Clone)]
pub enum Expr<L> {
    Const(Value),
    Leaf(L),
    Not(Arc<Expr<L>>),
    Neg(Arc<Expr<L>>),
    Binary(BinOp, Arc<Expr<L>>, Arc<Expr<L>>),
    /// `if c then a else b`: `b` when `c` is false or missing.
    If(Arc<Expr<L>>, Arc<Expr<L>>, Arc<Expr<L>>),
    Func(Func, Vec<Arc<Expr<L>>>),
    /// The code matches the codelist (prefix matching); missing when the code is missing.
    InCodes(Arc<Expr<L>>, Arc<Codelist>),
    /// The value equals one of the listed values; missing when the value is missing.
    InList(Arc<Expr<L>>, Vec<Value>),
}

impl<L> Expr<L> {
    /// Call `f` on every leaf of the expression.
    pub fn visit_leaves(&self, f: &mut dyn FnMut(&L)) {
        match self {
            Expr::Const(_) => {}
            Expr::Leaf(l) => f(l),
            Expr::Not(a) | Expr::Neg(a) | Expr::InCodes(a, _) | Expr::InList(a, _) => a.visit_leaves(f),
            Expr::Binary(_, a, b) => {
                a.visit_leaves(f);
                b.visit_leaves(f);
            }
            Expr::If(c, a, b) => {
                c.visit_leaves(f);
                a.visit_leaves(f);
                b.visit_leaves(f);
            }
            Expr::Func(_, args) => args.iter().for_each(|a| a.visit_leaves(f)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Whole numbers or numbers.
    Add,
    Sub,
    Mul,
    /// Always a number; missing when dividing by zero.
    Div,
    /// `x ^ c` for a constant `c`; missing unless `x > 0`.
    Pow,
    /// A date plus a whole number of days.
    AddDays,
    /// A date minus a whole number of days.
    SubDays,
    /// The days from the second date to the first (`a - b`), a whole number.
    DaysBetween,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// Completed years from a birth date (first argument) to a date.
    AgeAt,
    /// `YYYY-MM` of a date.
    YearMonth,
    Year,
    /// The earliest (least) of the present arguments; missing if all are missing.
    Earliest,
    /// The latest (greatest) of the present arguments; missing if all are missing.
    Latest,
    /// The first present argument.
    Coalesce,
    /// The first `n` characters of a text.
    Prefix(usize),
    /// A whole number as a number.
    ToFloat,
    /// The lab master's analyte id of a JLAC10 code (`alt`), or missing.
    Analyte,
    /// Is the value missing? Never missing itself.
    IsMissing,
}

#[derive(Debug, Clone)]
pub enum PatientLeaf {
    /// `sex`, `birth_date` or `death_date` of the patient table.
    Patient(&'static str),
    /// The date of the entry event.
    Index,
    /// A column of the entry event.
    Entry(String),
    Aggregate(Arc<Aggregate>),
    /// A column of the event a pick chose; missing when there was none.
    Pick(Arc<Pick>, String),
    Exposure(Arc<Exposure>, ExposurePart),
}

#[derive(Debug, Clone)]
pub enum EventLeaf {
    /// A column of the event (a stored column, `date`, a `with` column, or `part.column` of a
    /// joint event).
    Column(String),
    /// A patient-level value, the same for every event of the cohort row.
    Patient(PExpr),
}

/// A selection of events, evaluated for one cohort row (for the entry: for one patient).
#[derive(Debug, Clone)]
pub enum Frame {
    /// Every event of the table for the patient.
    Table(Table),
    /// The events for which the condition is true.
    Filter(FrameRef, EExpr),
    /// Adds a computed column of the given type (or replaces `date`).
    With(FrameRef, String, EExpr, Type),
    /// Combinations of one event from each part, all within `within` days of each other (latest
    /// date minus earliest date ≤ `within`). The combination's `date` is its latest part's date;
    /// its other columns are `part.column`.
    Joint(Vec<(String, FrameRef)>, i64),
}

impl Frame {
    /// The table the frame's events (or each part's events) come from, for a plain frame.
    pub fn root_table(&self) -> Option<Table> {
        match self {
            Frame::Table(t) => Some(*t),
            Frame::Filter(f, _) | Frame::With(f, ..) => f.root_table(),
            Frame::Joint(..) => None,
        }
    }

    /// Every column of the frame's events with its type, `date` first.
    pub fn columns(&self) -> Vec<(String, ColumnType)> {
        match self {
            Frame::Table(t) => {
                let mut cols = vec![("date".to_string(), ColumnType::Value(Type::Date))];
                cols.extend(t.columns().iter().map(|c| (c.name.to_string(), c.ty)));
                cols
            }
            Frame::Filter(f, _) => f.columns(),
            Frame::With(f, name, _, ty) => {
                let mut cols = f.columns();
                let ty = ColumnType::Value(*ty);
                match cols.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = ty,
                    None => cols.push((name.clone(), ty)),
                }
                cols
            }
            Frame::Joint(parts, _) => {
                let mut cols = vec![("date".to_string(), ColumnType::Value(Type::Date))];
                for (part, f) in parts {
                    cols.extend(f.columns().into_iter().map(|(c, ty)| (format!("{part}.{c}"), ty)));
                }
                cols
            }
        }
    }

    /// The stated order of events: these columns, each ascending with missing last. Computed
    /// columns are functions of the others and never needed to break a tie.
    pub fn order_key(&self) -> Vec<String> {
        match self {
            Frame::Table(t) => std::iter::once("date").chain(t.order_columns()).map(String::from).collect(),
            Frame::Filter(f, _) | Frame::With(f, ..) => f.order_key(),
            Frame::Joint(parts, _) => {
                let mut key = vec!["date".to_string()];
                for (part, f) in parts {
                    key.extend(f.order_key().into_iter().map(|c| format!("{part}.{c}")));
                }
                key
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Aggregate {
    /// The script's name for it, if it had one (names the CTE).
    pub name: Option<String>,
    pub frame: FrameRef,
    pub kind: AggKind,
}

#[derive(Debug, Clone)]
pub enum AggKind {
    /// Is there at least one event? Never missing.
    Exists,
    /// How many events? Never missing.
    Count,
    /// The sum of a whole-number expression over the events; 0 when there are none.
    Sum(EExpr),
    /// The least present value; missing when there is none.
    Min(EExpr),
    /// The greatest present value; missing when there is none.
    Max(EExpr),
}

/// One event chosen per cohort row.
#[derive(Debug, Clone)]
pub struct Pick {
    pub name: Option<String>,
    pub frame: FrameRef,
    pub order: PickOrder,
}

#[derive(Debug, Clone)]
pub enum PickOrder {
    /// The first event in the stated order.
    First,
    /// The last event in the stated order.
    Last,
    /// The event with the greatest present value; ties go to the one that is last in the order.
    Highest(EExpr),
    /// The event with the least present value; ties go to the one that is last in the order.
    Lowest(EExpr),
}

/// The episode of continuous use that starts with the first order of `orders` (drug orders) on or
/// after the index date. Each order covers `days_supply` days from its `date`. The episode goes on
/// while the next order starts no more than `grace` days after the last covered day.
#[derive(Debug, Clone)]
pub struct Exposure {
    pub name: String,
    pub orders: FrameRef,
    pub grace: i64,
    pub stockpiling: Stockpiling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stockpiling {
    /// An order that starts while earlier supply remains covers its own days only: the overlap
    /// is lost.
    None,
    /// An order that starts while earlier supply remains is used after that supply runs out.
    CarryOver,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExposurePart {
    /// The date of the episode's first order.
    Start,
    /// The last day covered by supply in the episode.
    LastSupplied,
}

/// A codelist: prefix patterns of one code system combined by union and difference.
#[derive(Debug, Clone)]
pub enum Codelist {
    Codes { system: CodeSystem, patterns: Vec<Pattern> },
    Union(Arc<Codelist>, Arc<Codelist>),
    Minus(Arc<Codelist>, Arc<Codelist>),
}

impl Codelist {
    pub fn system(&self) -> CodeSystem {
        match self {
            Codelist::Codes { system, .. } => *system,
            Codelist::Union(a, _) | Codelist::Minus(a, _) => a.system(),
        }
    }

    /// Does a (present) code match?
    pub fn matches(&self, code: &str) -> bool {
        match self {
            Codelist::Codes { patterns, .. } => patterns.iter().any(|p| p.matches(code)),
            Codelist::Union(a, b) => a.matches(code) || b.matches(code),
            Codelist::Minus(a, b) => a.matches(code) && !b.matches(code),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Codes that begin with these characters.
    Prefix(String),
    /// JLAC10 codes of this analyte (characters 1-5) and specimen (characters 10-12).
    Analyte { analyte_code: String, specimen_code: String },
}

impl Pattern {
    pub fn matches(&self, code: &str) -> bool {
        match self {
            Pattern::Prefix(p) => code.starts_with(p.as_str()),
            Pattern::Analyte { analyte_code, specimen_code } => {
                code.starts_with(analyte_code.as_str())
                    && code.chars().skip(9).take(3).collect::<String>() == *specimen_code
            }
        }
    }
}
