//! Where a script says something, and messages that show it: file, line and column, the line
//! itself with a caret under the place, and how to fix it.

use std::fmt::Write;

/// A byte range of the script text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// A script's text and the name it is known by in messages.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        let text = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Source { name: name.into(), text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self.text[start..offset.min(self.text.len())].chars().count() + 1;
        (line, col)
    }

    pub fn line(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    pub fn slice(&self, span: Span) -> &str {
        &self.text[span.start.min(self.text.len())..span.end.min(self.text.len())]
    }
}

/// One problem in a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { span, message: message.into(), help: None }
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// ```text
    /// error: unknown column `yj_cod` in drug_order
    ///   --> study.midnet:12:31
    ///    |
    /// 12 |   entry first drug_order where yj_cod in dpp4
    ///    |                                ^^^^^^
    ///    = help: did you mean `yj_code`?
    /// ```
    pub fn render(&self, source: &Source) -> String {
        let (line, col) = source.line_col(self.span.start);
        let text = source.line(line);
        let number = line.to_string();
        let pad = " ".repeat(number.len());
        let mut out = String::new();
        let _ = writeln!(out, "error: {}", self.message);
        let _ = writeln!(out, "{pad}--> {}:{line}:{col}", source.name);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{number} | {text}");
        let width = {
            let (end_line, end_col) = source.line_col(self.span.end.max(self.span.start));
            if end_line == line { (end_col - col).max(1) } else { text.chars().count().saturating_sub(col - 1).max(1) }
        };
        let lead: String = text.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(width));
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        out
    }
}

/// Several diagnostics as one error message.
pub fn render_all(diagnostics: &[Diagnostic], source: &Source) -> String {
    let mut out: String = diagnostics.iter().map(|d| d.render(source)).collect::<Vec<_>>().join("\n");
    if diagnostics.len() > 1 {
        let _ = write!(out, "\n{} errors in {}", diagnostics.len(), source.name);
    }
    out.trim_end().to_string()
}

/// The known name closest to `name`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_points_at_the_place() {
        let src = Source::new("s.midnet", "study \"x\"\n  entry first drug_ordr\n");
        let start = src.text.find("drug_ordr").unwrap();
        let d = Diagnostic::new(Span::new(start, start + 9), "unknown table `drug_ordr`")
            .help("did you mean `drug_order`?");
        let text = d.render(&src);
        assert!(text.contains("--> s.midnet:2:15"), "{text}");
        assert!(text.contains("2 |   entry first drug_ordr"), "{text}");
        assert!(text.contains("  |               ^^^^^^^^^"), "{text}");
        assert!(text.contains("= help: did you mean `drug_order`?"), "{text}");
    }

    #[test]
    fn suggestions_are_close_names_only() {
        assert_eq!(did_you_mean("yj_cod", ["yj_code", "hot_code"]), Some("yj_code"));
        assert_eq!(did_you_mean("zzz", ["yj_code"]), None);
    }
}
