//! The public register of approved projects (第13): who uses MID-NET and for what. A
//! signal-refinement project's drug is withheld until the day set at approval.

use chrono::NaiveDate;
use serde::Serialize;

use super::record::{self, Role, Status};
use crate::center::Home;
use crate::center::users::Users;
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct RegisterEntry {
    pub project: String,
    pub organization: String,
    pub contractors: Vec<String>,
    pub purpose: &'static str,
    pub title: String,
    pub summary: String,
    pub drug: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub status: &'static str,
}

/// The register as of `today`: every approved project, by id.
pub fn register(home: &Home, today: NaiveDate) -> Result<Vec<RegisterEntry>> {
    let users = Users::load(home)?;
    let name = |id: &str| users.get(id).map_or_else(|_| id.to_string(), |u| u.name.clone());
    Ok(record::all(home)?
        .into_iter()
        .map(|r| RegisterEntry {
            contractors: r.members.iter().filter(|m| m.role == Role::Contractor).map(|m| name(&m.user)).collect(),
            drug: r.register_drug(today),
            purpose: r.purpose.name(),
            status: match r.status {
                Status::Active if today > r.end => "ended",
                Status::Active => "approved",
                Status::Suspended => "suspended",
                Status::Terminated | Status::Purged => "terminated",
            },
            summary: if r.summary.is_empty() { r.question.clone() } else { r.summary.clone() },
            project: r.id,
            organization: r.organization,
            title: r.title,
            start: r.start,
            end: r.end,
        })
        .collect())
}
