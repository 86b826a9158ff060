//! `midnet synth`: the command line of the synthetic network generator.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cli::Global;
use crate::error::Result;
use crate::progress::Progress;
use crate::site::SiteDir;
use crate::synth::{IMPORT_DIR, SynthOptions, synthesize};

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of cooperating hospitals.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub site_count: usize,
    /// Patients per site.
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub patients: u64,
    /// Seed: the same seed gives the same files and the same truth.json.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// The directory to write the network into (new or empty).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// First day of the sites' data (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", default_value = "2016-04-01", value_parser = crate::query::value::parse_date)]
    pub data_start: i32,
    /// Last day of the sites' data (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", default_value = "2025-09-30", value_parser = crate::query::value::parse_date)]
    pub data_end: i32,
    /// Share of rows that carry a realistic fault (quarantined when loaded).
    #[arg(long, value_name = "SHARE", default_value_t = 0.0002)]
    pub dirty: f64,
    /// What to write for each site, comma-separated: `csv` (midnet's per-table files, always
    /// written), `ss-mix2` (also the electronic records as an SS-MIX2 standardized storage tree,
    /// with the mapping of its local codes, for `site import ss-mix2`), `receipt` (also each claims
    /// site's claims as monthly RECEIPTC.UKE files, for `site import receipt`), `dpc` (also each DPC
    /// site's stays as 様式1 and EF統合ファイル files, for `site import dpc`).
    #[arg(long, value_name = "FORMATS", value_enum, value_delimiter = ',', default_value = "csv")]
    pub format: Vec<Format>,
    /// Number each site's claims (カルテ番号) and DPC (データ識別番号) patients apart from its EHR, and
    /// write the hospital's link file `link.csv` (for `site link`); the first patient's receipts
    /// have no カルテ番号 and are linked by their insurance numbers.
    #[arg(long)]
    pub linked_numbers: bool,
    /// Also create each site's data source and load its files (`site init` + `site load`).
    #[arg(long)]
    pub load: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A format of the hospital files synthesised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    SsMix2,
    Receipt,
    Dpc,
}

pub fn run(global: &Global, args: SynthArgs) -> Result<()> {
    let opts = SynthOptions {
        sites: args.site_count,
        patients: args.patients,
        seed: args.seed,
        out: args.dir.clone(),
        data_start: args.data_start,
        data_end: args.data_end,
        dirty: args.dirty,
        ss_mix2: args.format.contains(&Format::SsMix2),
        receipt: args.format.contains(&Format::Receipt),
        dpc: args.format.contains(&Format::Dpc),
        linked_numbers: args.linked_numbers,
    };
    let started = std::time::Instant::now();
    let progress = Progress::new(global.quiet);
    let summary = synthesize(&opts, &progress)?;
    let seconds = started.elapsed().as_secs_f64();
    if args.load {
        for site in &summary.sites {
            let dir = SiteDir::at(&site.path);
            dir.init()?;
            crate::site::masters::import(&dir, &crate::synth::masters::master_files(&site.path))?;
            let report = crate::site::load::load(&dir, &[site.path.join(IMPORT_DIR)], None, &progress)?;
            if !global.quiet {
                eprintln!(
                    "{}: loaded {} rows, quarantined {}",
                    site.id,
                    report.rows_loaded(),
                    report.rows_quarantined()
                );
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
    } else {
        println!(
            "synthesised {} sites x {} patients ({} rows) in {:.1} s into {}",
            summary.sites.len(),
            args.patients,
            summary.rows,
            seconds,
            summary.out.display()
        );
        println!("  site registry: {}", summary.out.join("sites.toml").display());
        println!("  planted effects: {}", summary.out.join("truth.json").display());
        for site in summary.sites.iter().filter(|s| s.ss_mix2.is_some()) {
            let tree = site.ss_mix2.expect("filtered");
            let root = site.path.join(crate::synth::ssmix2::TREE_DIR);
            println!("  SS-MIX2 storage: {} ({} files, {} bytes)", root.display(), tree.files, tree.bytes);
        }
        for site in &summary.sites {
            if let Some(claims) = site.receipt {
                let dir = site.path.join(crate::synth::receipt::RECEIPT_DIR);
                println!("  claims: {} ({} files, {} receipts)", dir.display(), claims.files, claims.receipts);
            }
            if let Some(dpc) = site.dpc {
                let dir = site.path.join(crate::synth::dpc::DPC_DIR);
                println!(
                    "  DPC: {} ({} files, {} stays, {} EF lines)",
                    dir.display(),
                    dpc.files,
                    dpc.stays,
                    dpc.ef_lines
                );
            }
        }
    }
    Ok(())
}
