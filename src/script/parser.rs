//! Tokens to the syntax tree ([`super::ast`]). Recursive descent; the grammar is in
//! `docs/script-language.md`. The first syntax error stops the parse: what follows a broken line
//! cannot be read reliably.

use super::ast::*;
use super::diagnostic::{Diagnostic, Span, did_you_mean};
use super::lexer::{Tok, Token};
use crate::schema::CodeSystem;

type PResult<T> = Result<T, Diagnostic>;

/// A `key: expression` line of a block: the key, where it is, the expression.
type KeyedLine = (String, Span, Expr);

/// Words that open a top-level item.
const ITEMS: [&str; 10] =
    ["study", "parameters", "codelist", "events", "define", "cohort", "outcome", "follow-up", "dataset", "table"];
/// Words that open an item inside `cohort … end`.
const COHORT_ITEMS: [&str; 7] = ["entry", "require", "exclude", "codelist", "events", "define", "exposure"];

pub fn parse(tokens: Vec<Token>) -> PResult<Script> {
    let mut p = Parser { toks: tokens, pos: 0, in_clause: false };
    let mut items = Vec::new();
    p.skip_newlines();
    while !p.at_eof() {
        items.push(p.top_item()?);
        p.skip_newlines();
    }
    Ok(Script { items })
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// Inside the condition of a `where` or the value of a `with`: a `where` or `with` that
    /// follows belongs to the selection being filtered, not to the last operand.
    in_clause: bool,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn at_eof(&self) -> bool {
        self.peek().tok == Tok::Eof
    }

    fn at_word(&self, w: &str) -> bool {
        self.peek().is_word(w)
    }

    fn at_sym(&self, s: &str) -> bool {
        self.peek().is_sym(s)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.at_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.at_sym(s) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek().tok == Tok::Newline {
            self.bump();
        }
    }

    fn unexpected(&self, expected: &str) -> Diagnostic {
        let t = self.peek();
        Diagnostic::new(t.span, format!("expected {expected}, found {}", t.describe()))
    }

    fn expect_word(&mut self, w: &str, help: &str) -> PResult<Span> {
        if self.at_word(w) { Ok(self.bump().span) } else { Err(self.unexpected(&format!("`{w}`")).help(help)) }
    }

    fn expect_sym(&mut self, s: &str, help: &str) -> PResult<Span> {
        if self.at_sym(s) { Ok(self.bump().span) } else { Err(self.unexpected(&format!("`{s}`")).help(help)) }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        match &self.peek().tok {
            Tok::Word(w) => {
                let w = w.clone();
                let span = self.bump().span;
                Ok(Ident { name: w, span })
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn text(&mut self, what: &str) -> PResult<Text> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                let span = self.bump().span;
                Ok(Text { text: s, span })
            }
            _ => Err(self.unexpected(what).help("text is written in double quotes: \"like this\"")),
        }
    }

    /// The end of a statement: a line break (or the `end` of the block, on its own line).
    fn end_of_line(&mut self) -> PResult<()> {
        match self.peek().tok {
            Tok::Newline => {
                self.skip_newlines();
                Ok(())
            }
            Tok::Eof => Ok(()),
            _ => Err(self.unexpected("the end of the line").help("put each statement on its own line")),
        }
    }

    fn top_item(&mut self) -> PResult<Item> {
        let t = self.peek().clone();
        let Tok::Word(word) = &t.tok else {
            return Err(self.unexpected("a statement (study, parameters, codelist, events, define, cohort, outcome, follow-up, dataset or table)"));
        };
        let item = match word.as_str() {
            "study" => self.study()?,
            "parameters" => self.parameters()?,
            "cohort" => self.cohort()?,
            "outcome" => self.outcome()?,
            "follow-up" => self.follow_up()?,
            "dataset" | "table" => self.output()?,
            "codelist" | "events" | "define" => self.definition()?,
            "entry" | "require" | "exclude" | "exposure" => {
                return Err(Diagnostic::new(t.span, format!("`{word}` belongs inside the `cohort … end` block"))
                    .help("move it between `cohort` and its `end`"));
            }
            other => {
                let mut d = Diagnostic::new(t.span, format!("`{other}` does not start a statement"));
                d = match did_you_mean(other, ITEMS) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("a statement starts with one of: {}", ITEMS.join(", "))),
                };
                return Err(d);
            }
        };
        Ok(item)
    }

    /// Items of a block up to its `end`. A word that can only start a top-level item means the
    /// `end` is missing.
    fn block<T>(
        &mut self,
        opener: &Token,
        allowed: &[&str],
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<(Vec<T>, Span)> {
        let name = match &opener.tok {
            Tok::Word(w) => w.clone(),
            _ => String::new(),
        };
        self.end_of_line()?;
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            let t = self.peek().clone();
            if t.is_word("end") && !self.peek_at(1).is_sym(":") {
                self.bump();
                self.end_of_line()?;
                return Ok((items, opener.span.to(t.span)));
            }
            let stray = match &t.tok {
                Tok::Eof => Some("the end of the script".to_string()),
                Tok::Word(w) if ITEMS.contains(&w.as_str()) && !allowed.contains(&w.as_str()) => Some(format!("`{w}`")),
                _ => None,
            };
            if let Some(found) = stray {
                return Err(Diagnostic::new(opener.span, format!("the `{name}` block has no `end`"))
                    .help(format!("add a line `end` to close it before {found}")));
            }
            items.push(item(self)?);
        }
    }

    fn study(&mut self) -> PResult<Item> {
        let opener = self.bump();
        let name = self.text("the study's name in quotes after `study`")?;
        let mut period = None;
        let (_, span) = self.block(&opener, &[], |p| {
            let key = p.expect_word("period", "the study block holds one line: `period: START to END`")?;
            p.expect_sym(":", "write `period: 2021-06-01 to cutoff`")?;
            let start = p.expr()?;
            p.expect_word("to", "write `period: START to END`")?;
            let end = p.expr()?;
            if period.is_some() {
                return Err(Diagnostic::new(key, "the study has two periods").help("keep one `period:` line"));
            }
            period = Some((start, end));
            p.end_of_line()
        })?;
        let Some((start, end)) = period else {
            return Err(Diagnostic::new(span, "the study has no period")
                .help("add a line `period: START to END`: entry events must fall in it"));
        };
        Ok(Item::Study(Study { name, start, end, span }))
    }

    fn parameters(&mut self) -> PResult<Item> {
        let opener = self.bump();
        let (decls, _) = self.block(&opener, &[], |p| {
            let name = p.ident("a parameter name")?;
            p.expect_sym(":", "write `name: type`, e.g. `cutoff: cut-off date`")?;
            let start = p.peek().span;
            let kind = p.param_kind()?;
            let kind_span = start.to(p.toks[p.pos - 1].span);
            let default = if p.eat_sym("=") { Some(p.expr()?) } else { None };
            p.end_of_line()?;
            Ok(ParamDecl { name, kind, kind_span, default })
        })?;
        Ok(Item::Parameters(decls))
    }

    fn param_kind(&mut self) -> PResult<ParamKind> {
        const KINDS: &str = "date, cut-off date, integer, number, <system> codelist (yj, hot, icd10, jlac10, procedure, medis), outcome list";
        let word = self.ident("a parameter type")?;
        let kind = match word.name.as_str() {
            "date" => ParamKind::Date,
            "cut-off" => {
                self.expect_word("date", "the type is `cut-off date`")?;
                ParamKind::Cutoff
            }
            "integer" => ParamKind::Integer,
            "number" => ParamKind::Number,
            "outcome" => {
                self.expect_word("list", "the type is `outcome list`")?;
                ParamKind::Outcomes
            }
            system => match CodeSystem::from_name(system) {
                Some(s) => {
                    self.expect_word("codelist", &format!("the type is `{system} codelist`"))?;
                    ParamKind::Codelist(s)
                }
                None => {
                    return Err(Diagnostic::new(word.span, format!("`{system}` is not a parameter type"))
                        .help(format!("the types are: {KINDS}")));
                }
            },
        };
        Ok(kind)
    }

    fn definition(&mut self) -> PResult<Item> {
        let keyword = self.bump();
        let name = self.ident("a name")?;
        self.expect_sym("=", "write `name = …`")?;
        let value = self.expr()?;
        self.end_of_line()?;
        Ok(match &keyword.tok {
            Tok::Word(w) if w == "codelist" => Item::Codelist(name, value),
            Tok::Word(w) if w == "events" => Item::Events(name, value),
            _ => Item::Define(name, value),
        })
    }

    fn cohort(&mut self) -> PResult<Item> {
        let opener = self.bump();
        let (items, _) = self.block(&opener, &["codelist", "events", "define"], |p| {
            let t = p.peek().clone();
            match &t.tok {
                Tok::Word(w) if w == "entry" => {
                    p.bump();
                    let every = if p.eat_word("every") {
                        true
                    } else {
                        p.expect_word("first", "write `entry first SELECTION` or `entry every SELECTION`")?;
                        false
                    };
                    let selection = p.expr()?;
                    let span = t.span.to(selection.span);
                    p.end_of_line()?;
                    Ok(Item::Entry { every, selection, span })
                }
                Tok::Word(w) if w == "require" || w == "exclude" => {
                    p.bump();
                    let label = p.text("the rule's name in quotes, e.g. require \"aged 18 or over\": age >= 18")?;
                    p.expect_sym(":", "write `require \"name\": condition`")?;
                    let condition = p.expr()?;
                    let span = t.span.to(condition.span);
                    p.end_of_line()?;
                    Ok(Item::Rule { exclude: w == "exclude", label, condition, span })
                }
                Tok::Word(w) if w == "exposure" => p.exposure(),
                Tok::Word(w) if ["codelist", "events", "define"].contains(&w.as_str()) => p.definition(),
                _ => Err(p
                    .unexpected("a line of the cohort block")
                    .help(format!("a cohort block holds: {}", COHORT_ITEMS.join(", ")))),
            }
        })?;
        Ok(Item::Cohort(items))
    }

    /// `key: expression` lines of a block, each key at most once.
    fn keyed_lines(&mut self, opener: &Token, keys: &[&str]) -> PResult<(Vec<KeyedLine>, Span)> {
        let mut seen: Vec<String> = Vec::new();
        let block_name = match &opener.tok {
            Tok::Word(w) => w.clone(),
            _ => String::new(),
        };
        self.block(opener, &[], |p| {
            let first = p.ident("a line of the block")?;
            let mut key = first.name.clone();
            let mut span = first.span;
            // Two-word keys: `baseline normal`.
            if let Tok::Word(w) = &p.peek().tok
                && keys.contains(&format!("{key} {w}").as_str())
            {
                key = format!("{key} {w}");
                span = span.to(p.bump().span);
            }
            if !keys.contains(&key.as_str()) {
                let help = match did_you_mean(&key, keys.iter().copied()) {
                    Some(s) => format!("did you mean `{s}:`?"),
                    None => format!(
                        "a `{block_name}` block holds: {}",
                        keys.iter().map(|k| format!("`{k}:`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                return Err(
                    Diagnostic::new(span, format!("`{key}` is not a line of a `{block_name}` block")).help(help)
                );
            }
            if seen.contains(&key) {
                return Err(Diagnostic::new(span, format!("`{key}:` is given twice")).help("keep one"));
            }
            seen.push(key.clone());
            p.expect_sym(":", &format!("write `{key}: …`"))?;
            let value = if key == "stockpiling" {
                // `none` or `carry over`: words, kept as a name expression.
                let w = p.ident("`none` or `carry over`")?;
                let mut text = w.name.clone();
                let mut span = w.span;
                if text == "carry" {
                    span = span.to(p.expect_word("over", "write `carry over`")?);
                    text = "carry over".into();
                }
                Expr { kind: ExprKind::Name(text), span }
            } else {
                p.expr()?
            };
            p.end_of_line()?;
            Ok((key, span, value))
        })
    }

    fn exposure(&mut self) -> PResult<Item> {
        let opener = self.bump();
        let name = self.ident("the exposure's name")?;
        let (lines, span) = self.keyed_lines(&opener, &["orders", "grace", "stockpiling"])?;
        let get = |k: &str| lines.iter().find(|(key, ..)| key == k).map(|(_, _, e)| e.clone());
        let missing = |k: &str, example: &str| {
            Diagnostic::new(span, format!("the exposure `{}` has no `{k}:` line", name.name))
                .help(format!("add `{k}: {example}`"))
        };
        let orders = get("orders").ok_or_else(|| missing("orders", "drug_order where yj_code in drug"))?;
        let grace = get("grace").ok_or_else(|| missing("grace", "30 days"))?;
        let stock = get("stockpiling").ok_or_else(|| missing("stockpiling", "none (or: carry over)"))?;
        let carry_over = match &stock.kind {
            ExprKind::Name(w) if w == "none" => false,
            ExprKind::Name(w) if w == "carry over" => true,
            _ => {
                return Err(Diagnostic::new(stock.span, "stockpiling is `none` or `carry over`")
                    .help("`none`: overlapping supply is lost; `carry over`: an early refill is used after the earlier supply runs out"));
            }
        };
        Ok(Item::Exposure(ExposureDecl { name, orders, grace, carry_over, span }))
    }

    fn outcome(&mut self) -> PResult<Item> {
        let opener = self.bump();
        let name = self.ident("the outcome's id")?;
        let label = if matches!(self.peek().tok, Tok::Str(_)) { Some(self.text("a label")?) } else { None };
        let (lines, span) = self.keyed_lines(&opener, &["event", "baseline normal"])?;
        let get = |k: &str| lines.iter().find(|(key, ..)| key == k).map(|(_, _, e)| e.clone());
        let event = get("event").ok_or_else(|| {
            Diagnostic::new(span, format!("the outcome `{}` has no `event:` line", name.name)).help(
                "add `event: SELECTION`, e.g. `event: lab_result where analyte = \"alt\" and value > 3 * ref_high`",
            )
        })?;
        Ok(Item::Outcome(OutcomeDecl { name, label, event, baseline_normal: get("baseline normal"), span }))
    }

    fn follow_up(&mut self) -> PResult<Item> {
        let opener = self.bump();
        let (lines, span) = self.keyed_lines(&opener, &["from", "until"])?;
        let get = |k: &str| lines.iter().find(|(key, ..)| key == k).map(|(_, _, e)| e.clone());
        let missing = |k: &str, example: &str| {
            Diagnostic::new(span, format!("the follow-up has no `{k}:` line")).help(format!("add `{k}: {example}`"))
        };
        let from = get("from").ok_or_else(|| missing("from", "index + 1 day"))?;
        let until = get("until").ok_or_else(|| missing("until", "earliest(observation_end, death_date, cutoff)"))?;
        Ok(Item::FollowUp(FollowUp { from, until, span }))
    }

    fn output(&mut self) -> PResult<Item> {
        let opener = self.bump();
        let is_table = opener.is_word("table");
        let name = self.ident(if is_table { "the table's name" } else { "the dataset's name" })?;
        let selection = if is_table {
            self.expect_sym("=", "write `table NAME = SELECTION`, then one column per line, then `end`")?;
            Some(self.expr()?)
        } else {
            None
        };
        let (columns, span) = self.block(&opener, &[], |p| {
            let name = p.ident("a column name")?;
            let column = if name.name == "outcomes" && !p.at_sym("=") {
                ColumnDecl::Outcomes(name.span)
            } else if p.eat_sym("=") {
                ColumnDecl::Named { name, expr: Some(p.expr()?) }
            } else {
                ColumnDecl::Named { name, expr: None }
            };
            p.end_of_line()?;
            Ok(column)
        })?;
        let decl = OutputDecl { name, selection, columns, span };
        Ok(if is_table { Item::Table(decl) } else { Item::Dataset(decl) })
    }

    // Expressions, loosest binding first.

    pub fn expr(&mut self) -> PResult<Expr> {
        self.or_expr()
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut left = self.and_expr()?;
        while self.eat_word("or") {
            let right = self.and_expr()?;
            left = binary(BinOp::Or, left, right);
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut left = self.not_expr()?;
        while self.eat_word("and") {
            let right = self.not_expr()?;
            left = binary(BinOp::And, left, right);
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        if self.at_word("not") {
            let start = self.bump().span;
            let inner = self.not_expr()?;
            let span = start.to(inner.span);
            return Ok(Expr { kind: ExprKind::Not(Box::new(inner)), span });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let left = self.additive()?;
        let op = match &self.peek().tok {
            Tok::Sym("=") => BinOp::Eq,
            Tok::Sym("!=") => BinOp::Ne,
            Tok::Sym("<") => BinOp::Lt,
            Tok::Sym("<=") => BinOp::Le,
            Tok::Sym(">") => BinOp::Gt,
            Tok::Sym(">=") => BinOp::Ge,
            Tok::Word(w) if w == "between" => {
                self.bump();
                let low = self.additive()?;
                self.expect_word("and", "write `x between LOW and HIGH` (both included)")?;
                let high = self.additive()?;
                let span = left.span.to(high.span);
                return Ok(Expr { kind: ExprKind::Between(Box::new(left), Box::new(low), Box::new(high)), span });
            }
            Tok::Word(w) if w == "in" => {
                self.bump();
                let right = self.additive()?;
                let span = left.span.to(right.span);
                return Ok(Expr { kind: ExprKind::In(Box::new(left), Box::new(right)), span });
            }
            _ => return Ok(left),
        };
        self.bump();
        let right = self.additive()?;
        if let Tok::Sym(s @ ("=" | "!=" | "<" | "<=" | ">" | ">=")) = self.peek().tok {
            return Err(Diagnostic::new(
                self.peek().span,
                format!("comparisons do not chain: `{s}` after a comparison"),
            )
            .help("combine two comparisons with `and`, or use `x between a and b`"));
        }
        Ok(binary(op, left, right))
    }

    fn additive(&mut self) -> PResult<Expr> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek().tok {
                Tok::Sym("+") => BinOp::Add,
                Tok::Sym("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.multiplicative()?;
            left = binary(op, left, right);
        }
    }

    fn multiplicative(&mut self) -> PResult<Expr> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek().tok {
                Tok::Sym("*") => BinOp::Mul,
                Tok::Sym("/") => BinOp::Div,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary()?;
            left = binary(op, left, right);
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.at_sym("-") {
            let start = self.bump().span;
            let inner = self.unary()?;
            let span = start.to(inner.span);
            return Ok(Expr { kind: ExprKind::Neg(Box::new(inner)), span });
        }
        self.power()
    }

    fn power(&mut self) -> PResult<Expr> {
        let base = self.postfix()?;
        if self.eat_sym("^") {
            let exponent = self.unary()?;
            return Ok(binary(BinOp::Pow, base, exponent));
        }
        Ok(base)
    }

    /// `f` with `in_clause` set as given, restored afterwards.
    fn with_clause<T>(&mut self, in_clause: bool, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let outer = std::mem::replace(&mut self.in_clause, in_clause);
        let result = f(self);
        self.in_clause = outer;
        result
    }

    /// A selection: the operand of `exists`, `first`, `… of`, `all of`, which takes its own
    /// `where` and `with` even inside another selection's condition.
    fn selection(&mut self) -> PResult<Expr> {
        self.with_clause(false, |p| p.postfix())
    }

    /// A primary followed by `.field`, `days`, `where …` and `with name = …`. The condition of
    /// `where` runs to the end of the expression: `exists x where a or b` tests `a or b`.
    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.in_clause && (self.at_word("where") || self.at_word("with")) {
                return Ok(e);
            }
            if self.at_sym(".") {
                self.bump();
                let field = self.ident("a column name after `.`")?;
                let span = e.span.to(field.span);
                e = Expr { kind: ExprKind::Field(Box::new(e), field), span };
            } else if self.at_word("days") || self.at_word("day") {
                let span = e.span.to(self.bump().span);
                e = Expr { kind: ExprKind::Days(Box::new(e)), span };
            } else if self.eat_word("where") {
                let cond = self.with_clause(true, |p| p.expr())?;
                let span = e.span.to(cond.span);
                e = Expr { kind: ExprKind::Where(Box::new(e), Box::new(cond)), span };
            } else if self.eat_word("with") {
                let name = self.ident("a name for the computed column")?;
                self.expect_sym("=", "write `with name = expression`")?;
                let value = self.with_clause(true, |p| p.expr())?;
                let span = e.span.to(value.span);
                e = Expr { kind: ExprKind::With(Box::new(e), name, Box::new(value)), span };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        let lit = |kind| Ok(Expr { kind, span: t.span });
        match &t.tok {
            Tok::Int(i) => {
                self.bump();
                lit(ExprKind::Int(*i))
            }
            Tok::Number(x) => {
                self.bump();
                lit(ExprKind::Number(*x))
            }
            Tok::Str(s) => {
                self.bump();
                lit(ExprKind::Str(s.clone()))
            }
            Tok::Date(d) => {
                self.bump();
                lit(ExprKind::Date(*d))
            }
            Tok::Sym("(") => {
                self.bump();
                let inner = self.with_clause(false, |p| p.expr())?;
                let close = self.expect_sym(")", "close the parenthesis")?;
                Ok(Expr { kind: inner.kind, span: t.span.to(close) })
            }
            Tok::Sym("[") => {
                let (items, span) = self.list()?;
                Ok(Expr { kind: ExprKind::List(items), span })
            }
            Tok::Word(w) => self.word_primary(w.clone(), t.span),
            _ => Err(self.unexpected("a value, a name or a selection")),
        }
    }

    fn list(&mut self) -> PResult<(Vec<Expr>, Span)> {
        let open = self.expect_sym("[", "a list is written [\"a\", \"b\"]")?;
        let mut items = Vec::new();
        if !self.at_sym("]") {
            loop {
                items.push(self.expr()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let close = self.expect_sym("]", "close the list with `]`, separating items with `,`")?;
        Ok((items, open.to(close)))
    }

    fn word_primary(&mut self, w: String, span: Span) -> PResult<Expr> {
        let at = |kind, end: Span| Ok(Expr { kind, span: span.to(end) });
        match w.as_str() {
            "true" | "false" => {
                self.bump();
                at(ExprKind::Bool(w == "true"), span)
            }
            "if" => {
                self.bump();
                let cond = self.expr()?;
                self.expect_word("then", "write `if CONDITION then A else B`")?;
                let then = self.expr()?;
                let (otherwise, end) = if self.eat_word("else") {
                    let e = self.expr()?;
                    let end = e.span;
                    (Some(Box::new(e)), end)
                } else {
                    (None, then.span)
                };
                at(ExprKind::If(Box::new(cond), Box::new(then), otherwise), end)
            }
            "exists" | "no" | "count" => {
                self.bump();
                let op = match w.as_str() {
                    "exists" => AggOp::Exists,
                    "no" => AggOp::No,
                    _ => AggOp::Count,
                };
                let sel = self.selection()?;
                let end = sel.span;
                at(ExprKind::Aggregate(op, None, Box::new(sel)), end)
            }
            "sum" | "min" | "max" | "highest" | "lowest" if !self.peek_at(1).is_sym("(") => {
                self.bump();
                let of = self.additive()?;
                self.expect_word("of", &format!("write `{w} EXPRESSION of SELECTION`, e.g. `{w} value of alt`"))?;
                let sel = self.selection()?;
                let end = sel.span;
                let kind = match w.as_str() {
                    "sum" => ExprKind::Aggregate(AggOp::Sum, Some(Box::new(of)), Box::new(sel)),
                    "min" => ExprKind::Aggregate(AggOp::Min, Some(Box::new(of)), Box::new(sel)),
                    "max" => ExprKind::Aggregate(AggOp::Max, Some(Box::new(of)), Box::new(sel)),
                    "highest" => ExprKind::Pick(PickOp::Highest, Some(Box::new(of)), Box::new(sel)),
                    _ => ExprKind::Pick(PickOp::Lowest, Some(Box::new(of)), Box::new(sel)),
                };
                at(kind, end)
            }
            "first" | "last" => {
                self.bump();
                let op = if w == "first" { PickOp::First } else { PickOp::Last };
                let sel = self.selection()?;
                let end = sel.span;
                at(ExprKind::Pick(op, None, Box::new(sel)), end)
            }
            "all" if self.peek_at(1).is_word("of") => {
                self.bump();
                self.bump();
                let mut parts = Vec::new();
                loop {
                    let name = match (&self.peek().tok, self.peek_at(1).is_sym("=")) {
                        (Tok::Word(_), true) => {
                            let n = self.ident("a part name")?;
                            self.bump();
                            Some(n)
                        }
                        _ => None,
                    };
                    let sel = self.selection()?;
                    let name = match (name, &sel.kind) {
                        (Some(n), _) => n,
                        (None, ExprKind::Name(n)) => Ident { name: n.clone(), span: sel.span },
                        (None, _) => {
                            return Err(Diagnostic::new(sel.span, "this part of `all of` needs a name")
                                .help("write `name = SELECTION`, e.g. `all of alt = (alt where value >= 3 * ref_high), bili = …`"));
                        }
                    };
                    parts.push((name, sel));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_word("within", "write `all of A, B within N days`")?;
                let amount = self.primary()?;
                let within = if self.at_word("days") || self.at_word("day") {
                    let end = self.bump().span;
                    Expr { span: amount.span.to(end), kind: ExprKind::Days(Box::new(amount)) }
                } else {
                    amount
                };
                let end = within.span;
                at(ExprKind::AllOf(parts, Box::new(within)), end)
            }
            _ => {
                self.bump();
                let system = CodeSystem::from_name(&w);
                if system.is_some() && self.at_sym("[") {
                    let (codes, end) = self.list()?;
                    return at(ExprKind::Codes { system: Ident { name: w, span }, codes }, end);
                }
                if system.is_some() && self.at_word("from") {
                    self.bump();
                    let path = self.text("the codelist file's path in quotes")?;
                    let mut end = path.span;
                    let column = if self.eat_word("column") {
                        let c = self.text("the column's name in quotes")?;
                        end = c.span;
                        Some(c)
                    } else {
                        None
                    };
                    return at(ExprKind::CodeFile { system: Ident { name: w, span }, path, column }, end);
                }
                if self.at_sym("(") {
                    let (args, end) = self.call_args()?;
                    return at(ExprKind::Call(Ident { name: w, span }, args), end);
                }
                at(ExprKind::Name(w), span)
            }
        }
    }

    fn call_args(&mut self) -> PResult<(Vec<Expr>, Span)> {
        self.expect_sym("(", "")?;
        let mut args = Vec::new();
        if !self.at_sym(")") {
            loop {
                args.push(self.expr()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let close = self.expect_sym(")", "close the call with `)`, separating arguments with `,`")?;
        Ok((args, close))
    }
}

fn binary(op: BinOp, left: Expr, right: Expr) -> Expr {
    let span = left.span.to(right.span);
    Expr { kind: ExprKind::Binary(op, Box::new(left), Box::new(right)), span }
}
