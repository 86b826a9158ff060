//! The work log (作業証跡) that travels with an export request (guideline 第9): the project's
//! commands as the audit trail recorded them, one line each, as plain text a reviewer reads and
//! the export checks scan like any text (hospital names, person ids, lines of one person's values).
//!
//! It records what was run (the command line, or the file moved with its SHA-256), never what a
//! command returned: an audit record's message (what a refusal or an error met) stays out of it.

use std::fmt::Write;

use crate::audit::{Direction, Record};

/// The work log of `project`: every audit record about it, in order.
pub fn render(project: &str, records: &[Record]) -> String {
    let mine: Vec<&Record> = records.iter().filter(|r| r.project.as_deref() == Some(project)).collect();
    let mut out = format!(
        "# Work log of project {project}: its {} commands from the audit trail, up to record {}.\n\
         # seq\ttime (UTC)\tuser\tcommand\tresult\tcommand line or file\n",
        mine.len(),
        records.last().map_or(0, |r| r.seq)
    );
    for r in mine {
        let result = match &r.rule {
            Some(rule) => format!("{} ({rule})", r.result),
            None => r.result.clone(),
        };
        let detail = match &r.file {
            Some(f) => {
                let direction = match f.direction {
                    Direction::In => "in",
                    Direction::Out => "out",
                    Direction::Deleted => "deleted",
                };
                format!("{direction} {} sha256 {}", f.path, f.sha256)
            }
            None => std::iter::once("midnet".to_string())
                .chain(r.args.iter().map(|a| quoted(a)))
                .collect::<Vec<_>>()
                .join(" "),
        };
        let _ = writeln!(out, "{}\t{}\t{}\t{}\t{result}\t{detail}", r.seq, r.time, r.user, r.command);
    }
    out
}

/// An argument as a shell would need it: bare when it is plain, single-quoted otherwise.
fn quoted(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_only_when_needed() {
        assert_eq!(quoted("--project"), "--project");
        assert_eq!(quoted("t1.csv"), "t1.csv");
        assert_eq!(quoted("two words"), "'two words'");
        assert_eq!(quoted("it's"), r"'it'\''s'");
        assert_eq!(quoted(""), "''");
    }

    #[test]
    fn the_log_holds_command_lines_never_messages() {
        let record = Record {
            seq: 7,
            time: "2026-06-02T00:00:00.000Z".into(),
            user: "alan".into(),
            session: None,
            command: "work sql".into(),
            project: Some("p1".into()),
            args: vec!["work".into(), "sql".into(), "--project".into(), "p1".into(), "SELECT 1".into()],
            result: "error".into(),
            rule: None,
            message: Some("what the command met".into()),
            file: None,
            today: None,
            prev: String::new(),
            hash: String::new(),
            mac: String::new(),
        };
        let log = render("p1", &[record]);
        assert!(log.contains("alan\twork sql\terror\tmidnet work sql --project p1 'SELECT 1'"), "{log}");
        assert!(!log.contains("what the command met"), "{log}");
    }
}
