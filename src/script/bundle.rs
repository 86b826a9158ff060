//! A script with the codelist files it names, read once: the bytes whose hash a site approves,
//! and what the checker reads the codelists from. Reading is kept apart from checking so that a
//! command on the home reads a script's files with the rights of the person who named them
//! (`center::privilege::with_invokers_rights`), before it takes the service account's, and so
//! that nothing checked or compiled can differ from what was hashed.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::script::diagnostic::Diagnostic;
use crate::script::{ast, lexer, parser};

/// A script's text and the contents of every codelist file it names.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// How the script is named in messages: its path as given.
    pub(super) name: String,
    pub(super) text: String,
    /// Where its relative codelist paths start.
    pub(super) dir: PathBuf,
    /// The text parsed (once: the codelist paths are read from it, and the checker checks it), or
    /// why it does not parse.
    pub(super) parsed: std::result::Result<ast::Script, Diagnostic>,
    /// Each codelist file, in the order the script first names it.
    codelists: Vec<CodelistFile>,
}

#[derive(Debug, Clone)]
struct CodelistFile {
    /// The path as the script writes it.
    written: String,
    /// The file it names (`dir` joined with `written`), for messages.
    path: PathBuf,
    /// Its bytes, or why they could not be read (reported by the checker at the place it is named).
    content: std::result::Result<Vec<u8>, String>,
}

impl Bundle {
    /// Read a script file and the codelist files it names.
    pub fn read(path: &Path) -> Result<Bundle> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("{}: no such script", path.display())),
            _ => Error::io(path, e),
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Bundle::of_text(&path.display().to_string(), &text, &dir))
    }

    /// Script text named `name`, with the codelist files it names read from `dir`. Text that does
    /// not parse names no files: checking it reports why.
    pub fn of_text(name: &str, text: &str, dir: &Path) -> Bundle {
        Bundle::parsed(name, text, dir, |written| {
            let path = dir.join(written);
            let content = std::fs::read(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => format!("{}: no such file", path.display()),
                _ => Error::io(&path, e).to_string(),
            });
            (path, content)
        })
    }

    /// Parse `text` once and take each codelist file it names from `read` (the file it names, and
    /// its bytes or why there are none). Text that does not parse names no files.
    fn parsed(
        name: &str,
        text: &str,
        dir: &Path,
        read: impl Fn(&str) -> (PathBuf, std::result::Result<Vec<u8>, String>),
    ) -> Bundle {
        let parsed = lexer::tokenize(text).and_then(parser::parse);
        let codelists = parsed
            .as_ref()
            .map(codelist_paths)
            .unwrap_or_default()
            .into_iter()
            .map(|written| {
                let (path, content) = read(&written);
                CodelistFile { written, path, content }
            })
            .collect();
        Bundle { name: name.to_string(), text: text.to_string(), dir: dir.to_path_buf(), parsed, codelists }
    }

    /// How the script is named in messages: its path as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The codelist file the script writes as `written`: the path it names and its bytes (or why
    /// they could not be read).
    pub(super) fn codelist(&self, written: &str) -> (PathBuf, std::result::Result<&[u8], String>) {
        match self.codelists.iter().find(|c| c.written == written) {
            Some(c) => (c.path.clone(), c.content.as_deref().map_err(Clone::clone)),
            // A path the bundle did not read: the script was changed after it was read.
            None => (self.dir.join(written), Err(format!("{written}: not read with the script"))),
        }
    }

    /// SHA-256 of the script text and every codelist file it names, in the order it names them. A
    /// site approves this hash; any change to the script or a codelist changes it.
    pub(super) fn sha256(&self) -> Result<String> {
        let mut h = Sha256::new();
        h.update(b"midnet-script-bundle/1\n");
        h.update(format!("script {}\n", self.text.len()).as_bytes());
        h.update(self.text.as_bytes());
        for c in &self.codelists {
            let bytes = c.content.as_deref().map_err(|why| Error::BadInput(why.clone()))?;
            h.update(format!("\nfile {} {}\n", c.written.len(), bytes.len()).as_bytes());
            h.update(c.written.as_bytes());
            h.update(bytes);
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// A script's text and codelist files as they travel to a site inside a signed work request, so
/// that the site runs, and checks the hash of, exactly what the center asked.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shipped {
    pub name: String,
    pub text: String,
    /// Each codelist file: the path as the script writes it, and its bytes as hex.
    pub codelists: Vec<(String, String)>,
}

impl Bundle {
    /// The bundle as it travels; every codelist file must have been read.
    pub fn ship(&self) -> Result<Shipped> {
        let codelists = self
            .codelists
            .iter()
            .map(|c| {
                Ok((c.written.clone(), hex::encode(c.content.as_deref().map_err(|why| Error::BadInput(why.clone()))?)))
            })
            .collect::<Result<_>>()?;
        Ok(Shipped { name: self.name.clone(), text: self.text.clone(), codelists })
    }

    /// The bundle a work request carried: its codelists are the files it shipped, never files read
    /// at the site (a path the request did not ship is reported by the checker where it is named).
    pub fn unship(shipped: &Shipped) -> Bundle {
        Bundle::parsed(&shipped.name, &shipped.text, Path::new(""), |written| {
            let content = match shipped.codelists.iter().find(|(path, _)| path == written) {
                Some((_, bytes)) => {
                    hex::decode(bytes).map_err(|e| format!("{written}: shipped bytes are not hex: {e}"))
                }
                None => Err(format!("{written}: not shipped with the work request")),
            };
            (PathBuf::from(written), content)
        })
    }
}

/// The codelist paths a script names, each once, in the order it first names them.
fn codelist_paths(script: &ast::Script) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for item in &script.items {
        for e in item.exprs() {
            e.walk(&mut |x| {
                if let ast::ExprKind::CodeFile { path, .. } = &x.kind
                    && !files.contains(&path.text)
                {
                    files.push(path.text.clone());
                }
            });
        }
    }
    files
}
