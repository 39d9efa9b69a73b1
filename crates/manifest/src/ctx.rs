//! Error collection while decoding: every problem is recorded with its position and the
//! decoder carries on, so one run reports all of them.

use std::path::{Path, PathBuf};

use crate::diagnostic::{quote, source_window, Diagnostic, Diagnostics};
use crate::yaml::Pos;

/// Collects diagnostics for one manifest file.
pub struct Ctx<'s> {
    file: PathBuf,
    src: &'s str,
    diags: Vec<Diagnostic>,
}

impl<'s> Ctx<'s> {
    /// Starts collecting for `file` whose text is `src`.
    pub fn new(src: &'s str, file: &Path) -> Ctx<'s> {
        Ctx {
            file: file.to_path_buf(),
            src,
            diags: Vec::new(),
        }
    }

    /// Records an error at `pos`.
    pub fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, message.into(), None);
    }

    /// Records an error at `pos` with a hint on how to fix it.
    pub fn err_help(&mut self, pos: Pos, message: impl Into<String>, help: impl Into<String>) {
        self.push(pos, message.into(), Some(help.into()));
    }

    fn push(&mut self, pos: Pos, message: String, help: Option<String>) {
        let line = pos.line.max(1);
        let column = pos.column.max(1);
        let window = self
            .src
            .lines()
            .nth(line - 1)
            .map(|l| source_window(l, column));
        let source_column = window.as_ref().map_or(column, |(_, c)| *c);
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line,
            column,
            message,
            help,
            source_line: window.map(|(text, _)| text),
            source_column,
        });
    }

    /// How many errors are recorded so far: a mark to [`Ctx::rollback`] to.
    pub fn mark(&self) -> usize {
        self.diags.len()
    }

    /// Forgets the errors recorded since `mark` (when trying one reading of a value of
    /// several).
    pub fn rollback(&mut self, mark: usize) {
        self.diags.truncate(mark);
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    /// The errors, sorted by position (stable, so equal positions keep their order).
    pub fn finish(mut self) -> Diagnostics {
        self.diags.sort_by_key(|d| (d.line, d.column));
        Diagnostics(self.diags)
    }
}

/// "did you mean `x`?" for the closest of `candidates` (names from the manifest), else the
/// list of them (each cut), else `none`.
pub fn names_help(word: &str, candidates: &[&str], none: &str) -> String {
    match suggest(word, candidates.iter().copied()) {
        Some(s) => format!("did you mean {}?", quote(s)),
        None if candidates.is_empty() => none.to_string(),
        None => format!("known: {}", list(candidates)),
    }
}

/// Names from the manifest joined with `, `, each cut, at most 20 of them.
pub fn list(names: &[&str]) -> String {
    const MAX: usize = 20;
    let mut out: Vec<String> = names
        .iter()
        .take(MAX)
        .map(|n| crate::diagnostic::cut(n))
        .collect();
    if names.len() > MAX {
        out.push(format!("… ({} more)", names.len() - MAX));
    }
    out.join(", ")
}

/// Longest word (in bytes) compared for typos; longer ones get no suggestion (the edit
/// distance is quadratic in the length).
const MAX_SUGGEST_LEN: usize = 256;

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if word.len() > MAX_SUGGEST_LEN {
        return None;
    }
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        if c.len() > MAX_SUGGEST_LEN {
            continue;
        }
        let edits = strsim::damerau_levenshtein(word, c);
        let similarity = strsim::jaro_winkler(word, c);
        let close = edits <= 2.max(c.len() / 4) || similarity >= 0.88;
        if close && best.is_none_or(|(_, s)| similarity > s) {
            best = Some((c, similarity));
        }
    }
    best.map(|(c, _)| c)
}

/// `did you mean `x`?` or the list of valid choices (`candidates` are the crate's own words).
pub fn suggestion_help(word: &str, candidates: &[&str]) -> String {
    match suggest(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean {}?", quote(c)),
        None => format!("expected one of: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["depends_on", "soft_depends_on", "template", "env"];
        assert_eq!(suggest("depends_no", keys), Some("depends_on"));
        assert_eq!(suggest("templte", keys), Some("template"));
        assert_eq!(suggest("zzzzzzzz", keys), None);
        assert!(suggestion_help("qqqq", &keys).starts_with("expected one of"));
    }
}
