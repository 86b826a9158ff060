//! A site's approvals of scripts: the one record that decides whether a site runs a script, used by
//! `midnet site approve`, by every extraction (`midnet extract`, `midnet protocol run`) and by
//! anything else that asks a site to run a script.
//!
//! An approval covers one project, one exact script bundle (the hash of the script and its
//! codelist files) and its parameter values other than the cut-off: a later cut-off needs no new
//! approval; another project, script or parameter value does. It names the site staff member who
//! gave it (`--by`) and the operating-system account that ran the command, records when (UTC), may
//! end on a date (the last day it covers, by the site's own calendar) and may be revoked. Rows are
//! never deleted: a revocation is written onto the rows it ends.
//!
//! A site initialised by a midnet whose approvals named no project holds a `script_approval` table
//! without a `project` column. None of those approvals can be honoured (no one knows which project
//! they were for): a run at such a site is refused, and the next `site approve` sets the old rows
//! aside whole in `script_approval_unbound` and creates the table of the current schema.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::SiteDir;
use crate::error::{Error, Result};
use crate::script::{ParamValues, Script};

/// One approval, as the site holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub id: i64,
    pub project: String,
    pub script_sha256: String,
    pub study: String,
    pub params: BTreeMap<String, String>,
    /// The site staff member who approved.
    pub approved_by: String,
    /// The operating-system account that ran `site approve`.
    pub os_user: String,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    pub approved_at: String,
    /// The last day the approval covers; none: until revoked.
    pub until: Option<NaiveDate>,
    pub revoked: Option<Revocation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Revocation {
    pub at: String,
    pub by: String,
    pub os_user: String,
}

impl Approval {
    /// Does it cover a run on `today` (the site's date)?
    fn is_live(&self, today: NaiveDate) -> bool {
        self.revoked.is_none() && self.until.is_none_or(|until| today <= until)
    }
}

/// The person acting at the site: the name they give and the account that runs the command.
#[derive(Debug, Clone)]
pub struct Approver {
    pub name: String,
    pub os_user: String,
}

impl Approver {
    /// The staff member named `name` (what `--by` gives), on this process's account.
    pub fn new(name: &str) -> Result<Approver> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(crate::bad_input!(
                "--by {name:?}: name the site staff member who approves (1 to 100 characters, no control characters)"
            ));
        }
        Ok(Approver { name: name.to_string(), os_user: os_account() })
    }
}

/// What a run asks a site to have approved.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub project: &'a str,
    pub script_sha256: &'a str,
    /// Every parameter but the cut-off, canonical (`Compiled::approval_params`).
    pub params: &'a BTreeMap<String, String>,
}

/// The parameters a site approves: every one but the cut-off, as the compiler canonicalises them.
/// A script with a cut-off is compiled with a stand-in cut-off (the last representable day, which
/// no study period can end after) only to canonicalise the others.
pub fn approval_params(script: &Script, values: &ParamValues) -> Result<BTreeMap<String, String>> {
    let mut values = values.clone();
    if let Some(cutoff) = script.cutoff()
        && values.get(&cutoff.name).is_none()
    {
        values.set(cutoff.name.clone(), "9999-12-31");
    }
    Ok(script.compile(&values)?.approval_params())
}

/// The site's date, by which an approval's last day is judged.
pub fn site_today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// Approve `script` with `values` for `project`, until the end of `until` if given.
pub fn approve(
    site: &SiteDir,
    project: &str,
    script: &Script,
    values: &ParamValues,
    approver: &Approver,
    until: Option<NaiveDate>,
) -> Result<Approval> {
    crate::store::require_identifier("--project: the project id", project)?;
    if let Some(until) = until
        && until < site_today()
    {
        return Err(crate::bad_input!("--until {until}: the day is past; an approval ends today or later"));
    }
    let params = approval_params(script, values)?;
    let conn = site.open()?;
    upgrade(&conn)?;
    let approved_at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let id: i64 = conn.query_row(
        "INSERT INTO script_approval (approval_id, project, script_sha256, study, params_json, approved_by, os_user, \
                                     approved_at, valid_until, midnet_version) \
         SELECT coalesce(max(approval_id), 0) + 1, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS DATE), ? \
         FROM script_approval RETURNING approval_id",
        duckdb::params![
            project,
            script.sha256(),
            script.study(),
            canonical_json(&params),
            approver.name,
            approver.os_user,
            approved_at,
            until.map(|d| d.to_string()),
            env!("CARGO_PKG_VERSION")
        ],
        |r| r.get(0),
    )?;
    let entry = super::log::Entry {
        project: Some(project.to_string()),
        script_sha256: Some(script.sha256().to_string()),
        detail: format!(
            "approval #{id} of {} with {params:?} by {} (OS user {}){}",
            script.study(),
            approver.name,
            approver.os_user,
            until.map_or(String::new(), |d| format!(", until {d}"))
        ),
        ..Default::default()
    };
    super::log::append(site, super::log::Event::Approved, entry)?;
    Ok(Approval {
        id,
        project: project.to_string(),
        script_sha256: script.sha256().to_string(),
        study: script.study().to_string(),
        params,
        approved_by: approver.name.clone(),
        os_user: approver.os_user.clone(),
        approved_at,
        until,
        revoked: None,
    })
}

/// Revoke every approval of `script` with `values` for `project` that is not revoked yet. Returns
/// them as revoked; none is `NotFound`.
pub fn revoke(
    site: &SiteDir,
    project: &str,
    script: &Script,
    values: &ParamValues,
    approver: &Approver,
) -> Result<Vec<Approval>> {
    let params = approval_params(script, values)?;
    let wanted = Wanted { project, script_sha256: script.sha256(), params: &params };
    let conn = site.open()?;
    upgrade(&conn)?;
    let standing: Vec<Approval> = approvals_of(&conn, &wanted)?.into_iter().filter(|a| a.revoked.is_none()).collect();
    if standing.is_empty() {
        return Err(Error::NotFound(format!(
            "{}: no standing approval of script {} for project {project} with these parameters to revoke",
            site.root().display(),
            &script.sha256()[..12]
        )));
    }
    let at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let revocation = Revocation { at: at.clone(), by: approver.name.clone(), os_user: approver.os_user.clone() };
    let tx = conn.unchecked_transaction()?;
    for a in &standing {
        tx.execute(
            "UPDATE script_approval SET revoked_at = CAST(? AS TIMESTAMP), revoked_by = ?, revoked_os_user = ? \
             WHERE approval_id = ?",
            duckdb::params![at, approver.name, approver.os_user, a.id],
        )?;
    }
    tx.commit()?;
    let ids: Vec<String> = standing.iter().map(|a| format!("#{}", a.id)).collect();
    let entry = super::log::Entry {
        project: Some(project.to_string()),
        script_sha256: Some(script.sha256().to_string()),
        detail: format!("revoked approvals {} by {} (OS user {})", ids.join(", "), approver.name, approver.os_user),
        ..Default::default()
    };
    super::log::append(site, super::log::Event::Revoked, entry)?;
    Ok(standing.into_iter().map(|a| Approval { revoked: Some(revocation.clone()), ..a }).collect())
}

/// The approval that lets the site `label` run what `wanted` names on `today`, or the refusal
/// (`site_approval`) that says why there is none and what the site does about it.
pub fn covering(conn: &duckdb::Connection, label: &str, wanted: &Wanted, today: NaiveDate) -> Result<Approval> {
    let script = &wanted.script_sha256[..12.min(wanted.script_sha256.len())];
    let project = wanted.project;
    if !binds_projects(conn)? {
        return Err(Error::refused(
            "site_approval",
            format!(
                "site {label} was set up by an older midnet whose approvals name no project, so none of them is \
                 honoured; the site approves script {script} for project {project} with `midnet site approve --site DIR \
                 --project {project} --by NAME SCRIPT --param NAME=VALUE …`, which also upgrades its approvals"
            ),
        ));
    }
    let found = approvals_of(conn, wanted)?;
    if let Some(live) = found.iter().rev().find(|a| a.is_live(today)) {
        return Ok(live.clone());
    }
    let how = format!(
        "the site approves it with `midnet site approve --site DIR --project {project} --by NAME SCRIPT --param NAME=VALUE …`"
    );
    let why = match found.last() {
        Some(Approval { revoked: Some(r), .. }) => {
            format!("site {label} revoked its approval of script {script} for project {project} on {}; {how}", r.at)
        }
        Some(Approval { until: Some(until), .. }) => format!(
            "site {label}'s approval of script {script} for project {project} ended on {until} (today is {today} at \
             the site); {how}"
        ),
        _ if approved_elsewhere(conn, wanted)? => format!(
            "site {label} has not approved script {script} for project {project} with these parameters: it approved \
             it for other projects only, and an approval covers one project; {how}"
        ),
        _ => {
            format!("site {label} has not approved script {script} for project {project} with these parameters; {how}")
        }
    };
    Err(Error::refused("site_approval", why))
}

/// Every approval of exactly what `wanted` names, oldest first.
fn approvals_of(conn: &duckdb::Connection, wanted: &Wanted) -> Result<Vec<Approval>> {
    let mut stmt = conn.prepare(
        "SELECT approval_id, project, script_sha256, study, params_json, approved_by, os_user, \
                strftime(approved_at, '%Y-%m-%d %H:%M:%S'), CAST(valid_until AS VARCHAR), \
                strftime(revoked_at, '%Y-%m-%d %H:%M:%S'), revoked_by, revoked_os_user \
         FROM script_approval WHERE project = ? AND script_sha256 = ? AND params_json = ? ORDER BY approval_id",
    )?;
    let rows =
        stmt.query_map(duckdb::params![wanted.project, wanted.script_sha256, canonical_json(wanted.params)], |r| {
            let revoked = match r.get::<_, Option<String>>(9)? {
                Some(at) => Some(Revocation { at, by: r.get(10)?, os_user: r.get(11)? }),
                None => None,
            };
            Ok((
                Approval {
                    id: r.get(0)?,
                    project: r.get(1)?,
                    script_sha256: r.get(2)?,
                    study: r.get(3)?,
                    params: BTreeMap::new(),
                    approved_by: r.get(5)?,
                    os_user: r.get(6)?,
                    approved_at: r.get(7)?,
                    until: None,
                    revoked,
                },
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
    let mut out = Vec::new();
    for row in rows {
        let (mut approval, params_json, until) = row?;
        approval.params = serde_json::from_str(&params_json)
            .map_err(|e| Error::Integrity(format!("approval {}: its parameters do not read: {e}", approval.id)))?;
        approval.until = until
            .map(|d| d.parse::<NaiveDate>())
            .transpose()
            .map_err(|e| Error::Integrity(format!("approval {}: its end date does not read: {e}", approval.id)))?;
        out.push(approval);
    }
    Ok(out)
}

/// Has the site approved the same script and parameters for another project?
fn approved_elsewhere(conn: &duckdb::Connection, wanted: &Wanted) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM script_approval WHERE project <> ? AND script_sha256 = ? AND params_json = ?",
        duckdb::params![wanted.project, wanted.script_sha256, canonical_json(wanted.params)],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Parameters as JSON with sorted keys, so that equal parameters give equal text.
pub fn canonical_json(params: &BTreeMap<String, String>) -> String {
    serde_json::to_string(params).expect("string maps serialise")
}

/// Does the site's approval table have the current shape (approvals bound to a project)?
fn binds_projects(conn: &duckdb::Connection) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'script_approval' AND column_name = 'project'",
        [],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Bring an older site's approvals to the current schema (see the module's documentation): the
/// old rows go whole to `script_approval_unbound`, honoured by nothing, and the current table is
/// created as `site init` creates it.
fn upgrade(conn: &duckdb::Connection) -> Result<()> {
    if binds_projects(conn)? {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(&format!(
        "CREATE TABLE script_approval_unbound AS SELECT * FROM script_approval;\nDROP TABLE script_approval;\n{}",
        approval_ddl()
    ))?;
    tx.commit()?;
    Ok(())
}

/// The `CREATE TABLE script_approval` statement of the site schema (`sql/schema.sql`).
fn approval_ddl() -> &'static str {
    let schema = crate::schema::SCHEMA_SQL;
    let start = schema.find("CREATE TABLE script_approval (").expect("the site schema has the approval table");
    let end = start + schema[start..].find("\n);").expect("the approval table's statement ends") + 3;
    &schema[start..end]
}

/// The operating-system account running this command, and under sudo the account that invoked it
/// (`SUDO_USER`, which sudo sets): `midnet (sudo from sato)`.
fn os_account() -> String {
    // SAFETY: getuid cannot fail and touches no memory of ours.
    let uid = unsafe { libc::getuid() };
    let name = account_name(uid).unwrap_or_else(|| format!("uid {uid}"));
    match std::env::var("SUDO_USER") {
        Ok(invoker) if !invoker.is_empty() && invoker != name => format!("{name} (sudo from {invoker})"),
        _ => name,
    }
}

/// The login name of a user id, from the system's user database.
fn account_name(uid: libc::uid_t) -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to fill in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to memory we own, valid for the whole call, with its true length;
    // on success `entry`'s strings point into `buffer`, which outlives their use here.
    let status = unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
    if status != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so `pw_name` is a NUL-terminated string inside `buffer`.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_columns(conn: &duckdb::Connection, table: &str) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index")
            .unwrap();
        stmt.query_map([table], |r| r.get(0)).unwrap().map(|c| c.unwrap()).collect()
    }

    #[test]
    fn an_older_sites_approvals_are_set_aside_whole_and_the_table_is_the_schemas() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE script_approval (script_sha256 VARCHAR NOT NULL, params_json VARCHAR NOT NULL, \
             midnet_version VARCHAR NOT NULL, approved_at TIMESTAMP NOT NULL, PRIMARY KEY (script_sha256, params_json));
             INSERT INTO script_approval VALUES ('abc', '{}', '0.1.0', TIMESTAMP '2026-01-01 00:00:00');",
        )
        .unwrap();
        assert!(!binds_projects(&conn).unwrap());
        upgrade(&conn).unwrap();
        assert!(binds_projects(&conn).unwrap());
        let kept: i64 = conn.query_row("SELECT count(*) FROM script_approval_unbound", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 1);
        let fresh = duckdb::Connection::open_in_memory().unwrap();
        crate::schema::create_site_tables(&fresh).unwrap();
        assert_eq!(table_columns(&conn, "script_approval"), table_columns(&fresh, "script_approval"));
        upgrade(&conn).unwrap();
    }

    #[test]
    fn an_approver_is_named() {
        assert_eq!(Approver::new("  Dr. Sato Hanako ").unwrap().name, "Dr. Sato Hanako");
        for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
            assert!(Approver::new(bad).unwrap_err().to_string().contains("--by"), "{bad:?}");
        }
        assert!(!Approver::new("x").unwrap().os_user.is_empty());
    }
}
