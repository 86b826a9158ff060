//! The surveillance plan a project's analyses run under: set with `midnet protocol plan` before the
//! first analysis, else the default plan, written and recorded at the first run. The plan itself
//! (what it holds, its file) is [`super::surveillance`]; this is where a project meets it, above the
//! analyses it is fixed by.

use std::path::Path;

use chrono::NaiveDate;

use super::surveillance::{self, PlanOptions, SurveillancePlan, read};
use crate::audit::Direction;
use crate::center::Actor;
use crate::error::{Error, Result};
use crate::project::{Project, Role};

/// `protocol plan`: set the project's plan before its first analysis (refused after it).
pub fn set(actor: &Actor, project_id: &str, opts: &PlanOptions) -> Result<SurveillancePlan> {
    let project = actor.open_project(project_id, &[Role::Analyst])?;
    let protocol = super::analyses::protocol_dir(&project);
    if let Some(first) = super::analyses::list(&protocol)?.first() {
        return Err(Error::refused(
            "surveillance_plan_fixed",
            format!(
                "project {project_id} made its first analysis (cut-off {}) under the plan it records; a plan is fixed \
                 before the first look and never changed after it",
                first.cutoff
            ),
        ));
    }
    let plan = SurveillancePlan::new(opts, &actor.user().id)?;
    record(actor, &project, &protocol, &plan)?;
    Ok(plan)
}

/// The plan an analysis at `cutoff` runs under: the project's, or the default plan (written and
/// recorded) when none was set.
pub fn for_run(actor: &Actor, project: &Project, cutoff: NaiveDate) -> Result<SurveillancePlan> {
    let protocol = super::analyses::protocol_dir(project);
    if let Some(plan) = read(&protocol)? {
        return Ok(plan);
    }
    let first = match super::analyses::list(&protocol)?.first() {
        Some(first) => crate::clock::parse_date("first analysis cut-off", &first.cutoff)?,
        None => cutoff,
    };
    let plan = SurveillancePlan::default_from(first);
    record(actor, project, &protocol, &plan)?;
    Ok(plan)
}

fn record(actor: &Actor, project: &Project, protocol: &Path, plan: &SurveillancePlan) -> Result<()> {
    let path = surveillance::write(protocol, plan)?;
    project.record_file(actor, &path, &crate::digest::sha256_file(&path)?, Direction::In)
}
