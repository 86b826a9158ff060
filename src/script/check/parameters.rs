//! Parameters: declared once each, wherever the `parameters` block is (one cut-off date and one
//! outcome list at most); the default and the given value (`--param NAME=VALUE`) parsed by their
//! kind; every parameter set when compiling, and every given value a declared parameter. A use
//! of a parameter is its value as a constant (missing while only checking, when unset).

use super::*;

impl Checker<'_> {
    /// Declare the parameters (all of them, wherever the block is) with their values.
    pub(super) fn parameters(&mut self, script: &ast::Script, values: Option<&ParamValues>) {
        let decls: Vec<&ast::ParamDecl> = script
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Parameters(d) => Some(d),
                _ => None,
            })
            .flatten()
            .collect();
        let mut cutoff: Option<Span> = None;
        for decl in decls {
            if let Err(d) = self.declarable(decl, &mut cutoff) {
                self.diags.push(d);
                continue;
            }
            let name = &decl.name;
            // A parameter whose value is wrong is still declared: its uses are not reported again
            // as unknown names, and it is not reported as unset.
            let errors_before = self.diags.len();
            let value = self.parameter_value(decl, values);
            if value.is_none() && values.is_some() && self.diags.len() == errors_before {
                self.diags.push(Diagnostic::new(name.span, format!("the parameter `{}` is not set", name.name)).help(
                    format!("add `--param {}={}` (a {})", name.name, example_value(&decl.kind), decl.kind.describe()),
                ));
            }
            let index = self.params.len();
            self.params.push(Param { name: name.name.clone(), kind: decl.kind.clone(), span: name.span, value });
            self.names.insert(name.name.clone(), (Binding::Param(index), name.span));
        }
        if let Some(values) = values {
            self.unknown_parameters(values);
        }
    }

    /// May this parameter be declared (a free name, the first of its name, of the cut-off and of
    /// the outcome list)?
    fn declarable(&self, decl: &ast::ParamDecl, cutoff: &mut Option<Span>) -> Result<(), Diagnostic> {
        let name = &decl.name;
        self.definable(name)?;
        if self.params.iter().any(|p| p.name == name.name) {
            return Err(
                Diagnostic::new(name.span, format!("the parameter `{}` is declared twice", name.name)).help("keep one")
            );
        }
        if decl.kind == ParamKind::Cutoff {
            if cutoff.is_some() {
                return Err(Diagnostic::new(decl.kind_span, "a script has one cut-off date")
                    .help("make the other parameter a plain `date`; `midnet extract --cutoff` sets the cut-off"));
            }
            *cutoff = Some(decl.kind_span);
        }
        if decl.kind == ParamKind::Outcomes && self.params.iter().any(|p| p.kind == ParamKind::Outcomes) {
            return Err(Diagnostic::new(decl.kind_span, "a script has one outcome list").help("keep one"));
        }
        Ok(())
    }

    /// The given value, else the default; a wrong one is reported and gives `None`.
    fn parameter_value(&mut self, decl: &ast::ParamDecl, values: Option<&ParamValues>) -> Option<ParamValue> {
        let name = &decl.name;
        let default = match &decl.default {
            Some(e) => match default_text(&decl.kind, e) {
                Ok(text) => match ParamValue::parse(&decl.kind, &text) {
                    Ok(v) => Some(v),
                    Err(why) => {
                        self.diags.push(Diagnostic::new(e.span, format!("the default of `{}`: {why}", name.name)));
                        None
                    }
                },
                Err(d) => {
                    self.diags.push(d);
                    None
                }
            },
            None => None,
        };
        let Some(text) = values.and_then(|v| v.get(&name.name)) else {
            return default;
        };
        match ParamValue::parse(&decl.kind, text) {
            Ok(v) => Some(v),
            Err(why) => {
                self.diags.push(
                    Diagnostic::new(name.span, format!("--param {}={text}: {why}", name.name)).help(format!(
                        "`{}` is a {}",
                        name.name,
                        decl.kind.describe()
                    )),
                );
                None
            }
        }
    }

    /// Every `--param` must name a declared parameter.
    fn unknown_parameters(&mut self, values: &ParamValues) {
        for given in values.names() {
            if !self.params.iter().any(|p| p.name == given) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                let mut d =
                    Diagnostic::new(Span::default(), format!("--param {given}: the script has no parameter `{given}`"));
                d = match did_you_mean(given, known.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None if known.is_empty() => d.help("the script declares no parameters"),
                    None => d.help(format!("its parameters are: {}", known.join(", "))),
                };
                self.diags.push(d);
            }
        }
    }

    /// A use of parameter `i`: its value as a constant, its codes, or the outcome list.
    pub(super) fn param_value(&self, i: usize) -> Val {
        let p = &self.params[i];
        let constant = |v: Option<Value>, ty| Val::Scalar(Sc::constant(v.unwrap_or(Value::Missing), ty));
        match (&p.kind, &p.value) {
            (ParamKind::Date | ParamKind::Cutoff, v) => constant(
                match v {
                    Some(ParamValue::Date(d)) => Some(Value::Date(*d)),
                    _ => None,
                },
                Type::Date,
            ),
            (ParamKind::Integer, v) => constant(
                match v {
                    Some(ParamValue::Int(n)) => Some(Value::Int(*n)),
                    _ => None,
                },
                Type::Int,
            ),
            (ParamKind::Number, v) => constant(
                match v {
                    Some(ParamValue::Float(x)) => Some(Value::Float(*x)),
                    _ => None,
                },
                Type::Float,
            ),
            (ParamKind::Codelist(system), v) => {
                let patterns = match v {
                    Some(ParamValue::Codes(list)) => {
                        list.iter().filter_map(|c| crate::script::codes::entry(*system, c).ok()).collect()
                    }
                    _ => Vec::new(),
                };
                Val::Codes(Arc::new(Codelist::Codes { system: *system, patterns }))
            }
            (ParamKind::Outcomes, _) => Val::OutcomeList(p.name.clone()),
        }
    }
}

/// The text of a parameter's default, in the form `--param` takes.
fn default_text(kind: &ParamKind, e: &ast::Expr) -> Result<String, Diagnostic> {
    use ast::ExprKind as K;
    let wrong = || {
        Diagnostic::new(e.span, format!("this default does not fit a {}", kind.describe()))
            .help(format!("e.g. `= {}`", example_default(kind)))
    };
    Ok(match (kind, &e.kind) {
        (ParamKind::Date | ParamKind::Cutoff, K::Date(d)) => crate::query::value::format_date(*d),
        (ParamKind::Integer, K::Int(i)) => i.to_string(),
        (ParamKind::Integer, K::Days(inner)) => match inner.kind {
            K::Int(i) => i.to_string(),
            _ => return Err(wrong()),
        },
        (ParamKind::Number, K::Int(i)) => i.to_string(),
        (ParamKind::Number, K::Number(x)) => format!("{x}"),
        (ParamKind::Outcomes, K::Name(n)) if n == "all" => "all".into(),
        (ParamKind::Codelist(_) | ParamKind::Outcomes, K::List(items)) => {
            let mut texts = Vec::new();
            for item in items {
                match &item.kind {
                    K::Str(s) => texts.push(s.clone()),
                    _ => {
                        return Err(Diagnostic::new(item.span, "list items are written in quotes")
                            .help("e.g. [\"3969099\", \"3969010\"]"));
                    }
                }
            }
            texts.join(",")
        }
        _ => return Err(wrong()),
    })
}

fn example_default(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Date | ParamKind::Cutoff => "2024-03-31",
        ParamKind::Integer => "30",
        ParamKind::Number => "1.5",
        ParamKind::Codelist(_) => "[\"3969099\"]",
        ParamKind::Outcomes => "all",
    }
}

fn example_value(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Date | ParamKind::Cutoff => "2024-03-31",
        ParamKind::Integer => "30",
        ParamKind::Number => "1.5",
        ParamKind::Codelist(_) => "CODE,CODE",
        ParamKind::Outcomes => "all",
    }
}
