//! Turns the YAML parser's syntax errors into what a user can act on. The parser reports
//! where it gave up, which for the two commonest mistakes is not where the mistake is: a
//! tab in the indentation is reported at the scalar scanned before it, and a `[` or `{`
//! never closed at the end of the document. This finds the tab or the open bracket and
//! says how to fix it; other errors keep the parser's position and words.

use crate::yaml::{Pos, YamlError};

/// A syntax error as the manifest's diagnostics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxHint {
    /// Where the mistake is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    pub help: Option<String>,
}

/// Explains `err`, raised while parsing `src`.
pub(crate) fn explain(src: &str, err: &YamlError) -> SyntaxHint {
    let plain = SyntaxHint {
        pos: err.pos,
        message: format!("YAML syntax error: {}", err.message),
        help: None,
    };
    if err.message.contains("tab") {
        if let Some(pos) = indentation_tab(src, err.pos.line) {
            return SyntaxHint {
                pos,
                message: format!(
                    "YAML syntax error: a tab in the indentation of line {}",
                    pos.line
                ),
                help: Some(
                    "YAML indents with spaces only: replace the tab with spaces, as many as \
                     the lines around it use"
                        .into(),
                ),
            };
        }
    }
    let flow = if err.message.contains("flow sequence") {
        Some(('[', ']'))
    } else if err.message.contains("flow mapping") {
        Some(('{', '}'))
    } else {
        None
    };
    if let Some((open, close)) = flow {
        if let Some(pos) = unclosed(src, err.pos, open) {
            return SyntaxHint {
                pos,
                message: format!(
                    "YAML syntax error: the `{open}` at line {}, column {} is not closed ({})",
                    pos.line, pos.column, err.message
                ),
                help: Some(format!(
                    "end it with `{close}` on the same line, e.g. `ports: [\"8080:80\"]`, or \
                     write one `- item` per line instead"
                )),
            };
        }
    }
    plain
}

/// The first tab in the leading whitespace of a line, searching from line `from` (the
/// parser stops at the line before the tab), else anywhere in the document.
fn indentation_tab(src: &str, from: usize) -> Option<Pos> {
    let in_indent = |(i, line): (usize, &str)| {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        line[..indent].find('\t').map(|col| Pos {
            line: i + 1,
            column: col + 1,
        })
    };
    src.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find_map(in_indent)
        .or_else(|| src.lines().enumerate().find_map(in_indent))
}

/// The last `open` bracket before `until` that no closing bracket matches, skipping quoted
/// text and comments.
fn unclosed(src: &str, until: Pos, open: char) -> Option<Pos> {
    let mut stack: Vec<(char, Pos)> = Vec::new();
    for (i, line) in src.lines().enumerate() {
        if i + 1 > until.line {
            break;
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (col, c) in line.chars().enumerate() {
            let pos = Pos {
                line: i + 1,
                column: col + 1,
            };
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '#' if prev.is_whitespace() => break,
                    '[' | '{' => stack.push((c, pos)),
                    ']' | '}' => {
                        stack.pop();
                    }
                    _ => {}
                },
            }
            prev = c;
        }
    }
    stack
        .into_iter()
        .rev()
        .find(|(c, _)| *c == open)
        .map(|(_, pos)| pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(src: &str) -> SyntaxHint {
        let err = crate::yaml::parse(src).expect_err("a syntax error");
        explain(src, &err)
    }

    #[test]
    fn a_tab_in_the_indentation_is_pointed_at() {
        let h = hint("name: y\nservices:\n  redis:\n    template: redis@7\n\tports: [\"1:2\"]\n");
        assert_eq!(h.pos, Pos { line: 5, column: 1 }, "{h:?}");
        assert!(
            h.message.contains("tab in the indentation of line 5"),
            "{h:?}"
        );
        assert!(h.help.unwrap().contains("spaces"));
    }

    #[test]
    fn an_unclosed_bracket_is_pointed_at_where_it_opens() {
        let h = hint("name: y\nservices:\n  redis:\n    template: redis@7\n    ports: [\"1:2\"\n");
        assert_eq!(
            h.pos,
            Pos {
                line: 5,
                column: 12
            },
            "{h:?}"
        );
        assert!(
            h.message.contains("`[` at line 5, column 12 is not closed"),
            "{h:?}"
        );
        let h = hint("name: y\nservices:\n  a: {command: \"x # ]\", env: {A: 1}\n");
        assert_eq!(h.pos, Pos { line: 3, column: 6 }, "{h:?}");
    }

    #[test]
    fn other_errors_keep_the_parsers_position() {
        let src = "name: y\nservices: [a\n  b: c\n";
        let err = crate::yaml::parse(src).expect_err("a syntax error");
        let h = explain(
            "name: x\n",
            &YamlError {
                pos: err.pos,
                message: "something else".into(),
            },
        );
        assert_eq!(h.pos, err.pos);
        assert_eq!(h.message, "YAML syntax error: something else");
    }
}
