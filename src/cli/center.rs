//! Commands on the data center's home: `center init|sites`, `user add|disable|passwd|list`,
//! `login`, `logout`; and the `project` and `audit` command groups, assembled here so that the
//! top-level command tree has one entry for all of them.

use clap::{Args, Subcommand};

use crate::audit::Outcome;
use crate::center::home::Settings;
use crate::center::session::{self, Actor};
use crate::center::users::{self, NewUser, Users, read_new_password, read_password};
use crate::cli::Global;
use crate::cli::as_user;
use crate::cli::named::{NamedFile, NamedRegistry};
use crate::cli::terminal::{ALL_TEXT, date_arg, print_json, print_result, text_table};
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
    Logout(LogoutArgs),
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
    /// The data center's public key, which every site pins (`midnet site trust-center`): the
    /// center signs each work request with its private key, kept in the home.
    Key {
        /// Print the key as JSON: {"key", "key_id", "file"}.
        #[arg(long)]
        json: bool,
    },
    /// Serve the sites' agents over HTTPS until stopped (reviewer): they fetch their work requests,
    /// report where each stands and upload their results. The TLS certificate is made at first
    /// serve (HOME/tls/, owner-only); its SHA-256, printed first, is what each site pins.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0: one the system chooses, printed). Loopback by default;
    /// the hospitals' agents connect to it over the closed network.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub bind: std::net::SocketAddr,
    /// A host name or IP address the sites reach the center by, put in the certificate made at
    /// first serve (repeat; default localhost and 127.0.0.1).
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// The longest an agent's long poll for work is held open, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub poll_limit: u64,
    /// How long a client may take for each step of a call (the TLS handshake, the request's
    /// header) before the center cuts it off, and the longest pause in a body; also how long an
    /// idle connection stays.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub step_timeout: u64,
    /// The slowest line a body (an upload's chunk) may come on, in bytes a second: a body may take
    /// the step's time plus its length at this rate.
    #[arg(long, value_name = "BYTES", default_value_t = crate::https::MIN_BODY_RATE,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub min_body_rate: u64,
    /// The most connections served at once; more wait until one ends.
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_connections: u64,
}

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Move the simulated clock to DATE (audited); refused on a home that uses the system clock.
    Set {
        /// The day the clock is to read (YYYY-MM-DD); never earlier than it reads now.
        #[arg(value_parser = date_arg, value_name = "DATE")]
        date: chrono::NaiveDate,
        /// Print the clock's reading as JSON: {"home", "date", "before"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// User id of the first reviewer.
    #[arg(long, value_name = "ID")]
    pub user: String,
    /// The reviewer's name.
    #[arg(long)]
    pub name: String,
    /// The shortest password the home accepts, in characters.
    #[arg(long, value_name = "N", default_value_t = Settings::default().password_min_length)]
    pub password_min_length: usize,
    /// Days after which a password must be changed.
    #[arg(long, value_name = "DAYS", default_value_t = Settings::default().password_expiry_days)]
    pub password_expiry_days: u32,
    /// Minutes a login session lasts.
    #[arg(long, value_name = "MINUTES", default_value_t = Settings::default().session_minutes)]
    pub session_minutes: u32,
    /// For tests and demonstrations only: the home's dates come from a clock that starts at DATE
    /// (YYYY-MM-DD) and that only its reviewer moves (`center clock set`), marked in every audit
    /// record. A home without it takes its dates from the system clock, and nothing moves them.
    #[arg(long, value_parser = date_arg, value_name = "DATE")]
    pub simulated_clock: Option<chrono::NaiveDate>,
    /// Print the new home as JSON: {"home", "reviewer"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// Import a site registry (`[[site]]` entries with id, name, aliases, path, key_file: the site's
    /// public key file, relative to the registry) into the home (reviewer). A site without a key is
    /// registered, but no extraction asks it until `center sites key` gives it one.
    Add {
        /// The registry file (sites.toml).
        #[arg(value_name = "FILE", value_parser = NamedRegistry::parse)]
        file: NamedRegistry,
    },
    /// Retire a site that left the network (reviewer): it stays in the registry and in every record
    /// that names it, marked retired with today's date; extractions no longer ask it.
    Retire {
        /// The site's registry id.
        #[arg(value_name = "SITE")]
        site: String,
    },
    /// Register a site's public key (reviewer): the key file the site gives (its keys/site.pub), for
    /// a site registered before midnet signed results or one that made a new key pair. The center
    /// believes only results signed by the registered key; retiring a site revokes it.
    Key {
        /// The site's registry id.
        #[arg(value_name = "SITE")]
        site: String,
        /// The site's public key file.
        #[arg(value_name = "FILE", value_parser = NamedFile::parse)]
        file: NamedFile,
    },
    /// The registered sites and whether each is active or retired (reviewer).
    List {
        /// Print the registry as JSON: [{"id", "name", "aliases", "path", "key", "retired"}].
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (reviewer); the initial password is read from the terminal or standard input.
    Add {
        /// The new user's id (what they log in as).
        id: String,
        /// The user's name.
        #[arg(long)]
        name: String,
        /// Give the user the center-wide reviewer role.
        #[arg(long)]
        reviewer: bool,
        /// Print the new user as JSON: {"user", "action": "added", "reviewer"}.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user and close their sessions (reviewer).
    Disable(UserArgs),
    /// Lift the lock (and throttle) that failed logins put on a user (reviewer).
    Unlock(UserArgs),
    /// Change a password: the current one, then the new one (two lines on standard input). With
    /// --reset, a reviewer sets a new password for another user (one line).
    Passwd {
        /// The user's id.
        id: String,
        /// Set another user's password without knowing the current one (reviewer).
        #[arg(long)]
        reset: bool,
        /// Print what was done as JSON: {"user", "action": "password changed" or "password reset"}.
        #[arg(long)]
        json: bool,
    },
    /// The users and their roles (reviewer).
    List {
        /// Print the users as JSON: [{"id", "name", "reviewer", "disabled", "password_set",
        /// "password_expires", "roles"}].
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user's id.
    pub id: String,
    /// Print what was done as JSON: {"user", "action": "disabled" or "unlocked"}.
    #[arg(long)]
    pub json: bool,
}

/// What a `user` command did to a user, as `--json` prints it.
#[derive(serde::Serialize)]
struct UserAction<'a> {
    user: &'a str,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reviewer: Option<bool>,
}

impl UserAction<'_> {
    /// Print the action: as JSON with `--json`, else as `text`.
    fn print(&self, json: bool, text: String) -> Result<()> {
        print_result(json, self, |_| text)
    }
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your user id.
    #[arg(long, value_name = "ID")]
    pub user: String,
    /// Print the session as JSON: {"user", "name", "session", "minutes", "token_variable", "token"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Print who was logged out as JSON: {"user"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &Global, command: CenterCommand) -> Result<()> {
    match command {
        CenterCommand::Center(HomeCommand::Init(args)) => init(global, args),
        CenterCommand::Center(HomeCommand::Sites(cmd)) => sites(global, cmd),
        CenterCommand::Center(HomeCommand::Clock(ClockCommand::Set { date, json })) => {
            as_user(global, "center clock set", None, |actor| {
                let before = crate::center::today::set(actor, date)?;
                let reading = serde_json::json!({"home": actor.home().root(), "date": date, "before": before});
                print_result(json, &reading, |_| {
                    format!("the simulated clock of {} reads {date} (it read {before})", actor.home().root().display())
                })
            })
        }
        CenterCommand::Center(HomeCommand::Key { json }) => as_user(global, "center key", None, |actor| {
            let key = crate::center::keys::signing(actor)?.verifying_key();
            let file = crate::center::keys::public_path(actor.home());
            let shown = serde_json::json!({"key": hex::encode(key.as_bytes()), "key_id": crate::wire::key_id(&key), "file": file});
            print_result(json, &shown, |_| {
                format!(
                    "{}  {}\n(the file {}: give it to each site out of band; it runs `midnet site trust-center`)",
                    crate::wire::key_id(&key),
                    hex::encode(key.as_bytes()),
                    file.display()
                )
            })
        }),
        CenterCommand::Center(HomeCommand::Serve(args)) => serve(global, args),
        CenterCommand::User(cmd) => user(global, cmd),
        CenterCommand::Login(args) => login(global, args),
        CenterCommand::Logout(args) => logout(global, args),
        CenterCommand::Project(cmd) => crate::cli::project::run(global, cmd),
        CenterCommand::Audit(cmd) => crate::cli::audit::run(global, cmd),
        CenterCommand::Work(cmd) => crate::cli::work::run(global, cmd),
    }
}

/// `center serve`: bind, make or read the certificate, print the address and fingerprint, serve.
fn serve(global: &Global, args: ServeArgs) -> Result<()> {
    crate::cli::survive_cut_connections();
    as_user(global, "center serve", None, |actor| {
        let server = crate::extract::serve::Serve::new(actor, std::time::Duration::from_secs(args.poll_limit))?;
        let names =
            if args.hosts.is_empty() { vec!["localhost".into(), "127.0.0.1".into()] } else { args.hosts.clone() };
        let (tls, fingerprint) = crate::https::center_identity(&actor.home().root().join("tls"), &names)?;
        let listener =
            std::net::TcpListener::bind(args.bind).map_err(|e| crate::bad_input!("--bind {}: {e}", args.bind))?;
        let bound =
            listener.local_addr().map_err(|e| crate::error::Error::Internal(format!("the bound address: {e}")))?;
        println!("serving https://{bound} certificate-sha256 {fingerprint}");
        std::io::Write::flush(&mut std::io::stdout())
            .map_err(|e| crate::error::Error::Internal(format!("stdout: {e}")))?;
        let limits = crate::https::Limits {
            step: std::time::Duration::from_secs(args.step_timeout),
            connections: args.max_connections as usize,
            min_body_rate: args.min_body_rate,
        };
        server.run(listener, tls, limits)
    })
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
    let reviewer = NewUser { id: args.user, name: args.name, reviewer: true };
    let password = read_new_password(&format!("password for {}: ", reviewer.id))?;
    let home = crate::center::create_home(root, &settings, &reviewer, &password)?;
    let created = serde_json::json!({"home": home.root(), "reviewer": reviewer.id});
    print_result(args.json, &created, |_| {
        format!("created the data-center home {} with reviewer {}", home.root().display(), reviewer.id)
    })
}

fn sites(global: &Global, command: SitesCommand) -> Result<()> {
    match command {
        SitesCommand::Add { file } => as_user(global, "center sites add", None, |actor| {
            let (total, added) = crate::project::import_sites(actor, file.registry().clone())?;
            println!("{total} sites registered ({} new: {})", added.len(), added.join(", "));
            Ok(())
        }),
        SitesCommand::Retire { site } => as_user(global, "center sites retire", None, |actor| {
            let retirement = crate::center::sites::retire(actor, &site)?;
            let revoked = if retirement.revoked_key.is_some() { "; its key is revoked" } else { "" };
            println!(
                "retired {site} on {} (kept in the registry; extractions no longer ask it{revoked})",
                retirement.on
            );
            Ok(())
        }),
        SitesCommand::Key { site, file } => as_user(global, "center sites key", None, |actor| {
            let key = crate::wire::public_key_of(file.bytes(), file.path())?;
            let (key, replaced) = crate::center::sites::set_key(actor, &site, &key)?;
            match replaced {
                Some(old) => println!("{site}: key {key} registered, replacing {old}"),
                None => println!("{site}: key {key} registered"),
            }
            Ok(())
        }),
        SitesCommand::List { json } => as_user(global, "center sites list", None, |actor| {
            actor.require_reviewer("listing the site registry")?;
            let sites = crate::center::sites::registered(actor.home())?;
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
        UserCommand::Add { id, name, reviewer, json } => as_user(global, "user add", None, |actor| {
            actor.require_reviewer("adding users")?;
            let password = read_new_password(&format!("initial password for {id}: "))?;
            users::create(actor, &NewUser { id: id.clone(), name, reviewer }, &password)?;
            UserAction { user: &id, action: "added", reviewer: Some(reviewer) }
                .print(json, format!("added user {id}{}", if reviewer { " (reviewer)" } else { "" }))
        }),
        UserCommand::Disable(UserArgs { id, json }) => as_user(global, "user disable", None, |actor| {
            actor.require_reviewer("disabling users")?;
            let home = actor.home();
            {
                let _lock = home.lock_documents()?;
                let mut registry = Users::load(home)?;
                registry.disable(&id)?;
                registry.save(home)?;
            }
            session::Sessions::close_all_of(home, &id)?;
            UserAction { user: &id, action: "disabled", reviewer: None }
                .print(json, format!("disabled user {id} and closed their sessions"))
        }),
        UserCommand::Unlock(UserArgs { id, json }) => as_user(global, "user unlock", None, |actor| {
            actor.require_reviewer("unlocking users")?;
            let home = actor.home();
            let _lock = home.lock_documents()?;
            let mut registry = Users::load(home)?;
            registry.unlock(&id)?;
            registry.save(home)?;
            UserAction { user: &id, action: "unlocked", reviewer: None }.print(json, format!("unlocked user {id}"))
        }),
        UserCommand::Passwd { id, reset: true, json } => as_user(global, "user passwd --reset", None, |actor| {
            actor.require_reviewer("resetting another user's password")?;
            let password = read_new_password(&format!("new password for {id}: "))?;
            let home = actor.home();
            let _lock = home.lock_documents()?;
            let mut registry = Users::load(home)?;
            registry.set_password(home.settings(), &id, &password, actor.today())?;
            registry.save(home)?;
            UserAction { user: &id, action: "password reset", reviewer: None }
                .print(json, format!("set a new password for {id}"))
        }),
        UserCommand::Passwd { id, reset: false, json } => {
            let home = global.home()?;
            let today = crate::center::today::Today::of(&home)?.date;
            let changed = read_password(&format!("current password for {id}: ")).and_then(|current| {
                let new = read_new_password(&format!("new password for {id}: "))?;
                users::change_password(&home, &id, &current, &new, today)
            });
            session::audit_as(&home, &id, None, "user passwd", None, Outcome::of(&changed))?;
            changed?;
            UserAction { user: &id, action: "password changed", reviewer: None }
                .print(json, format!("changed the password of {id}"))
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
    if args.json {
        return print_json(&serde_json::json!({
            "user": actor.user().id,
            "name": actor.user().name,
            "session": actor.session(),
            "minutes": home.settings().session_minutes,
            "token_variable": session::SESSION_VAR,
            "token": token,
        }));
    }
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

fn logout(global: &Global, args: LogoutArgs) -> Result<()> {
    let user = as_user(global, "logout", None, |actor| {
        actor.close()?;
        Ok(actor.user().id.clone())
    })?;
    print_result(args.json, &serde_json::json!({ "user": user }), |_| format!("logged out {user}"))
}
