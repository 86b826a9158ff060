//! The analytes the synthetic sites measure, with the common reference intervals of Japanese labs
//! (JCCLS 2022 common reference intervals; each site moves them a little), and how a patient's
//! results are drawn: a stable personal level with measurement noise while well, and an abnormal
//! value from the onset of a latent abnormality until it resolves.
//!
//! While well, results are kept inside a band that no outcome definition's threshold crosses, so
//! every outcome event in the data comes from a latent abnormality whose hazard is known: that is
//! what makes the planted hazard ratios recoverable by a Cox model of the lab-defined outcome.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, StandardNormal};

use super::catalog::Process;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Liver,
    Kidney,
    BloodCount,
    Differential,
    Electrolytes,
    PneumoniaMarkers,
}

impl Panel {
    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Analyte {
    /// The lab master's analyte id.
    pub id: &'static str,
    /// JLAC10 analyte code (characters 1-5) and specimen code (characters 10-12).
    pub code: &'static str,
    pub specimen: &'static str,
    pub unit: &'static str,
    pub decimals: u32,
    /// Common reference interval (canonical unit) for women and for men.
    pub ref_female: (f64, f64),
    pub ref_male: (f64, f64),
    pub panel: Panel,
    /// Coefficient of variation of a well patient's repeated results.
    pub cv: f64,
}

// One positional argument per field keeps the analyte table below at one line per analyte.
#[allow(clippy::too_many_arguments)]
const fn analyte(
    id: &'static str,
    code: &'static str,
    specimen: &'static str,
    unit: &'static str,
    decimals: u32,
    ref_female: (f64, f64),
    ref_male: (f64, f64),
    panel: Panel,
    cv: f64,
) -> Analyte {
    Analyte { id, code, specimen, unit, decimals, ref_female, ref_male, panel, cv }
}

pub const ALT: usize = 0;
pub const AST: usize = 1;
pub const ALP: usize = 2;
pub const GGT: usize = 3;
pub const TBIL: usize = 4;
pub const CREATININE: usize = 5;
pub const WBC: usize = 6;
pub const HB: usize = 7;
pub const PLATELETS: usize = 8;
pub const NEUTROPHILS: usize = 9;
pub const LYMPHOCYTES: usize = 10;
pub const EOSINOPHILS: usize = 11;
pub const SODIUM: usize = 12;
pub const POTASSIUM: usize = 13;
pub const CALCIUM: usize = 14;
pub const ALBUMIN: usize = 15;
pub const KL6: usize = 16;
pub const SPD: usize = 17;
pub const SPA: usize = 18;

pub const ANALYTES: [Analyte; 19] = [
    analyte("alt", "3B045", "023", "U/L", 0, (7.0, 23.0), (10.0, 42.0), Panel::Liver, 0.15),
    analyte("ast", "3B035", "023", "U/L", 0, (13.0, 30.0), (13.0, 30.0), Panel::Liver, 0.12),
    analyte("alp", "3B070", "023", "U/L", 0, (38.0, 113.0), (38.0, 113.0), Panel::Liver, 0.10),
    analyte("ggt", "3B090", "023", "U/L", 0, (9.0, 32.0), (13.0, 64.0), Panel::Liver, 0.12),
    analyte("tbil", "3J010", "023", "mg/dL", 1, (0.4, 1.5), (0.4, 1.5), Panel::Liver, 0.15),
    analyte("creatinine", "3C015", "023", "mg/dL", 2, (0.46, 0.79), (0.65, 1.07), Panel::Kidney, 0.05),
    analyte("wbc", "2A010", "019", "10^3/uL", 1, (3.3, 8.6), (3.3, 8.6), Panel::BloodCount, 0.12),
    analyte("hb", "2A030", "019", "g/dL", 1, (11.6, 14.8), (13.7, 16.8), Panel::BloodCount, 0.04),
    analyte("platelets", "2A050", "019", "10^3/uL", 0, (158.0, 348.0), (158.0, 348.0), Panel::BloodCount, 0.08),
    analyte("neutrophils", "2A160", "019", "10^3/uL", 2, (1.8, 6.4), (1.8, 6.4), Panel::Differential, 0.15),
    analyte("lymphocytes", "2A170", "019", "10^3/uL", 2, (1.0, 3.5), (1.0, 3.5), Panel::Differential, 0.12),
    analyte("eosinophils", "2A180", "019", "10^3/uL", 2, (0.02, 0.5), (0.02, 0.5), Panel::Differential, 0.25),
    analyte("sodium", "3H010", "023", "mmol/L", 0, (138.0, 145.0), (138.0, 145.0), Panel::Electrolytes, 0.008),
    analyte("potassium", "3H015", "023", "mmol/L", 1, (3.6, 4.8), (3.6, 4.8), Panel::Electrolytes, 0.04),
    analyte("calcium", "3H030", "023", "mg/dL", 1, (8.8, 10.1), (8.8, 10.1), Panel::Electrolytes, 0.02),
    analyte("albumin", "3A015", "023", "g/dL", 1, (4.1, 5.1), (4.1, 5.1), Panel::Electrolytes, 0.04),
    analyte("kl6", "5C070", "023", "U/mL", 0, (105.0, 401.0), (105.0, 401.0), Panel::PneumoniaMarkers, 0.10),
    analyte("spd", "5C075", "023", "ng/mL", 1, (0.0, 110.0), (0.0, 110.0), Panel::PneumoniaMarkers, 0.10),
    analyte("spa", "5C073", "023", "ng/mL", 1, (0.0, 43.8), (0.0, 43.8), Panel::PneumoniaMarkers, 0.10),
];

/// eGFR (mL/min/1.73 m²) by the Japanese equation.
pub fn egfr(creatinine: f64, age: f64, female: bool) -> f64 {
    194.0 * creatinine.powf(-1.094) * age.powf(-0.287) * if female { 0.739 } else { 1.0 }
}

/// The creatinine giving `egfr` for this age and sex (the inverse of [`egfr`]).
pub fn creatinine_for(egfr_value: f64, age: f64, female: bool) -> f64 {
    let k = 194.0 * age.powf(-0.287) * if female { 0.739 } else { 1.0 };
    (egfr_value / k).powf(-1.0 / 1.094)
}

/// One onset of a latent abnormality in a patient's history.
#[derive(Debug, Clone, Copy)]
pub struct Episode {
    pub process: Process,
    pub onset: i32,
    pub end: i32,
    /// Severity, in the units [`abnormal_value`] reads it.
    pub severity: f64,
    /// For a liver episode: does AST rise with ALT, does bilirubin rise (Hy's law)?
    pub with_ast: bool,
    pub with_bilirubin: bool,
}

/// Draw the severity of an episode (a multiple of ULN for enzymes, or a value).
pub fn draw_severity<R: Rng>(process: Process, rng: &mut R) -> f64 {
    let e: f64 = Exp1.sample(rng);
    match process {
        Process::Liver | Process::Ast => (3.2 * (0.45 * e).exp()).min(20.0),
        Process::Alp | Process::Ggt => (2.6 * (0.5 * e).exp()).min(15.0),
        Process::Bilirubin => (1.6 * (0.5 * e).exp()).min(8.0),
        // The eGFR an episode reaches (see `patient::episodes`).
        Process::Kidney => rng.random_range(18.0..58.0),
        Process::Platelets => rng.random_range(20.0..74.0),
        Process::WhiteCells => rng.random_range(1.2..2.95),
        Process::Neutrophils => rng.random_range(0.3..1.45),
        Process::Lymphocytes => rng.random_range(0.2..0.78),
        Process::Haemoglobin => rng.random_range(6.5..9.9),
        Process::Eosinophils => rng.random_range(1.15..4.0),
        Process::PotassiumHigh => rng.random_range(5.6..6.8),
        Process::PotassiumLow => rng.random_range(2.4..2.95),
        Process::SodiumLow => rng.random_range(118.0..129.5),
        Process::SodiumHigh => rng.random_range(150.5..158.0),
        Process::CalciumLow => rng.random_range(6.2..7.9),
        Process::Kl6 => rng.random_range(520.0..2500.0),
        Process::SpD => rng.random_range(115.0..400.0),
        Process::SpA => rng.random_range(45.0..120.0),
    }
}

/// The process whose episodes make this analyte abnormal, and how the analyte reads an episode.
pub fn process_of(analyte: usize) -> Option<Process> {
    Some(match analyte {
        ALT => Process::Liver,
        AST => Process::Ast,
        ALP => Process::Alp,
        GGT => Process::Ggt,
        TBIL => Process::Bilirubin,
        CREATININE => Process::Kidney,
        WBC => Process::WhiteCells,
        HB => Process::Haemoglobin,
        PLATELETS => Process::Platelets,
        NEUTROPHILS => Process::Neutrophils,
        LYMPHOCYTES => Process::Lymphocytes,
        EOSINOPHILS => Process::Eosinophils,
        SODIUM => return None, // two processes (low and high): see `episode_value`
        POTASSIUM => return None,
        CALCIUM => Process::CalciumLow,
        KL6 => Process::Kl6,
        SPD => Process::SpD,
        SPA => Process::SpA,
        _ => return None,
    })
}

/// A patient's value of an analyte during an episode, or None when the episode does not touch it.
/// `uln` is the upper limit of the site's range for this patient; `level` the well level.
pub fn episode_value(analyte: usize, ep: &Episode, uln: f64, level: f64, albumin: f64) -> Option<f64> {
    let s = ep.severity;
    let v = match (analyte, ep.process) {
        (ALT, Process::Liver) => s * uln,
        (AST, Process::Liver) if ep.with_ast => s * uln * 0.85,
        (TBIL, Process::Liver) if ep.with_bilirubin => (2.1 + (s - 3.0).max(0.0) * 0.3) * uln,
        (AST, Process::Ast) => s * uln,
        (ALP, Process::Alp) | (GGT, Process::Ggt) | (TBIL, Process::Bilirubin) => s * uln,
        (CREATININE, Process::Kidney) => level / s,
        (EOSINOPHILS, Process::Eosinophils) => s * uln,
        (POTASSIUM, Process::PotassiumHigh) | (POTASSIUM, Process::PotassiumLow) => s,
        (SODIUM, Process::SodiumLow) | (SODIUM, Process::SodiumHigh) => s,
        // The episode's severity is the albumin-corrected calcium; report the measured one.
        (CALCIUM, Process::CalciumLow) => s - 0.8 * (4.0 - albumin).max(0.0),
        (a, p) if process_of(a) == Some(p) => s,
        _ => return None,
    };
    Some(v)
}

/// A well result: the personal level with multiplicative noise, kept inside the band that no
/// outcome threshold crosses.
pub fn well_value<R: Rng>(a: &Analyte, level: f64, band: (f64, f64), rng: &mut R) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    (level * (a.cv * z).exp()).clamp(band.0, band.1)
}
