//! `midnet site …`: the commands a cooperating hospital runs on its own integrated data source.
//! They need no login: they touch no data-center home.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::cli::Global;
use crate::cli::terminal::{ALL_TEXT, print_json, text_table};
use crate::error::{Error, IoContext, Result};
use crate::site::SiteDir;
use crate::site::approve::{self, Approver};
use crate::site::quarantine::{self, SetAsideRow};

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// What a work request asks the site to run, as its staff approve it: the script's text, each
    /// codelist file it shipped, the parameters, and the script in plain words (as `script explain`).
    Show {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The request's id, as `site requests` lists it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Create a site's integrated data source (a directory holding one DuckDB database) and the
    /// site's key pair (keys/site.key, owner-only; keys/site.pub for the data center).
    Init {
        /// The site's data source directory to create (new or empty).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Where the site's clinical tables live: its own DuckDB database, or Spark (the tables as
        /// Parquet in --warehouse, queried through the Spark Connect server --connect; docs/spark.md).
        #[arg(long, value_parser = ["duckdb", "spark"], default_value = "duckdb")]
        engine: String,
        /// With --engine spark: the Spark Connect server, on this machine's loopback
        /// (sc://127.0.0.1:PORT; Spark Connect has no authentication, so no other host is accepted).
        #[arg(long, value_name = "URL", required_if_eq("engine", "spark"))]
        connect: Option<String>,
        /// With --engine spark: the warehouse directory (new or empty) that holds the site's tables
        /// as Parquet; the Spark server must read and write it.
        #[arg(long, value_name = "DIR", required_if_eq("engine", "spark"))]
        warehouse: Option<PathBuf>,
        /// Print what was created as JSON: {"site", "database", "data_version": null (the first load
        /// that brings rows in makes version 1), "tables": [{"table", "rows"}], "public_key": {"key",
        /// "key_id"}}. A site has no id of its own: the data center's registry names it.
        #[arg(long)]
        json: bool,
    },
    /// Load a hospital's CSV or Parquet files; rows that fail validation are quarantined.
    Load {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The table every file is for (default: each file's name up to its first dot).
        #[arg(long)]
        table: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Files, or directories of files named after their tables (patient.csv, lab_result.parquet, …).
        #[arg(required = true, value_name = "FILE|DIR")]
        files: Vec<PathBuf>,
    },
    /// Approve a script (by the hash of its text and codelist files) for one project, with its
    /// parameter values other than the cut-off: the site runs only what it has approved. With
    /// --revoke, end the approvals of that script, project and parameters.
    Approve {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The data center's project the approval is for (another project needs its own).
        #[arg(long, value_name = "ID")]
        project: String,
        /// The site staff member who approves (or revokes), by name; recorded with the OS account.
        #[arg(long, value_name = "NAME")]
        by: String,
        /// The extraction script.
        script: PathBuf,
        /// A parameter value, NAME=VALUE (repeat for each parameter).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// The last day the approval covers (YYYY-MM-DD, by the site's calendar); none: until revoked.
        #[arg(long, value_name = "DATE", conflicts_with = "revoke")]
        until: Option<String>,
        /// Revoke the standing approvals of this script, project and parameters instead.
        #[arg(long)]
        revoke: bool,
        /// Print the approval (or the approvals revoked) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the rows loads set aside, with file, line and every reason (values shown as …).
    Quarantine {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Only the rows of this file (as given to `site load`, or its name).
        #[arg(long, value_name = "NAME")]
        file: Option<String>,
        /// Only the rows with a reason containing this text (any case).
        #[arg(long, value_name = "TEXT")]
        reason_contains: Option<String>,
        /// Print the rows as JSON.
        #[arg(long, conflicts_with = "out")]
        json: bool,
        /// Write the rows to this new CSV file (.csv) instead of printing them.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Migrate a site's database of an older schema version to this midnet's, in place, keeping
    /// every row (a new data version); `site load` and `site approve` do it too.
    Migrate {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import a hospital's own exports: its SS-MIX2 standardized storage.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// The official code masters of the site (MEDIS HOT; the 支払基金's drug, disease, modifier and
    /// procedure masters).
    Masters {
        #[command(subcommand)]
        command: MastersCommand,
    },
    /// The mapping of the hospital's local codes to standard ones (YJ, JLAC10, ICD-10): rows that
    /// name their code by a local code only wait until it is mapped.
    Mapping {
        #[command(subcommand)]
        command: MappingCommand,
    },
    /// Print the data-quality report of a site.
    Check {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print the data-quality report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The site's public key, which the data center registers (`midnet center sites key`); made
    /// now for a site created before midnet signed results. The private key never leaves the site.
    Key {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print the key as JSON: {"site", "key", "key_id", "file", "made"}.
        #[arg(long)]
        json: bool,
    },
    /// Register the hospital's link between the numbers its claims and DPC files give a patient and
    /// its EHR patient id, replacing the link registered before (docs/claims.md, "One patient
    /// across sources"): a UTF-8 CSV `source,source_id,patient_id`, source `receipt` (a claim's
    /// カルテ番号), `insurance` (a claim's 保険者番号/記号/番号 or 公費負担者番号/受給者番号, for
    /// receipts without a カルテ番号) or `dpc` (the データ識別番号). The site keeps only keyed hashes;
    /// the imports after it link through it. A bad file is refused, naming its line.
    Link {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The link file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Pin the data center's public key, given out of band (the center's `midnet center key`): the
    /// site believes only work requests signed with it.
    TrustCenter {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The data center's public key file (its keys/center.pub).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The SHA-256 of the data center's TLS certificate, as `center serve` prints it: the
        /// site's agent connects to no other server.
        #[arg(long, value_name = "HEX")]
        certificate_sha256: Option<String>,
    },
    /// Run the site's agent: it calls the data center over HTTPS (nothing inbound), fetches the
    /// work requests, runs those the site approved (`site approve`), uploads the results and
    /// hands in the signed answers. Runs until stopped, or with --once serves the work there is.
    Agent {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The data center, https://HOST:PORT (pinned with `site trust-center`).
        #[arg(long, value_name = "URL")]
        center: String,
        /// Serve the work there is, then exit (for a scheduled run, and tests).
        #[arg(long)]
        once: bool,
        /// The longest one poll for work waits, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        poll_seconds: u64,
        /// How long connecting to the center, and its answer beyond the poll's wait, may take
        /// before the call fails (a half-open connection then fails rather than hangs).
        #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        /// Print the requests the site holds as JSON when it exits (with --once).
        #[arg(long)]
        json: bool,
        /// The site's share of this machine: a request runs with 1/N of its cores and memory (1,
        /// the default: the hospital's own machine; N sites simulated on one machine give N).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
        share: u64,
    },
    /// The work requests the site's agent fetched, and where each stands (fetched, waiting for
    /// approval, running, uploading, done, failed with why); `show ID`: what one asks to run.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Requests {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR", required = true)]
        site: Option<PathBuf>,
        /// Print the requests as JSON: {"site", "requests": [{"request", "project", "extraction", "site",
        /// "script", "script_sha256", "params", "expires", "state", "detail"}]}.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        show: Option<RequestsCommand>,
    },
    /// The site's own record of what it was asked, approved, refused and sent, with its hash chain
    /// verified (an edited, removed or reordered line is named, exit 6).
    Log {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print the records as JSON: {"site", "records": [{"seq", "time", "event", "request", "nonce",
        /// "project", "script_sha256", "detail", "prev", "hash"}], "verified": true}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import an SS-MIX2 standardized storage (the tree ROOT/pid/pid/PID/date/kind/file): patients,
    /// encounters, diagnoses, drug orders and administrations, lab results. A second import reads
    /// only the files that changed; files superseded or deleted have their rows withdrawn; each
    /// import that changes anything is one data version. Hospital patient ids become patient keys
    /// through the site's own key (keys/patient.key) and never enter the data source.
    #[command(name = "ss-mix2")]
    SsMix2 {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Hash every current file, even one whose size and modification time equal its record
        /// (by default such a file is taken as unchanged, unread): for a storage that may have
        /// been edited in place keeping both.
        #[arg(long)]
        verify_all: bool,
        /// Patient folders read, staged and forgotten at a time: the import's memory holds one batch.
        #[arg(long, value_name = "N", default_value_t = crate::site::ssmix2::import::BATCH_PATIENTS,
              value_parser = clap::value_parser!(u64).range(1..))]
        batch_patients: u64,
        /// The storage's root directory.
        #[arg(value_name = "ROOT")]
        root: PathBuf,
    },
    /// Import monthly claims files (RECEIPTC.UKE, 医科): patients, diagnoses (one per diagnosis
    /// over the months that repeat it, with its latest outcome), drug orders and procedures, as
    /// CLAIMS rows. A file imported before is skipped; a file of the payer and billing month of an
    /// earlier one replaces it (the earlier rows are withdrawn); each import that changes anything
    /// is one data version. The カルテ番号 becomes the patient key through the site's link (`site
    /// link`) and its own key: without a link, the key an SS-MIX2 import gives the same hospital id.
    /// A receipt without one links by its insurance numbers, if the link lists them; names are not
    /// read, nor the insurance numbers of a receipt with a カルテ番号.
    Receipt {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The claims files.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Import DPC survey files (様式1 and the inpatient EF統合ファイル, each told by its field count):
    /// each stay with its route, destination and outcome and its diagnoses by role (主傷病,
    /// 入院契機, 医療資源最投入, 併存症, 続発症), the drugs given day by day and the procedures, as DPC
    /// rows. A file imported before is skipped; a file of the kind, facility and month of an earlier
    /// one replaces it (the earlier rows are withdrawn); each import that changes anything is one data
    /// version. The データ識別番号 becomes the patient key through the site's link (`site link`) and
    /// its own key: without a link, the key the SS-MIX2 and claims imports give the same hospital
    /// id; postcodes, names, doctors and insurer
    /// numbers are not read.
    Dpc {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The DPC files, or directories of them (read whole, in name order).
        #[arg(value_name = "FILE_OR_DIR", required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MastersCommand {
    /// Import master files as published (Shift_JIS; each recognised by its content), all or none:
    /// their rows are kept beside earlier publications', and the import is a data version.
    Import {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// Print what was imported as JSON.
        #[arg(long)]
        json: bool,
        /// The master files (MEDISyyyymmdd.TXT, y.csv, b.csv, z.csv, s.csv, …).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Write every local code that rows wait for, once, with its text, unit, rows and months, as a
    /// CSV for the hospital's staff to fill in (standard_code, reason); never a value of a row.
    Unmapped {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The new CSV file to write (.csv; nothing is overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print what was written as JSON: {"file", "codes", "rows"}.
        #[arg(long)]
        json: bool,
    },
    /// Import a reviewed mapping (the CSV of `unmapped` with standard_code filled in), all or none:
    /// each line is kept as a decision with who, when and why, and the rows waiting for its code
    /// come in, in a new data version.
    Import {
        /// The site's data source directory (made by `site init`).
        #[arg(long, value_name = "DIR")]
        site: PathBuf,
        /// The site staff member who reviewed the mapping, by name; recorded with the OS account.
        #[arg(long, value_name = "NAME")]
        by: String,
        /// Print what was imported as JSON.
        #[arg(long)]
        json: bool,
        /// The reviewed mapping file (CSV, UTF-8).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn run(global: &Global, command: SiteCommand) -> Result<()> {
    match command {
        SiteCommand::Init { site, engine, connect, warehouse, json } => {
            let created = init_site(&SiteDir::at(&site), &engine, connect.as_deref(), warehouse.as_deref())?;
            if json {
                let site = std::path::absolute(&site).at(&site)?;
                let database = std::path::absolute(&created.database).at(&created.database)?;
                let tables = &created.tables;
                let key = serde_json::json!({"key": hex::encode(created.key.as_bytes()), "key_id": crate::wire::key_id(&created.key)});
                print_json(&serde_json::json!({
                    "site": site, "database": database, "data_version": null, "tables": tables, "public_key": key,
                }))
            } else {
                if !global.quiet {
                    eprintln!(
                        "created site data source {} (its public key {}: keys/site.pub)",
                        site.display(),
                        crate::wire::key_id(&created.key)
                    );
                }
                Ok(())
            }
        }
        SiteCommand::Load { site, table, json, files } => {
            let progress = crate::progress::Progress::new(global.quiet);
            let report = crate::site::load::load(&SiteDir::at(&site), &files, table.as_deref(), &progress)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print!("{}", render_load(&report));
            }
            if report.rows_loaded() == 0 && report.rows_waiting() == 0 && !report.nothing_new() {
                return Err(Error::Failed(format!(
                    "{}: nothing could be loaded ({} files refused, {} rows quarantined)",
                    site.display(),
                    report.refused.len(),
                    report.rows_quarantined()
                )));
            }
            Ok(())
        }
        SiteCommand::Approve { site, project, by, script, params, until, revoke, json } => {
            let approver = Approver::new(&by)?;
            let until = until.map(|d| parse_until(&d)).transpose()?;
            let script = crate::script::Script::load(&script)?;
            let values = crate::script::ParamValues::parse_args(&params)?;
            let site = SiteDir::at(&site);
            let approvals = if revoke {
                approve::revoke(&site, &project, &script, &values, &approver)?
            } else {
                vec![approve::approve(&site, &project, &script, &values, &approver, until)?]
            };
            if json {
                // One approval given, or the list of those revoked.
                let text = if revoke {
                    serde_json::to_string_pretty(&approvals)
                } else {
                    serde_json::to_string_pretty(&approvals[0])
                };
                println!("{}", text.expect("approvals serialise"));
            } else {
                approvals.iter().for_each(|a| print!("{}", render_approval(a)));
            }
            Ok(())
        }
        SiteCommand::Quarantine { site, file, reason_contains, json, out } => {
            if let Some(out) = &out {
                check_new_csv(out)?;
            }
            let rows = quarantine::list(&SiteDir::at(&site), &quarantine::Filter { file, reason: reason_contains })?;
            match (json, out) {
                (true, _) => print_json(&serde_json::json!({ "rows": rows })),
                (false, Some(out)) => {
                    write_quarantine_csv(&out, &rows)?;
                    if !global.quiet {
                        eprintln!("{} set-aside rows written to {}", rows.len(), out.display());
                    }
                    Ok(())
                }
                (false, None) => {
                    print!("{}", render_quarantine(&rows));
                    Ok(())
                }
            }
        }
        SiteCommand::Migrate { site, json } => {
            let (_, migration) = SiteDir::at(&site).open_migrated()?;
            if json {
                print_json(&serde_json::json!({ "site": site.display().to_string(), "migration": migration }))
            } else {
                match &migration {
                    Some(m) => print!("{}", render_migration(m)),
                    None => println!(
                        "{}: already at schema version {}; nothing to do",
                        site.display(),
                        crate::schema::SCHEMA_VERSION
                    ),
                }
                Ok(())
            }
        }
        SiteCommand::Import { command: ImportCommand::SsMix2 { site, json, verify_all, batch_patients, root } } => {
            let options = crate::site::ssmix2::import::Options { verify_all, batch_patients: batch_patients as usize };
            import_ssmix2(&site, &root, options, json)
        }
        SiteCommand::Import { command: ImportCommand::Receipt { site, json, files } } => {
            import_receipt(&site, &files, json)
        }
        SiteCommand::Import { command: ImportCommand::Dpc { site, json, files } } => import_dpc(&site, &files, json),
        SiteCommand::Masters { command: MastersCommand::Import { site, json, files } } => {
            let imported = crate::site::masters::import(&SiteDir::at(&site), &files)?;
            if json {
                print_json(&imported)
            } else {
                print!("{}", render_masters(&imported));
                Ok(())
            }
        }
        SiteCommand::Mapping { command } => mapping(global, command),
        SiteCommand::Check { site, json } => {
            let dir = SiteDir::at(&site);
            let report = match crate::site::spark::SparkSite::of(&dir)? {
                Some(spark) => crate::site::spark::check(&dir, &spark)?,
                None => crate::site::check::check(&dir)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print!("{}", report.render());
            }
            Ok(())
        }
        SiteCommand::Key { site, json } => site_key(global, &site, json),
        SiteCommand::Link { site, json, file } => link(&site, &file, json),
        SiteCommand::TrustCenter { site, key, certificate_sha256 } => {
            trust_center(&site, &key, certificate_sha256.as_deref())
        }
        SiteCommand::Agent { site, center, once, poll_seconds, timeout, json, share } => {
            crate::cli::survive_cut_connections();
            let opts = crate::site::agent::AgentOptions {
                site: &SiteDir::at(&site),
                center: &center,
                once,
                poll_seconds,
                timeout: std::time::Duration::from_secs(timeout),
                share: share as usize,
            };
            let held = crate::site::agent::run(&opts)?;
            print_requests(&site, &held, json)
        }
        SiteCommand::Requests { show: Some(RequestsCommand::Show { site, id }), .. } => show_request(&site, &id),
        SiteCommand::Requests { site, json, show: None } => {
            let site = site.ok_or_else(|| crate::bad_input!("site requests: give the site with --site DIR"))?;
            let dir = SiteDir::at(&site);
            dir.require()?;
            print_requests(&site, &crate::site::agent::requests(&dir)?, json)
        }
        SiteCommand::Log { site, json } => site_log(&site, json),
    }
}

fn mapping(global: &Global, command: MappingCommand) -> Result<()> {
    match command {
        MappingCommand::Unmapped { site, out, json } => {
            check_new_csv(&out)?;
            let codes = crate::site::mapping::unmapped(&SiteDir::at(&site))?;
            let rows: i64 = codes.iter().map(|c| c.rows).sum();
            crate::store::write_private_atomically(&out, &crate::site::mapping::unmapped_csv(&codes)?)?;
            if json {
                print_json(
                    &serde_json::json!({ "file": out.display().to_string(), "codes": codes.len(), "rows": rows }),
                )
            } else {
                if !global.quiet {
                    eprintln!(
                        "{} unmapped local codes ({rows} waiting rows) written to {}",
                        codes.len(),
                        out.display()
                    );
                }
                Ok(())
            }
        }
        MappingCommand::Import { site, by, json, file } => {
            let by = Approver::new(&by)?;
            let imported = crate::site::mapping::import(&SiteDir::at(&site), &file, &by)?;
            if json {
                print_json(&imported)
            } else {
                print!("{}", render_mapping(&imported));
                Ok(())
            }
        }
    }
}

fn render_mapping(i: &crate::site::mapping::Imported) -> String {
    let version = match i.data_version {
        Some(v) => format!("data version {v}"),
        None => "no new data version: every decision was already the site's".to_string(),
    };
    format!(
        "{}: {} decisions kept ({} unchanged, {} lines without a standard code); {version}
         rows brought in: {}, quarantined: {}, moved by a changed mapping: {}; still waiting: {}
",
        i.file, i.decisions, i.unchanged, i.undecided, i.rows_loaded, i.rows_quarantined, i.rows_moved, i.rows_waiting
    )
}

/// `site init`: a DuckDB site, or a Spark site with its server and warehouse.
fn init_site(
    site: &SiteDir,
    engine: &str,
    connect: Option<&str>,
    warehouse: Option<&Path>,
) -> Result<crate::site::Created> {
    match (engine, connect, warehouse) {
        ("spark", Some(connect), Some(warehouse)) => crate::site::spark::init(site, connect, warehouse),
        ("duckdb", None, None) => site.init(),
        _ => Err(crate::bad_input!("--connect and --warehouse go with --engine spark, and it needs both")),
    }
}

fn site_key(global: &Global, site: &Path, json: bool) -> Result<()> {
    let dir = SiteDir::at(site);
    dir.require()?;
    let (key, made) = crate::site::keys::ensure(&dir)?;
    let file = std::path::absolute(crate::site::keys::public_path(&dir)).at(site)?;
    if json {
        let shown = serde_json::json!({
            "site": std::path::absolute(site).at(site)?,
            "key": hex::encode(key.as_bytes()),
            "key_id": crate::wire::key_id(&key),
            "file": file,
            "made": made,
        });
        return print_json(&shown);
    }
    if made && !global.quiet {
        eprintln!("made the site's key pair (the private key stays in {})", site.join("keys").display());
    }
    println!("{}  {}", crate::wire::key_id(&key), hex::encode(key.as_bytes()));
    println!("(the file {}: give it to the data center, which runs `midnet center sites key`)", file.display());
    Ok(())
}

fn link(site: &Path, file: &Path, json: bool) -> Result<()> {
    let registered = crate::site::link::register(&SiteDir::at(site), file)?;
    if json {
        return print_json(&registered);
    }
    let counts: Vec<String> = registered.linked.iter().map(|(source, n)| format!("{n} {source}")).collect();
    let replaced = if registered.replaced { ", replacing the link registered before" } else { "" };
    println!(
        "{}: linked {} numbers to EHR patients{replaced}; the site keeps their keyed hashes only, and the imports \
         from now on link through them",
        site.display(),
        counts.join(", ")
    );
    Ok(())
}

fn trust_center(site: &Path, file: &Path, certificate: Option<&str>) -> Result<()> {
    let fingerprint = certificate
        .map(|text| {
            crate::https::parse_fingerprint(text).map_err(|why| crate::bad_input!("--certificate-sha256: {why}"))
        })
        .transpose()?;
    let dir = SiteDir::at(site);
    let key = crate::site::keys::trust_center(&dir, file)?;
    println!(
        "{}: pinned the data center's key {}; the site believes only work requests signed with it",
        site.display(),
        crate::wire::key_id(&key)
    );
    if let Some(fingerprint) = fingerprint {
        crate::site::keys::pin_center_certificate(&dir, &fingerprint)?;
        println!("{}: pinned the data center's TLS certificate {fingerprint}", site.display());
    }
    Ok(())
}

fn print_requests(site: &Path, holdings: &crate::site::agent::Holdings, json: bool) -> Result<()> {
    let held = &holdings.held;
    if json {
        // What the site was asked and where it stands; the signed messages stay in its files.
        let shown: Vec<serde_json::Value> = held
            .iter()
            .map(|h| {
                let mut shown = serde_json::to_value(h).expect("a held request serialises");
                if let Some(fields) = shown.as_object_mut() {
                    fields.remove("envelope");
                    fields.remove("answer");
                }
                shown
            })
            .collect();
        let damaged: Vec<serde_json::Value> = holdings
            .damaged
            .iter()
            .map(|d| serde_json::json!({"file": d.file.display().to_string(), "detail": d.detail}))
            .collect();
        let site = std::path::absolute(site).at(site)?;
        return print_json(&serde_json::json!({"site": site, "requests": shown, "damaged": damaged}));
    }
    let rows: Vec<Vec<String>> = held
        .iter()
        .map(|h| {
            let field = |text: &str| crate::wire::plain_text(text, 200);
            vec![
                field(&h.request),
                field(&h.project),
                h.extraction.to_string(),
                field(&h.script),
                h.state.words().to_string(),
                field(&h.expires),
                field(&h.detail),
            ]
        })
        .collect();
    print!(
        "{}",
        text_table(&["request", "project", "extraction", "script", "state", "expires", "detail"], &rows, ALL_TEXT)
    );
    for damaged in &holdings.damaged {
        let shown = format!("{}: {}", damaged.file.display(), damaged.detail);
        println!("damaged, never run: {}", crate::wire::plain_text(&shown, 2000));
    }
    Ok(())
}

/// `site requests show`: what the request asks, for the staff who approve it.
fn show_request(site: &Path, id: &str) -> Result<()> {
    let dir = SiteDir::at(site);
    dir.require()?;
    let (held, order) = crate::site::agent::order(&dir, id)?;
    // What the center sent is shown plain: one line per field, and every line of a shipped text
    // behind "| ", so that no text can pass for a heading of this page.
    let field = |text: &str| crate::wire::plain_text(text, 200);
    let shown = |text: &str| crate::wire::plain_lines(text).lines().map(|l| format!("| {l}\n")).collect::<String>();
    println!("request      {}", field(&held.request));
    println!(
        "project      {} (extraction {}, this site as {})",
        field(&held.project),
        held.extraction,
        field(&held.site)
    );
    println!("state        {} ({})", held.state.words(), field(&held.detail));
    println!("expires      {}", field(&held.expires));
    println!("script       {} (SHA-256 {})", field(&held.script), field(&held.script_sha256));
    for (name, value) in &held.params {
        println!("param        {} = {}", field(name), field(value));
    }
    println!("\n--- the script's text ---\n{}", shown(&order.script.text));
    for (path, bytes) in &order.script.codelists {
        let bytes = hex::decode(bytes).unwrap_or_default();
        println!(
            "\n--- codelist {} ({} bytes) ---\n{}",
            field(path),
            bytes.len(),
            shown(&String::from_utf8_lossy(&bytes))
        );
    }
    let script = crate::script::Script::from_bundle(crate::script::Bundle::unship(&order.script))?;
    let mut values = crate::script::ParamValues::default();
    for (name, value) in &order.params {
        values.set(name.clone(), value.clone());
    }
    println!("\n--- in plain words ---\n{}", shown(&script.explain(&values)?));
    Ok(())
}

fn site_log(site: &Path, json: bool) -> Result<()> {
    let dir = SiteDir::at(site);
    dir.require()?;
    let records = crate::site::log::read(&dir)?;
    if json {
        let shown: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                let mut value = serde_json::to_value(r).expect("a log record serialises");
                value["hash"] = serde_json::Value::String(r.hash.clone());
                value
            })
            .collect();
        return print_json(&serde_json::json!({"site": site, "records": shown, "verified": true}));
    }
    let rows = log_rows(&records);
    print!("{}", text_table(&["seq", "time", "event", "request", "detail"], &rows, ALL_TEXT));
    println!("{} records; the hash chain verifies", records.len());
    Ok(())
}

/// The rows `site log` shows of `records`. A record may hold text a peer chose (a refused
/// request's id, why it was refused, quoting what it held): each control or format character in it
/// is shown as a space, never sent to the staff's terminal as itself.
fn log_rows(records: &[crate::site::log::Record]) -> Vec<Vec<String>> {
    let plain = |text: &str| crate::wire::plain_text(text, 2000);
    records
        .iter()
        .map(|r| {
            let event = serde_json::to_value(r.event).expect("an event serialises");
            vec![
                r.seq.to_string(),
                r.time.clone(),
                event.as_str().unwrap_or_default().to_string(),
                plain(r.request.as_deref().unwrap_or_default()),
                plain(&r.detail),
            ]
        })
        .collect()
}

/// `--out` of `site quarantine`: a CSV file that does not exist yet (nothing is overwritten).
fn check_new_csv(out: &Path) -> Result<()> {
    if out.extension().is_none_or(|e| !e.eq_ignore_ascii_case("csv")) {
        return Err(crate::bad_input!("--out {}: give a .csv file name", out.display()));
    }
    if out.exists() {
        return Err(crate::bad_input!("{}: exists; give a new file name (nothing is overwritten)", out.display()));
    }
    Ok(())
}

/// The rows as CSV, one line per row, its reasons joined by "; ".
fn write_quarantine_csv(out: &Path, rows: &[SetAsideRow]) -> Result<()> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let written = (|| {
        csv.write_record(["table", "file", "line", "reasons"])?;
        for row in rows {
            csv.write_record([&row.table, &row.file, &row.line.to_string(), &row.reasons.join("; ")])?;
        }
        csv.into_inner().map_err(|e| e.into_error().into())
    })();
    let bytes = written.map_err(|e: csv::Error| Error::Internal(format!("CSV output: {e}")))?;
    // Quarantined rows are the site's private data, even with their values withheld.
    crate::store::write_private_atomically(out, &bytes)
}

fn render_quarantine(rows: &[SetAsideRow]) -> String {
    if rows.is_empty() {
        return "no set-aside rows\n".to_string();
    }
    let cells: Vec<Vec<String>> =
        rows.iter().map(|r| vec![r.table.clone(), r.file.clone(), r.line.to_string(), r.reasons.join("; ")]).collect();
    let mut text = text_table(&["table", "file", "line", "reasons"], &cells, ALL_TEXT);
    text.push_str(&format!(
        "{} rows (values of the rows are shown as {}; the file at its line holds them)\n",
        rows.len(),
        quarantine::WITHHELD_VALUE
    ));
    text
}

/// `--until`: a calendar date.
fn parse_until(text: &str) -> Result<chrono::NaiveDate> {
    crate::query::value::parse_date(text)
        .map(crate::query::value::naive_date)
        .map_err(|e| crate::bad_input!("--until {text}: {e}"))
}

fn render_approval(a: &approve::Approval) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let verb = if a.revoked.is_some() { "revoked" } else { "approved" };
    let _ = writeln!(s, "{verb} {} (script {}) for project {}", a.study, &a.script_sha256[..12], a.project);
    let _ = writeln!(s, "  approval {}: by {} ({}) at {} UTC", a.id, a.approved_by, a.os_user, a.approved_at);
    match (&a.revoked, a.until) {
        (Some(r), _) => {
            let _ = writeln!(s, "  revoked by {} ({}) at {} UTC", r.by, r.os_user, r.at);
        }
        (None, Some(until)) => {
            let _ = writeln!(s, "  covers runs until the end of {until}");
        }
        (None, None) => {
            let _ = writeln!(s, "  covers runs until revoked");
        }
    }
    for (name, value) in &a.params {
        let _ = writeln!(s, "  {name} = {value}");
    }
    s
}

fn render_migration(m: &crate::site::migrate::Migration) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "migrated the site database from schema version {} to {}: data version {}, every row kept",
        m.from_version, m.to_version, m.data_version
    );
    for (table, rows) in &m.tables {
        let _ = writeln!(s, "  {table:<24} {rows:>12}");
    }
    s
}

fn render_masters(imported: &crate::site::masters::Imported) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if let Some(m) = &imported.migration {
        s.push_str(&render_migration(m));
    }
    let _ = match imported.data_version {
        Some(v) => writeln!(s, "data version {v}"),
        None => writeln!(s, "no new data version: every file was imported before"),
    };
    for f in &imported.files {
        let _ = writeln!(s, "  {:<10} published {} {:>10} rows  {}", f.kind.as_str(), f.published, f.rows, f.file);
    }
    for k in &imported.skipped {
        let _ = writeln!(s, "skipped {}: the same content (SHA-256) as {}, imported already", k.file, k.imported_as);
    }
    s
}

fn import_ssmix2(site: &Path, root: &Path, options: crate::site::ssmix2::import::Options, json: bool) -> Result<()> {
    let report = crate::site::ssmix2::import::import(&SiteDir::at(site), root, options)?;
    if json {
        return print_json(&report);
    }
    print!("{}", render_ssmix2(&report));
    Ok(())
}

fn render_ssmix2(report: &crate::site::ssmix2::import::ImportReport) -> String {
    use std::fmt::Write;
    let mut s = render_import_head(&report.migration, report.data_version, "no file changed since the last import");
    let _ = writeln!(
        s,
        "files: {} current, {} new or changed, {} withdrawn, {} read; {} rows withdrawn",
        report.files_current, report.files_changed, report.files_withdrawn, report.files_read, report.rows_withdrawn
    );
    if report.files_touched > 0 {
        let _ = writeln!(
            s,
            "{} files with a new modification time hashed and found unchanged: their time recorded",
            report.files_touched
        );
    }
    if report.misplaced > 0 {
        let _ = writeln!(s, "{} entries of the tree do not fit the SS-MIX2 layout: not read", report.misplaced);
    }
    if !report.messages.is_empty() {
        let _ = writeln!(s, "  {:<10} {:>10} {:>10} {:>12}", "data kind", "read", "skipped", "quarantined");
        for k in &report.messages {
            let _ = writeln!(s, "  {:<10} {:>10} {:>10} {:>12}", k.data_kind, k.read, k.skipped, k.quarantined);
        }
    }
    s.push_str(&render_import_tables(&report.tables));
    s
}

fn import_receipt(site: &Path, files: &[PathBuf], json: bool) -> Result<()> {
    let report = crate::site::receipt::import::import(&SiteDir::at(site), files)?;
    if json {
        return print_json(&report);
    }
    print!("{}", render_receipt(&report));
    Ok(())
}

fn render_receipt(report: &crate::site::receipt::import::ImportReport) -> String {
    use std::fmt::Write;
    let mut s = render_import_head(&report.migration, report.data_version, "every file was imported before");
    for f in &report.files {
        let replaces = f.replaces.as_ref().map(|r| format!(", replacing {r}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "  {}: payer {}, billed {}, {} receipts: {}{replaces}",
            f.file.display(),
            f.payer,
            f.billing_month,
            f.receipts,
            f.outcome
        );
    }
    let _ = writeln!(s, "{} rows withdrawn", report.rows_withdrawn);
    for m in &report.totals_mismatches {
        let field = m.field.map(|f| format!("-{f}")).unwrap_or_default();
        let _ = writeln!(s, "  totals: {} line {} {}{field}: {}", m.source_file, m.line, m.record, m.reason);
    }
    if report.records_not_taken > 0 {
        let _ = writeln!(
            s,
            "{} records have no table (materials, drugs used in procedures, the DPC form's records)",
            report.records_not_taken
        );
    }
    s.push_str(&render_import_tables(&report.tables));
    s
}

/// The head of an importer's report: the migration it made, and its data version or why none.
fn render_import_head(
    migration: &Option<crate::site::migrate::Migration>,
    data_version: Option<i64>,
    why_none: &str,
) -> String {
    let mut s = migration.as_ref().map(render_migration).unwrap_or_default();
    s.push_str(&match data_version {
        Some(v) => format!("data version {v}\n"),
        None => format!("no new data version: {why_none}\n"),
    });
    s
}

/// What an importer's staged rows became, table by table.
fn render_import_tables(tables: &[crate::site::load::FileLoaded]) -> String {
    if tables.is_empty() {
        return String::new();
    }
    let mut s = format!("  {:<20} {:>12} {:>12} {:>12}\n", "table", "loaded", "quarantined", "waiting");
    for t in tables {
        s.push_str(&format!(
            "  {:<20} {:>12} {:>12} {:>12}\n",
            t.table, t.rows_loaded, t.rows_quarantined, t.rows_waiting
        ));
    }
    s
}

fn import_dpc(site: &Path, files: &[PathBuf], json: bool) -> Result<()> {
    let report = crate::site::dpc::import::import(&SiteDir::at(site), files)?;
    if json {
        return print_json(&report);
    }
    print!("{}", render_dpc(&report));
    Ok(())
}

fn render_dpc(report: &crate::site::dpc::import::ImportReport) -> String {
    use std::fmt::Write;
    let mut s = render_import_head(&report.migration, report.data_version, "every file was imported before");
    for f in &report.files {
        let replaces = f.replaces.as_ref().map(|r| format!(", replacing {r}")).unwrap_or_default();
        let what = match f.kind {
            crate::site::dpc::read::Kind::Ff1 => format!("様式1 of {}, {} stays", f.month, f.stays),
            crate::site::dpc::read::Kind::Ef => format!("EF of {}, {} items", f.month, f.items),
            crate::site::dpc::read::Kind::EfOutpatient => format!("outpatient EF of {}, {} items", f.month, f.items),
        };
        let _ = writeln!(s, "  {}: {what}: {}{replaces}", f.file.display(), f.outcome);
    }
    let _ = writeln!(s, "{} rows withdrawn", report.rows_withdrawn);
    if report.lines_not_taken > 0 {
        let _ = writeln!(
            s,
            "{} lines have no table (child 様式1, records not taken, parent rows, materials, comments, drugs used in \
             procedures)",
            report.lines_not_taken
        );
    }
    s.push_str(&render_import_tables(&report.tables));
    s
}

fn render_load(report: &crate::site::load::LoadReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if let Some(m) = &report.migration {
        s.push_str(&render_migration(m));
    }
    let _ = match (report.data_version, report.files.is_empty()) {
        (Some(v), _) => writeln!(s, "data version {v}"),
        (None, true) => writeln!(s, "no new data version: nothing new to load"),
        (None, false) => writeln!(s, "no new data version: no row could be loaded"),
    };
    let _ = writeln!(s, "  {:<20} {:>12} {:>12}  file", "table", "loaded", "quarantined");
    for f in &report.files {
        let _ = writeln!(s, "  {:<20} {:>12} {:>12}  {}", f.table, f.rows_loaded, f.rows_quarantined, f.file);
    }
    let _ = writeln!(s, "  {:<20} {:>12} {:>12}", "total", report.rows_loaded(), report.rows_quarantined());
    if report.rows_waiting() > 0 {
        let _ = writeln!(
            s,
            "{} rows name their code by a local code the site has not mapped: kept, waiting for a mapping \
             (`midnet site mapping unmapped` lists the codes)",
            report.rows_waiting()
        );
    }
    for k in &report.skipped {
        let e = &k.earlier;
        let what = match e.data_version {
            Some(v) => {
                format!("in data version {v} ({} rows loaded, {} quarantined)", e.rows_loaded, e.rows_quarantined)
            }
            None => format!("which made no data version (no row loaded, {} quarantined)", e.rows_quarantined),
        };
        let _ =
            writeln!(s, "skipped {}: already loaded (same SHA-256) on {} as {}, {what}", k.file, e.loaded_at, e.file);
    }
    for r in &report.refused {
        let _ = writeln!(s, "refused {}: {}", r.file, r.reason);
    }
    if !report.top_reasons.is_empty() {
        let _ = writeln!(s, "quarantine reasons (the rows are in the site's `quarantine` table, with file and line):");
        for top in &report.top_reasons {
            let _ = writeln!(s, "  {:>10}  {}: {}", top.rows, top.table, top.reason);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use crate::site::log::{Event, Record};

    #[test]
    fn a_log_records_peer_text_is_shown_plain() {
        let record = Record {
            seq: 1,
            time: "2026-12-06T09:00:00Z".into(),
            event: Event::Refused,
            request: Some("r1\u{1b}[2J".into()),
            nonce: None,
            project: None,
            script_sha256: None,
            detail: "signed, but not a work request: invalid type: string \"\u{1b}]0;x\u{7}\u{202e}\"".into(),
            prev: String::new(),
            hash: String::new(),
        };
        let shown = super::log_rows(&[record]).concat().concat();
        assert!(shown.contains("signed, but not a work request"), "{shown:?}");
        assert!(!shown.chars().any(|c| matches!(c, '\u{1b}' | '\u{7}' | '\u{202e}')), "{shown:?}");
    }
}
