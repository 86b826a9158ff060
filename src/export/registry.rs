//! The cooperating hospitals the gate must not name or break results down by, read from the data
//! center's site registry (`center::sites`: ids, names, aliases), plus the per-project pseudonyms a
//! project's tables may carry instead of ids.
//!
//! A hospital is named in many spellings: `北山大学病院`, `北山大病院`, `キタヤマ`, `ｷﾀﾔﾏ`,
//! `Kitayama Univ Hosp`, `kitayama`. Every registered name and alias, and every text checked, is
//! read the same way ([`Spelling`]): NFKC (full-width and half-width forms), lower case, kana as
//! romaji in one Hepburn spelling (`ou`/`oo`/`ō` → `o`, `shi`/`si`, `chi`/`ti`, `tsu`/`tu`, `fu`/`hu`,
//! `ji`/`zi`, `sha`/`sya`…), kanji runs kept as they are, and the generic words of hospital names
//! (university, univ, hospital, hosp, medical, med, center, ctr, 大学, 大, 病院, 病, 医療センター,
//! 附属, 総合, 市立…) taken off. What remains of a name is its distinctive part (`kitayama`, `北山`): a
//! text that contains it as a word of its own, or beside generic words, names the hospital. Full
//! names and aliases also match anywhere as before (compacted). A distinctive part shorter than 4
//! letters (2 for kanji) is not used alone: too many ordinary words would match it.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use wana_kana::ConvertJapanese;

use super::text::compact;
use crate::bad_input;
use crate::center::Site;
use crate::error::Result;

#[derive(Debug, Clone, Default)]
pub struct HospitalNames {
    sites: Vec<Hospital>,
    /// Per-project pseudonyms of the sites (the projects module adds them), compacted.
    pseudonyms: Vec<String>,
}

#[derive(Debug, Clone)]
struct Hospital {
    id: String,
    /// The name and every alias, compacted (see [`compact`]) for matching.
    spellings: Vec<String>,
    /// The distinctive parts of the name and aliases: romaji (Latin script) and kanji.
    latin_keys: Vec<String>,
    kanji_keys: Vec<String>,
}

/// A registered hospital named in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMatch {
    pub site_id: String,
}

/// Shortest distinctive parts used alone: 4 letters of romaji, 2 kanji.
const MIN_LATIN_KEY: usize = 4;
const MIN_KANJI_KEY: usize = 2;

impl HospitalNames {
    /// The hospitals of a site registry (the home's, or a `sites.toml` read with
    /// `center::sites::HospitalNames::parse_toml`); `origin` names it in errors.
    pub fn of_sites(sites: &[Site], origin: &str) -> Result<HospitalNames> {
        let entries = sites.iter().map(|s| (s.id.clone(), s.name.clone(), s.aliases.clone()));
        HospitalNames::from_entries(entries, origin)
    }

    /// Sites given as (id, name, aliases); `origin` names where they came from, for errors.
    fn from_entries(
        entries: impl IntoIterator<Item = (String, String, Vec<String>)>,
        origin: &str,
    ) -> Result<HospitalNames> {
        let mut sites = Vec::new();
        for (i, (id, name, aliases)) in entries.into_iter().enumerate() {
            let names: Vec<&String> = std::iter::once(&name).chain(&aliases).collect();
            let mut spellings: Vec<String> = names.iter().map(|s| compact(s)).collect();
            if spellings.iter().any(String::is_empty) || compact(&id).is_empty() {
                return Err(bad_input!(
                    "{origin}: site {} (`{id}`): an id, name or alias has no letters or digits; fix or remove it",
                    i + 1
                ));
            }
            spellings.sort();
            spellings.dedup();
            let (mut latin_keys, mut kanji_keys) = (Vec::new(), Vec::new());
            for spelling in names.iter().map(|n| Spelling::of(n)) {
                latin_keys.extend(spelling.latin_key().filter(|k| k.chars().count() >= MIN_LATIN_KEY));
                kanji_keys.extend(spelling.kanji_keys().filter(|k| k.chars().count() >= MIN_KANJI_KEY));
            }
            for keys in [&mut latin_keys, &mut kanji_keys] {
                keys.sort();
                keys.dedup();
            }
            sites.push(Hospital { id, spellings, latin_keys, kanji_keys });
        }
        Ok(HospitalNames { sites, pseudonyms: Vec::new() })
    }

    /// Add the pseudonyms under which the sites appear in one project's tables.
    pub fn with_pseudonyms(mut self, pseudonyms: impl IntoIterator<Item = String>) -> HospitalNames {
        self.pseudonyms.extend(pseudonyms.into_iter().map(|p| compact(&p)));
        self
    }

    pub fn has_names(&self) -> bool {
        !self.sites.is_empty()
    }

    /// The registered hospitals whose name, an alias or its distinctive part occurs in `text`.
    pub fn names_in(&self, text: &str) -> Vec<NameMatch> {
        let hay = compact(text);
        if hay.is_empty() {
            return Vec::new();
        }
        let spelling = Spelling::of(text);
        let forms = spelling.latin_candidates();
        self.sites
            .iter()
            .filter(|s| s.spellings.iter().any(|sp| hay.contains(sp.as_str())) || spelling.names(s, &forms))
            .map(|s| NameMatch { site_id: s.id.clone() })
            .collect()
    }

    /// Whether a cell or column name is a site's registered id, one of its pseudonyms, its whole
    /// name or an alias, or its distinctive part with generic words only (`Kitayama Univ Hosp`,
    /// `キタヤマ`): a label of a per-site result.
    pub fn is_site_label(&self, text: &str) -> bool {
        let c = compact(text);
        if c.is_empty() {
            return false;
        }
        if self.pseudonyms.contains(&c) || self.sites.iter().any(|s| compact(&s.id) == c || s.spellings.contains(&c)) {
            return true;
        }
        let spelling = Spelling::of(text);
        self.sites.iter().any(|s| spelling.is_label_of(s))
    }
}

/// A text as the registry compares it: its runs of romaji (Latin letters and digits, and kana read
/// as romaji), and its runs of kanji.
#[derive(Debug, Clone, PartialEq)]
struct Spelling {
    runs: Vec<Run>,
}

#[derive(Debug, Clone, PartialEq)]
enum Run {
    /// Folded romaji or Latin letters and digits (one word).
    Latin(String),
    /// Kanji (with `ヶ`, `ノ` between kanji, as in `緑ヶ丘`, kept in the run).
    Kanji(String),
}

#[derive(Clone, Copy, PartialEq)]
enum Script {
    Latin,
    Kana,
    Kanji,
    Other,
}

fn script(c: char) -> Script {
    match c {
        '\u{3041}'..='\u{309F}' | '\u{30A0}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' => Script::Kana,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '々' | '〆' => Script::Kanji,
        c if c.is_alphanumeric() => Script::Latin,
        _ => Script::Other,
    }
}

impl Spelling {
    fn of(text: &str) -> Spelling {
        let chars: Vec<char> = split_camel_case(text).nfkc().collect();
        let mut runs = Vec::new();
        let (mut current, mut kind) = (String::new(), Script::Other);
        for (i, &c) in chars.iter().enumerate() {
            // `緑ヶ丘`, `緑が丘`, `緑ケ丘`, `一ノ瀬`: a kana between two kanji belongs to the name.
            let between_kanji = i > 0
                && i + 1 < chars.len()
                && script(chars[i - 1]) == Script::Kanji
                && script(chars[i + 1]) == Script::Kanji;
            let (c, s) = match c {
                'ヶ' | 'ケ' | 'が' | 'ガ' | 'ゖ' if between_kanji => ('ヶ', Script::Kanji),
                'の' | 'ノ' if between_kanji => ('ノ', Script::Kanji),
                c => (c, script(c)),
            };
            if s != kind {
                push_run(&mut runs, &current, kind);
                current.clear();
                kind = s;
            }
            if s != Script::Other {
                current.push(c);
            }
        }
        push_run(&mut runs, &current, kind);
        Spelling { runs }
    }

    fn latin_words(&self) -> impl Iterator<Item = &str> {
        self.runs.iter().filter_map(|r| match r {
            Run::Latin(w) => Some(w.as_str()),
            Run::Kanji(_) => None,
        })
    }

    fn kanji_runs(&self) -> impl Iterator<Item = &str> {
        self.runs.iter().filter_map(|r| match r {
            Run::Kanji(k) => Some(k.as_str()),
            Run::Latin(_) => None,
        })
    }

    /// The romaji words that are not generic, joined: the distinctive part of a Latin name.
    fn latin_key(&self) -> Option<String> {
        let key: String = self.latin_words().filter(|w| !is_generic_word(w)).collect();
        (!key.is_empty()).then_some(key)
    }

    /// The kanji runs that are not generic, with generic words taken off their ends.
    fn kanji_keys(&self) -> impl Iterator<Item = String> + '_ {
        self.kanji_runs().filter(|k| !only_generic_kanji(k)).map(strip_kanji)
    }

    /// What the romaji of the text may name: every word, and up to three words in a row, joined,
    /// with generic words taken off their ends one at a time.
    fn latin_candidates(&self) -> HashSet<String> {
        let mut out = HashSet::new();
        for words in self.latin_groups() {
            for i in 0..words.len() {
                for j in i + 1..=(i + 3).min(words.len()) {
                    out.extend(latin_forms(&words[i..j].concat()));
                }
            }
        }
        out
    }

    /// Whether the text names `site` by a distinctive part: one of the romaji `forms` of the text
    /// ([`Spelling::latin_candidates`]) equal to it, or kanji containing it at the start of a run or
    /// before a generic word.
    fn names(&self, site: &Hospital, forms: &HashSet<String>) -> bool {
        site.latin_keys.iter().any(|k| forms.contains(k))
            || self.kanji_runs().any(|run| site.kanji_keys.iter().any(|k| kanji_names(run, k)))
    }

    /// Whether the whole text is `site`'s distinctive part with generic words only.
    fn is_label_of(&self, site: &Hospital) -> bool {
        let latin: String = self.latin_words().filter(|w| !is_generic_word(w)).collect();
        let kanji: Vec<String> = self.kanji_keys().collect();
        let latin_ok = latin.is_empty() || latin_forms(&latin).iter().any(|f| site.latin_keys.contains(f));
        let kanji_ok = kanji.iter().all(|k| site.kanji_keys.contains(k));
        (!latin.is_empty() || !kanji.is_empty()) && latin_ok && kanji_ok
    }

    /// The romaji words in groups of words next to each other (a kanji run separates groups).
    fn latin_groups(&self) -> Vec<Vec<&str>> {
        let mut groups: Vec<Vec<&str>> = vec![Vec::new()];
        for r in &self.runs {
            match r {
                Run::Latin(w) => groups.last_mut().expect("one group at least").push(w),
                Run::Kanji(_) => groups.push(Vec::new()),
            }
        }
        groups.retain(|g| !g.is_empty());
        groups
    }
}

/// `key` in a run of kanji where what comes before it is only generic words, or what follows
/// starts with one: `北山大学病院`, `市立白鷺病院`, `北山大学病院患者数`, but not `東北山形`.
fn kanji_names(run: &str, key: &str) -> bool {
    run.match_indices(key).any(|(at, _)| {
        let (before, after) = (&run[..at], &run[at + key.len()..]);
        only_generic_kanji(before)
            || after.is_empty()
            || KANJI_SUFFIXES.iter().chain(KANJI_PREFIXES).any(|g| after.starts_with(g))
    })
}

fn push_run(runs: &mut Vec<Run>, text: &str, kind: Script) {
    if text.is_empty() {
        return;
    }
    match kind {
        Script::Latin => runs.push(Run::Latin(hepburn(&latin_letters(text)))),
        Script::Kana => runs.push(Run::Latin(hepburn(&latin_letters(&hiragana(text).to_romaji())))),
        Script::Kanji => runs.push(Run::Kanji(text.to_string())),
        Script::Other => {}
    }
}

/// Kana as hiragana (wana_kana reads both; half-width kana are already full-width after NFKC).
fn hiragana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// Lower-case letters and digits without accents (`Ōsaka` → `osaka`) or long-vowel marks.
fn latin_letters(word: &str) -> String {
    word.nfd().filter(|c| c.is_alphanumeric() && script(*c) != Script::Kana).flat_map(char::to_lowercase).collect()
}

/// One spelling for the romanisations of Japanese: Hepburn and Kunrei (`shi`/`si`, `chi`/`ti`,
/// `tsu`/`tu`, `fu`/`hu`, `ji`/`zi`, `sha`/`sya`, `cha`/`tya`, `ja`/`zya`/`jya`), long vowels written or
/// not (`ou`, `oo`, `uu`, `aa`, `ii`, `ee` → one vowel), `m` before `b`/`m`/`p` (`Nampo`/`Nanpo`). The
/// same folding applies to registered names and to the text, so an English word is changed the same
/// way on both sides.
fn hepburn(word: &str) -> String {
    let mut s = word.to_string();
    for (from, to) in [
        ("tch", "tty"),
        ("shi", "si"),
        ("chi", "ti"),
        ("tsu", "tu"),
        ("sh", "sy"),
        ("ch", "ty"),
        ("jy", "zy"),
        ("fu", "hu"),
        ("dzu", "zu"),
        ("du", "zu"),
        ("di", "zi"),
    ] {
        s = s.replace(from, to);
    }
    s = s.replace('j', "zy").replace("zyi", "zi");
    for (from, to) in [("ou", "o"), ("oo", "o"), ("uu", "u"), ("aa", "a"), ("ii", "i"), ("ee", "e")] {
        while s.contains(from) {
            s = s.replace(from, to);
        }
    }
    for (from, to) in [("mb", "nb"), ("mp", "np"), ("mm", "nm")] {
        s = s.replace(from, to);
    }
    s
}

/// [`LATIN_GENERIC`] in the folded spelling words are compared in.
static FOLDED_GENERIC: LazyLock<Vec<String>> = LazyLock::new(|| LATIN_GENERIC.iter().map(|g| hepburn(g)).collect());

fn is_generic_word(word: &str) -> bool {
    FOLDED_GENERIC.iter().any(|g| g == word)
}

/// A romaji word and what it becomes as generic words are taken off either end, one at a time
/// (`kitayamaunivhosp` → `kitayamauniv` → `kitayama`): a text names a hospital when one of these is
/// the hospital's distinctive part.
fn latin_forms(word: &str) -> Vec<String> {
    let mut forms = vec![word.to_string()];
    let mut i = 0;
    while i < forms.len() && forms.len() < 64 {
        let w = forms[i].clone();
        for g in FOLDED_GENERIC.iter().filter(|g| g.len() < w.len()) {
            for rest in [w.strip_suffix(g.as_str()), w.strip_prefix(g.as_str())].into_iter().flatten() {
                if !forms.iter().any(|f| f == rest) {
                    forms.push(rest.to_string());
                }
            }
        }
        i += 1;
    }
    forms
}

/// A kanji name with generic words taken off its ends (`北山大学医学部附属病院` → `北山`), leaving
/// at least two characters.
fn strip_kanji(name: &str) -> String {
    let mut w = name.to_string();
    loop {
        let len = |s: &str| s.chars().count();
        let shorter =
            KANJI_SUFFIXES.iter().find_map(|g| w.strip_suffix(g).filter(|rest| len(rest) >= MIN_KANJI_KEY)).or_else(
                || KANJI_PREFIXES.iter().find_map(|g| w.strip_prefix(g).filter(|rest| len(rest) >= MIN_KANJI_KEY)),
            );
        match shorter {
            Some(rest) => w = rest.to_string(),
            None => return w,
        }
    }
}

/// Whether `text` is nothing but generic words of hospital names (or nothing).
fn only_generic_kanji(text: &str) -> bool {
    text.is_empty()
        || KANJI_SUFFIXES.iter().chain(KANJI_PREFIXES).any(|g| text.strip_prefix(g).is_some_and(only_generic_kanji))
}

/// Generic words of hospital names in English and romaji (kana are read as romaji).
const LATIN_GENERIC: &[&str] = &[
    "university",
    "univ",
    "uni",
    "hospital",
    "hospitals",
    "hosp",
    "hp",
    "medical",
    "med",
    "medicine",
    "center",
    "centre",
    "ctr",
    "c",
    "clinic",
    "clinics",
    "general",
    "gen",
    "memorial",
    "group",
    "second",
    "third",
    "first",
    "2nd",
    "3rd",
    "central",
    "city",
    "municipal",
    "citizens",
    "prefectural",
    "national",
    "international",
    "rehabilitation",
    "affiliated",
    "foundation",
    "institute",
    "inst",
    "faculty",
    "school",
    "red",
    "cross",
    "japanese",
    "japan",
    "nippon",
    "nihon",
    "co",
    "op",
    "coop",
    "the",
    "of",
    "and",
    "daigaku",
    "dai",
    "byoin",
    "byo",
    "iryo",
    "senta",
    "sogo",
    "kinen",
    "ika",
    "igakubu",
    "fuzoku",
    "shimin",
    "shiritsu",
    "kenritsu",
    "kokuritsu",
    "nisseki",
    "sekijuji",
    "kyodo",
    "seikyo",
    "chuo",
    "daini",
    "gurupu",
];

/// Generic words that end Japanese hospital names (and their abbreviations: 大学 → 大, 病院 → 病).
const KANJI_SUFFIXES: &[&str] = &[
    "医学部",
    "大学",
    "病院",
    "医療",
    "附属",
    "付属",
    "医科",
    "医大",
    "総合",
    "記念",
    "第一",
    "第二",
    "第三",
    "中央",
    "市民",
    "日赤",
    "赤十字",
    "協同",
    "生協",
    "機構",
    "分院",
    "本院",
    "医院",
    "診療所",
    "大",
    "病",
    "市",
    "県",
];

/// Generic words that start Japanese hospital names.
const KANJI_PREFIXES: &[&str] = &[
    "独立行政法人",
    "国立病院機構",
    "社会医療法人",
    "日本赤十字社",
    "日本赤十字",
    "生活協同組合",
    "医療法人",
    "市立",
    "県立",
    "府立",
    "都立",
    "道立",
    "国立",
    "公立",
    "私立",
];

/// `KitayamaUniv` → `Kitayama Univ`: a lower-case letter followed by an upper-case one starts a word.
fn split_camel_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut prev_lower = false;
    for c in text.chars() {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase();
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> HospitalNames {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sites.toml");
        std::fs::write(
            &path,
            "[[site]]\nid = \"site01\"\nname = \"北山大学病院\"\naliases = [\"Kitayama University Hospital\", \"キタヤマ大学病院\"]\npath = \"site01\"\n\
             [[site]]\nid = \"site02\"\nname = \"緑ヶ丘大学病院\"\naliases = [\"Midorigaoka University Hospital\"]\n\
             [[site]]\nid = \"site03\"\nname = \"青葉台中央病院\"\naliases = [\"Aobadai Chuo Hospital\"]\n\
             [[site]]\nid = \"site04\"\nname = \"西陵大学附属病院\"\naliases = [\"Seiryo University Hospital\"]\n",
        )
        .unwrap();
        let sites = crate::center::sites::SiteRegistry::parse_toml(&path).unwrap().sites;
        HospitalNames::of_sites(&sites, "sites.toml").unwrap()
    }

    fn ids(r: &HospitalNames, text: &str) -> Vec<String> {
        r.names_in(text).into_iter().map(|m| m.site_id).collect()
    }

    #[test]
    fn names_are_found_whatever_the_width_case_and_spacing() {
        let r = registry();
        for text in [
            "patients at 北山大学病院",
            "ｷﾀﾔﾏ大学病院 only",
            "KITAYAMA  university\u{3000}hospital",
            "ｋｉｔａｙａｍａ ｕｎｉｖｅｒｓｉｔｙ ｈｏｓｐｉｔａｌ",
        ] {
            assert_eq!(ids(&r, text), ["site01"], "{text}");
        }
        assert!(r.names_in("Minamiyama University Hospital").is_empty());
    }

    #[test]
    fn abbreviations_kana_romaji_and_distinctive_parts() {
        let r = registry();
        for text in [
            "Kitayama Univ Hosp",
            "キタヤマ",
            "ｷﾀﾔﾏ",
            "kitayama",
            "きたやま",
            "KitayamaUnivHosp",
            "北山大病院",
            "北山大",
            "北山大学病院の患者",
            "北山大学病院患者数",
            "kitayama-univ",
        ] {
            assert_eq!(ids(&r, text), ["site01"], "{text}");
        }
        for text in ["緑が丘大学病院", "緑ケ丘", "Midorigaoka Univ. Hosp."] {
            assert_eq!(ids(&r, text), ["site02"], "{text}");
        }
        for text in ["Seiryou Univ", "セイリョウ大学", "seiryō", "西陵大附属病院"] {
            assert_eq!(ids(&r, text), ["site04"], "{text}");
        }
        assert_eq!(ids(&r, "青葉台"), ["site03"]);
    }

    #[test]
    fn ordinary_words_do_not_match() {
        let r = registry();
        for text in [
            "中央値",
            "東北山形",
            "University Hospital",
            "median days to onset",
            "Cox proportional hazards (Efron ties): drug vs comparator, adjusted for sex, age and age^2",
            "ALT > 3 x ULN",
            "baseline normal",
            "kitayamabashi",
            "大学病院",
            "Aoba",
        ] {
            assert!(r.names_in(text).is_empty(), "{text}: {:?}", ids(&r, text));
        }
    }

    #[test]
    fn romanisations_fold_to_one_spelling() {
        assert_eq!(hepburn("seiryou"), hepburn("seiryo"));
        assert_eq!(hepburn("shirasagi"), hepburn("sirasagi"));
        assert_eq!(hepburn("chuuou"), hepburn("tyuo"));
        assert_eq!(hepburn("jyunten"), hepburn("zyunten"));
        assert_eq!(hepburn("nampo"), hepburn("nanpo"));
        assert_eq!(hepburn("ooshima"), hepburn("osima"));
    }

    #[test]
    fn site_labels() {
        let r = registry().with_pseudonyms(["S-7f3a".to_string()]);
        assert!(r.is_site_label("SITE01"));
        assert!(r.is_site_label("s 7f3a"));
        assert!(r.is_site_label("北山大学病院"));
        assert!(r.is_site_label("Kitayama Univ Hosp"));
        assert!(r.is_site_label("ｷﾀﾔﾏ"));
        assert!(!r.is_site_label("site09"));
        assert!(!r.is_site_label("Kitayama patients"));
    }
}
