//! Spark SQL's quoting: what the Spark dialect of the generated SQL writes, and what this client
//! writes itself (the names and paths of the steps it stages).

/// A name as a Spark identifier: in backticks, a backtick doubled inside.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A value as a Spark string literal. Spark reads `\` as an escape inside quotes and takes `'a''b'`
/// for two adjacent literals (`ab`), so doubling the quote is no escape at all: every backslash and
/// quote is escaped, and every `$` is written `\u0024`, out of the reach of Spark's `${name}`
/// substitution in a statement's text (`spark.sql.variable.substitute`), which runs before parsing,
/// literals included.
pub fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '$' => out.push_str("\\u0024"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
