//! Apache Spark SQL (4.0, ANSI mode on or off): the generated queries of a site whose data source
//! lives in Spark, run through Spark Connect (`crate::spark`).
//!
//! What differs from the portable defaults:
//! - identifiers in backticks (a backtick doubled inside);
//! - string literals with backslash escapes: Spark reads `\` as an escape inside quotes and takes
//!   `'a''b'` for two adjacent literals (`ab`), so doubling the quote is no escape at all. Every
//!   backslash and quote is escaped, and every `$` is written `\u0024`: Spark substitutes
//!   `${name}` in the statement's text (`spark.sql.variable.substitute`, on by default) before it
//!   parses it, literals included, and an escaped dollar is out of its reach;
//! - `STRING` and `INT` for the text and 32-bit types (`VARCHAR` needs a length in Spark);
//! - `date_add`, `datediff`, `date_format`;
//! - records as `named_struct`, fields read with `.`;
//! - the first record of a group in an order, which Spark has no aggregate for: the group's
//!   records (those the step's conditions keep) sorted with a comparator, the first one taken;
//! - no materialised CTE (Spark has no hint for one, and plans a CTE again at each reference): a
//!   Spark site runs a query as its steps instead (`crate::spark::Session::query_in_steps`), each
//!   step that later ones read more than once computed once.

use super::{Dialect, SortKey, SqlType};

pub struct Spark;

impl Dialect for Spark {
    fn ident(&self, name: &str) -> String {
        crate::spark::ident(name)
    }

    fn string(&self, value: &str) -> String {
        crate::spark::string(value)
    }

    fn type_name(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Int32 => "INT",
            SqlType::Int64 => "BIGINT",
            SqlType::Double => "DOUBLE",
            SqlType::Text => "STRING",
            SqlType::Date => "DATE",
        }
    }

    fn add_days(&self, date: &str, days: &str) -> String {
        format!("date_add({date}, CAST({days} AS INT))")
    }

    fn days_between(&self, a: &str, b: &str) -> String {
        format!("datediff({a}, {b})")
    }

    fn first_of_month(&self, date: &str) -> String {
        format!("trunc({date}, {})", self.string("MM"))
    }

    fn year_month(&self, date: &str) -> String {
        format!("date_format({date}, {})", self.string("yyyy-MM"))
    }

    /// The records that `filter` keeps, collected with their sort keys (`collect_list` skips the
    /// missing ones, which `CASE` makes of the others), sorted by a comparator that follows
    /// `order` key by key, and the first one's value; `try_element_at` gives a missing value
    /// when there is none.
    fn first_in_order(&self, value: &str, order: &[SortKey], filter: Option<&str>) -> String {
        let mut fields: Vec<(String, String)> =
            order.iter().enumerate().map(|(i, k)| (format!("k{}", i + 1), k.expr.clone())).collect();
        fields.push(("v".to_string(), value.to_string()));
        let entry = self.record(&fields);
        let entry = match filter {
            Some(condition) => format!("CASE WHEN {condition} THEN {entry} END"),
            None => entry,
        };
        let mut compare = "0".to_string();
        for (i, key) in order.iter().enumerate().rev() {
            let field = format!("k{}", i + 1);
            let (first, second) = if key.descending { ("r", "l") } else { ("l", "r") };
            let (a, b) = (format!("{first}.{field}"), format!("{second}.{field}"));
            compare = format!(
                "CASE WHEN {a} IS NULL AND {b} IS NULL THEN {compare} WHEN {a} IS NULL THEN 1 WHEN {b} IS NULL THEN -1 WHEN {a} < {b} THEN -1 WHEN {a} > {b} THEN 1 ELSE {compare} END"
            );
        }
        format!("try_element_at(array_sort(collect_list({entry}), (l, r) -> {compare}), 1).v")
    }

    fn record(&self, fields: &[(String, String)]) -> String {
        let fields: Vec<String> =
            fields.iter().map(|(name, value)| format!("{}, {value}", self.string(name))).collect();
        format!("named_struct({})", fields.join(", "))
    }

    fn record_field(&self, record: &str, field: &str) -> String {
        format!("{record}.{}", self.ident(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_backslashes_and_dollars_are_escaped() {
        assert_eq!(Spark.string("it's"), r"'it\'s'");
        assert_eq!(Spark.string(r"a\'b"), r"'a\\\'b'");
        assert_eq!(Spark.string("${spark.app.name}"), r"'\u0024{spark.app.name}'");
        assert_eq!(Spark.ident("a`b"), "`a``b`");
    }

    #[test]
    fn descending_keys_compare_the_other_way() {
        let sql = Spark.first_in_order("x", &[SortKey::descending("d")], Some("c > 0"));
        assert!(sql.contains("CASE WHEN c > 0 THEN named_struct('k1', d, 'v', x) END"), "{sql}");
        assert!(sql.contains("WHEN r.k1 < l.k1 THEN -1"), "{sql}");
    }
}
