//! `midnet synth`: a synthetic multi-site network that looks like hospital data to the statistics,
//! with known effects planted in it.
//!
//! Writes, under the output directory: one directory per site holding the hospital's files
//! (`<site>/import/<table>.csv`, in the format `midnet site load` reads), its official masters
//! (`<site>/masters/`, in their published layouts, for `midnet site masters import`), the data center's site
//! registry `sites.toml`, and `truth.json`, the planted hazard ratios. The same seed gives the same
//! files, byte for byte, whatever the number of threads.
//!
//! How the effects are planted: each study pair is a fictional new drug against a real comparator
//! of its class. Lab abnormalities are latent events whose hazard depends on age and sex (log-linear
//! in age and age squared, so the protocol's adjustment is correctly specified), multiplied by the
//! planted hazard ratio while a patient takes a drug that has one (and for 30 days after the last
//! supply ends). Lab tests follow a schedule that does not depend on any drug, and well results
//! never cross an outcome threshold, so the first abnormal result after the index date measures the
//! latent event and a sex- and age-adjusted Cox model recovers the planted ratio.

pub mod catalog;
mod csv_out;
pub mod dpc;
pub mod labs;
pub mod link;
pub mod masters;
pub mod network;
mod patient;
pub mod receipt;
mod site;
pub mod ssmix2;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::schema::CLINICAL_TABLES;
use site::{Drug, SiteContext};

pub use network::SiteProfile;

#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub sites: usize,
    /// Patients per site.
    pub patients: u64,
    pub seed: u64,
    pub out: PathBuf,
    /// First and last day of the sites' data (days since 1970-01-01).
    pub data_start: i32,
    pub data_end: i32,
    pub dirty: f64,
    /// Also write each site's electronic records as an SS-MIX2 standardized storage tree.
    pub ss_mix2: bool,
    /// Also write each claims site's CLAIMS rows as monthly RECEIPTC.UKE files.
    pub receipt: bool,
    /// Also write each DPC site's DPC rows as 様式1 and EF統合ファイル files.
    pub dpc: bool,
    /// Number the claims' and DPC's patients apart from the EHR, with the hospital's link file.
    pub linked_numbers: bool,
}

#[derive(Debug, Serialize)]
pub struct SynthSummary {
    pub out: PathBuf,
    pub sites: Vec<SiteSummary>,
    pub rows: u64,
}

#[derive(Debug, Serialize)]
pub struct SiteSummary {
    pub id: String,
    pub path: PathBuf,
    pub patients: u64,
    /// Rows per clinical table.
    pub rows: Vec<(String, u64)>,
    /// The SS-MIX2 tree, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ss_mix2: Option<ssmix2::TreeSummary>,
    /// The claims files, when asked for and the site has claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<receipt::ClaimsSummary>,
    /// The DPC files, when asked for and the site has DPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpc: Option<dpc::DpcSummary>,
}

/// The import directory of a synthesised site, relative to its site directory.
pub const IMPORT_DIR: &str = "import";

/// What was written of one site: its rows per table, and the files asked for.
type Written = (site::RowCounts, Option<ssmix2::TreeSummary>, Option<receipt::ClaimsSummary>, Option<dpc::DpcSummary>);

pub fn synthesize(opts: &SynthOptions, progress: &crate::progress::Progress) -> Result<SynthSummary> {
    validate(opts)?;
    std::fs::create_dir_all(&opts.out).at(&opts.out)?;
    let drugs = drug_codes()?;
    let contexts = site_contexts(opts, &drugs);
    let bars: Vec<_> = contexts.iter().map(|c| progress.bar(&c.profile.id, opts.patients)).collect();
    let written: Vec<Written> = contexts
        .par_iter()
        .zip(bars.par_iter())
        .map(|(ctx, bar)| {
            let site_dir = opts.out.join(&ctx.profile.id);
            let dir = site_dir.join(IMPORT_DIR);
            let linked = opts.linked_numbers;
            let counts = generate_site(ctx, opts.seed, opts.patients, &dir, &|n| bar.inc(n))?;
            masters::write(&site_dir)?;
            let tree =
                opts.ss_mix2.then(|| ssmix2::write(&site_dir, &dir, opts.seed, ctx.profile.index)).transpose()?;
            let claims = (opts.receipt && ctx.profile.has_claims)
                .then(|| receipt::write(&site_dir, &dir, linked))
                .transpose()?;
            let dpc = (opts.dpc && ctx.profile.has_dpc)
                .then(|| dpc::write(&site_dir, &dir, ctx.profile.index, linked))
                .transpose()?;
            if linked && (claims.is_some() || dpc.is_some()) {
                link::write(&site_dir, opts.patients, claims.is_some(), dpc.is_some())?;
            }
            bar.finish();
            Ok((counts, tree, claims, dpc))
        })
        .collect::<Result<_>>()?;
    write_registry(&opts.out, &contexts)?;
    write_truth(&opts.out, opts, &drugs)?;
    let sites: Vec<SiteSummary> = contexts
        .iter()
        .zip(&written)
        .map(|(c, (n, tree, claims, dpc))| SiteSummary {
            id: c.profile.id.clone(),
            path: opts.out.join(&c.profile.id),
            patients: opts.patients,
            rows: CLINICAL_TABLES.iter().zip(n).map(|(t, n)| (t.to_string(), *n)).collect(),
            ss_mix2: *tree,
            receipt: *claims,
            dpc: *dpc,
        })
        .collect();
    let rows = written.iter().flat_map(|(n, ..)| n).sum();
    Ok(SynthSummary { out: opts.out.clone(), sites, rows })
}

fn validate(opts: &SynthOptions) -> Result<()> {
    if opts.sites == 0 || opts.sites > 999 {
        return Err(Error::BadInput(format!("--site-count {}: give between 1 and 999 sites", opts.sites)));
    }
    if opts.patients == 0 {
        return Err(Error::BadInput("--patients 0: give at least one patient per site".into()));
    }
    if opts.data_end - opts.data_start < 365 {
        return Err(Error::BadInput("the data period must cover at least a year".into()));
    }
    if !(0.0..=0.5).contains(&opts.dirty) {
        return Err(Error::BadInput(format!("--dirty {}: give a share of rows between 0 and 0.5", opts.dirty)));
    }
    if opts.out.exists() && std::fs::read_dir(&opts.out).at(&opts.out)?.next().is_some() {
        return Err(Error::BadInput(format!(
            "{}: not empty; synthesise into a new or empty directory",
            opts.out.display()
        )));
    }
    Ok(())
}

/// YJ codes and typical doses of every drug the network prescribes, from the embedded drug master.
fn drug_codes() -> Result<HashMap<String, Drug>> {
    let (_, text) = crate::schema::MASTERS[0];
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut drugs = HashMap::new();
    for record in reader.records() {
        let r = record.map_err(|e| Error::Internal(format!("embedded drug master: {e}")))?;
        let (yj, ingredient, route) = (&r[0], &r[1], &r[4]);
        let (dose, unit) = typical_dose(ingredient);
        let route = if route == "injection" { "injection" } else { "oral" };
        drugs
            .insert(ingredient.to_string(), Drug { yj_code: yj.to_string(), daily_dose: dose, dose_unit: unit, route });
    }
    Ok(drugs)
}

fn typical_dose(ingredient: &str) -> (f64, &'static str) {
    match ingredient {
        "sitagliptin" => (50.0, "mg"),
        "pregabalin" => (150.0, "mg"),
        "celecoxib" => (200.0, "mg"),
        "eplerenone" => (50.0, "mg"),
        "candesartan" => (8.0, "mg"),
        "atorvastatin" => (10.0, "mg"),
        "lansoprazole" => (15.0, "mg"),
        "dapagliflozin" => (5.0, "mg"),
        "apixaban" => (10.0, "mg"),
        "amlodipine" => (5.0, "mg"),
        "loxoprofen" => (180.0, "mg"),
        "metformin" => (1000.0, "mg"),
        "insulin glargine" => (12.0, "unit"),
        "heparin" => (10000.0, "unit"),
        "ceftriaxone" => (2000.0, "mg"),
        _ => (1.0, "tablet"),
    }
}

#[derive(Serialize)]
struct Registry<'a> {
    site: Vec<RegistryEntry<'a>>,
}

#[derive(Serialize)]
struct RegistryEntry<'a> {
    id: &'a str,
    name: &'a str,
    aliases: &'a [String],
    /// Relative to the directory of sites.toml.
    path: &'a str,
    /// The site's public key file, which `site init` makes in the site's directory.
    key_file: String,
}

fn write_registry(out: &Path, contexts: &[SiteContext]) -> Result<()> {
    let registry = Registry {
        site: contexts
            .iter()
            .map(|c| RegistryEntry {
                id: &c.profile.id,
                name: &c.profile.name,
                aliases: &c.profile.aliases,
                path: &c.profile.id,
                key_file: format!("{}/keys/site.pub", c.profile.id),
            })
            .collect(),
    };
    let body = toml::to_string(&registry).map_err(|e| Error::Internal(format!("site registry: {e}")))?;
    let text = format!(
        "# The data center's registry of cooperating hospitals (written by `midnet synth`).\n\
         # Import it with `midnet center sites add sites.toml`; a relative `path` is relative to this file.\n\n{body}"
    );
    let path = out.join("sites.toml");
    std::fs::write(&path, text).at(&path)
}

#[derive(Serialize)]
struct Truth {
    generator: String,
    seed: u64,
    sites: usize,
    patients_per_site: u64,
    data_start: String,
    data_end: String,
    design: TruthDesign,
    effects: Vec<TruthEffect>,
}

#[derive(Serialize)]
struct TruthDesign {
    comparison: &'static str,
    subgroup: &'static str,
    hazard_model: &'static str,
    effect_window: &'static str,
    lab_testing: &'static str,
}

#[derive(Serialize)]
struct TruthEffect {
    drug: &'static str,
    drug_yj: String,
    comparator: &'static str,
    comparator_yj: String,
    outcome: &'static str,
    hazard_ratio: f64,
    subgroup: &'static str,
}

fn write_truth(out: &Path, opts: &SynthOptions, drugs: &HashMap<String, Drug>) -> Result<()> {
    let prefix = |ingredient: &str| drugs[ingredient].yj_code[..7].to_string();
    let mut effects = Vec::new();
    let outcomes = catalog::all_outcomes();
    for pair in &catalog::PAIRS {
        let touched: &[&str] = pair.effect.map_or(&[], |(p, _)| p.outcomes());
        if let Some((process, hr)) = pair.effect {
            effects.push(TruthEffect {
                drug: pair.new_drug,
                drug_yj: prefix(pair.new_drug),
                comparator: pair.comparator,
                comparator_yj: prefix(pair.comparator),
                outcome: process.outcomes()[0],
                hazard_ratio: hr,
                subgroup: "baseline_normal",
            });
        }
        for outcome in outcomes.iter().filter(|o| !touched.contains(o)) {
            effects.push(TruthEffect {
                drug: pair.new_drug,
                drug_yj: prefix(pair.new_drug),
                comparator: pair.comparator,
                comparator_yj: prefix(pair.comparator),
                outcome,
                hazard_ratio: 1.0,
                subgroup: "baseline_normal",
            });
        }
    }
    let day = |d: i32| {
        (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid") + chrono::Duration::days(d as i64)).to_string()
    };
    let truth = Truth {
        generator: format!("midnet {} synth", env!("CARGO_PKG_VERSION")),
        seed: opts.seed,
        sites: opts.sites,
        patients_per_site: opts.patients,
        data_start: day(opts.data_start),
        data_end: day(opts.data_end),
        design: TruthDesign {
            comparison: "new users of the drug vs new users of the comparator (same class, same indication)",
            subgroup: "baseline_normal: the outcome's analyte was within the site's reference range at baseline",
            hazard_model: "latent abnormality hazard = base x exp(0.25 d + 0.04 d^2 + 0.15 male) x site factor, \
                           d = (age at index - 60) / 10, times hazard_ratio while exposed",
            effect_window: "from the first supply to 30 days after the last supply ends",
            lab_testing: "schedule independent of the drug; well results never cross an outcome threshold",
        },
        effects,
    };
    let path = out.join("truth.json");
    let text = serde_json::to_string_pretty(&truth).expect("truth serialises");
    std::fs::write(&path, text + "\n").at(&path)
}

/// Generate every patient of one site into `dir`, calling `tick` every 1,000 patients.
/// Each site's profile and what its patients are drawn with, from the network's seed.
fn site_contexts(opts: &SynthOptions, drugs: &HashMap<String, Drug>) -> Vec<SiteContext> {
    (0..opts.sites)
        .map(|i| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(site::mix(opts.seed, i as u64, u64::MAX));
            let profile = network::site_profile(i, &mut rng);
            SiteContext {
                key_mask: site::mix(opts.seed, i as u64, u64::MAX - 1) & 0x03FF_FFFF,
                profile,
                data_start: opts.data_start,
                data_end: opts.data_end,
                drugs: drugs.clone(),
                dirty: opts.dirty,
            }
        })
        .collect()
}

pub fn generate_site(
    ctx: &SiteContext,
    seed: u64,
    patients: u64,
    dir: &Path,
    tick: &dyn Fn(u64),
) -> Result<site::RowCounts> {
    let mut tables = site::Tables::create(dir, ctx)?;
    for idx in 0..patients {
        generate_patient(ctx, seed, idx, &mut tables)?;
        if idx % 1000 == 999 {
            tick(1000);
        }
    }
    tick(patients % 1000);
    let mut counts = [0u64; 8];
    for (i, t) in tables.all().into_iter().enumerate() {
        t.flush()?;
        counts[i] = t.rows;
    }
    Ok(counts)
}

/// Patient `idx` of a site, from their own two random streams (so that any patient can be drawn alone).
fn generate_patient(ctx: &SiteContext, seed: u64, idx: u64, tables: &mut site::Tables) -> Result<()> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(site::mix(seed, ctx.profile.index as u64, idx));
    let mut details = Xoshiro256PlusPlus::seed_from_u64(site::mix(!seed, ctx.profile.index as u64, idx));
    patient::generate(ctx, idx, &mut rng, &mut details, tables)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A patient is never in two hospital stays at once. Seed 20's first site had a patient
    /// (`K54437261`) with two stays admitted on 2021-11-17: SS-MIX2 keeps one ADT-22 file per
    /// patient and day, so the storage could carry only one of them and the other's discharge was
    /// quarantined as unmatched (one stay in 1,785 differed between import and load).
    #[test]
    fn no_patient_has_two_stays_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SynthOptions {
            sites: 1,
            patients: 1,
            seed: 20,
            out: dir.path().to_path_buf(),
            data_start: crate::query::value::parse_date("2016-04-01").unwrap(),
            data_end: crate::query::value::parse_date("2025-09-30").unwrap(),
            dirty: 0.0,
            ss_mix2: false,
            receipt: false,
            dpc: false,
            linked_numbers: false,
        };
        let ctx = &site_contexts(&opts, &drug_codes().unwrap())[0];
        let mut tables = site::Tables::create(dir.path(), ctx).unwrap();
        let known = 54_437_261 ^ ctx.key_mask;
        for idx in (0..2_000).chain([known]) {
            generate_patient(ctx, opts.seed, idx, &mut tables).unwrap();
        }
        for table in tables.all() {
            table.flush().unwrap();
        }
        let mut reader = csv::Reader::from_path(dir.path().join("encounter.csv")).unwrap();
        let mut stays: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for row in reader.records() {
            let row = row.unwrap();
            if &row[1] == "inpatient" {
                stays.entry(row[0].to_string()).or_default().push((row[2].to_string(), row[3].to_string()));
            }
        }
        assert!(stays.contains_key("K54437261"), "the patient of the known case is drawn: {:?}", stays.keys());
        for (patient, mut stays) in stays {
            stays.sort();
            for pair in stays.windows(2) {
                assert!(pair[0].1 < pair[1].0, "{patient}: stays {:?} and {:?} overlap", pair[0], pair[1]);
            }
        }
    }
}
