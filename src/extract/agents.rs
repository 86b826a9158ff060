//! The agents' transport: one site's part of an extraction through its agent and `center serve`.
//! Each pass of `extract` looks at the latest request of this extraction issued to the site (kept
//! in `HOME/network/requests/`, its state in `HOME/network/states/`): none yet, or one that
//! expired unanswered, is issued (again); one done is taken into the project from the center's
//! spool (verified there by `center serve`, or now if the serve stopped before recording that);
//! one failed is reported, and issued afresh when the analyst runs `extract` again. Nothing is run late: a site answers only an unexpired request.

use std::path::Path;

use super::exchange::{self, Exchange};
use super::transfer;
use crate::error::Result;
use crate::site::manifest::Manifest;
use crate::site::order::SiteRequest;
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
    let Some((header, manifest_sha256)) = exchange::latest(home, exchange.site_id, req.project, req.extraction)? else {
        return issue(exchange, req, None, "issued; its agent has not fetched it yet".into());
    };
    let request = header.request.as_str();
    let stated = exchange::state_of(home, request)?;
    let state = stated.as_ref().map_or(SiteState::Queued, |s| s.state);
    let detail = stated.map_or_else(|| "issued; its agent has not fetched it yet".to_string(), |s| s.detail);
    match (state, manifest_sha256) {
        (SiteState::Failed, _) if reissue_failed => {
            issue(exchange, req, Some(request), format!("issued again: request {request} failed ({detail})"))
        }
        (SiteState::Failed, _) => Ok(Standing::Failed(format!("request {request}: {detail}"))),
        // Answered: done, or the center stopped between believing the answer and verifying the
        // upload. The spool is taken in under the request's lock, unless `center serve` is
        // verifying it (then it waits for that): verified by the serve (its marker in the state
        // says so), its files are taken as they are; otherwise they are verified now.
        (_, Some(sha256)) => {
            let _one_at_a_time = exchange::lock_request(home, request)?;
            if exchange::verifier(home, request)? == exchange::Verifier::Other {
                let why = format!("request {request}: answered; the data center is verifying its upload");
                return Ok(Standing::Waiting(SiteState::Uploading, why));
            }
            let asked = transfer::Asked::of(req, exchange.site_id)?;
            let spool = exchange::spool_dir(home, request);
            let verified_by_serve = exchange::state_of(home, request)?
                .is_some_and(|stated| stated.verified_manifest.as_deref() == Some(sha256.as_str()));
            let received = if verified_by_serve {
                transfer::receive_verified(&spool, target, &sha256, &asked)
            } else {
                transfer::receive(&spool, target, &sha256, &asked)
            };
            match received {
                Ok(manifest) => {
                    // Done before the spool goes: an answer handed in again then hears it was verified.
                    let done = "answered; the upload verified as extract took it in";
                    exchange::set_state(home, request, SiteState::Done, done)?;
                    exchange::remove_spool(home, request)?;
                    exchange::unmark_verifying(home, request)?;
                    Ok(Standing::Accepted(Box::new(manifest)))
                }
                Err(e) if reissue_failed => {
                    // Failed for good: its answer handed in again hears so, not an upload gone.
                    let why = format!("answered, but its upload cannot be taken in: {e}");
                    exchange::set_state(home, request, SiteState::Failed, &why)?;
                    issue(exchange, req, Some(request), format!("issued again: request {request} was {why}"))
                }
                Err(e) => Ok(Standing::Failed(format!(
                    "request {request}: answered, but its upload cannot be taken in ({e}); run extract again to ask \
                     afresh"
                ))),
            }
        }
        (_, None) if now() >= header.expires_at => issue(
            exchange,
            req,
            Some(request),
            format!(
                "issued again: request {request} expired unanswered at {} (the site was offline, or had not approved \
                 it); it is never run late",
                utc(header.expires_at)
            ),
        ),
        (state, None) => Ok(Standing::Waiting(state, format!("request {request}: {detail}"))),
    }
}

/// Issue a new request, after `earlier` (whose spool goes: nothing of it is taken in any more).
fn issue(exchange: &Exchange, req: &SiteRequest, earlier: Option<&str>, why: String) -> Result<Standing> {
    if let Some(earlier) = earlier {
        exchange::remove_spool(exchange.home, earlier)?;
    }
    let (header, _) = exchange.issue(req)?;
    Ok(Standing::Waiting(SiteState::Queued, format!("request {}: {why}", header.request)))
}

fn now() -> i64 {
    crate::clock::now_utc().timestamp()
}
