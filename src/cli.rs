//! The command tree. Each stage owns its subcommands (`<module>::cli`); this file only assembles
//! them and carries the options every command shares.

use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::Result;

#[derive(Debug, Parser)]
#[command(
    name = "midnet",
    version,
    about = "The data center of a medical information database network, in one binary",
    long_about = "The data center of a medical information database network, in one binary.\n\n\
                  Start with `midnet demo`: it synthesises a small network of hospitals and runs the \
                  whole flow end to end in a temporary directory."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// The data center's home directory (site registry, users, projects, audit log).
    #[arg(long, global = true, env = "MIDNET_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// No progress bars or chatter on the terminal; results and errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole flow end to end on a small synthetic network, in a temporary directory.
    Demo(crate::demo::DemoArgs),
    /// Synthesise a multi-site network of hospitals with known planted effects.
    Synth(crate::synth::cli::SynthArgs),
    /// A site's integrated data source: init, load, check.
    #[command(subcommand)]
    Site(crate::site::cli::SiteCommand),
    #[command(flatten)]
    Center(crate::center::cli::CenterCommand),
    /// The export gate: check and fix statistics before they leave.
    #[command(subcommand)]
    Export(crate::export::cli::ExportCommand),
    /// Publishing released results: the publication criteria and requests (guideline 第11).
    #[command(subcommand)]
    Publish(crate::export::cli::PublishCommand),
    /// Statistics on a patient-level table: incidence, Kaplan-Meier, Cox regression.
    #[command(subcommand)]
    Stats(crate::stats::cli::StatsCommand),
    /// Signal detection: disproportionality and MGPS over drug-event pairs, sequence symmetry.
    #[command(subcommand)]
    Signal(crate::signal::cli::SignalCommand),
    /// Extraction scripts: check, compile to SQL, explain in plain words.
    #[command(subcommand)]
    Script(crate::script::cli::ScriptCommand),
    /// Run a script at the sites and bring their analysis datasets into a project.
    Extract(crate::extract::cli::ExtractArgs),
    /// A project's extractions and analysis datasets, with attrition per site and summed.
    Datasets(crate::extract::cli::DatasetsArgs),
    /// The shared early-safety protocol: its script, runs (analyses), history and report.
    #[command(subcommand)]
    Protocol(crate::protocol::cli::ProtocolCommand),
    /// Render the early-safety report from released tables (outside the data center).
    Report(crate::report::cli::ReportArgs),
}

/// Parse the command line, take the rights the command runs with, and run it.
pub fn main() -> Result<()> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(resolved) = crate::center::privilege::enter(class(&matches), cli.global.home.as_deref())? {
        cli.global.home = Some(resolved);
    }
    run(cli.global, cli.command)
}

/// The command groups that work on the home (all but `center init`, which creates one).
const HOME_GROUPS: [&str; 7] = ["center", "user", "login", "logout", "project", "audit", "work"];

/// Whether the parsed command works on the home: a command of the home's groups, or any command
/// given a project (`--project`). Everything else needs no login. An error here errs on the safe
/// side: a command wrongly taken for one without a login runs with the invoking person's rights.
fn class(matches: &ArgMatches) -> crate::center::privilege::Class {
    use crate::center::privilege::Class;
    let in_home_group = match matches.subcommand() {
        Some(("center", sub)) => sub.subcommand_name() != Some("init"),
        Some((name, _)) => HOME_GROUPS.contains(&name),
        None => false,
    };
    if in_home_group || names_a_project(matches) { Class::OnHome } else { Class::WithoutLogin }
}

fn names_a_project(matches: &ArgMatches) -> bool {
    matches!(matches.try_get_raw("project"), Ok(Some(_)))
        || matches.subcommand().is_some_and(|(_, sub)| names_a_project(sub))
}

fn run(global: Global, command: Command) -> Result<()> {
    match command {
        Command::Demo(args) => crate::demo::run(&global, args),
        Command::Synth(args) => crate::synth::cli::run(&global, args),
        Command::Site(cmd) => crate::site::cli::run(&global, cmd),
        Command::Center(cmd) => crate::center::cli::run(&global, cmd),
        Command::Export(cmd) => crate::export::cli::run(&global, cmd),
        Command::Publish(cmd) => crate::export::cli::publish::run(&global, cmd),
        Command::Stats(cmd) => crate::stats::cli::run(&global, cmd),
        Command::Signal(cmd) => crate::signal::cli::run(&global, cmd),
        Command::Script(cmd) => crate::script::cli::run(&global, cmd),
        Command::Extract(args) => crate::extract::cli::run_extract(&global, args),
        Command::Datasets(args) => crate::extract::cli::run_datasets(&global, args),
        Command::Protocol(cmd) => crate::protocol::cli::run(&global, cmd),
        Command::Report(args) => crate::report::cli::run(&global, args),
    }
}
