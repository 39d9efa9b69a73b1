//! Validation errors with file, line and column, rendered like a compiler's.

use std::fmt;
use std::path::PathBuf;

/// One error in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The manifest file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    pub help: Option<String>,
    /// The source line the error points into, shown with a caret: the whole line, or for a
    /// long line the part around the column between `…` marks.
    pub source_line: Option<String>,
    /// 1-based column of the caret within `source_line` (equal to `column` unless a long
    /// line is shown in part).
    pub source_column: usize,
}

/// Most characters of a user's value that an error message quotes; longer values are cut.
pub const MAX_QUOTED_CHARS: usize = 80;

/// A user's value as an error message shows it: control characters escaped (so it stays on
/// one line) and, beyond [`MAX_QUOTED_CHARS`] characters, cut with `…` and its full length
/// in bytes. Every message of this crate shows values through this (or [`quote`]), so a
/// 1 MB key never prints 1 MB.
pub fn cut(value: &str) -> String {
    let (shown, total) = cut_parts(value);
    match total {
        Some(n) => format!("{shown}… ({n} bytes)"),
        None => shown,
    }
}

/// A user's value in backticks, cut like [`cut`]: `` `name` `` or `` `aaaa…` (1048576 bytes) ``.
pub fn quote(value: &str) -> String {
    let (shown, total) = cut_parts(value);
    match total {
        Some(n) => format!("`{shown}…` ({n} bytes)"),
        None => format!("`{shown}`"),
    }
}

/// The shown part of `value` and, when it was cut, the full length in bytes.
fn cut_parts(value: &str) -> (String, Option<usize>) {
    let mut shown = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX_QUOTED_CHARS {
            return (shown, Some(value.len()));
        }
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    (shown, None)
}

/// Longest source line shown whole under an error; longer ones are shown around the column.
const MAX_SOURCE_CHARS: usize = 120;

/// The part of `line` to show under an error at 1-based `column`, and the caret's column in
/// it: the whole line when it is short, else [`MAX_QUOTED_CHARS`] characters around the
/// column between `…` marks.
pub(crate) fn source_window(line: &str, column: usize) -> (String, usize) {
    let len = line.chars().count();
    if len <= MAX_SOURCE_CHARS {
        return (line.to_string(), column);
    }
    let at = column.saturating_sub(1).min(len);
    let start = at.saturating_sub(MAX_QUOTED_CHARS / 2);
    let end = (start + MAX_QUOTED_CHARS).min(len);
    let mut text: String = if start > 0 {
        "…".into()
    } else {
        String::new()
    };
    text.extend(line.chars().skip(start).take(end - start));
    if end < len {
        text.push('…');
    }
    (text, at - start + 1 + usize::from(start > 0))
}

/// Every error found in a manifest, in source order.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the errors.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            let text = src.replace('\t', " ");
            let caret_at = self
                .source_column
                .saturating_sub(1)
                .min(text.chars().count());
            write!(
                f,
                "\n {pad} |\n {gutter} | {text}\n {pad} | {}^",
                " ".repeat(caret_at)
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n{} errors", self.0.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_source_caret_and_help() {
        let d = Diagnostics(vec![Diagnostic {
            file: "m.yaml".into(),
            line: 3,
            column: 5,
            message: "unknown key `depends_no`".into(),
            help: Some("did you mean `depends_on`?".into()),
            source_line: Some("    depends_no: [x]".into()),
            source_column: 5,
        }]);
        let text = d.to_string();
        assert_eq!(
            text,
            "m.yaml:3:5: error: unknown key `depends_no`\n   |\n 3 |     depends_no: [x]\n   |     ^\n  help: did you mean `depends_on`?"
        );
    }

    #[test]
    fn long_values_are_cut() {
        assert_eq!(quote("db"), "`db`");
        assert_eq!(cut("a\nb"), "a\\nb");
        let long = "é".repeat(1000);
        let q = quote(&long);
        assert_eq!(
            q,
            format!("`{}…` (2000 bytes)", "é".repeat(MAX_QUOTED_CHARS))
        );
        assert_eq!(
            cut(&"x".repeat(81)),
            format!("{}… (81 bytes)", "x".repeat(80))
        );
        assert_eq!(cut(&"x".repeat(80)), "x".repeat(80));
    }

    #[test]
    fn long_source_lines_show_a_window_with_the_caret_in_it() {
        assert_eq!(source_window("  a: b", 3), ("  a: b".to_string(), 3));
        let line = format!("key{}: v", "x".repeat(10_000));
        let (text, caret) = source_window(&line, 1);
        assert_eq!(text.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(text.starts_with("keyxx") && text.ends_with('…'));
        assert_eq!(caret, 1);
        let (text, caret) = source_window(&line, 10_004);
        assert!(text.starts_with('…') && text.ends_with(": v"), "{text}");
        assert_eq!(text.chars().nth(caret - 1), Some(':'));
    }
}
