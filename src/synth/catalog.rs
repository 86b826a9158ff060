//! What the synthetic network is made of: the study drug pairs (a fictional new drug against a real
//! comparator of the same class, each tied to an indication), the background drugs, and the latent
//! lab abnormalities whose hazards carry the planted effects.
//!
//! The new drugs are fictional (novagliptin, tirogabalin, …) so that no planted effect can be read as
//! a claim about a real medicine; comparators and background drugs are real ingredients with their
//! real therapeutic classes and YJ-format codes from `sql/masters/drug_master.csv`.

/// A latent lab abnormality: from its onset, the patient's results of one analyte are abnormal for a
/// while. Each has a background hazard that depends on age and sex only, and a drug may multiply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Process {
    /// ALT above 3 x ULN (AST and bilirubin often follow).
    Liver,
    /// AST above 3 x ULN without ALT.
    Ast,
    Alp,
    Ggt,
    Bilirubin,
    /// Creatinine rise taking eGFR below 60.
    Kidney,
    Platelets,
    WhiteCells,
    Neutrophils,
    Lymphocytes,
    Haemoglobin,
    Eosinophils,
    PotassiumHigh,
    PotassiumLow,
    SodiumLow,
    SodiumHigh,
    CalciumLow,
    Kl6,
    SpD,
    SpA,
}

impl Process {
    pub const ALL: [Process; 20] = [
        Process::Liver,
        Process::Ast,
        Process::Alp,
        Process::Ggt,
        Process::Bilirubin,
        Process::Kidney,
        Process::Platelets,
        Process::WhiteCells,
        Process::Neutrophils,
        Process::Lymphocytes,
        Process::Haemoglobin,
        Process::Eosinophils,
        Process::PotassiumHigh,
        Process::PotassiumLow,
        Process::SodiumLow,
        Process::SodiumHigh,
        Process::CalciumLow,
        Process::Kl6,
        Process::SpD,
        Process::SpA,
    ];

    pub fn index(self) -> usize {
        Process::ALL.iter().position(|p| *p == self).expect("every process is in ALL")
    }

    /// Background hazard per year at age 60 for a woman.
    pub fn base_hazard(self) -> f64 {
        match self {
            Process::Liver => 0.050,
            Process::Ast => 0.010,
            Process::Alp => 0.012,
            Process::Ggt => 0.020,
            Process::Bilirubin => 0.010,
            Process::Kidney => 0.060,
            Process::Platelets => 0.040,
            Process::WhiteCells => 0.020,
            Process::Neutrophils => 0.015,
            Process::Lymphocytes => 0.020,
            Process::Haemoglobin => 0.030,
            Process::Eosinophils => 0.020,
            Process::PotassiumHigh => 0.040,
            Process::PotassiumLow => 0.015,
            Process::SodiumLow => 0.020,
            Process::SodiumHigh => 0.006,
            Process::CalciumLow => 0.010,
            Process::Kl6 => 0.006,
            Process::SpD => 0.004,
            Process::SpA => 0.004,
        }
    }

    /// The outcome ids of the early-safety protocol's outcome library that this process can raise.
    /// An effect planted on a process is "known" only for its primary outcome; the others it touches
    /// are left out of truth.json's no-effect list.
    pub fn outcomes(self) -> &'static [&'static str] {
        match self {
            Process::Liver => &[
                "alt_gt_3uln",
                "alt_gt_5uln",
                "ast_gt_3uln",
                "ast_gt_5uln",
                "alt_or_ast_gt_3uln",
                "alt_or_ast_gt_5uln",
                "tbil_gt_1_5uln",
                "tbil_gt_3uln",
                "hys_law",
                "hys_law_no_cholestasis",
            ],
            Process::Ast => &[
                "ast_gt_3uln",
                "ast_gt_5uln",
                "alt_or_ast_gt_3uln",
                "alt_or_ast_gt_5uln",
                "hys_law",
                "hys_law_no_cholestasis",
            ],
            Process::Alp => &["alp_gt_2_5uln", "alp_gt_5uln", "hys_law_no_cholestasis"],
            Process::Ggt => &["ggt_gt_2_5uln", "ggt_gt_5uln"],
            Process::Bilirubin => &["tbil_gt_1_5uln", "tbil_gt_3uln", "hys_law", "hys_law_no_cholestasis"],
            Process::Kidney => &["egfr_lt_60", "egfr_lt_30", "kdigo_stage1", "kdigo_stage3", "kdigo_stage1_windowed"],
            Process::Platelets => &["platelets_lt_75k", "platelets_lt_50k"],
            Process::WhiteCells => &["wbc_lt_3k", "wbc_lt_2k"],
            Process::Neutrophils => &["neutrophils_lt_1_5k", "neutrophils_lt_1k"],
            Process::Lymphocytes => &["lymphocytes_lt_0_8k", "lymphocytes_lt_0_5k"],
            Process::Haemoglobin => &["hb_lt_10", "hb_lt_8"],
            Process::Eosinophils => &["eosinophils_gt_uln"],
            Process::PotassiumHigh => &["potassium_gt_5_5", "potassium_gt_6"],
            Process::PotassiumLow => &["potassium_lt_3"],
            Process::SodiumLow => &["sodium_lt_130", "sodium_lt_125"],
            Process::SodiumHigh => &["sodium_gt_150"],
            Process::CalciumLow => &["calcium_lt_8", "calcium_lt_7"],
            Process::Kl6 => &["kl6_gt_500"],
            Process::SpD => &["spd_gt_110"],
            Process::SpA => &["spa_gt_43_8"],
        }
    }
}

/// Every outcome id the synthetic network is built to exercise, in library order. The early-safety
/// protocol's outcome library (`sql/outcomes.toml`) defines each; a test holds the two together.
pub fn all_outcomes() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = Vec::new();
    for p in Process::ALL {
        for id in p.outcomes() {
            if !ids.contains(id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// A study drug pair: a fictional new drug and a real comparator of the same class.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub new_drug: &'static str,
    pub comparator: &'static str,
    /// ICD-10 codes of the indication (the first is recorded as the main diagnosis).
    pub indication: &'static [&'static str],
    /// Share of adult patients aged 60 who have the indication.
    pub prevalence: f64,
    /// Yearly increase of the log-odds of the indication per decade of age.
    pub age_slope: f64,
    /// Launch of the new drug, as days since 1970-01-01.
    pub launch: i32,
    /// Mean duration of continuous use in days (short for acute treatments).
    pub persistence_days: f64,
    /// Days supplied per prescription, drawn uniformly.
    pub days_supply: &'static [u16],
    /// The planted effect: the process whose hazard the new drug multiplies, and by how much.
    pub effect: Option<(Process, f64)>,
    pub route_injection: bool,
}

const fn day(y: i32, m: u32, d: u32) -> i32 {
    // Days from civil date (Howard Hinnant's algorithm), usable in const context.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

pub const fn days(y: i32, m: u32, d: u32) -> i32 {
    day(y, m, d)
}

const CHRONIC: &[u16] = &[28, 28, 30, 56, 84, 90];
const ACUTE: &[u16] = &[5, 7, 7, 10, 14];

pub const PAIRS: [Pair; 25] = [
    Pair {
        new_drug: "novagliptin",
        comparator: "sitagliptin",
        indication: &["E119", "E114"],
        prevalence: 0.16,
        age_slope: 0.30,
        launch: day(2021, 6, 1),
        persistence_days: 320.0,
        days_supply: CHRONIC,
        effect: Some((Process::Liver, 3.0)),
        route_injection: false,
    },
    Pair {
        new_drug: "tirogabalin",
        comparator: "pregabalin",
        indication: &["G629", "G530", "M545"],
        prevalence: 0.20,
        age_slope: 0.25,
        launch: day(2021, 4, 1),
        persistence_days: 260.0,
        days_supply: CHRONIC,
        effect: Some((Process::Kidney, 2.5)),
        route_injection: false,
    },
    Pair {
        new_drug: "tenecoxib",
        comparator: "celecoxib",
        indication: &["M179", "M069", "M545"],
        prevalence: 0.16,
        age_slope: 0.25,
        launch: day(2021, 9, 1),
        persistence_days: 220.0,
        days_supply: CHRONIC,
        effect: Some((Process::Platelets, 3.0)),
        route_injection: false,
    },
    Pair {
        new_drug: "zeserenone",
        comparator: "eplerenone",
        indication: &["I10", "I509"],
        prevalence: 0.18,
        age_slope: 0.35,
        launch: day(2022, 1, 1),
        persistence_days: 330.0,
        days_supply: CHRONIC,
        effect: Some((Process::PotassiumHigh, 2.5)),
        route_injection: false,
    },
    Pair {
        new_drug: "xeltisartan",
        comparator: "candesartan",
        indication: &["I10"],
        prevalence: 0.05,
        age_slope: 0.35,
        launch: day(2021, 5, 1),
        persistence_days: 360.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "corvastatin",
        comparator: "atorvastatin",
        indication: &["E785", "E780"],
        prevalence: 0.05,
        age_slope: 0.25,
        launch: day(2021, 7, 1),
        persistence_days: 340.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "nexoprazole",
        comparator: "lansoprazole",
        indication: &["K219"],
        prevalence: 0.04,
        age_slope: 0.15,
        launch: day(2021, 11, 1),
        persistence_days: 200.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "ridagliflozin",
        comparator: "dapagliflozin",
        indication: &["E119"],
        prevalence: 0.04,
        age_slope: 0.25,
        launch: day(2021, 8, 1),
        persistence_days: 300.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "velixaban",
        comparator: "apixaban",
        indication: &["I489"],
        prevalence: 0.03,
        age_slope: 0.50,
        launch: day(2021, 10, 1),
        persistence_days: 360.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "trescitalopram",
        comparator: "escitalopram",
        indication: &["F329", "F411"],
        prevalence: 0.03,
        age_slope: -0.05,
        launch: day(2021, 4, 1),
        persistence_days: 200.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "fimorexant",
        comparator: "suvorexant",
        indication: &["G470"],
        prevalence: 0.04,
        age_slope: 0.20,
        launch: day(2021, 6, 1),
        persistence_days: 150.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "tezofloxacin",
        comparator: "levofloxacin",
        indication: &["J189", "N390"],
        prevalence: 0.04,
        age_slope: 0.20,
        launch: day(2021, 4, 1),
        persistence_days: 7.0,
        days_supply: ACUTE,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "sorithromycin",
        comparator: "clarithromycin",
        indication: &["J209", "J069"],
        prevalence: 0.04,
        age_slope: 0.0,
        launch: day(2021, 4, 1),
        persistence_days: 7.0,
        days_supply: ACUTE,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "fexastine",
        comparator: "fexofenadine",
        indication: &["J301", "L509"],
        prevalence: 0.04,
        age_slope: -0.10,
        launch: day(2021, 9, 1),
        persistence_days: 90.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "zeldipine",
        comparator: "amlodipine",
        indication: &["I10"],
        prevalence: 0.05,
        age_slope: 0.35,
        launch: day(2021, 12, 1),
        persistence_days: 360.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "norbisolol",
        comparator: "bisoprolol",
        indication: &["I489", "I509"],
        prevalence: 0.03,
        age_slope: 0.45,
        launch: day(2021, 6, 1),
        persistence_days: 330.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "feloxostat",
        comparator: "febuxostat",
        indication: &["M109"],
        prevalence: 0.03,
        age_slope: 0.20,
        launch: day(2021, 7, 1),
        persistence_days: 300.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "ibadronate",
        comparator: "alendronate",
        indication: &["M810"],
        prevalence: 0.03,
        age_slope: 0.45,
        launch: day(2021, 10, 1),
        persistence_days: 280.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "brivetiracetam",
        comparator: "levetiracetam",
        indication: &["G409"],
        prevalence: 0.02,
        age_slope: 0.0,
        launch: day(2021, 5, 1),
        persistence_days: 360.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "luraperidone",
        comparator: "aripiprazole",
        indication: &["F209"],
        prevalence: 0.02,
        age_slope: -0.05,
        launch: day(2021, 8, 1),
        persistence_days: 300.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "naftosulosin",
        comparator: "tamsulosin",
        indication: &["N401"],
        prevalence: 0.03,
        age_slope: 0.50,
        launch: day(2021, 6, 1),
        persistence_days: 320.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "tigrelor",
        comparator: "clopidogrel",
        indication: &["I639", "I251"],
        prevalence: 0.03,
        age_slope: 0.45,
        launch: day(2021, 9, 1),
        persistence_days: 340.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "tolfenacin",
        comparator: "solifenacin",
        indication: &["N328"],
        prevalence: 0.03,
        age_slope: 0.40,
        launch: day(2021, 11, 1),
        persistence_days: 220.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "velukast",
        comparator: "montelukast",
        indication: &["J459", "J301"],
        prevalence: 0.03,
        age_slope: -0.10,
        launch: day(2021, 4, 1),
        persistence_days: 200.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
    Pair {
        new_drug: "nizotidine",
        comparator: "famotidine",
        indication: &["K297"],
        prevalence: 0.03,
        age_slope: 0.10,
        launch: day(2021, 7, 1),
        persistence_days: 150.0,
        days_supply: CHRONIC,
        effect: None,
        route_injection: false,
    },
];

/// Drugs given outside the study pairs, for realism: (ingredient, days supplied choices, chance per
/// patient-year of a course for a chronic patient).
pub const BACKGROUND: [(&str, &[u16], f64); 9] = [
    ("loxoprofen", ACUTE, 0.35),
    ("rebamipide", ACUTE, 0.30),
    ("acetaminophen", ACUTE, 0.25),
    ("cefcapene pivoxil", ACUTE, 0.15),
    ("magnesium oxide", CHRONIC, 0.10),
    ("furosemide", CHRONIC, 0.06),
    ("prednisolone", ACUTE, 0.06),
    ("metformin", CHRONIC, 0.08),
    ("insulin glargine", CHRONIC, 0.02),
];

/// Drugs given during inpatient stays (injections).
pub const INPATIENT: [&str; 2] = ["ceftriaxone", "heparin"];

/// Conditions diagnosed without a study drug, for realism: (ICD-10, yearly chance for a chronic patient).
pub const OTHER_DIAGNOSES: [(&str, f64); 14] = [
    ("J069", 0.20),
    ("R509", 0.08),
    ("R51", 0.06),
    ("K297", 0.05),
    ("M545", 0.08),
    ("L309", 0.05),
    ("N390", 0.04),
    ("D649", 0.04),
    ("I251", 0.02),
    ("C349", 0.005),
    ("C189", 0.005),
    ("C169", 0.004),
    ("S7200", 0.004),
    ("Z000", 0.10),
];

/// Claims procedure codes (診療行為コード-shaped) for visits, lab panels and admissions.
pub const PROCEDURE_OUTPATIENT_VISIT: &str = "112007410";
pub const PROCEDURE_LAB_PANEL: &str = "160000310";
pub const PROCEDURE_ADMISSION: &str = "190117710";
