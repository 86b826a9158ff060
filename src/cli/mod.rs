//! The command layer: the only module that knows the command line. Each file here holds one
//! stage's subcommands (clap types and the `run` functions that call the library); this file
//! assembles them and offers the shared options (`--home`, `--quiet`) on the commands that use
//! them ([`Global`]). Library modules below take what they need (`&Home`, paths, options
//! structs), never a clap type.

pub mod audit;
pub mod center;
mod choices;
pub mod demo;
pub mod export;
pub mod extract;
pub mod io;
pub mod named;
pub mod project;
pub mod protocol;
pub mod report;
pub mod script;
pub mod signal;
pub mod site;
pub mod stats;
pub mod synth;
pub mod terminal;
pub mod work;

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::center::{Actor, Home};
use crate::error::Result;

#[derive(Debug, Parser)]
#[command(
    name = "midnet",
    version,
    about = "The data center of a medical information database network, in one binary",
    long_about = "The data center of a medical information database network, in one binary.\n\n\
                  Start with `midnet demo`: it synthesises a small network of hospitals and runs the \
                  whole flow end to end in a new directory `./midnet-demo`, then prints how to open its report."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The shared options as the command line gave them: `--home` (or `MIDNET_HOME`) on the commands
/// of [`HOME_COMMANDS`], `--quiet` on those of [`QUIET_COMMANDS`]; unset elsewhere.
#[derive(Debug, Clone)]
pub struct Global {
    pub home: Option<PathBuf>,
    pub quiet: bool,
}

/// The commands that work on the data center's home, by path, and when: each, and every command
/// under it, offers `--home DIR` and reads `MIDNET_HOME`, and runs as a command on the home (a
/// login, audited, with the service account's rights: `center::privilege`) always or when given a
/// project. The others (synth, site, script, report, …) never touch a home, so their help does not
/// offer one and they run with the rights of the person who runs them.
const HOME_COMMANDS: [(&str, OnHome); 18] = [
    ("center", OnHome::Always),
    ("user", OnHome::Always),
    ("login", OnHome::Always),
    ("logout", OnHome::Always),
    ("project", OnHome::Always),
    ("audit", OnHome::Always),
    ("work", OnHome::Always),
    ("export", OnHome::GivenAProject),
    ("publish", OnHome::GivenAProject),
    ("extract", OnHome::GivenAProject),
    ("datasets", OnHome::GivenAProject),
    ("protocol plan", OnHome::GivenAProject),
    ("protocol run", OnHome::GivenAProject),
    ("protocol history", OnHome::GivenAProject),
    ("protocol report", OnHome::GivenAProject),
    ("stats", OnHome::GivenAProject),
    ("signal screen", OnHome::GivenAProject),
    ("signal ssa", OnHome::GivenAProject),
];

/// When a command of [`HOME_COMMANDS`] works on the home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnHome {
    Always,
    /// With `--project` (the others work on files and need no login).
    GivenAProject,
}

/// The commands that show progress bars or notes on the terminal, by path: each, and every
/// command under it, offers `--quiet` (`site load` too, for the progress bar issue 25 gives it).
const QUIET_COMMANDS: [&str; 14] = [
    "demo",
    "synth",
    "site init",
    "site load",
    "export check",
    "export fix",
    "export request",
    "publish check",
    "stats",
    "signal",
    "script check",
    "extract",
    "protocol run",
    "report",
];

fn home_option() -> Arg {
    Arg::new("home")
        .long("home")
        .env("MIDNET_HOME")
        .value_name("DIR")
        .value_parser(clap::value_parser!(PathBuf))
        .global(true)
        .help("The data center's home directory (site registry, users, projects, audit log)")
}

fn quiet_option() -> Arg {
    Arg::new("quiet")
        .long("quiet")
        .short('q')
        .action(ArgAction::SetTrue)
        .global(true)
        .help("No progress bars or chatter on the terminal; results and errors only")
}

/// The whole command line: [`Cli`] with the shared options offered where they are used.
pub fn command() -> clap::Command {
    let mut command = Cli::command();
    for (path, _) in HOME_COMMANDS {
        command = offer(command, &path.split(' ').collect::<Vec<_>>(), home_option());
    }
    for path in QUIET_COMMANDS {
        command = offer(command, &path.split(' ').collect::<Vec<_>>(), quiet_option());
    }
    command
}

/// `command` with `option` added to its subcommand at `path` (and, being global, to every command
/// under that one).
fn offer(command: clap::Command, path: &[&str], option: Arg) -> clap::Command {
    match path.split_first() {
        None => command.arg(option),
        Some((name, rest)) => command.mut_subcommand(name, |sub| offer(sub, rest, option)),
    }
}

impl Global {
    /// The shared options of the command `matches` holds (the deepest subcommand sees them all).
    fn of(matches: &ArgMatches) -> Global {
        if let Some((_, sub)) = matches.subcommand() {
            return Global::of(sub);
        }
        Global {
            home: matches.try_get_one::<PathBuf>("home").ok().flatten().cloned(),
            quiet: matches.try_get_one::<bool>("quiet").ok().flatten().copied().unwrap_or(false),
        }
    }

    /// The home named by `--home` or `MIDNET_HOME`.
    pub fn home(&self) -> Result<Home> {
        match &self.home {
            Some(root) => Home::at(root),
            None => Err(crate::bad_input!(
                "this command works on the data center's home: give --home DIR or set MIDNET_HOME \
                 (create a home with `midnet center init --home DIR`)"
            )),
        }
    }
}

/// Run `command` as the logged-in user of the home named by `global`, audited
/// ([`crate::center::as_user`]).
pub fn as_user<T>(
    global: &Global,
    command: &str,
    project: Option<&str>,
    f: impl FnOnce(&Actor) -> Result<T>,
) -> Result<T> {
    crate::center::as_user(&global.home()?, command, project, f)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole flow end to end on a small synthetic network, in a new directory it keeps.
    Demo(crate::cli::demo::DemoArgs),
    /// Synthesise a multi-site network of hospitals with known planted effects.
    Synth(crate::cli::synth::SynthArgs),
    /// A site's integrated data source: init, load, check.
    #[command(subcommand)]
    Site(crate::cli::site::SiteCommand),
    #[command(flatten)]
    Center(crate::cli::center::CenterCommand),
    /// The export gate: check and fix statistics before they leave.
    #[command(subcommand)]
    Export(crate::cli::export::ExportCommand),
    /// Publishing released results: the publication criteria and requests (guideline 第11).
    #[command(subcommand)]
    Publish(crate::cli::export::PublishCommand),
    /// Statistics on a patient-level table: incidence, Kaplan-Meier, Cox regression.
    #[command(subcommand)]
    Stats(crate::cli::stats::StatsCommand),
    /// Signal detection: disproportionality and MGPS over drug-event pairs, sequence symmetry.
    #[command(subcommand)]
    Signal(crate::cli::signal::SignalCommand),
    /// Extraction scripts: check, compile to SQL, explain in plain words.
    #[command(subcommand)]
    Script(crate::cli::script::ScriptCommand),
    /// Run a script at the sites and bring their analysis datasets into a project.
    Extract(crate::cli::extract::ExtractArgs),
    /// A project's extractions and analysis datasets, with attrition per site and summed.
    Datasets(crate::cli::extract::DatasetsArgs),
    /// The shared early-safety protocol: its script, runs (analyses), history and report.
    #[command(subcommand)]
    Protocol(crate::cli::protocol::ProtocolCommand),
    /// Render the early-safety report from released tables (outside the data center).
    Report(crate::cli::report::ReportArgs),
}

/// Parse the command line, take the rights the command runs with, and run it.
pub fn main() -> Result<()> {
    let matches = command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let mut global = Global::of(&matches);
    let class = class(&matches);
    if class == crate::center::privilege::Class::OnHome || makes_a_home(&matches) {
        crate::store::create_private_from_now_on();
    }
    crate::center::privilege::with_invokers_rights(|| cli.command.read_named_files())??;
    if let Some(resolved) = crate::center::privilege::enter(class, global.home.as_deref())? {
        global.home = Some(resolved);
    }
    run(global, cli.command)
}

impl Command {
    /// Read the files the person named (`cli::named`): called with their rights, before the
    /// command takes the home's.
    fn read_named_files(&mut self) -> Result<()> {
        use crate::cli::audit::AuditCommand;
        use crate::cli::center::{CenterCommand, HomeCommand, SitesCommand};
        use crate::cli::named::NamedFile;
        use crate::cli::work::WorkCommand;
        match self {
            Command::Extract(args) => args.script.read(),
            Command::Stats(crate::cli::stats::StatsCommand::Incidence(args)) => {
                args.standard.as_mut().map_or(Ok(()), NamedFile::read)
            }
            Command::Center(CenterCommand::Work(WorkCommand::Import { file, .. })) => file.read(),
            Command::Center(CenterCommand::Center(HomeCommand::Sites(SitesCommand::Add { file }))) => file.read(),
            Command::Center(CenterCommand::Center(HomeCommand::Sites(SitesCommand::Key { file, .. }))) => file.read(),
            Command::Center(CenterCommand::Audit(AuditCommand::Verify { anchor: Some(file), .. })) => file.read(),
            _ => Ok(()),
        }
    }
}

/// Whether the parsed command works on the home (see [`HOME_COMMANDS`]); `center init` creates
/// one. An error here errs on the safe side: a command wrongly taken for one without a login runs
/// with the invoking person's rights.
/// For the commands that hold network connections (`center serve`, `site agent`): a connection the
/// other side or the network cuts must be an error the command handles, not a SIGPIPE that kills it
/// without a word (`main` restores SIGPIPE's default for `midnet … | head`, and hyper writes with
/// writev, which cannot ask the kernel not to signal).
pub(crate) fn survive_cut_connections() {
    // SAFETY: changing a signal's disposition, on the main thread before any runtime starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

fn class(matches: &ArgMatches) -> crate::center::privilege::Class {
    use crate::center::privilege::Class;
    let path = command_path(matches);
    let on_home = HOME_COMMANDS.iter().find(|(prefix, _)| {
        let prefix: Vec<&str> = prefix.split(' ').collect();
        path.starts_with(&prefix)
    });
    match on_home {
        Some(_) if makes_a_home(matches) => Class::WithoutLogin,
        Some((_, OnHome::Always)) => Class::OnHome,
        Some((_, OnHome::GivenAProject)) if names_a_project(matches) => Class::OnHome,
        _ => Class::WithoutLogin,
    }
}

/// The names of the command and its subcommands, outermost first (`["protocol", "run"]`).
fn command_path(matches: &ArgMatches) -> Vec<&str> {
    let mut path = Vec::new();
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        path.push(name);
        current = sub;
    }
    path
}

/// Whether the command creates a home: `center init`, and the demo, which makes one for its run.
fn makes_a_home(matches: &ArgMatches) -> bool {
    match matches.subcommand() {
        Some(("center", sub)) => sub.subcommand_name() == Some("init"),
        Some((name, _)) => name == "demo",
        None => false,
    }
}

fn names_a_project(matches: &ArgMatches) -> bool {
    matches!(matches.try_get_raw("project"), Ok(Some(_)))
        || matches.subcommand().is_some_and(|(_, sub)| names_a_project(sub))
}

fn run(global: Global, command: Command) -> Result<()> {
    match command {
        Command::Demo(args) => crate::cli::demo::run(&global, args),
        Command::Synth(args) => crate::cli::synth::run(&global, args),
        Command::Site(cmd) => crate::cli::site::run(&global, cmd),
        Command::Center(cmd) => crate::cli::center::run(&global, cmd),
        Command::Export(cmd) => crate::cli::export::run(&global, cmd),
        Command::Publish(cmd) => crate::cli::export::publish::run(&global, cmd),
        Command::Stats(cmd) => crate::cli::stats::run(&global, cmd),
        Command::Signal(cmd) => crate::cli::signal::run(&global, cmd),
        Command::Script(cmd) => crate::cli::script::run(&global, cmd),
        Command::Extract(args) => crate::cli::extract::run_extract(&global, args),
        Command::Datasets(args) => crate::cli::extract::run_datasets(&global, args),
        Command::Protocol(cmd) => crate::cli::protocol::run(&global, cmd),
        Command::Report(args) => crate::cli::report::run(&global, args),
    }
}

#[cfg(test)]
mod tests {
    /// Every path of `HOME_COMMANDS` and `QUIET_COMMANDS` names a command (`offer` panics
    /// otherwise), and the assembled command line passes clap's own checks.
    #[test]
    fn shared_options_name_real_commands() {
        super::command().debug_assert();
    }

    /// A command works on the home as `HOME_COMMANDS` says, and only then: a site's approval for a
    /// project (`site approve --project`) is the hospital's own command, which needs no login.
    #[test]
    fn a_command_works_on_the_home_as_the_one_list_says() {
        use crate::center::privilege::Class;
        let class = |line: &str| {
            let matches =
                super::command().try_get_matches_from(line.split(' ')).unwrap_or_else(|e| panic!("{line}: {e}"));
            super::class(&matches)
        };
        for (line, expected) in [
            ("midnet project list", Class::OnHome),
            ("midnet center sites list", Class::OnHome),
            ("midnet center init --user rev --name R", Class::WithoutLogin),
            ("midnet stats incidence --project p1 --dataset cohort@1 --events e --time t", Class::OnHome),
            ("midnet stats incidence --input f.csv --events e --time t", Class::WithoutLogin),
            ("midnet protocol run --project p1 --cutoff 2026-03-31 --drug a --comparator b", Class::OnHome),
            ("midnet site approve --site s --project p1 --by nurse s.midnet", Class::WithoutLogin),
            ("midnet script check s.midnet", Class::WithoutLogin),
        ] {
            assert_eq!(class(line), expected, "{line}");
        }
    }
}
