//! `midnet script check|sql|explain FILE [--param name=value …]`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::Global;
use crate::error::Result;
use crate::script::{ParamValues, Script};

#[derive(Debug, Subcommand)]
pub enum ScriptCommand {
    /// Parse and type-check a script; every error names file, line and column and says how to fix it.
    Check(CheckArgs),
    /// Print the compiled SQL (DuckDB): one query per output and the attrition query.
    Sql(SqlArgs),
    /// The script in plain words, step by step.
    Explain(ScriptArgs),
}

#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// The script file.
    pub file: PathBuf,
    /// A parameter value, NAME=VALUE (repeat for each parameter).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub script: ScriptArgs,
    /// Print the parameters, outcomes and outputs (columns, types, roles) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub script: ScriptArgs,
    /// Print only the query of this output, or `attrition` for the attrition query.
    #[arg(long, value_name = "NAME")]
    pub output: Option<String>,
}

pub fn run(global: &Global, cmd: ScriptCommand) -> Result<()> {
    match cmd {
        ScriptCommand::Check(args) => check(global, args),
        ScriptCommand::Sql(args) => sql(args),
        ScriptCommand::Explain(args) => {
            let script = Script::load(&args.file)?;
            let values = ParamValues::parse_args(&args.params)?;
            print!("{}", script.explain(&values)?);
            Ok(())
        }
    }
}

fn check(global: &Global, args: CheckArgs) -> Result<()> {
    let script = Script::load(&args.script.file)?;
    let values = ParamValues::parse_args(&args.script.params)?;
    // Values given are checked too; unset parameters are fine for a check.
    let all_set = script.parameters().iter().all(|p| p.default.is_some() || values.get(&p.name).is_some());
    let compiled = if all_set { Some(script.compile(&values)?) } else { None };
    if args.json {
        let params: Vec<serde_json::Value> = script
            .parameters()
            .iter()
            .map(|p| serde_json::json!({"name": p.name, "type": p.kind.describe(), "default": p.default, "cutoff": p.is_cutoff()}))
            .collect();
        let outputs: Vec<serde_json::Value> = compiled
            .iter()
            .flat_map(|c| &c.queries.outputs)
            .map(|o| {
                let columns: Vec<serde_json::Value> = o
                    .columns
                    .iter()
                    .map(|c| serde_json::json!({"name": c.name, "type": c.sql_type, "role": c.role}))
                    .collect();
                serde_json::json!({"name": o.name, "patient_level": o.patient_level, "columns": columns})
            })
            .collect();
        let summary = serde_json::json!({
            "file": args.script.file,
            "study": script.study(),
            "sha256": script.sha256(),
            "parameters": params,
            "outcomes": script.outcomes(),
            "outputs": outputs,
        });
        println!("{}", serde_json::to_string_pretty(&summary).expect("the summary serialises"));
        return Ok(());
    }
    println!("{}: ok (study \"{}\", sha256 {})", args.script.file.display(), script.study(), &script.sha256()[..12]);
    if !global.quiet {
        let unset: Vec<&str> = script
            .parameters()
            .iter()
            .filter(|p| p.default.is_none() && values.get(&p.name).is_none())
            .map(|p| p.name.as_str())
            .collect();
        if !unset.is_empty() {
            eprintln!("note: parameters without a value, to set with --param when compiling: {}", unset.join(", "));
        }
    }
    Ok(())
}

fn sql(args: SqlArgs) -> Result<()> {
    let file = &args.script.file;
    let script = Script::load(file)?;
    let values = ParamValues::parse_args(&args.script.params)?;
    let compiled = script.compile(&values)?;
    if let Some(name) = &args.output {
        let sql = match compiled.queries.outputs.iter().find(|o| &o.name == name) {
            Some(o) => &o.sql,
            None if name == "attrition" => &compiled.queries.attrition,
            None => {
                let names: Vec<&str> = compiled.queries.outputs.iter().map(|o| o.name.as_str()).collect();
                return Err(crate::bad_input!(
                    "{}: no output `{name}`; the outputs are: {}, and `attrition`",
                    file.display(),
                    names.join(", ")
                ));
            }
        };
        println!("{};", sql.trim_end());
        return Ok(());
    }
    let params: Vec<String> = compiled.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("-- midnet script {} (sha256 {})", file.display(), script.sha256());
    println!("-- parameters: {}", if params.is_empty() { "none".to_string() } else { params.join(" ") });
    for output in &compiled.queries.outputs {
        let level = if output.patient_level { "one row per cohort row" } else { "one row per event" };
        println!("\n-- output `{}`: {level}", output.name);
        println!("{};", output.sql.trim_end());
    }
    println!("\n-- attrition: patients before, removed and after each rule");
    println!("{};", compiled.queries.attrition.trim_end());
    Ok(())
}
