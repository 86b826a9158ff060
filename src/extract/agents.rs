//! The agents' transport: one site's part of an extraction through its agent and `center serve`.
//! Each pass of `extract` looks at the latest request of this extraction issued to the site (kept
//! in `HOME/network/requests/`, its state in `HOME/network/states/`): none yet, or one that
//! expired unanswered, is issued (again); one done is taken into the project from the center's
//! spool, verified again; one failed is reported, and issued afresh when the analyst runs
//! `extract` again. Nothing is run late: a site answers only an unexpired request.

use std::path::Path;

use super::exchange::{self, Exchange};
use super::transfer;
use crate::error::Result;
use crate::site::manifest::Manifest;
use crate::site::run::SiteRequest;
use crate::wire::{SiteState, utc};

/// Where one site's part stands after a pass.
pub enum Standing {
    /// Boxed: a manifest is large beside the other states.
    Accepted(Box<Manifest>),
    /// Not done yet: the state and why, in words.
    Waiting(SiteState, String),
    Failed(String),
}

/// One pass for one site. `reissue_failed`: issue a fresh request after a failed one (a new
/// `extract` by the analyst, not a pass of `--wait`).
pub fn pass(exchange: &Exchange, req: &SiteRequest, target: &Path, reissue_failed: bool) -> Result<Standing> {
    let home = exchange.home;
    let prefix = format!("{}-x{}-{}-", req.project, req.extraction, req.label);
    let Some((header, manifest_sha256)) = exchange::latest(home, exchange.site_id, &prefix)? else {
        return issue(exchange, req, "issued; its agent has not fetched it yet".into());
    };
    let stated = exchange::state_of(home, &header.request)?;
    let state = stated.as_ref().map_or(SiteState::Queued, |s| s.state);
    let detail = stated.map_or_else(|| "issued; its agent has not fetched it yet".to_string(), |s| s.detail);
    let spool = home.root().join("network").join("spool").join(&header.request);
    match (state, manifest_sha256) {
        (SiteState::Done, Some(sha256)) => {
            let asked = transfer::Asked::of(req, exchange.site_id)?;
            Ok(Standing::Accepted(Box::new(transfer::receive(&spool, target, &sha256, &asked)?)))
        }
        (SiteState::Failed, _) if reissue_failed => {
            issue(exchange, req, format!("issued again: request {} failed ({detail})", header.request))
        }
        (SiteState::Failed, _) => Ok(Standing::Failed(format!("request {}: {detail}", header.request))),
        (_, None) if now() >= header.expires_at => issue(
            exchange,
            req,
            format!(
                "issued again: request {} expired unanswered at {} (the site was offline, or had not approved it); it is \
                 never run late",
                header.request,
                utc(header.expires_at)
            ),
        ),
        (_, Some(_)) => Ok(Standing::Failed(format!(
            "request {}: answered, but the center has not verified the upload (center serve stopped before it did); \
             run extract again to ask afresh",
            header.request
        ))),
        (state, None) => Ok(Standing::Waiting(state, format!("request {}: {detail}", header.request))),
    }
}

fn issue(exchange: &Exchange, req: &SiteRequest, why: String) -> Result<Standing> {
    let (header, _) = exchange.issue(req)?;
    Ok(Standing::Waiting(SiteState::Queued, format!("request {}: {why}", header.request)))
}

fn now() -> i64 {
    crate::clock::now_utc().timestamp()
}
