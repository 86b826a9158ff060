//! Folding text for comparison: hospital names, row labels and column names are matched whatever
//! their case, width (full-width Ｋｉｔａｙａｍａ, half-width ｷﾀﾔﾏ), spacing and punctuation.

use unicode_normalization::UnicodeNormalization;

/// NFKC (full-width and half-width forms to their usual form), lower case, hiragana as katakana,
/// every run of white space as one space, trimmed.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.nfkc().flat_map(char::to_lowercase) {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(hiragana_as_katakana(c));
    }
    out
}

/// [`fold`], keeping letters and digits only: `Kitayama Univ. Hospital` and `ｋｉｔａｙａｍａ univ
/// hospital` both become `kitayamaunivhospital`.
pub fn compact(s: &str) -> String {
    fold(s).chars().filter(|c| c.is_alphanumeric()).collect()
}

/// The words of a column name, folded: `ageGroup`, `age_group` and `Age Group` all give
/// `["age", "group"]`. A run of CJK characters is one word.
pub fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.nfkc() {
        let boundary = !c.is_alphanumeric() || (c.is_uppercase() && prev_lower);
        if boundary && !word.is_empty() {
            words.push(fold(&word));
            word.clear();
        }
        if c.is_alphanumeric() {
            word.push(c);
        }
        prev_lower = c.is_lowercase();
    }
    if !word.is_empty() {
        words.push(fold(&word));
    }
    words
}

/// Whether a column name says it is one of `kinds`: one of its words is a listed word, or its
/// compacted name contains a listed CJK term (Japanese names have no word breaks).
pub fn name_says(name: &str, latin: &[&str], cjk: &[&str]) -> bool {
    let ws = words(name);
    if ws.iter().any(|w| latin.contains(&w.as_str())) {
        return true;
    }
    let c = compact(name);
    cjk.iter().any(|term| c.contains(term))
}

fn hiragana_as_katakana(c: char) -> char {
    match c {
        '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_unifies_width_case_and_kana() {
        assert_eq!(fold("  Ｋｉｔａｙａｍａ\u{3000} Univ. "), "kitayama univ.");
        assert_eq!(fold("ｷﾀﾔﾏ"), "キタヤマ");
        assert_eq!(fold("きたやま"), "キタヤマ");
        assert_eq!(compact("Kitayama Univ. Hospital"), compact("ｋｉｔａｙａｍａ　ＵＮＩＶ　hospital"));
    }

    #[test]
    fn words_split_case_and_separators() {
        assert_eq!(words("ageGroup"), ["age", "group"]);
        assert_eq!(words("Age Group"), ["age", "group"]);
        assert_eq!(words("n_at_risk"), ["n", "at", "risk"]);
        assert_eq!(words("年齢階級"), ["年齢階級"]);
        assert_eq!(words("PATIENTS"), ["patients"]);
    }

    #[test]
    fn name_says_matches_words_not_substrings() {
        assert!(name_says("age_band", &["age"], &[]));
        assert!(!name_says("average", &["age"], &[]));
        assert!(!name_says("stage", &["age"], &[]));
        assert!(name_says("年齢階級", &[], &["年齢"]));
    }
}
