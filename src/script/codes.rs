//! Codes written in scripts, parameters and codelist files: what a codelist entry of each code
//! system may look like, and the message when it does not.
//!
//! A codelist entry matches every recorded code that begins with it. Entries are whole codes or
//! the prefixes that mean something in their system: YJ by its first 4 (therapeutic class),
//! 7 (ingredient) or 9 characters, HOT by 7 or 9, ICD-10 by its 3-character category, JLAC10 by
//! its 5-character analyte code.

use std::path::Path;

use crate::query::model::Pattern;
use crate::schema::CodeSystem;
use crate::table::Frame;

/// The lengths a codelist entry of the system may have (whole codes last).
pub fn entry_lengths(system: CodeSystem) -> &'static [usize] {
    match system {
        CodeSystem::Yj => &[4, 7, 9, 12],
        CodeSystem::Hot => &[7, 9, 13],
        CodeSystem::Icd10 => &[3, 4, 5],
        CodeSystem::Jlac10 => &[5, 17],
        CodeSystem::Procedure => &[9],
        CodeSystem::Medis => &[4],
    }
}

fn system_title(system: CodeSystem) -> &'static str {
    match system {
        CodeSystem::Yj => "YJ",
        CodeSystem::Hot => "HOT",
        CodeSystem::Icd10 => "ICD-10",
        CodeSystem::Jlac10 => "JLAC10",
        CodeSystem::Procedure => "procedure",
        CodeSystem::Medis => "MEDIS",
    }
}

/// A codelist entry as a pattern, or why it cannot be one of `system`.
pub fn entry(system: CodeSystem, code: &str) -> Result<Pattern, String> {
    let title = system_title(system);
    if code.is_empty() {
        return Err(format!("an empty code is not a {title} code"));
    }
    if code.contains('.') && system == CodeSystem::Icd10 {
        return Err(format!("`{code}`: ICD-10 codes are written without the dot (`{}`)", code.replace('.', "")));
    }
    if code.chars().any(|c| c.is_ascii_lowercase()) && system.is_prefix(&code.to_ascii_uppercase()) {
        return Err(format!("`{code}`: codes are upper-case (`{}`)", code.to_ascii_uppercase()));
    }
    if !system.is_prefix(code) {
        return Err(format!("`{code}` is not a {title} code: a {title} code is {}", system.shape()));
    }
    let n = code.chars().count();
    let lengths = entry_lengths(system);
    if !lengths.contains(&n) {
        let allowed: Vec<String> = lengths.iter().map(|l| l.to_string()).collect();
        return Err(format!(
            "`{code}` has {n} characters; a {title} codelist entry has {} (a whole code or a prefix that names a group)",
            join_or(&allowed)
        ));
    }
    Ok(Pattern::Prefix(code.to_string()))
}

/// How a codelist entry of the system is written, for messages.
pub fn entry_help(system: CodeSystem) -> String {
    let lengths: Vec<String> = entry_lengths(system).iter().map(|l| l.to_string()).collect();
    let example = match system {
        CodeSystem::Yj => "\"3969099\" (an ingredient) or \"3969099F1020\"",
        CodeSystem::Hot => "\"1234567\"",
        CodeSystem::Icd10 => "\"E11\" (a category) or \"E119\"",
        CodeSystem::Jlac10 => "\"3B045\" (an analyte); or select lab results with `analyte = \"alt\"`",
        CodeSystem::Procedure => "\"160000310\"",
        CodeSystem::Medis => "\"8846\"",
    };
    format!(
        "a {} codelist entry has {} characters and matches every code it begins; e.g. {example}",
        system_title(system),
        join_or(&lengths)
    )
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The codes of a codelist file read earlier (`bytes`, read from `path`): column `column` (or
/// `code`) of a CSV or Parquet file, each checked. Errors name the file, the line and the code.
pub fn read_file(bytes: &[u8], path: &Path, column: Option<&str>, system: CodeSystem) -> Result<Vec<Pattern>, String> {
    let column = column.unwrap_or("code");
    let frame = Frame::read_text_columns_of(bytes, path, &[column]).map_err(|e| e.to_string())?;
    let codes = frame.texts(column).map_err(|e| e.to_string())?;
    let mut patterns = Vec::new();
    for (row, code) in codes.into_iter().enumerate() {
        let Some(code) = code.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()) else {
            return Err(frame.bad_row(column, row, "no code").to_string());
        };
        match entry(system, &code) {
            Ok(p) => patterns.push(p),
            Err(why) => return Err(frame.bad_row(column, row, &why).to_string()),
        }
    }
    if patterns.is_empty() {
        return Err(format!("{}: the codelist has no codes", path.display()));
    }
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_fit_their_system() {
        assert_eq!(entry(CodeSystem::Yj, "3969099"), Ok(Pattern::Prefix("3969099".into())));
        assert!(entry(CodeSystem::Yj, "3969099F1").is_ok());
        assert!(entry(CodeSystem::Yj, "3969099F").unwrap_err().contains("4, 7, 9 or 12"));
        assert!(entry(CodeSystem::Yj, "396909O").unwrap_err().contains("is not a YJ code"));
        assert!(entry(CodeSystem::Icd10, "E11.9").unwrap_err().contains("without the dot (`E119`)"));
        assert!(entry(CodeSystem::Icd10, "e11").unwrap_err().contains("upper-case"));
        assert!(entry(CodeSystem::Jlac10, "3B045").is_ok());
    }
}
