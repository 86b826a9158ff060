//! The data center's home: its layout and settings ([`Home`]), the site registry, users and their
//! passwords, login sessions, and running a command as the logged-in user ([`as_user`]).
//!
//! # The API other commands build on
//!
//! ```ignore
//! use midnet::audit::Direction;
//! use midnet::center;
//! use midnet::project::{Area, Role};
//!
//! // Every command on the home or a project runs inside `as_user`: it checks the session, runs the
//! // closure, and appends the audit record with the result (ok / refused with the rule / error).
//! center::as_user(&home, "extract", Some(&args.project), |actor| {
//!     // Checks the role, the lifecycle (ended / suspended / terminated) and takes the project
//!     // lock (a second command on the project gets Error::Busy) until `project` is dropped.
//!     let project = actor.open_project(&args.project, &[Role::Analyst])?;
//!     let db = project.layout().db();                            // the project's DuckDB file
//!     let out = project.resolve(Area::Datasets, "cohort@1.parquet")?; // refuses .., /abs, symlinks
//!     let pseudonym = project.pseudonym("site01")?;              // per-project site pseudonym
//!     let sites = center::sites::registered(actor.home())?;      // ids, names, aliases, paths
//!     // ... write `out` ...
//!     project.record_file(actor, &out, &sha256, Direction::In)?; // audited file movement
//!     Ok(())
//! })
//! ```
//!
//! In-process callers (the demo) log in with [`Actor::login`] and wrap each step in
//! [`Actor::run`], which audits like `as_user`.
//!
//! Commands that touch neither the home nor a project (synth, site-side commands, script
//! check/sql/explain, statistics and export checks on plain files, demo) do not use this module;
//! under sudo they run with the invoking person's rights ([`privilege`]).
//!
//! "Today" is the system's date, except on a home made with `--simulated-clock` for tests and the
//! demo, whose reviewer alone moves it ([`today`]); audit records written there carry it.

pub mod home;
pub mod init;
pub mod keys;
pub mod privilege;
pub mod session;
pub mod sites;
pub mod today;
pub mod users;

pub use home::{Home, SETTINGS_FILE, Settings};
pub use init::create_home;
pub use session::{Actor, as_user};
pub use sites::Site;
pub use users::NewUser;
