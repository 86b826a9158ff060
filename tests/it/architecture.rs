//! The invariants of ARCHITECTURE.md that a reader of the source can check: every `crate::` path
//! goes down the layer order written there, and only the command layer names clap or `Global`.
//! The layer order is read from ARCHITECTURE.md itself, so the page and the code cannot drift apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::repo_root;

/// Marks the fenced block of ARCHITECTURE.md that lists the layers, top first.
const LAYERS_MARK: &str = "<!-- layers, top to bottom; tests/it/architecture.rs reads this block -->";

/// Items of the crate root and the module they belong to.
const ROOT_ITEMS: [(&str, &str); 3] = [("Error", "error"), ("Result", "error"), ("bad_input", "error")];

/// The modules the command line may be named in.
fn is_command_layer(file: &str) -> bool {
    file == "main.rs" || file.starts_with("cli/")
}

/// Module name → rank (0 = bottom), from ARCHITECTURE.md.
fn layers(architecture: &str) -> BTreeMap<String, usize> {
    let start = architecture.find(LAYERS_MARK).expect("ARCHITECTURE.md has the layers block");
    let block = &architecture[start..];
    let body = block.split("```").nth(1).expect("a fenced block follows the layers mark");
    let names: Vec<String> = body
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .flat_map(|first| first.split(',').filter(|n| !n.is_empty()).map(str::to_string).collect::<Vec<_>>())
        .collect();
    names.iter().rev().enumerate().map(|(rank, name)| (name.clone(), rank)).collect()
}

/// Where a source line goes wrong.
#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    what: String,
}

/// The top-level module a file of `src/` belongs to (`lib.rs` and `main.rs` belong to none).
fn module_of(file: &str) -> Option<&str> {
    let first = file.split('/').next()?;
    match first {
        "lib.rs" | "main.rs" => None,
        _ => Some(first.strip_suffix(".rs").unwrap_or(first)),
    }
}

/// The top-level modules a line's `crate::` paths name (`crate::a::…`, `crate::{a, b::c}`).
fn named_modules(line: &str) -> std::collections::BTreeSet<String> {
    let mut found = std::collections::BTreeSet::new();
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            found.extend(group.split(',').filter_map(|item| first_segment(item.trim())));
        } else {
            found.extend(first_segment(rest));
        }
    }
    found
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty() && name != "self").then(|| {
        ROOT_ITEMS.iter().find(|(item, _)| *item == name).map_or(name.clone(), |(_, module)| module.to_string())
    })
}

/// The code of a line without its comment (a `//` outside a string literal).
fn code_of(line: &str) -> &str {
    let mut in_string = false;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '"' if previous != '\\' => in_string = !in_string,
            '/' if !in_string && previous == '/' => return &line[..i - 1],
            _ => {}
        }
        previous = c;
    }
    line
}

/// Every way `source` (the text of `src/<file>`) breaks the invariants.
fn check_file(file: &str, source: &str, ranks: &BTreeMap<String, usize>) -> Vec<Violation> {
    let mut violations = Vec::new();
    let own = module_of(file);
    if let Some(own) = own
        && !ranks.contains_key(own)
    {
        let what = format!("module `{own}` is not in the layer order of ARCHITECTURE.md");
        violations.push(Violation { file: file.to_string(), line: 1, what });
    }
    for (n, line) in source.lines().enumerate() {
        let code = code_of(line);
        let at = |what: String| Violation { file: file.to_string(), line: n + 1, what };
        if !is_command_layer(file) {
            if code.contains("clap") {
                violations.push(at("names clap outside the command layer (src/cli/, main.rs)".into()));
            }
            if code.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|word| word == "Global") {
                violations.push(at("names the command line's `Global` outside the command layer".into()));
            }
        }
        let Some(own) = own else { continue };
        let Some(&own_rank) = ranks.get(own) else { continue };
        for target in named_modules(code) {
            if target == own {
                continue;
            }
            match ranks.get(&target) {
                Some(&rank) if rank < own_rank => {}
                Some(_) => violations.push(at(format!("`{own}` imports `{target}`, which is not below it"))),
                None => violations.push(at(format!("`crate::{target}` is not a module of the layer order"))),
            }
        }
    }
    violations
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_go_down_the_layers_and_only_the_command_layer_knows_the_command_line() {
    let root = repo_root();
    let ranks = layers(&std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap());
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for path in &files {
        let file = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        violations.extend(check_file(&file, &std::fs::read_to_string(path).unwrap(), &ranks));
    }
    let listed: Vec<String> = violations.iter().map(|v| format!("src/{}:{}: {}", v.file, v.line, v.what)).collect();
    assert!(listed.is_empty(), "the layering of ARCHITECTURE.md is broken:\n{}", listed.join("\n"));
}

#[test]
fn every_module_of_the_layer_order_exists() {
    let root = repo_root();
    let ranks = layers(&std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap());
    for module in ranks.keys() {
        let src = root.join("src");
        assert!(
            src.join(module).is_dir() || src.join(format!("{module}.rs")).is_file(),
            "ARCHITECTURE.md lists `{module}`, which is not a module of src/"
        );
    }
}

/// The checker itself catches what it must: an upward import, a grouped one, clap or `Global`
/// named in a library module; and lets through what is allowed.
#[test]
fn the_layer_check_catches_upward_imports_and_the_command_line_in_libraries() {
    let ranks: BTreeMap<String, usize> =
        [("error", 0), ("table", 1), ("export", 2), ("cli", 3)].into_iter().map(|(m, r)| (m.to_string(), r)).collect();
    let whats = |file: &str, source: &str| -> Vec<String> {
        check_file(file, source, &ranks).into_iter().map(|v| format!("{}: {}", v.line, v.what)).collect()
    };
    assert_eq!(whats("table/frame.rs", "use crate::error::Result;\nuse crate::Error;"), Vec::<String>::new());
    assert_eq!(
        whats("table/frame.rs", "use crate::export::Rules;"),
        ["1: `table` imports `export`, which is not below it"]
    );
    assert_eq!(
        whats("table/mod.rs", "use crate::{error::Result, export::gate};"),
        ["1: `table` imports `export`, which is not below it"]
    );
    assert_eq!(whats("export/x.rs", "fn f(g: &crate::cli::Global) {}").len(), 2, "upward and Global");
    assert_eq!(
        whats("table/x.rs", "#[derive(clap::ValueEnum)]"),
        ["1: names clap outside the command layer (src/cli/, main.rs)"]
    );
    assert_eq!(whats("cli/x.rs", "use clap::Parser; use crate::export::Rules; struct Global;"), Vec::<String>::new());
    assert_eq!(whats("table/x.rs", "let s = \"a // b\"; // crate::export in a comment"), Vec::<String>::new());
    assert_eq!(whats("newthing/x.rs", "")[0], "1: module `newthing` is not in the layer order of ARCHITECTURE.md");
}
