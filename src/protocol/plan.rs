//! What a run of the protocol is asked to do: the drugs, the cut-off, the outcomes, and the plan
//! the project's purpose gives it. Both a run and the record of analyses it leaves name these.

use serde::Serialize;

/// Every outcome (signal detection) or chosen outcomes with time to onset and incidence by
/// duration of use (signal refinement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Detection,
    Refinement,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub drug: Vec<String>,
    pub comparator: Vec<String>,
    pub cutoff: String,
    /// Chosen outcome ids (signal refinement); empty for every outcome.
    pub outcomes: Vec<String>,
    pub jobs: usize,
    /// Through the sites' agents (`extract --agents --wait`), looking this often until every
    /// site is done; None: in process.
    pub agents: Option<std::time::Duration>,
}
