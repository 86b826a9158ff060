//! The code systems of the schema and what a well-formed code (or code prefix) of each looks like.
//! Site loads quarantine codes that do not fit; the script compiler rejects them in codelists.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeSystem {
    /// 12-character YJ code: 7 digits (therapeutic class 4 + ingredient 3), a dosage-form letter,
    /// then 4 digits or letters. Prefix matching by 7 (ingredient) or 9 characters is usual.
    Yj,
    /// HOT9 or HOT13 (digits only).
    Hot,
    /// ICD-10 without the dot: a letter, two digits, up to two more characters (E119, S7200).
    Icd10,
    /// 17-character JLAC10: analyte 5, identification 4, specimen 3, method 3, result type 2.
    Jlac10,
    /// 9-digit claims procedure code.
    Procedure,
    /// 4-character MEDIS standard disease exchange code.
    Medis,
}

impl CodeSystem {
    pub const ALL: [CodeSystem; 6] = [
        CodeSystem::Yj,
        CodeSystem::Hot,
        CodeSystem::Icd10,
        CodeSystem::Jlac10,
        CodeSystem::Procedure,
        CodeSystem::Medis,
    ];

    /// The name used in scripts and messages.
    pub fn name(self) -> &'static str {
        match self {
            CodeSystem::Yj => "yj",
            CodeSystem::Hot => "hot",
            CodeSystem::Icd10 => "icd10",
            CodeSystem::Jlac10 => "jlac10",
            CodeSystem::Procedure => "procedure",
            CodeSystem::Medis => "medis",
        }
    }

    pub fn from_name(name: &str) -> Option<CodeSystem> {
        CodeSystem::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The code system's name as people write it.
    pub fn label(self) -> &'static str {
        match self {
            CodeSystem::Yj => "YJ",
            CodeSystem::Hot => "HOT",
            CodeSystem::Icd10 => "ICD-10",
            CodeSystem::Jlac10 => "JLAC10",
            CodeSystem::Procedure => "claims procedure",
            CodeSystem::Medis => "MEDIS",
        }
    }

    /// What a full code looks like, for error messages.
    pub fn shape(self) -> &'static str {
        match self {
            CodeSystem::Yj => "12 characters: 7 digits, a dosage-form letter, 4 digits or letters (e.g. 3969010F1020)",
            CodeSystem::Hot => "9 or 13 digits (HOT9 or HOT13)",
            CodeSystem::Icd10 => "a letter, 2 digits and up to 2 more characters, without the dot (e.g. E119)",
            CodeSystem::Jlac10 => {
                "17 characters: analyte 5, identification 4, specimen 3, method 3, result type 2 (e.g. 3B045000002327101)"
            }
            CodeSystem::Procedure => "9 digits",
            CodeSystem::Medis => "4 letters or digits",
        }
    }

    /// A regular expression (RE2 syntax, as DuckDB's `regexp_full_match` takes it) that a complete
    /// code matches exactly when [`CodeSystem::is_code`] accepts it; a test holds the two together.
    pub fn full_regex(self) -> &'static str {
        match self {
            CodeSystem::Yj => "[0-9]{7}[A-Z][0-9A-Z]{4}",
            CodeSystem::Hot => "[0-9]{9}|[0-9]{13}",
            CodeSystem::Icd10 => "[A-Z][0-9]{2}[0-9A-Z]{0,2}",
            CodeSystem::Jlac10 => "[0-9][0-9A-Z][0-9]{3}[0-9A-Z]{4}[0-9]{8}",
            CodeSystem::Procedure => "[0-9]{9}",
            CodeSystem::Medis => "[0-9A-Z]{4}",
        }
    }

    /// Is `code` a complete, well-formed code of this system?
    pub fn is_code(self, code: &str) -> bool {
        let b = code.as_bytes();
        match self {
            CodeSystem::Yj => b.len() == 12 && self.is_prefix(code),
            CodeSystem::Hot => (b.len() == 9 || b.len() == 13) && all(b, digit),
            CodeSystem::Icd10 => (3..=5).contains(&b.len()) && self.is_prefix(code),
            CodeSystem::Jlac10 => b.len() == 17 && self.is_prefix(code),
            CodeSystem::Procedure => b.len() == 9 && all(b, digit),
            CodeSystem::Medis => b.len() == 4 && all(b, upper_alnum),
        }
    }

    /// Is `prefix` a well-formed beginning of a code of this system (for prefix matching)?
    pub fn is_prefix(self, prefix: &str) -> bool {
        let b = prefix.as_bytes();
        if b.is_empty() {
            return false;
        }
        let fits = |i: usize, c: u8| match self {
            CodeSystem::Yj => match i {
                0..=6 => digit(c),
                7 => c.is_ascii_uppercase(),
                8..=11 => upper_alnum(c),
                _ => false,
            },
            CodeSystem::Hot => i < 13 && digit(c),
            CodeSystem::Icd10 => match i {
                0 => c.is_ascii_uppercase(),
                1 | 2 => digit(c),
                3 | 4 => upper_alnum(c),
                _ => false,
            },
            CodeSystem::Jlac10 => match i {
                0 => digit(c),
                1 => upper_alnum(c),
                2..=4 => digit(c),
                5..=8 => upper_alnum(c),
                9..=16 => digit(c),
                _ => false,
            },
            CodeSystem::Procedure => i < 9 && digit(c),
            CodeSystem::Medis => i < 4 && upper_alnum(c),
        };
        b.iter().enumerate().all(|(i, &c)| fits(i, c))
    }
}

impl fmt::Display for CodeSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn digit(c: u8) -> bool {
    c.is_ascii_digit()
}

fn upper_alnum(c: u8) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase()
}

fn all(b: &[u8], f: fn(u8) -> bool) -> bool {
    b.iter().all(|&c| f(c))
}

#[cfg(test)]
mod tests {
    use super::CodeSystem::*;

    #[test]
    fn well_formed_codes() {
        assert!(Yj.is_code("3969010F1020"));
        assert!(Yj.is_prefix("3969010"));
        assert!(Yj.is_prefix("3969010F1"));
        assert!(!Yj.is_code("3969010"));
        assert!(!Yj.is_prefix("396901OF")); // letter O in the digit part
        assert!(Icd10.is_code("E119"));
        assert!(Icd10.is_code("I10"));
        assert!(!Icd10.is_code("E11.9"));
        assert!(Icd10.is_prefix("E11"));
        assert!(Jlac10.is_code("3B045000002327101"));
        assert!(Jlac10.is_prefix("3B045"));
        assert!(!Jlac10.is_code("3B04500000232710"));
        assert!(Hot.is_code("123456789"));
        assert!(Procedure.is_code("160000310"));
        assert!(Medis.is_code("8846"));
    }
}
