//! The script as written: items and expressions with their places in the text. Names are not
//! resolved and nothing is typed yet; that is the checker's job (`super::check`).

use super::diagnostic::Span;

#[derive(Debug, Clone)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Text {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Script {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Study(Study),
    Parameters(Vec<ParamDecl>),
    Codelist(Ident, Expr),
    Events(Ident, Expr),
    Define(Ident, Expr),
    Cohort(Vec<Item>),
    Entry { every: bool, selection: Expr, span: Span },
    Rule { exclude: bool, label: Text, condition: Expr, span: Span },
    Exposure(ExposureDecl),
    Outcome(OutcomeDecl),
    FollowUp(FollowUp),
    Dataset(OutputDecl),
    Table(OutputDecl),
}

#[derive(Debug, Clone)]
pub struct Study {
    pub name: Text,
    pub start: Expr,
    pub end: Expr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ParamDecl {
    pub name: Ident,
    pub kind: ParamKind,
    pub kind_span: Span,
    pub default: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamKind {
    Date,
    /// The date of the data cut-off: `midnet extract --cutoff` sets it.
    Cutoff,
    Integer,
    Number,
    Codelist(crate::schema::CodeSystem),
    /// A list of ids of the script's outcomes.
    Outcomes,
}

impl ParamKind {
    pub fn describe(&self) -> String {
        match self {
            ParamKind::Date => "date".into(),
            ParamKind::Cutoff => "cut-off date".into(),
            ParamKind::Integer => "integer".into(),
            ParamKind::Number => "number".into(),
            ParamKind::Codelist(s) => format!("{s} codelist"),
            ParamKind::Outcomes => "outcome list".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExposureDecl {
    pub name: Ident,
    pub orders: Expr,
    pub grace: Expr,
    pub carry_over: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct OutcomeDecl {
    pub name: Ident,
    pub label: Option<Text>,
    pub event: Expr,
    pub baseline_normal: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct FollowUp {
    pub from: Expr,
    pub until: Expr,
    pub span: Span,
}

/// `dataset NAME … end` (one row per cohort row) or `table NAME = SELECTION … end` (one row per event).
#[derive(Debug, Clone)]
pub struct OutputDecl {
    pub name: Ident,
    pub selection: Option<Expr>,
    pub columns: Vec<ColumnDecl>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ColumnDecl {
    /// `name` or `name = expression`.
    Named { name: Ident, expr: Option<Expr> },
    /// `outcomes`: event, days and baseline flag of every selected outcome.
    Outcomes(Span),
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Exists,
    No,
    Count,
    Sum,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickOp {
    First,
    Last,
    Highest,
    Lowest,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Name(String),
    Field(Box<Expr>, Ident),
    Int(i64),
    Number(f64),
    Str(String),
    Date(i32),
    Bool(bool),
    /// `["a", "b"]`
    List(Vec<Expr>),
    /// `icd10 ["E11", "E14"]`
    Codes {
        system: Ident,
        codes: Vec<Expr>,
    },
    /// `icd10 from "file.csv" [column "code"]`
    CodeFile {
        system: Ident,
        path: Text,
        column: Option<Text>,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x between a and b`: both ends included.
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    Call(Ident, Vec<Expr>),
    /// `N days`: a whole number of days.
    Days(Box<Expr>),
    /// `selection where condition`
    Where(Box<Expr>, Box<Expr>),
    /// `selection with name = expression`
    With(Box<Expr>, Ident, Box<Expr>),
    /// `exists S`, `no S`, `count S`, `sum E of S`, `min E of S`, `max E of S`
    Aggregate(AggOp, Option<Box<Expr>>, Box<Expr>),
    /// `first S`, `last S`, `highest E of S`, `lowest E of S`
    Pick(PickOp, Option<Box<Expr>>, Box<Expr>),
    /// `all of a = S, b = S within N days`
    AllOf(Vec<(Ident, Expr)>, Box<Expr>),
}

impl Expr {
    /// The expressions directly inside this one.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Name(_)
            | ExprKind::Int(_)
            | ExprKind::Number(_)
            | ExprKind::Str(_)
            | ExprKind::Date(_)
            | ExprKind::Bool(_)
            | ExprKind::CodeFile { .. } => Vec::new(),
            ExprKind::Field(e, _) | ExprKind::Not(e) | ExprKind::Neg(e) | ExprKind::Days(e) => vec![e],
            ExprKind::List(items) | ExprKind::Codes { codes: items, .. } | ExprKind::Call(_, items) => {
                items.iter().collect()
            }
            ExprKind::Binary(_, a, b) | ExprKind::In(a, b) | ExprKind::Where(a, b) | ExprKind::With(a, _, b) => {
                vec![a, b]
            }
            ExprKind::Between(a, b, c) => vec![a, b, c],
            ExprKind::If(c, a, b) => [Some(&**c), Some(&**a), b.as_deref()].into_iter().flatten().collect(),
            ExprKind::Aggregate(_, e, s) | ExprKind::Pick(_, e, s) => {
                [e.as_deref(), Some(&**s)].into_iter().flatten().collect()
            }
            ExprKind::AllOf(parts, within) => parts.iter().map(|(_, e)| e).chain([&**within]).collect(),
        }
    }

    /// Call `f` on this expression and every one inside it.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        for c in self.children() {
            c.walk(f);
        }
    }
}

impl Item {
    /// The expressions of the item, nested items' included.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Item::Study(s) => vec![&s.start, &s.end],
            Item::Parameters(decls) => decls.iter().filter_map(|d| d.default.as_ref()).collect(),
            Item::Codelist(_, e) | Item::Events(_, e) | Item::Define(_, e) => vec![e],
            Item::Cohort(items) => items.iter().flat_map(Item::exprs).collect(),
            Item::Entry { selection, .. } => vec![selection],
            Item::Rule { condition, .. } => vec![condition],
            Item::Exposure(x) => vec![&x.orders, &x.grace],
            Item::Outcome(o) => std::iter::once(&o.event).chain(o.baseline_normal.as_ref()).collect(),
            Item::FollowUp(f) => vec![&f.from, &f.until],
            Item::Dataset(o) | Item::Table(o) => o
                .selection
                .iter()
                .chain(o.columns.iter().filter_map(|c| match c {
                    ColumnDecl::Named { expr, .. } => expr.as_ref(),
                    ColumnDecl::Outcomes(_) => None,
                }))
                .collect(),
        }
    }
}
