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
    /// The source line the error points into, shown with a caret under the column.
    pub source_line: Option<String>,
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
            let caret_at = self.column.saturating_sub(1).min(text.chars().count());
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
        }]);
        let text = d.to_string();
        assert_eq!(
            text,
            "m.yaml:3:5: error: unknown key `depends_no`\n   |\n 3 |     depends_no: [x]\n   |     ^\n  help: did you mean `depends_on`?"
        );
    }
}
