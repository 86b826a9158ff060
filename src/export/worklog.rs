//! The work log (作業証跡) that travels with an export request (guideline 第9): the project's
//! commands as the audit trail recorded them, one line each, as plain text a reviewer reads and
//! the export checks scan like any text (hospital names, person ids, lines of one person's values).
//!
//! It records what was run (the command line, or the file moved with its SHA-256), never what a
//! command returned: an audit record's message (what a refusal or an error met) stays out of it.
//! A command line that holds a person id or one person's values (rows typed into a query's text)
//! is withheld, by the `patient_level` rule's own test: the log leaves with the statistics, and
//! the audit trail keeps the line for the reviewer.

use std::fmt::Write;

use super::checks::patient_level::lines_of_persons;
use super::persons::Persons;
use crate::audit::Record;

/// The work log of `project`: every audit record about it, in order, each command line that ties
/// to the persons of the project's datasets withheld.
pub fn render(project: &str, records: &[Record], persons: &Persons) -> String {
    let mine: Vec<&Record> = records.iter().filter(|r| r.project.as_deref() == Some(project)).collect();
    let details: Vec<String> = mine.iter().map(|r| detail(r)).collect();
    let lines: Vec<&str> = details.iter().map(String::as_str).collect();
    let withheld = lines_of_persons(&lines, persons);
    let count = withheld.iter().filter(|w| **w).count();
    let mut out = format!(
        "# Work log of project {project}: its {} commands from the audit trail, up to record {}.\n",
        mine.len(),
        records.last().map_or(0, |r| r.seq)
    );
    if count > 0 {
        let _ = writeln!(
            out,
            "# {count} command line{} withheld here: {} a person id or one person's values (`midnet audit show \
             --project {project}` has {}).",
            if count == 1 { " is" } else { "s are" },
            if count == 1 { "it holds" } else { "they hold" },
            if count == 1 { "it" } else { "them" }
        );
    }
    out.push_str("# seq\ttime (UTC)\tuser\tcommand\tresult\tcommand line or file\n");
    for ((r, detail), withheld) in mine.iter().zip(&details).zip(withheld) {
        let result = match &r.rule {
            Some(rule) => format!("{} ({rule})", r.result),
            None => r.result.clone(),
        };
        let detail = if withheld { "(withheld: it holds a person id or one person's values)" } else { detail };
        let _ = writeln!(out, "{}\t{}\t{}\t{}\t{result}\t{detail}", r.seq, r.time, r.user, r.command);
    }
    out
}

/// What a record says was run: its command line, or the file it moved.
fn detail(r: &Record) -> String {
    match &r.file {
        Some(f) => {
            let direction = f.direction.name();
            format!("{direction} {} sha256 {}", f.path, f.sha256)
        }
        None => crate::audit::command_line(&r.args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let log = render("p1", &[record], &Persons::default());
        assert!(log.contains("alan\twork sql\terror\tmidnet work sql --project p1 'SELECT 1'"), "{log}");
        assert!(!log.contains("what the command met"), "{log}");
    }
}
