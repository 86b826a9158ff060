//! Commands on the data center's home: `center init|sites`, `user add|disable|passwd|list`,
//! `login`, `logout`; and the `project` and `audit` command groups, assembled here so that the
//! top-level command tree has one entry for all of them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::audit::Outcome;
use crate::center::home::{Home, Settings};
use crate::center::session::{self, Actor};
use crate::center::users::{self, NewUser, Users, read_new_password, read_password};
use crate::cli::Global;
use crate::cli::as_user;
use crate::cli::terminal::{ALL_TEXT, date_arg, print_json, text_table};
use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum CenterCommand {
    /// The data center's home: create it, import the site registry.
    #[command(subcommand)]
    Center(HomeCommand),
    /// Users of the data center: add, disable, change passwords, list.
    #[command(subcommand)]
    User(UserCommand),
    /// Open a session (password from the terminal, or one line of standard input).
    Login(LoginArgs),
    /// Close the current session.
    Logout,
    /// Projects: lifecycle, roles, the public register.
    #[command(subcommand)]
    Project(crate::cli::project::ProjectCommand),
    /// The audit trail: verify, show, sessions.
    #[command(subcommand)]
    Audit(crate::cli::audit::AuditCommand),
    /// The analysts' workbench in a project: read-only SQL over its datasets, importing codelists.
    #[command(subcommand)]
    Work(crate::cli::work::WorkCommand),
}

#[derive(Debug, Subcommand)]
pub enum HomeCommand {
    /// Create the home (given by --home or MIDNET_HOME) and its first reviewer; the reviewer's
    /// password is read from the terminal or standard input.
    Init(InitArgs),
    /// The site registry.
    #[command(subcommand)]
    Sites(SitesCommand),
    /// The simulated clock of a home made for tests or the demo (reviewer).
    #[command(subcommand)]
    Clock(ClockCommand),
}

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Move the simulated clock to DATE (audited); refused on a home that uses the system clock.
    Set {
        #[arg(value_parser = date_arg, value_name = "DATE")]
        date: chrono::NaiveDate,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// User id of the first reviewer.
    #[arg(long, value_name = "ID")]
    pub reviewer: String,
    /// The reviewer's name.
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value_t = Settings::default().password_min_length)]
    pub password_min_length: usize,
    #[arg(long, default_value_t = Settings::default().password_expiry_days)]
    pub password_expiry_days: u32,
    #[arg(long, default_value_t = Settings::default().session_minutes)]
    pub session_minutes: u32,
    /// For tests and demonstrations only: the home's dates come from a clock that starts at DATE
    /// and that only its reviewer moves (`center clock set`), marked in every audit record. A home
    /// without it takes its dates from the system clock, and nothing moves them.
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub simulated_clock: Option<chrono::NaiveDate>,
}

#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// Import a site registry (`[[site]]` entries with id, name, aliases, path) into the home (reviewer).
    Add { file: PathBuf },
    /// Retire a site that left the network (reviewer): it stays in the registry and in every record
    /// that names it, marked retired with today's date; extractions no longer ask it.
    Retire {
        /// The site's registry id.
        #[arg(value_name = "SITE")]
        site: String,
    },
    /// The registered sites and whether each is active or retired (reviewer).
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (reviewer); the initial password is read from the terminal or standard input.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// Give the user the center-wide reviewer role.
        #[arg(long)]
        reviewer: bool,
    },
    /// Disable a user and close their sessions (reviewer).
    Disable { id: String },
    /// Lift the lock (and throttle) that failed logins put on a user (reviewer).
    Unlock { id: String },
    /// Change a password: the current one, then the new one (two lines on standard input). With
    /// --reset, a reviewer sets a new password for another user (one line).
    Passwd {
        id: String,
        #[arg(long)]
        reset: bool,
    },
    /// The users and their roles (reviewer).
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(long, value_name = "ID")]
    pub user: String,
}

pub fn run(global: &Global, command: CenterCommand) -> Result<()> {
    match command {
        CenterCommand::Center(HomeCommand::Init(args)) => init(global, args),
        CenterCommand::Center(HomeCommand::Sites(cmd)) => sites(global, cmd),
        CenterCommand::Center(HomeCommand::Clock(ClockCommand::Set { date })) => {
            as_user(global, "center clock set", None, |actor| {
                let before = crate::center::today::set(actor, date)?;
                println!("the simulated clock of {} reads {date} (it read {before})", actor.home().root().display());
                Ok(())
            })
        }
        CenterCommand::User(cmd) => user(global, cmd),
        CenterCommand::Login(args) => login(global, args),
        CenterCommand::Logout => logout(global),
        CenterCommand::Project(cmd) => crate::cli::project::run(global, cmd),
        CenterCommand::Audit(cmd) => crate::cli::audit::run(global, cmd),
        CenterCommand::Work(cmd) => crate::cli::work::run(global, cmd),
    }
}

fn init(global: &Global, args: InitArgs) -> Result<()> {
    let root = global.home.as_ref().ok_or_else(|| {
        crate::bad_input!("center init: give the new home's directory with --home DIR (or MIDNET_HOME)")
    })?;
    let settings = Settings {
        password_min_length: args.password_min_length,
        password_expiry_days: args.password_expiry_days,
        session_minutes: args.session_minutes,
        simulated_clock: args.simulated_clock,
    };
    let reviewer = NewUser { id: args.reviewer, name: args.name, reviewer: true };
    let password = read_new_password(&format!("password for {}: ", reviewer.id))?;
    let home = Home::init(root, &settings, &reviewer, &password)?;
    println!("created the data-center home {} with reviewer {}", home.root().display(), reviewer.id);
    Ok(())
}

fn sites(global: &Global, command: SitesCommand) -> Result<()> {
    match command {
        SitesCommand::Add { file } => as_user(global, "center sites add", None, |actor| {
            let (total, added) = crate::project::import_sites(actor, &file)?;
            println!("{total} sites registered ({} new: {})", added.len(), added.join(", "));
            Ok(())
        }),
        SitesCommand::Retire { site } => as_user(global, "center sites retire", None, |actor| {
            let retirement = crate::center::sites::retire(actor, &site)?;
            println!("retired {site} on {} (kept in the registry; extractions no longer ask it)", retirement.on);
            Ok(())
        }),
        SitesCommand::List { json } => as_user(global, "center sites list", None, |actor| {
            actor.require_reviewer("listing the site registry")?;
            let sites = actor.home().sites()?;
            if json {
                print_json(&sites)?;
            } else {
                let rows = sites
                    .iter()
                    .map(|s| {
                        let state = s.retired.as_ref().map_or("active".to_string(), |r| format!("retired {}", r.on));
                        vec![s.id.clone(), state, s.name.clone(), s.aliases.join("; "), s.path.display().to_string()]
                    })
                    .collect::<Vec<_>>();
                print!("{}", text_table(&["site", "state", "name", "aliases", "path"], &rows, ALL_TEXT));
            }
            Ok(())
        }),
    }
}

fn user(global: &Global, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { id, name, reviewer } => as_user(global, "user add", None, |actor| {
            actor.require_reviewer("adding users")?;
            let password = read_new_password(&format!("initial password for {id}: "))?;
            users::create(actor, &NewUser { id: id.clone(), name, reviewer }, &password)?;
            println!("added user {id}{}", if reviewer { " (reviewer)" } else { "" });
            Ok(())
        }),
        UserCommand::Disable { id } => as_user(global, "user disable", None, |actor| {
            actor.require_reviewer("disabling users")?;
            let home = actor.home();
            {
                let _lock = home.lock_documents()?;
                let mut registry = Users::load(home)?;
                registry.disable(&id)?;
                registry.save(home)?;
            }
            session::Sessions::close_all_of(home, &id)?;
            println!("disabled user {id} and closed their sessions");
            Ok(())
        }),
        UserCommand::Unlock { id } => as_user(global, "user unlock", None, |actor| {
            actor.require_reviewer("unlocking users")?;
            let home = actor.home();
            let _lock = home.lock_documents()?;
            let mut registry = Users::load(home)?;
            registry.unlock(&id)?;
            registry.save(home)?;
            println!("unlocked user {id}");
            Ok(())
        }),
        UserCommand::Passwd { id, reset: true } => as_user(global, "user passwd --reset", None, |actor| {
            actor.require_reviewer("resetting another user's password")?;
            let password = read_new_password(&format!("new password for {id}: "))?;
            let home = actor.home();
            let _lock = home.lock_documents()?;
            let mut registry = Users::load(home)?;
            registry.set_password(home.settings(), &id, &password, actor.today())?;
            registry.save(home)?;
            println!("set a new password for {id}");
            Ok(())
        }),
        UserCommand::Passwd { id, reset: false } => {
            let home = global.home()?;
            let today = crate::center::today::Today::of(&home)?.date;
            let changed = read_password(&format!("current password for {id}: ")).and_then(|current| {
                let new = read_new_password(&format!("new password for {id}: "))?;
                users::change_password(&home, &id, &current, &new, today)
            });
            session::audit_as(&home, &id, None, "user passwd", None, Outcome::of(&changed))?;
            changed?;
            println!("changed the password of {id}");
            Ok(())
        }
        UserCommand::List { json } => as_user(global, "user list", None, |actor| {
            actor.require_reviewer("listing users")?;
            let home = actor.home();
            let registry = Users::load(home)?;
            let projects = crate::project::record::all(home)?;
            let roles_of = |id: &str| {
                let mut roles: Vec<String> = projects
                    .iter()
                    .flat_map(|p| p.roles_of(id).into_iter().map(move |r| format!("{r}@{}", p.id)))
                    .collect();
                if registry.get(id).is_ok_and(|u| u.reviewer) {
                    roles.insert(0, "reviewer".to_string());
                }
                roles
            };
            if json {
                let list: Vec<_> = registry
                    .all()
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "id": u.id, "name": u.name, "reviewer": u.reviewer, "disabled": u.disabled,
                            "password_set": u.password_set, "password_expires": u.password_expires(home.settings()),
                            "roles": roles_of(&u.id),
                        })
                    })
                    .collect();
                print_json(&list)?;
            } else {
                let rows: Vec<Vec<String>> = registry
                    .all()
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.clone(),
                            u.name.clone(),
                            if u.disabled { "disabled" } else { "active" }.to_string(),
                            u.password_expires(home.settings()).to_string(),
                            roles_of(&u.id).join(", "),
                        ]
                    })
                    .collect();
                print!("{}", text_table(&["user", "name", "status", "password expires", "roles"], &rows, ALL_TEXT));
            }
            Ok(())
        }),
    }
}

fn login(global: &Global, args: LoginArgs) -> Result<()> {
    let home = global.home()?;
    let password = read_password(&format!("password for {}: ", args.user))?;
    let (actor, token) = Actor::login(&home, &args.user, &password)?;
    println!(
        "logged in as {} ({}) for {} minutes; session {}, for this OS user only. Commands of this OS user use it; \
         if the OS account is shared, give each command the token:",
        actor.user().id,
        actor.user().name,
        home.settings().session_minutes,
        actor.session()
    );
    println!("{}={token}", session::SESSION_VAR);
    Ok(())
}

fn logout(global: &Global) -> Result<()> {
    let user = as_user(global, "logout", None, |actor| {
        actor.close()?;
        Ok(actor.user().id.clone())
    })?;
    println!("logged out {user}");
    Ok(())
}
