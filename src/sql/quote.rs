//! Quoting names and values into DuckDB SQL. Every string that reaches generated SQL from outside
//! `midnet` (a script, a file name, a column name) goes through one of these two functions, so a
//! script or a file name cannot inject SQL.

/// A double-quoted identifier, with embedded double quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A single-quoted string literal, with embedded single quotes doubled. DuckDB string literals
/// have no backslash escapes, so doubling the quote is the whole escape.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("x'); DROP TABLE patient; --"), "'x''); DROP TABLE patient; --'");
    }
}
