//! Age bands as people write them (`40-44`, `40～44歳`, `[40,45)`, `20代`, `85+`, `85歳以上`,
//! `<20`, `42`), and the coarsening that makes a set of bands meet the rules (at least
//! `age_band_width` years wide, everyone from `top_age_band` up in one open band).

use super::text::fold;

/// A band of whole years of age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Band {
    /// From `lo` to `hi` years, both included.
    Closed { lo: u32, hi: u32 },
    /// `lo` years and older.
    Open { lo: u32 },
}

impl Band {
    pub fn lo(self) -> u32 {
        match self {
            Band::Closed { lo, .. } | Band::Open { lo } => lo,
        }
    }

    /// How a re-banded band is written.
    pub fn label(self) -> String {
        match self {
            Band::Closed { lo, hi } => format!("{lo}-{hi}"),
            Band::Open { lo } => format!("{lo}+"),
        }
    }

    /// Why this band breaks the rules, if it does.
    pub fn problem(self, width: u32, top: u32) -> Option<String> {
        match self {
            Band::Closed { lo, hi } if hi - lo + 1 < width => Some(format!(
                "is {} year{} wide; bands must be at least {width} years wide",
                hi - lo + 1,
                if hi == lo { "" } else { "s" }
            )),
            Band::Closed { hi, .. } if hi >= top => {
                Some(format!("reaches past {}: everyone aged {top} and over must be in one band `{top}+`", top - 1))
            }
            Band::Open { lo } if lo > top => Some(format!(
                "leaves people aged {top} to {} in other bands: the top band must start at {top} or below (`{top}+`)",
                lo - 1
            )),
            _ => None,
        }
    }
}

/// Read an age band. `None` when the text is not one.
pub fn parse_band(text: &str) -> Option<Band> {
    let mut t = fold(text).replace(['–', '—', '−', '〜', '～', '~'], "-");
    for prefix in ["aged", "ages", "age", "年齢"] {
        if let Some(rest) = t.strip_prefix(prefix) {
            t = rest.trim_start_matches([' ', ':']).to_string();
            break;
        }
    }
    for suffix in ["years old", "years", "year", "yrs", "yo", "y", "歳", "才"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            t = rest.trim_end().to_string();
            break;
        }
    }
    let t = t.replace(' ', "");
    parse_open(&t).or_else(|| parse_closed(&t))
}

fn int(s: &str) -> Option<u32> {
    let s = s.trim_end_matches(['歳', '才']);
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    // `4.99` in `0-4.99`: whole years.
    s.parse::<f64>().ok().filter(|v| *v >= 0.0 && *v < 200.0).map(|v| v.floor() as u32)
}

fn parse_open(t: &str) -> Option<Band> {
    for suffix in ["+", "以上", "andover", "andolder", "orolder", "ormore", "over", "-"] {
        if let Some(n) = t.strip_suffix(suffix).and_then(int) {
            return Some(Band::Open { lo: n });
        }
    }
    for prefix in [">=", "≥", "≧"] {
        if let Some(n) = t.strip_prefix(prefix).and_then(int) {
            return Some(Band::Open { lo: n });
        }
    }
    t.strip_prefix('>').and_then(int).map(|n| Band::Open { lo: n + 1 })
}

fn parse_closed(t: &str) -> Option<Band> {
    for prefix in ["<=", "≤", "≦"] {
        if let Some(n) = t.strip_prefix(prefix).and_then(int) {
            return Some(Band::Closed { lo: 0, hi: n });
        }
    }
    if let Some(n) = t.strip_prefix('<').or_else(|| t.strip_prefix("under")).and_then(int) {
        return (n > 0).then(|| Band::Closed { lo: 0, hi: n - 1 });
    }
    if let Some(n) = t.strip_suffix("以下").and_then(int) {
        return Some(Band::Closed { lo: 0, hi: n });
    }
    if let Some(n) = t.strip_suffix("未満").and_then(int) {
        return (n > 0).then(|| Band::Closed { lo: 0, hi: n - 1 });
    }
    // `20代`: the twenties.
    if let Some(n) = t.strip_suffix('代').and_then(int) {
        return Some(Band::Closed { lo: n, hi: n + 9 });
    }
    // Interval notation: `[40,45)`, `[40,44]`, `(39,44]`.
    if let (Some(open), Some(close)) = (t.chars().next(), t.chars().last())
        && matches!(open, '[' | '(')
        && matches!(close, ']' | ')')
        && let Some((a, b)) = t[1..t.len() - 1].split_once(',')
    {
        let lo = int(a)? + u32::from(open == '(');
        let hi = int(b)?.checked_sub(u32::from(close == ')'))?;
        return (hi >= lo).then_some(Band::Closed { lo, hi });
    }
    for sep in ["-", "to"] {
        if let Some((a, b)) = t.split_once(sep) {
            let (lo, hi) = (int(a)?, int(b)?);
            return (hi >= lo).then_some(Band::Closed { lo, hi });
        }
    }
    int(t).map(|n| Band::Closed { lo: n, hi: n })
}

/// The coarsest-needed re-banding of a set of bands: each band maps to a band that meets the
/// rules. Bands already wide enough keep their limits; narrower ones widen to the grid of
/// `width`-year bands starting at 0; everything reaching `top` joins one open band; and bands that
/// would overlap after widening merge, so that every person is counted in exactly one band.
pub fn reband(bands: &[Band], width: u32, top: u32) -> Vec<Band> {
    let widened: Vec<(u32, Option<u32>)> = bands.iter().map(|&b| widen(b, width, top)).collect();
    // Merge overlapping intervals (hi None = open).
    let mut sorted = widened.clone();
    sorted.sort();
    sorted.dedup();
    let mut merged: Vec<(u32, Option<u32>)> = Vec::new();
    for (lo, hi) in sorted {
        match merged.last_mut() {
            Some((_, last_hi)) if last_hi.is_none_or(|h| lo <= h) => {
                *last_hi = match (*last_hi, hi) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            _ => merged.push((lo, hi)),
        }
    }
    widened
        .iter()
        .map(|&(lo, _)| {
            let &(mlo, mhi) = merged.iter().rev().find(|(mlo, _)| *mlo <= lo).expect("each band lies in a merged band");
            match mhi {
                Some(hi) => Band::Closed { lo: mlo, hi },
                None => Band::Open { lo: mlo },
            }
        })
        .collect()
}

fn widen(band: Band, width: u32, top: u32) -> (u32, Option<u32>) {
    let (lo, hi) = match band {
        Band::Closed { lo, hi } => (lo, Some(hi)),
        Band::Open { lo } => (lo, None),
    };
    let reaches_top = hi.is_none_or(|h| h >= top);
    let lo = if reaches_top && lo > top { top } else { lo };
    let wide_enough = hi.is_some_and(|h| h - lo + 1 >= width);
    let lo = if wide_enough || reaches_top { lo } else { lo / width * width };
    if reaches_top {
        return (lo.min(top), None);
    }
    let hi = hi.expect("a band below the top is closed");
    let hi = if wide_enough { hi } else { ((hi / width) + 1) * width - 1 };
    if hi >= top { (lo, None) } else { (lo, Some(hi)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(lo: u32, hi: u32) -> Band {
        Band::Closed { lo, hi }
    }

    #[test]
    fn parses_the_usual_spellings() {
        for (text, band) in [
            ("40-44", c(40, 44)),
            ("40～44歳", c(40, 44)),
            ("４０－４４", c(40, 44)),
            ("Age 40 to 44", c(40, 44)),
            ("[40,45)", c(40, 44)),
            ("(39,44]", c(40, 44)),
            ("20代", c(20, 29)),
            ("<20", c(0, 19)),
            ("20歳未満", c(0, 19)),
            ("42", c(42, 42)),
            ("42歳", c(42, 42)),
            ("0-4.99", c(0, 4)),
            ("85+", Band::Open { lo: 85 }),
            ("85歳以上", Band::Open { lo: 85 }),
            ("85 and over", Band::Open { lo: 85 }),
            ("≥85", Band::Open { lo: 85 }),
            (">84", Band::Open { lo: 85 }),
            ("85-", Band::Open { lo: 85 }),
        ] {
            assert_eq!(parse_band(text), Some(band), "{text}");
        }
        for text in ["Male", "total", "", "44-40", "all-cause"] {
            assert_eq!(parse_band(text), None, "{text}");
        }
    }

    #[test]
    fn problems() {
        assert!(c(40, 44).problem(5, 85).is_none());
        assert!(c(40, 41).problem(5, 85).unwrap().contains("2 years wide"));
        assert!(c(80, 89).problem(5, 85).unwrap().contains("85 and over"));
        assert!(Band::Open { lo: 90 }.problem(5, 85).unwrap().contains("85 to 89"));
        assert!(Band::Open { lo: 80 }.problem(5, 85).is_none());
        assert!(c(0, 19).problem(5, 85).is_none());
    }

    #[test]
    fn rebanding() {
        let singles: Vec<Band> = (80..=92).map(|a| c(a, a)).collect();
        let out = reband(&singles, 5, 85);
        assert_eq!(out[0], c(80, 84));
        assert_eq!(out[4], c(80, 84));
        assert_eq!(out[5], Band::Open { lo: 85 });
        assert_eq!(out[12], Band::Open { lo: 85 });

        // Wide bands keep their limits; a band straddling the grid merges its neighbours.
        let out = reband(&[c(0, 19), c(20, 22), c(23, 27), c(28, 29), c(80, 89), Band::Open { lo: 90 }], 5, 85);
        assert_eq!(out, vec![c(0, 19), c(20, 29), c(20, 29), c(20, 29), Band::Open { lo: 80 }, Band::Open { lo: 80 }]);

        // Every output band meets the rules.
        for b in out {
            assert!(b.problem(5, 85).is_none(), "{b:?}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn cases() -> u32 {
        std::env::var("MIDNET_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
    }

    /// Consecutive bands from 0 with random widths, the last one open.
    fn bands() -> impl Strategy<Value = Vec<Band>> {
        prop::collection::vec(1u32..12, 1..20).prop_map(|widths| {
            let mut lo = 0;
            let mut out = Vec::new();
            for w in widths {
                out.push(Band::Closed { lo, hi: lo + w - 1 });
                lo += w;
            }
            out.push(Band::Open { lo });
            out
        })
    }

    fn contains(outer: Band, inner: Band) -> bool {
        match (outer, inner) {
            (Band::Open { lo }, b) => b.lo() >= lo,
            (Band::Closed { lo, hi }, Band::Closed { lo: a, hi: b }) => lo <= a && b <= hi,
            (Band::Closed { .. }, Band::Open { .. }) => false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// Every re-banded band meets the rules, holds the band it replaces, and two bands either
        /// coincide or do not overlap (everyone is counted once).
        #[test]
        fn rebanding_meets_the_rules_and_partitions(input in bands()) {
            let out = reband(&input, 5, 85);
            for (i, o) in input.iter().zip(&out) {
                prop_assert!(o.problem(5, 85).is_none(), "{o:?}");
                prop_assert!(contains(*o, *i), "{o:?} does not hold {i:?}");
            }
            for a in &out {
                for b in &out {
                    prop_assert!(a == b || !(contains(*a, Band::Closed { lo: b.lo(), hi: b.lo() })), "{a:?} overlaps {b:?}");
                }
            }
        }
    }
}
