//! Generating one site: its context (profile, drug codes, data window) and its output tables.

use std::collections::HashMap;
use std::path::Path;

use rand::{Rng, RngExt};

use super::csv_out::CsvOut;
use super::network::SiteProfile;
use crate::error::{IoContext, Result};

/// A drug as a site prescribes it.
#[derive(Debug, Clone)]
pub struct Drug {
    pub yj_code: String,
    pub daily_dose: f64,
    pub dose_unit: &'static str,
    pub route: &'static str,
}

pub struct SiteContext {
    pub profile: SiteProfile,
    pub data_start: i32,
    pub data_end: i32,
    /// XOR-ed into patient numbers to make the site's patient keys.
    pub key_mask: u64,
    pub drugs: HashMap<String, Drug>,
    /// Chance that a written row carries a realistic fault (a date that does not exist, a unit
    /// that cannot be converted, an inverted range, a non-numeric value, a malformed code).
    pub dirty: f64,
}

impl SiteContext {
    pub fn drug(&self, ingredient: &str) -> &Drug {
        self.drugs.get(ingredient).unwrap_or_else(|| panic!("{ingredient} is in the drug master"))
    }

    /// Which fault, if any, the next row carries.
    pub fn fault<R: Rng>(&self, rng: &mut R) -> Option<u8> {
        (self.dirty > 0.0 && rng.random_bool(self.dirty)).then(|| rng.random_range(0..3))
    }
}

/// The eight clinical tables of one site's import directory.
pub struct Tables {
    pub patient: CsvOut,
    pub observation_period: CsvOut,
    pub encounter: CsvOut,
    pub diagnosis: CsvOut,
    pub drug_order: CsvOut,
    pub drug_administration: CsvOut,
    pub lab_result: CsvOut,
    pub procedure: CsvOut,
}

impl Tables {
    pub fn create(dir: &Path, ctx: &SiteContext) -> Result<Tables> {
        std::fs::create_dir_all(dir).at(dir)?;
        let style = ctx.profile.date_style;
        let open = |name: &str, header: &[&str]| CsvOut::create(&dir.join(format!("{name}.csv")), header, style);
        Ok(Tables {
            patient: open("patient", &["patient_key", "sex", "birth_date", "death_date"])?,
            observation_period: open("observation_period", &["patient_key", "source", "start_date", "end_date"])?,
            encounter: open(
                "encounter",
                &[
                    "patient_key",
                    "encounter_type",
                    "start_date",
                    "end_date",
                    "department",
                    "admission_route",
                    "discharge_destination",
                    "discharge_outcome",
                    "source",
                ],
            )?,
            diagnosis: open(
                "diagnosis",
                &[
                    "patient_key",
                    "icd10",
                    "medis_code",
                    "diagnosis_date",
                    "end_date",
                    "disease_outcome",
                    "suspected",
                    "main_diagnosis",
                    "diagnosis_kind",
                    "source",
                ],
            )?,
            drug_order: open(
                "drug_order",
                &[
                    "patient_key",
                    "yj_code",
                    "hot_code",
                    "order_date",
                    "start_date",
                    "days_supply",
                    "daily_dose",
                    "dose_unit",
                    "route",
                    "setting",
                    "source",
                ],
            )?,
            drug_administration: open(
                "drug_administration",
                &[
                    "patient_key",
                    "yj_code",
                    "hot_code",
                    "start_time",
                    "end_time",
                    "amount",
                    "amount_unit",
                    "rate",
                    "rate_unit",
                    "route",
                    "setting",
                    "source",
                ],
            )?,
            lab_result: open(
                "lab_result",
                &[
                    "patient_key",
                    "jlac10",
                    "specimen",
                    "result_time",
                    "value",
                    "unit",
                    "ref_low",
                    "ref_high",
                    "abnormal_flag",
                    "result_status",
                    "source",
                ],
            )?,
            procedure: open("procedure", &["patient_key", "procedure_code", "procedure_date", "source"])?,
        })
    }

    pub fn all(&mut self) -> [&mut CsvOut; 8] {
        [
            &mut self.patient,
            &mut self.observation_period,
            &mut self.encounter,
            &mut self.diagnosis,
            &mut self.drug_order,
            &mut self.drug_administration,
            &mut self.lab_result,
            &mut self.procedure,
        ]
    }
}

/// Rows written per table, in the order of `schema::CLINICAL_TABLES`.
pub type RowCounts = [u64; 8];

/// A well-spread 64-bit seed for (network seed, site, patient), so that every patient's data
/// depend only on these three numbers, whatever the order or parallelism of generation.
pub fn mix(seed: u64, site: u64, patient: u64) -> u64 {
    let mut z = seed ^ site.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ patient.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
