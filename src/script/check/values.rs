//! What a checked expression is: a scalar ([`Sc`]) or one of the things that are not values
//! ([`Val`]: selections, whole events, codelists, lists…), and where it is read ([`Cx`]).
//!
//! Every scalar is built as an event-level tree; one that reads no event column is patient-level
//! and becomes a [`PExpr`] where one is needed. The other kinds are kept apart so that a message
//! can say what was written instead of a value, and what to write.

use super::*;

/// A scalar: an expression, its type, and whether it reads an event's columns.
#[derive(Debug, Clone)]
pub struct Sc {
    pub expr: EExpr,
    pub ty: Type,
    pub event: bool,
}

fn lift(p: PExpr) -> EExpr {
    match &*p {
        Expr::Const(v) => Arc::new(Expr::Const(v.clone())),
        _ => Arc::new(Expr::Leaf(EventLeaf::Patient(p))),
    }
}

/// A tree that reads no event column, as a patient-level tree.
fn to_patient(e: &Expr<EventLeaf>) -> PExpr {
    Arc::new(match e {
        Expr::Const(v) => Expr::Const(v.clone()),
        Expr::Leaf(EventLeaf::Patient(p)) => return p.clone(),
        Expr::Leaf(EventLeaf::Column(c)) => unreachable!("event column {c} in a patient-level value"),
        Expr::Not(a) => Expr::Not(to_patient(a)),
        Expr::Neg(a) => Expr::Neg(to_patient(a)),
        Expr::Binary(op, a, b) => Expr::Binary(*op, to_patient(a), to_patient(b)),
        Expr::If(c, a, b) => Expr::If(to_patient(c), to_patient(a), to_patient(b)),
        Expr::Func(f, args) => Expr::Func(*f, args.iter().map(|a| to_patient(a)).collect()),
        Expr::InCodes(a, c) => Expr::InCodes(to_patient(a), c.clone()),
        Expr::InList(a, v) => Expr::InList(to_patient(a), v.clone()),
    })
}

impl Sc {
    pub fn constant(v: Value, ty: Type) -> Sc {
        Sc { expr: Arc::new(Expr::Const(v)), ty, event: false }
    }

    pub fn patient_leaf(leaf: PatientLeaf, ty: Type) -> Sc {
        Sc { expr: lift(Arc::new(Expr::Leaf(leaf))), ty, event: false }
    }

    /// The index date, which the entry sets.
    pub fn index() -> Sc {
        Sc::patient_leaf(PatientLeaf::Index, Type::Date)
    }

    pub fn column(name: &str, ty: Type) -> Sc {
        Sc { expr: Arc::new(Expr::Leaf(EventLeaf::Column(name.to_string()))), ty, event: true }
    }

    pub fn binary(op: BinOp, a: &Sc, b: &Sc, ty: Type) -> Sc {
        Sc { expr: Arc::new(Expr::Binary(op, a.expr.clone(), b.expr.clone())), ty, event: a.event || b.event }
    }

    pub fn patient_func(f: Func, args: Vec<Sc>, ty: Type) -> Sc {
        let event = args.iter().any(|a| a.event);
        Sc { expr: Arc::new(Expr::Func(f, args.into_iter().map(|a| a.expr).collect())), ty, event }
    }

    /// The age in whole years on `day`.
    pub fn age_at(day: Sc) -> Sc {
        let birth = Sc::patient_leaf(PatientLeaf::Patient("birth_date"), Type::Date);
        Sc::patient_func(Func::AgeAt, vec![birth, day], Type::Int)
    }

    pub fn if_(c: &Sc, a: &Sc, b: &Sc, ty: Type) -> Sc {
        Sc {
            expr: Arc::new(Expr::If(c.expr.clone(), a.expr.clone(), b.expr.clone())),
            ty,
            event: c.event || a.event || b.event,
        }
    }

    pub fn not(a: &Sc) -> Sc {
        Sc { expr: Arc::new(Expr::Not(a.expr.clone())), ty: Type::Bool, event: a.event }
    }

    /// A condition that is false where it would be missing.
    pub fn or_false(cond: Sc) -> Sc {
        Sc::patient_func(Func::Coalesce, vec![cond, Sc::constant(Value::Bool(false), Type::Bool)], Type::Bool)
    }

    /// Is the value in the codelist?
    pub fn in_codes(&self, codes: Arc<Codelist>) -> Sc {
        Sc { expr: Arc::new(Expr::InCodes(self.expr.clone(), codes)), ty: Type::Bool, event: self.event }
    }

    pub fn into_float(self) -> Sc {
        match self.ty {
            Type::Int => match &*self.expr {
                Expr::Const(Value::Int(i)) => Sc::constant(Value::Float(*i as f64), Type::Float),
                _ => Sc::patient_func(Func::ToFloat, vec![self], Type::Float),
            },
            _ => self,
        }
    }

    /// The patient-level tree (the value must read no event column).
    pub fn patient(&self) -> PExpr {
        to_patient(&self.expr)
    }

    /// Give an unnamed aggregation this value is made of the definition's name (it names the CTE).
    pub fn named(self, name: &str) -> Sc {
        if let Expr::Leaf(EventLeaf::Patient(p)) = &*self.expr
            && let Expr::Leaf(PatientLeaf::Aggregate(a)) = &**p
            && a.name.is_none()
        {
            let renamed = Arc::new(Aggregate { name: Some(name.to_string()), ..(**a).clone() });
            return Sc::patient_leaf(PatientLeaf::Aggregate(renamed), self.ty);
        }
        self
    }

    /// Does the value use nothing but the patient table's columns and constants? (What an entry
    /// selection may use.)
    pub fn only_patient_columns(&self) -> bool {
        let mut ok = true;
        self.expr.visit_leaves(&mut |leaf| {
            if let EventLeaf::Patient(p) = leaf {
                p.visit_leaves(&mut |l| ok &= matches!(l, PatientLeaf::Patient(_)));
            }
        });
        ok
    }

    pub fn const_value(&self) -> Option<&Value> {
        match &*self.expr {
            Expr::Const(v) => Some(v),
            _ => None,
        }
    }
}

/// What an expression is.
#[derive(Debug, Clone)]
pub enum Val {
    Scalar(Sc),
    Frame(FrameRef),
    Row(RowRef),
    Codes(Arc<Codelist>),
    /// A literal list: `["EHR", "DPC"]`.
    List(Vec<(Value, Span)>, Type),
    /// A column of a named selection read outside it (`alt.value`): one value per event.
    Detached {
        text: String,
    },
    /// The outcome-list parameter, which only selects outcomes.
    OutcomeList(String),
}

impl Val {
    pub fn describe(&self) -> String {
        match self {
            Val::Scalar(sc) => format!("a {}", sc.ty.name()),
            Val::Frame(_) => "a selection of events".into(),
            Val::Row(_) => "a whole event".into(),
            Val::Codes(_) => "a codelist".into(),
            Val::List(..) => "a list".into(),
            Val::Detached { text } => format!("`{text}`, one value per event"),
            Val::OutcomeList(n) => format!("the outcome list `{n}`"),
        }
    }
}

/// Where an expression is read.
#[derive(Clone, Copy)]
pub struct Cx<'f> {
    /// Inside a selection: the events whose columns bare names read.
    pub frame: Option<&'f FrameRef>,
    /// Inside the entry selection, where there is no index date yet.
    pub entry: bool,
}

impl<'f> Cx<'f> {
    pub fn patient() -> Cx<'static> {
        Cx { frame: None, entry: false }
    }

    pub fn entry() -> Cx<'static> {
        Cx { frame: None, entry: true }
    }

    pub fn events(frame: &'f FrameRef) -> Cx<'f> {
        Cx { frame: Some(frame), entry: false }
    }

    pub fn inside(self, frame: &FrameRef) -> Cx<'_> {
        Cx { frame: Some(frame), entry: self.entry }
    }

    pub fn outside(self) -> Cx<'static> {
        Cx { frame: None, entry: self.entry }
    }
}
