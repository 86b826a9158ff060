//! Every `--help` page of the real binary, walked from `midnet --help` down through every
//! subcommand: each option and argument has a description, one long option name means one thing
//! everywhere (given the same way, its placeholder saying what the value is), and a date option
//! names its format.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{midnet, tempdir};

/// One option or argument as a help page lists it.
#[derive(Debug)]
struct Entry {
    /// `--name` for an option (its long name, or its short one if it has none), `<NAME>` for an argument.
    name: String,
    /// The value's placeholder (`DIR` in `--home <DIR>`), none for a flag.
    placeholder: Option<String>,
    /// The description, without clap's `[default: …]`, `[env: …]` and `[possible values: …]` notes
    /// and without a value list (`Possible values:`), which say nothing of what the option is for.
    description: String,
}

/// One help page: the command's path and what it lists.
struct Page {
    path: Vec<String>,
    entries: Vec<Entry>,
    subcommands: Vec<String>,
}

impl Page {
    fn read(dir: &std::path::Path, path: &[String]) -> Page {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = midnet(dir, &args).ok().stdout;
        let (entries, subcommands) = parse(&help);
        Page { path: path.to_vec(), entries, subcommands }
    }

    fn command(&self) -> String {
        std::iter::once("midnet").chain(self.path.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }
}

/// The entries of the `Arguments:` and `Options:` sections and the names of the `Commands:` section.
/// An entry's line starts with two spaces and `-`, `<` or `[`; its description follows on the same
/// line (short help) or on the lines under it, indented further (long help).
fn parse(help: &str) -> (Vec<Entry>, Vec<String>) {
    let mut entries: Vec<(String, Vec<String>)> = Vec::new();
    let mut subcommands = Vec::new();
    let mut section = "";
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line;
            continue;
        }
        if !line.starts_with(' ') && !line.is_empty() {
            section = "";
            continue;
        }
        match section {
            "Commands:" => {
                let name = line.split_whitespace().next();
                if line.starts_with("  ") && !line.starts_with("   ") && name.is_some_and(|n| n != "help") {
                    subcommands.push(name.unwrap().to_string());
                }
            }
            "Arguments:" | "Options:" => {
                let trimmed = line.trim_start();
                let indent = line.len() - trimmed.len();
                if indent <= 6 && trimmed.starts_with(['-', '<', '[']) {
                    let (spec, rest) = trimmed.split_once("  ").unwrap_or((trimmed, ""));
                    entries.push((spec.trim().to_string(), vec![rest.trim().to_string()]));
                } else if let Some((_, description)) = entries.last_mut() {
                    description.push(trimmed.to_string());
                }
            }
            _ => {}
        }
    }
    let entries = entries.into_iter().map(|(spec, lines)| entry(&spec, &lines)).collect();
    (entries, subcommands)
}

fn entry(spec: &str, lines: &[String]) -> Entry {
    let mut words = spec.split([' ', ',']).filter(|w| !w.is_empty());
    let first = words.next().unwrap_or_default();
    let (name, placeholder) = if first.starts_with('-') {
        let flags: Vec<&str> = spec.split([' ', ',']).filter(|w| w.starts_with('-')).collect();
        let name = flags.iter().find(|f| f.starts_with("--")).unwrap_or(&flags[0]).to_string();
        let placeholder = spec.split_once('<').map(|(_, v)| v.split('>').next().unwrap_or_default().to_string());
        (name, placeholder)
    } else {
        (first.trim_end_matches("...").to_string(), None)
    };
    let mut description = Vec::new();
    let mut in_value_list = false;
    for line in lines {
        if line == "Possible values:" {
            in_value_list = true;
        } else if in_value_list && line.starts_with("- ") {
            continue;
        } else {
            in_value_list = false;
            description.push(without_notes(line));
        }
    }
    Entry { name, placeholder, description: description.join(" ").trim().to_string() }
}

/// `line` without clap's bracketed notes (`[default: 3]`, `[env: MIDNET_HOME=]`, …).
fn without_notes(line: &str) -> String {
    let mut out = line.to_string();
    for note in ["[default: ", "[env: ", "[possible values: ", "[aliases: ", "[short aliases: "] {
        while let Some(start) = out.find(note) {
            let end = out[start..].find(']').map_or(out.len(), |e| start + e + 1);
            out.replace_range(start..end, "");
        }
    }
    out.trim().to_string()
}

/// Every page, from `midnet --help` down.
fn all_pages() -> Vec<Page> {
    let dir = tempdir();
    let mut pages = Vec::new();
    let mut to_read = vec![Vec::new()];
    while let Some(path) = to_read.pop() {
        let page = Page::read(dir.path(), &path);
        for sub in &page.subcommands {
            let mut child = path.clone();
            child.push(sub.clone());
            to_read.push(child);
        }
        pages.push(page);
    }
    pages
}

/// An option that takes a date: its placeholder says DATE, or its name ends in a word that means
/// one (`--to`, `--extraction-from`, `--data-end`, `--cutoff`, …) and it takes no path.
fn is_date_option(entry: &Entry) -> bool {
    const DATE_WORDS: [&str; 8] = ["date", "from", "to", "start", "end", "until", "since", "cutoff"];
    let Some(placeholder) = &entry.placeholder else { return false };
    let last_word = entry.name.rsplit(['-']).next().unwrap_or_default();
    let path = ["DIR", "FILE", "PATH"].contains(&placeholder.as_str());
    placeholder.contains("DATE") || (DATE_WORDS.contains(&last_word) && !path)
}

/// What a value of each of these placeholders is, as a word every description of an option taking
/// it must say: the placeholder names one kind of thing wherever it appears (a `--reason <REASON>`
/// is why something is done, never a text to search for; a `<DIR>` is a directory, never a file).
const PLACEHOLDER_MEANINGS: [(&str, &str); 4] =
    [("DIR", "directory"), ("COL", "column"), ("COLS", "columns"), ("REASON", "why")];

/// How an option is given: as a flag, or with a value named by its placeholder.
fn kind(entry: &Entry) -> &str {
    entry.placeholder.as_deref().unwrap_or("a flag")
}

/// Each long option name means one thing across the binary: it is given the same way (a flag, or
/// one placeholder) on every page, and each placeholder says what [`PLACEHOLDER_MEANINGS`] asks.
/// Returns the problems found.
fn one_meaning_per_name(pages: &[Page]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut kinds: BTreeMap<&str, BTreeMap<&str, BTreeSet<String>>> = BTreeMap::new();
    for page in pages {
        for entry in page.entries.iter().filter(|e| e.name.starts_with("--")) {
            kinds.entry(&entry.name).or_default().entry(kind(entry)).or_default().insert(page.command());
            let said = PLACEHOLDER_MEANINGS.iter().find(|(p, _)| entry.placeholder.as_deref() == Some(*p));
            if let Some((placeholder, word)) = said
                && !entry.description.to_lowercase().contains(word)
            {
                problems.push(format!(
                    "{}: {} <{placeholder}> does not say {word:?}: {:?}",
                    page.command(),
                    entry.name,
                    entry.description
                ));
            }
        }
    }
    for (name, seen) in &kinds {
        if seen.len() > 1 {
            let each: Vec<String> =
                seen.iter().map(|(k, commands)| format!("{k} in {}", commands.iter().next().unwrap())).collect();
            problems.push(format!("{name} means {} things: {}", seen.len(), each.join("; ")));
        }
    }
    problems
}

#[test]
fn every_help_page_explains_every_option_and_argument() {
    let pages = all_pages();
    assert!(pages.len() > 50, "the walk found only {} help pages", pages.len());
    let mut problems = one_meaning_per_name(&pages);
    for page in &pages {
        let command = page.command();
        for entry in &page.entries {
            if entry.description.is_empty() {
                problems.push(format!("{command}: {} has no description", entry.name));
            }
            if is_date_option(entry) && !entry.description.contains("YYYY-MM-DD") {
                problems.push(format!("{command}: date option {} does not name its format (YYYY-MM-DD)", entry.name));
            }
        }
    }
    assert!(problems.is_empty(), "{} problems in the help pages:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_parser_reads_short_and_long_help() {
    let short = "Usage: x\n\nArguments:\n  <FILE>  The file\n  [ID]\n\nOptions:\n      --home <DIR>  \
                 [env: MIDNET_HOME=]\n  -q, --quiet       Quiet\n\nCommands:\n  show  Show it\n  help  Help\n";
    let (entries, subcommands) = parse(short);
    assert_eq!(subcommands, ["show"]);
    let described: Vec<(&str, Option<&str>, bool)> =
        entries.iter().map(|e| (e.name.as_str(), e.placeholder.as_deref(), !e.description.is_empty())).collect();
    assert_eq!(
        described,
        [("<FILE>", None, true), ("[ID]", None, false), ("--home", Some("DIR"), false), ("--quiet", None, true)]
    );
    let long = "Options:\n      --ties <TIES>\n          Possible values:\n          - efron: Efron\n          \
                \n          [default: efron]\n\n      --to <DATE>\n          The end (YYYY-MM-DD)\n";
    let (entries, _) = parse(long);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].description, "");
    assert_eq!(entries[1].description, "The end (YYYY-MM-DD)");
    assert!(is_date_option(&entries[1]));
    let undescribed_date =
        Entry { name: "--extraction-to".into(), placeholder: Some("EXTRACTION_TO".into()), description: String::new() };
    assert!(is_date_option(&undescribed_date));
    let directory = Entry { name: "--to".into(), placeholder: Some("DIR".into()), description: String::new() };
    assert!(!is_date_option(&directory));
}

/// The rule of one meaning per option name catches a name given two ways, a name with two
/// placeholders, and a placeholder whose description says another thing.
#[test]
fn the_one_meaning_rule_catches_each_way_a_name_can_mean_two_things() {
    let page = |command: &str, entries: Vec<Entry>| Page {
        path: command.split(' ').map(String::from).collect(),
        entries,
        subcommands: Vec::new(),
    };
    let option = |name: &str, placeholder: Option<&str>, description: &str| Entry {
        name: name.into(),
        placeholder: placeholder.map(String::from),
        description: description.into(),
    };
    let agreeing = [
        page("a", vec![option("--out", Some("FILE"), "A file"), option("--reason", Some("REASON"), "Why it ends")]),
        page("b", vec![option("--out", Some("FILE"), "Another file"), option("--json", None, "Print JSON")]),
        page(
            "c",
            vec![option("--json", None, "Print it as JSON"), option("--home", Some("DIR"), "The home directory")],
        ),
    ];
    assert_eq!(one_meaning_per_name(&agreeing), Vec::<String>::new());
    let two_placeholders = [
        page("a", vec![option("--by", Some("NAME"), "Who")]),
        page("b", vec![option("--by", Some("COLS"), "The columns")]),
    ];
    assert_eq!(one_meaning_per_name(&two_placeholders), ["--by means 2 things: COLS in midnet b; NAME in midnet a"]);
    let flag_and_value = [
        page("a", vec![option("--reviewer", Some("ID"), "Its id")]),
        page("b", vec![option("--reviewer", None, "A role")]),
    ];
    assert_eq!(one_meaning_per_name(&flag_and_value).len(), 1);
    let filter_as_reason =
        [page("a", vec![option("--reason", Some("REASON"), "Only rows whose reason contains this")])];
    assert_eq!(
        one_meaning_per_name(&filter_as_reason),
        ["midnet a: --reason <REASON> does not say \"why\": \"Only rows whose reason contains this\""]
    );
}

/// `--home` only where a home is used: the commands that never touch one do not offer it (nor read
/// `MIDNET_HOME`), those on a home do.
#[test]
fn home_is_offered_only_where_a_home_is_used() {
    let pages = all_pages();
    let offers_home = |command: &str| {
        let page = pages.iter().find(|p| p.command() == command).unwrap_or_else(|| panic!("no page {command}"));
        page.entries.iter().any(|e| e.name == "--home")
    };
    for command in ["midnet", "midnet demo", "midnet synth", "midnet site load", "midnet script check", "midnet report"]
    {
        assert!(!offers_home(command), "{command} offers --home but never uses a home");
    }
    for command in ["midnet login", "midnet project create", "midnet work sql", "midnet extract", "midnet stats km"] {
        assert!(offers_home(command), "{command} works on a home but does not offer --home");
    }
    let dir = tempdir();
    midnet(dir.path(), &["synth", "--home", "h", "--dir", "n"]).fails(2, "unexpected argument '--home'");
}
