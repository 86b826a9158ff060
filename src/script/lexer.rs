//! Script text to tokens. Words are not reserved here: the parser reads keywords by position, so
//! a column may be called `date` and a block `end`.
//!
//! Line breaks end statements, except where a statement obviously goes on: inside brackets, after
//! a line that ends with an operator, `,`, `:` or `=`, or before a line that starts with an
//! operator or with `and`, `or`, `where`, `with`, `then`, `else`, `within`, `of`, `by`.

use super::diagnostic::{Diagnostic, Span};
use crate::query::value::parse_date;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Word(String),
    Int(i64),
    Number(f64),
    Str(String),
    Date(i32),
    /// Punctuation and operators: `( ) [ ] , : . = != < <= > >= + - * / ^`.
    Sym(&'static str),
    Newline,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

impl Token {
    pub fn is_word(&self, w: &str) -> bool {
        matches!(&self.tok, Tok::Word(x) if x == w)
    }

    pub fn is_sym(&self, s: &str) -> bool {
        matches!(&self.tok, Tok::Sym(x) if *x == s)
    }

    /// How the token reads in a message.
    pub fn describe(&self) -> String {
        match &self.tok {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Int(i) => format!("the number {i}"),
            Tok::Number(x) => format!("the number {x}"),
            Tok::Str(s) => format!("the text \"{s}\""),
            Tok::Date(_) => "a date".to_string(),
            Tok::Sym(s) => format!("`{s}`"),
            Tok::Newline => "the end of the line".to_string(),
            Tok::Eof => "the end of the script".to_string(),
        }
    }
}

const SYMBOLS: [&str; 18] =
    ["!=", "<=", ">=", "(", ")", "[", "]", ",", ":", ".", "=", "<", ">", "+", "-", "*", "/", "^"];

pub fn tokenize(text: &str) -> Result<Vec<Token>, Diagnostic> {
    let raw = Lexer { text, pos: 0 }.run()?;
    Ok(join_continued_lines(raw))
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.text[self.pos..].chars().nth(n)
    }

    fn run(mut self) -> Result<Vec<Token>, Diagnostic> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            let start = self.pos;
            let tok = match c {
                '\n' => {
                    self.pos += 1;
                    Tok::Newline
                }
                c if c.is_whitespace() => {
                    self.pos += c.len_utf8();
                    continue;
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += self.peek().unwrap().len_utf8();
                    }
                    continue;
                }
                '"' => self.string()?,
                c if c.is_ascii_digit() => self.number()?,
                c if c.is_ascii_alphabetic() || c == '_' => self.word(),
                _ => self.symbol()?,
            };
            out.push(Token { tok, span: Span::new(start, self.pos) });
        }
        out.push(Token { tok: Tok::Newline, span: Span::new(self.pos, self.pos) });
        out.push(Token { tok: Tok::Eof, span: Span::new(self.pos, self.pos) });
        Ok(out)
    }

    fn word(&mut self) -> Tok {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        let word = &self.text[start..self.pos];
        // The two hyphenated words of the language.
        for (head, tail) in [("follow", "-up"), ("cut", "-off")] {
            if word == head && self.text[self.pos..].starts_with(tail) {
                self.pos += tail.len();
                return Tok::Word(format!("{head}{tail}"));
            }
        }
        Tok::Word(word.to_string())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Tok, Diagnostic> {
        let start = self.pos;
        let n = self.digits();
        // YYYY-MM-DD is a date (arithmetic needs spaces around `-` there: `2024 - 1`).
        if n == 4 && self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            self.digits();
            if self.peek() == Some('-') {
                self.pos += 1;
                self.digits();
            }
            let text = &self.text[start..self.pos];
            return parse_date(text).map(Tok::Date).map_err(|why| {
                Diagnostic::new(Span::new(start, self.pos), why)
                    .help("dates are written YYYY-MM-DD and must exist in the calendar")
            });
        }
        let mut float = false;
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            self.digits();
            float = true;
        }
        if matches!(self.peek(), Some('e' | 'E'))
            && (self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                || (matches!(self.peek_at(1), Some('+' | '-')) && self.peek_at(2).is_some_and(|c| c.is_ascii_digit())))
        {
            self.pos += 2;
            self.digits();
            float = true;
        }
        let text = &self.text[start..self.pos];
        let span = Span::new(start, self.pos);
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
            let mut end = self.pos;
            while self.text[end..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                end += 1;
            }
            let word = &self.text[start..end];
            return Err(Diagnostic::new(Span::new(start, end), format!("`{word}` is neither a number nor a name"))
                .help(format!("a code is written in quotes, \"{word}\"; a name starts with a letter")));
        }
        if float {
            text.parse().map(Tok::Number).map_err(|_| Diagnostic::new(span, format!("`{text}` is not a number")))
        } else {
            text.parse()
                .map(Tok::Int)
                .map_err(|_| Diagnostic::new(span, format!("`{text}` is too large a whole number")))
        }
    }

    fn string(&mut self) -> Result<Tok, Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    return Err(Diagnostic::new(Span::new(start, self.pos), "this text has no closing quote")
                        .help("end it with \" on the same line"));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(Tok::Str(out));
                }
                Some('\\') if matches!(self.peek_at(1), Some('"' | '\\')) => {
                    out.push(self.peek_at(1).unwrap());
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn symbol(&mut self) -> Result<Tok, Diagnostic> {
        let rest = &self.text[self.pos..];
        for (wrong, right) in [("==", "="), ("<>", "!="), ("&&", "and"), ("||", "or")] {
            if rest.starts_with(wrong) {
                let span = Span::new(self.pos, self.pos + wrong.len());
                return Err(Diagnostic::new(span, format!("`{wrong}` is not an operator of the language"))
                    .help(format!("write `{right}`")));
            }
        }
        match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            None => {
                let c = rest.chars().next().unwrap();
                let span = Span::new(self.pos, self.pos + c.len_utf8());
                let help = if c == '\'' || c == '“' || c == '”' {
                    "text and codes are written in straight double quotes: \"E11\"".to_string()
                } else if !c.is_ascii() {
                    "names are ASCII letters, digits and _; other characters belong in quoted text".to_string()
                } else {
                    "remove it".to_string()
                };
                Err(Diagnostic::new(span, format!("unexpected character `{c}`")).help(help))
            }
            Some(s) => {
                self.pos += s.len();
                Ok(Tok::Sym(s))
            }
        }
    }
}

const CONTINUES_AFTER: [&str; 16] = ["(", "[", ",", ":", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "^", "."];
const CONTINUES_BEFORE_SYM: [&str; 12] = ["=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "^", "."];
const CONTINUATION_WORDS: [&str; 11] =
    ["and", "or", "where", "with", "then", "else", "within", "of", "by", "between", "in"];

/// Drop the line breaks that do not end a statement, and repeated ones.
fn join_continued_lines(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        match &t.tok {
            Tok::Sym("(" | "[") => depth += 1,
            Tok::Sym(")" | "]") => depth -= 1,
            _ => {}
        }
        if t.tok != Tok::Newline {
            out.push(t.clone());
            continue;
        }
        let prev = out.last();
        let next = tokens[i + 1..].iter().find(|t| t.tok != Tok::Newline);
        let after_open = prev.is_none_or(|p| {
            p.tok == Tok::Newline
                || matches!(&p.tok, Tok::Sym(s) if CONTINUES_AFTER.contains(s))
                || matches!(&p.tok, Tok::Word(w) if CONTINUATION_WORDS.contains(&w.as_str()) || w == "not")
        });
        let before_more = next.is_some_and(|n| match &n.tok {
            Tok::Sym(s) => CONTINUES_BEFORE_SYM.contains(s),
            Tok::Word(w) => CONTINUATION_WORDS.contains(&w.as_str()),
            _ => false,
        });
        if depth > 0 || after_open || before_more {
            continue;
        }
        out.push(t.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn dates_numbers_words_and_continued_lines() {
        assert_eq!(
            toks("period: 2021-06-01 to cutoff\nx = 1.5\n  and y"),
            vec![
                Tok::Word("period".into()),
                Tok::Sym(":"),
                Tok::Date(crate::query::value::parse_date("2021-06-01").unwrap()),
                Tok::Word("to".into()),
                Tok::Word("cutoff".into()),
                Tok::Newline,
                Tok::Word("x".into()),
                Tok::Sym("="),
                Tok::Number(1.5),
                Tok::Word("and".into()),
                Tok::Word("y".into()),
                Tok::Newline,
                Tok::Eof,
            ]
        );
        assert_eq!(toks("follow-up")[0], Tok::Word("follow-up".into()));
        assert_eq!(toks("a - b")[1], Tok::Sym("-"));
    }

    #[test]
    fn bad_tokens_say_what_to_write() {
        let e = tokenize("x = 2023-02-30").unwrap_err();
        assert_eq!(e.message, "`2023-02-30` is not a date: February 2023 has 28 days");
        assert!(tokenize("a == b").unwrap_err().help.unwrap().contains("`=`"));
        assert!(tokenize("\"open").unwrap_err().message.contains("closing quote"));
        assert!(tokenize("x = 3969099F").unwrap_err().help.unwrap().contains("quotes"));
    }
}
