//! Which steps a query needs and in what order. A step is a node of the query model that looks at
//! events and gives patient-level values (an aggregation, a pick, an exposure episode); each
//! becomes one CTE keyed by cohort row. Steps that a rule needs are computed for every entry
//! (`cohort_base`, so the attrition table can count them); the others only for the cohort that
//! the rules leave (`cohort`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::query::model::*;

#[derive(Debug, Clone)]
pub enum StepNode {
    Aggregate(Arc<Aggregate>),
    Pick(Arc<Pick>),
    Exposure(Arc<Exposure>),
}

impl StepNode {
    pub fn id(&self) -> usize {
        match self {
            StepNode::Aggregate(a) => Arc::as_ptr(a) as *const () as usize,
            StepNode::Pick(p) => Arc::as_ptr(p) as *const () as usize,
            StepNode::Exposure(x) => Arc::as_ptr(x) as *const () as usize,
        }
    }

    pub fn frame(&self) -> &FrameRef {
        match self {
            StepNode::Aggregate(a) => &a.frame,
            StepNode::Pick(p) => &p.frame,
            StepNode::Exposure(x) => &x.orders,
        }
    }

    /// The script's name, or one that says what the step does (`exists_drug_order`).
    fn name(&self) -> String {
        let table = frame_noun(self.frame());
        match self {
            StepNode::Aggregate(a) => a.name.clone().unwrap_or_else(|| {
                let kind = match a.kind {
                    AggKind::Exists => "exists",
                    AggKind::Count => "count",
                    AggKind::Sum(_) => "sum",
                    AggKind::Min(_) => "min",
                    AggKind::Max(_) => "max",
                };
                format!("{kind}_{table}")
            }),
            StepNode::Pick(p) => p.name.clone().unwrap_or_else(|| {
                let kind = match p.order {
                    PickOrder::First => "first",
                    PickOrder::Last => "last",
                    PickOrder::Highest(_) => "highest",
                    PickOrder::Lowest(_) => "lowest",
                };
                format!("{kind}_{table}")
            }),
            StepNode::Exposure(x) => x.name.clone(),
        }
    }
}

fn frame_noun(frame: &Frame) -> String {
    match frame.root_table() {
        Some(t) => t.name().to_string(),
        None => "joint".to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Needed by a rule: computed for every entry.
    Base,
    /// Computed for the cohort the rules leave.
    Final,
}

#[derive(Debug)]
pub struct Step {
    pub node: StepNode,
    /// The CTE's name, unique in the query.
    pub name: String,
    pub level: Level,
    /// Steps whose values this step's events are filtered or computed with.
    pub deps: Vec<usize>,
    /// 0 for a step that needs no other step, else one more than its deepest dependency: steps of
    /// one layer can be computed together.
    pub layer: usize,
}

impl Step {
    /// The table whose events an aggregation or pick reads, when it can share one pass over
    /// that table with the other steps of its layer (joint events and exposures cannot).
    pub fn shared_table(&self) -> Option<crate::query::tables::Table> {
        match &self.node {
            StepNode::Aggregate(_) | StepNode::Pick(_) => self.node.frame().root_table(),
            StepNode::Exposure(_) => None,
        }
    }
}

/// Steps of one level and layer over one table, computed in one pass over its rows.
#[derive(Debug)]
pub struct Group {
    pub name: String,
    pub level: Level,
    pub layer: usize,
    pub table: crate::query::tables::Table,
    /// Picks that read more than a date: they sort their events, so their pass first keeps only
    /// the events some pick can choose. The other steps aggregate every event of the cohort.
    pub picks: bool,
    /// Indices into [`Plan::steps`].
    pub steps: Vec<usize>,
}

/// The steps of one query in dependency order, and the columns of each pick that are read.
#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub groups: Vec<Group>,
    index: HashMap<usize, usize>,
    pub reads: Reads,
    names: HashSet<String>,
}

/// Names the generated SQL uses itself; a step never takes one (nor the site's `patient` table,
/// which a CTE of that name would hide).
const RESERVED: [&str; 10] = [
    super::PATIENTS,
    "patient",
    "entry_events",
    "entry",
    "cohort_base",
    "cohort",
    "attrition_flags",
    "attrition_counts",
    "c",
    "p",
];

impl Plan {
    /// The plan for a query that reads the values of `base` for every entry and `rest` for the cohort.
    pub fn new(base: &[&PExpr], rest: &[Root<'_>]) -> Plan {
        let mut plan = Plan::default();
        plan.names.extend(RESERVED.iter().map(|s| s.to_string()));
        for e in base {
            for node in refs_p(e, &mut plan.reads) {
                plan.collect(node, Level::Base);
            }
        }
        for root in rest {
            let mut nodes = Vec::new();
            match root {
                Root::Patient(e) => nodes.extend(refs_p(e, &mut plan.reads)),
                Root::Event(e) => nodes.extend(refs_e(e, &mut plan.reads)),
                Root::Frame(f) => nodes.extend(refs_frame(f, &mut plan.reads)),
            }
            for node in nodes {
                plan.collect(node, Level::Final);
            }
        }
        plan.group();
        plan
    }

    fn group(&mut self) {
        for i in 0..self.steps.len() {
            let Some(table) = self.steps[i].shared_table() else { continue };
            let (level, layer) = (self.steps[i].level, self.steps[i].layer);
            let picks = self.sorts(&self.steps[i]);
            match self
                .groups
                .iter_mut()
                .find(|g| g.level == level && g.layer == layer && g.table == table && g.picks == picks)
            {
                Some(g) => g.steps.push(i),
                None => {
                    let stem = if picks { "picks" } else { "steps" };
                    let name = self.unique_name(format!("{}_{stem}", table.name()), &[""]);
                    self.groups.push(Group { name, level, layer, table, picks, steps: vec![i] });
                }
            }
        }
    }

    /// Does the step choose an event by sorting (a pick that reads more than a first or last date)?
    pub fn sorts(&self, step: &Step) -> bool {
        match &step.node {
            StepNode::Pick(p) => {
                let read = self.reads.picks.get(&step.node.id());
                let date_only = read.is_none_or(|cols| cols.iter().all(|c| c == "date"));
                let by_date = match p.order {
                    PickOrder::First => true,
                    PickOrder::Last => !overrides_date(&p.frame),
                    PickOrder::Highest(_) | PickOrder::Lowest(_) => false,
                };
                !(date_only && by_date)
            }
            _ => false,
        }
    }

    /// The highest layer of a level, if it has steps.
    pub fn layers(&self, level: Level) -> impl Iterator<Item = usize> + use<> {
        let top = self.steps.iter().filter(|s| s.level == level).map(|s| s.layer).max();
        0..top.map_or(0, |t| t + 1)
    }

    fn collect(&mut self, node: StepNode, level: Level) {
        if self.index.contains_key(&node.id()) {
            return;
        }
        let deps = refs_node(&node, &mut self.reads);
        for dep in &deps {
            self.collect(dep.clone(), level);
        }
        // An exposure's CTEs are `name`, `name_days`, `name_cover`, `name_gaps`.
        let suffixes: &[&str] = match node {
            StepNode::Exposure(_) => &["", "_days", "_cover", "_gaps"],
            _ => &[""],
        };
        let name = self.unique_name(node.name(), suffixes);
        let deps = dedup(deps.iter().map(StepNode::id));
        let layer = deps.iter().map(|d| self.step(*d).layer + 1).max().unwrap_or(0);
        self.index.insert(node.id(), self.steps.len());
        self.steps.push(Step { name, level, deps, layer, node });
    }

    /// `wanted`, or `wanted_2`, `wanted_3`, … so that no name with any of the suffixes is taken.
    /// DuckDB compares names without regard to case, and so does this (`names` holds them in
    /// lower case).
    pub fn unique_name(&mut self, wanted: String, suffixes: &[&str]) -> String {
        let taken = |n: &str, names: &HashSet<String>| {
            let n = n.to_lowercase();
            names.contains(&n) || n.starts_with("rows_") || is_event_alias(&n)
        };
        let mut name = wanted.clone();
        let mut k = 2;
        while suffixes.iter().any(|s| taken(&format!("{name}{s}"), &self.names)) {
            name = format!("{wanted}_{k}");
            k += 1;
        }
        for s in suffixes {
            self.names.insert(format!("{name}{s}").to_lowercase());
        }
        name
    }

    pub fn step(&self, id: usize) -> &Step {
        &self.steps[self.index[&id]]
    }

    pub fn name(&self, id: usize) -> &str {
        &self.step(id).name
    }
}

/// Event aliases in generated SELECTs are `e`, `e2`, `e3`, …
pub fn is_event_alias(name: &str) -> bool {
    name == "e" || (name.starts_with('e') && name.len() > 1 && name[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// What a query reads besides the rules.
pub enum Root<'a> {
    Patient(&'a PExpr),
    Event(&'a EExpr),
    Frame(&'a FrameRef),
}

fn dedup(ids: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut seen = Vec::new();
    for id in ids {
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

/// The columns read of each pick (by node) and of the entry event.
#[derive(Debug, Default)]
pub struct Reads {
    pub picks: HashMap<usize, BTreeSet<String>>,
    pub entry: BTreeSet<String>,
}

type PickColumns = Reads;

/// The steps a patient-level expression reads directly (not the ones inside their frames).
pub fn refs_p(e: &Expr<PatientLeaf>, cols: &mut PickColumns) -> Vec<StepNode> {
    let mut out = Vec::new();
    e.visit_leaves(&mut |leaf| match leaf {
        PatientLeaf::Aggregate(a) => out.push(StepNode::Aggregate(a.clone())),
        PatientLeaf::Pick(p, col) => {
            cols.picks.entry(Arc::as_ptr(p) as *const () as usize).or_default().insert(col.clone());
            out.push(StepNode::Pick(p.clone()));
        }
        PatientLeaf::Exposure(x, _) => out.push(StepNode::Exposure(x.clone())),
        PatientLeaf::Entry(col) => {
            cols.entry.insert(col.clone());
        }
        PatientLeaf::Patient(_) | PatientLeaf::Index => {}
    });
    out
}

pub fn refs_e(e: &Expr<EventLeaf>, cols: &mut PickColumns) -> Vec<StepNode> {
    let mut patient = Vec::new();
    e.visit_leaves(&mut |leaf| {
        if let EventLeaf::Patient(p) = leaf {
            patient.push(p.clone());
        }
    });
    patient.iter().flat_map(|p| refs_p(p, cols)).collect()
}

pub fn refs_frame(frame: &Frame, cols: &mut PickColumns) -> Vec<StepNode> {
    match frame {
        Frame::Table(_) => Vec::new(),
        Frame::Filter(f, e) | Frame::With(f, _, e, _) => {
            let mut out = refs_frame(f, cols);
            out.extend(refs_e(e, cols));
            out
        }
        Frame::Joint(parts, _) => parts.iter().flat_map(|(_, f)| refs_frame(f, cols)).collect(),
    }
}

fn refs_node(node: &StepNode, cols: &mut PickColumns) -> Vec<StepNode> {
    let mut out = refs_frame(node.frame(), cols);
    let extra = match node {
        StepNode::Aggregate(a) => match &a.kind {
            AggKind::Sum(e) | AggKind::Min(e) | AggKind::Max(e) => Some(e),
            AggKind::Exists | AggKind::Count => None,
        },
        StepNode::Pick(p) => match &p.order {
            PickOrder::Highest(e) | PickOrder::Lowest(e) => Some(e),
            PickOrder::First | PickOrder::Last => None,
        },
        StepNode::Exposure(_) => None,
    };
    if let Some(e) = extra {
        out.extend(refs_e(e, cols));
    }
    out
}

/// The plain frames (rooted at a table) inside a frame: itself, or each part of a joint.
pub fn plain_frames(frame: &FrameRef) -> Vec<FrameRef> {
    fn joint_parts(frame: &Frame) -> Option<&Vec<(String, FrameRef)>> {
        match frame {
            Frame::Joint(parts, _) => Some(parts),
            Frame::Filter(f, _) | Frame::With(f, ..) => joint_parts(f),
            Frame::Table(_) => None,
        }
    }
    match joint_parts(frame) {
        Some(parts) => parts.iter().flat_map(|(_, f)| plain_frames(f)).collect(),
        None => vec![frame.clone()],
    }
}

/// Group plain frames by their table.
pub fn frames_by_table(frames: impl Iterator<Item = FrameRef>) -> BTreeMap<crate::query::tables::Table, Vec<FrameRef>> {
    let mut by_table: BTreeMap<_, Vec<FrameRef>> = BTreeMap::new();
    for frame in frames {
        for plain in plain_frames(&frame) {
            if let Some(t) = plain.root_table() {
                by_table.entry(t).or_default().push(plain);
            }
        }
    }
    by_table
}

/// Does the frame compute its own `date`?
pub fn overrides_date(frame: &Frame) -> bool {
    match frame {
        Frame::With(_, name, ..) if name == "date" => true,
        Frame::With(f, ..) | Frame::Filter(f, _) => overrides_date(f),
        Frame::Table(_) | Frame::Joint(..) => false,
    }
}
