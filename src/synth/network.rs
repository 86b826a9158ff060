//! The cooperating hospitals of a synthetic network and how each differs: its institution's name
//! and the spellings of its hospitals (for the data center's registry), its data sources, how it
//! writes dates and sex codes, its lab methods, units, reference ranges and test habits.
//!
//! The institutions are fictional; their names follow the patterns of real Japanese hospital names
//! so that the export gate's name matching meets realistic spellings (kanji, English, short forms).

use rand::{Rng, RngExt};

use super::labs::{ANALYTES, Analyte};

/// (Japanese name, English name, other spellings of its hospitals)
const INSTITUTIONS: [(&str, &str, &[&str]); 12] = [
    (
        "北山大学病院",
        "Kitayama University Hospital",
        &["北山大学医学部附属病院", "北山大病院", "Kitayama Univ. Hospital"],
    ),
    (
        "東浜医療センター",
        "Higashihama Medical Center",
        &["東浜総合医療センター", "東浜医療C", "Higashihama Medical Centre"],
    ),
    ("西陵大学附属病院", "Seiryo University Hospital", &["西陵大学病院", "西陵大附属病院", "Seiryo Univ. Hospital"]),
    (
        "南郷記念病院グループ",
        "Nango Memorial Hospital Group",
        &["南郷記念病院", "南郷記念第二病院", "Nango Memorial Hospital", "Nango Memorial Second Hospital"],
    ),
    ("青葉台中央病院", "Aobadai Central Hospital", &["青葉台中央総合病院", "Aobadai Chuo Hospital"]),
    (
        "桜川医科大学病院",
        "Sakuragawa Medical University Hospital",
        &["桜川医大病院", "桜川医科大学附属病院", "Sakuragawa Med. Univ. Hospital"],
    ),
    ("若葉総合医療センター", "Wakaba General Medical Center", &["若葉総合病院", "Wakaba General Hospital"]),
    (
        "緑ヶ丘大学病院",
        "Midorigaoka University Hospital",
        &["緑が丘大学病院", "緑ケ丘大学病院", "Midorigaoka Univ. Hospital"],
    ),
    (
        "瑞穂赤十字病院",
        "Mizuho Red Cross Hospital",
        &["瑞穂日赤", "日本赤十字社瑞穂病院", "Japanese Red Cross Mizuho Hospital"],
    ),
    ("白鷺市民病院", "Shirasagi City Hospital", &["白鷺市立病院", "市立白鷺病院", "Shirasagi Municipal Hospital"]),
    (
        "高砂医療生協病院グループ",
        "Takasago Co-op Hospital Group",
        &["高砂協同病院", "高砂生協病院", "Takasago Kyodo Hospital"],
    ),
    (
        "朝日ヶ浦大学医学部附属病院",
        "Asahigaura University Hospital",
        &["朝日ヶ浦大学病院", "朝日が浦大学病院", "Asahigaura Univ. Hospital"],
    ),
];

/// How a site writes dates in the files it hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    Iso,
    Slashes,
}

/// One analyte as a site measures and reports it.
#[derive(Debug, Clone)]
pub struct SiteAnalyte {
    /// The full 17-character JLAC10 code the site uses (its own method code).
    pub jlac10: String,
    pub unit: &'static str,
    /// reported value = canonical value / factor
    pub factor: f64,
    /// The site's reference range (canonical unit), for women and men.
    pub ref_low: [f64; 2],
    pub ref_high: [f64; 2],
}

#[derive(Debug, Clone)]
pub struct SiteProfile {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub has_claims: bool,
    pub has_dpc: bool,
    pub date_style: DateStyle,
    /// Sex written as 1/2 (claims style) instead of M/F.
    pub numeric_sex: bool,
    pub analytes: Vec<SiteAnalyte>,
    /// Chance that a test day includes each panel: liver, kidney, blood count, white-cell
    /// differential, electrolytes, interstitial-pneumonia markers.
    pub panel_chance: [f64; 6],
    /// Share of results sent without a reference range.
    pub missing_range: f64,
    /// Multiplies the mean interval between lab tests.
    pub test_interval_factor: f64,
    /// Log-odds shift of choosing a new drug over its comparator (early or late adopters).
    pub adoption: f64,
    /// Multiplies every background hazard (case mix).
    pub hazard_factor: f64,
}

/// The profile of site `index` (0-based), drawn from the network's seed.
pub fn site_profile<R: Rng>(index: usize, rng: &mut R) -> SiteProfile {
    let (ja, en, spellings) = INSTITUTIONS[index % INSTITUTIONS.len()];
    let round = index / INSTITUTIONS.len();
    let suffix = |s: &str| if round == 0 { s.to_string() } else { format!("{s} {}", round + 1) };
    let mut aliases: Vec<String> = vec![suffix(en)];
    aliases.extend(spellings.iter().map(|s| suffix(s)));
    let platelets_in_10k = rng.random_bool(0.6);
    let wbc_per_ul = rng.random_bool(0.4);
    let analytes = ANALYTES.iter().map(|a| site_analyte(a, platelets_in_10k, wbc_per_ul, rng)).collect();
    SiteProfile {
        index,
        id: format!("site{:02}", index + 1),
        name: suffix(ja),
        aliases,
        has_claims: rng.random_bool(0.7),
        has_dpc: rng.random_bool(0.6),
        date_style: if rng.random_bool(0.3) { DateStyle::Slashes } else { DateStyle::Iso },
        numeric_sex: rng.random_bool(0.3),
        analytes,
        panel_chance: [
            rng.random_range(0.65..0.90),
            rng.random_range(0.70..0.90),
            rng.random_range(0.65..0.90),
            rng.random_range(0.20..0.60),
            rng.random_range(0.45..0.75),
            rng.random_range(0.00..0.03),
        ],
        missing_range: if rng.random_bool(0.3) { rng.random_range(0.02..0.15) } else { 0.0 },
        test_interval_factor: rng.random_range(0.8..1.3),
        adoption: rng.random_range(-0.5..0.5),
        hazard_factor: rng.random_range(0.8..1.25),
    }
}

fn site_analyte<R: Rng>(a: &Analyte, platelets_in_10k: bool, wbc_per_ul: bool, rng: &mut R) -> SiteAnalyte {
    let method: u32 = rng.random_range(1..=3) * 10 + rng.random_range(0..=2);
    let jlac10 = format!("{}0000{}{:03}01", a.code, a.specimen, 270 + method);
    let (unit, factor) = match a.id {
        "platelets" if platelets_in_10k => ("10^4/uL", 10.0),
        "wbc" | "neutrophils" | "lymphocytes" | "eosinophils" if wbc_per_ul => ("/uL", 0.001),
        _ => (a.unit, 1.0),
    };
    // Each site's reference range is the common range moved by a few per cent.
    let shift = 1.0 + rng.random_range(-0.06..0.06);
    let stretch = 1.0 + rng.random_range(-0.08..0.08);
    let range = |low: f64, high: f64| {
        let mid = 0.5 * (low + high) * shift;
        let half = 0.5 * (high - low) * stretch;
        (round_to(mid - half, a.decimals), round_to(mid + half, a.decimals))
    };
    let (fl, fh) = range(a.ref_female.0, a.ref_female.1);
    let (ml, mh) = range(a.ref_male.0, a.ref_male.1);
    SiteAnalyte { jlac10, unit, factor, ref_low: [fl, ml], ref_high: [fh, mh] }
}

fn round_to(v: f64, decimals: u32) -> f64 {
    let p = 10f64.powi(decimals as i32);
    (v * p).round() / p
}
