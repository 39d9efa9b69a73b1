//! Preparing SQL text for `psql`: the trailing `;` and comments come off (so psql does not
//! send the statement before vers describes it), and text psql would treat as one of its
//! own commands is refused (`db query` runs SQL, not psql scripts).

/// Why a query cannot be run as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// Nothing but whitespace, comments and semicolons.
    #[error("the query is empty")]
    Empty,
    /// The text ends inside a quoted string, quoted identifier or comment.
    #[error("the query ends inside {0}; close it")]
    Unterminated(&'static str),
    /// A backslash outside quotes: a psql meta-command, not SQL.
    #[error(
        "`\\` outside a quoted string starts a psql meta-command; `vers db query` runs SQL only"
    )]
    MetaCommand,
}

/// Where the scanner is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Code,
    /// `'…'`; `true` for `E'…'`, where a backslash escapes the next character.
    Str(bool),
    Ident,
    Dollar,
    Line,
    Block(u32),
}

/// `sql` without what follows its last SQL token (whitespace, comments, semicolons), checked
/// for unterminated quotes and psql meta-commands.
pub fn trim(sql: &str) -> Result<&str, StatementError> {
    let bytes = sql.as_bytes();
    let mut mode = Mode::Code;
    let mut tag: &str = "";
    let mut end = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        match mode {
            Mode::Code => match c {
                b'\'' => {
                    let escape = i > 0
                        && matches!(bytes[i - 1], b'e' | b'E')
                        && (i < 2 || !is_ident_byte(bytes[i - 2]));
                    mode = Mode::Str(escape);
                    end = i + 1;
                }
                b'"' => {
                    mode = Mode::Ident;
                    end = i + 1;
                }
                b'-' if next == Some(b'-') => {
                    mode = Mode::Line;
                    i += 1;
                }
                b'/' if next == Some(b'*') => {
                    mode = Mode::Block(1);
                    i += 1;
                }
                b'$' if i == 0 || !is_ident_byte(bytes[i - 1]) => {
                    if let Some(t) = dollar_tag(&sql[i..]) {
                        tag = t;
                        mode = Mode::Dollar;
                        i += t.len() - 1;
                    }
                    end = i + 1;
                }
                b'\\' => return Err(StatementError::MetaCommand),
                b';' => {}
                c if c.is_ascii_whitespace() => {}
                _ => end = i + 1,
            },
            Mode::Str(escape) => {
                if escape && c == b'\\' {
                    i += 1;
                } else if c == b'\'' {
                    if next == Some(b'\'') {
                        i += 1;
                    } else {
                        mode = Mode::Code;
                        end = i + 1;
                    }
                }
            }
            Mode::Ident => {
                if c == b'"' {
                    if next == Some(b'"') {
                        i += 1;
                    } else {
                        mode = Mode::Code;
                        end = i + 1;
                    }
                }
            }
            Mode::Dollar => {
                if bytes[i..].starts_with(tag.as_bytes()) {
                    i += tag.len() - 1;
                    mode = Mode::Code;
                    end = i + 1;
                }
            }
            Mode::Line => {
                if c == b'\n' {
                    mode = Mode::Code;
                }
            }
            Mode::Block(depth) => {
                if c == b'*' && next == Some(b'/') {
                    mode = if depth == 1 {
                        Mode::Code
                    } else {
                        Mode::Block(depth - 1)
                    };
                    i += 1;
                } else if c == b'/' && next == Some(b'*') {
                    mode = Mode::Block(depth + 1);
                    i += 1;
                }
            }
        }
        i += 1;
    }
    match mode {
        Mode::Str(_) => return Err(StatementError::Unterminated("a quoted string")),
        Mode::Ident => return Err(StatementError::Unterminated("a quoted identifier")),
        Mode::Dollar => return Err(StatementError::Unterminated("a dollar-quoted string")),
        Mode::Block(_) => return Err(StatementError::Unterminated("a comment")),
        Mode::Code | Mode::Line => {}
    }
    if end == 0 {
        return Err(StatementError::Empty);
    }
    // `end` follows the first byte of the last character; take the whole character.
    while !sql.is_char_boundary(end) {
        end += 1;
    }
    Ok(&sql[..end])
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The dollar-quote tag (`$$`, `$body$`) starting `s`, if it starts with one.
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('$')?;
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)
        .count();
    if rest.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    (rest.as_bytes().get(len) == Some(&b'$')).then(|| &s[..len + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_semicolons_and_comments_come_off() {
        assert_eq!(trim("select 1;").unwrap(), "select 1");
        assert_eq!(trim("  select 1 ;; -- done\n").unwrap(), "  select 1");
        assert_eq!(
            trim("insert into t values (9); -- c").unwrap(),
            "insert into t values (9)"
        );
        assert_eq!(trim("select 1 /* a /* nested */ b */").unwrap(), "select 1");
        assert_eq!(
            trim("select 1; select 2;").unwrap(),
            "select 1; select 2",
            "inner semicolons stay"
        );
    }

    #[test]
    fn quotes_keep_what_looks_like_comments_and_semicolons() {
        assert_eq!(trim("select '--;' ;").unwrap(), "select '--;'");
        assert_eq!(trim("select 'it''s';").unwrap(), "select 'it''s'");
        assert_eq!(trim("select E'a\\'b';").unwrap(), "select E'a\\'b'");
        assert_eq!(
            trim("select \"a;b\" from t;").unwrap(),
            "select \"a;b\" from t"
        );
        assert_eq!(
            trim("select $f$ ; \\ -- $f$;").unwrap(),
            "select $f$ ; \\ -- $f$"
        );
        assert_eq!(trim("select $$x$$").unwrap(), "select $$x$$");
        assert_eq!(trim("select a$1 from t").unwrap(), "select a$1 from t");
        assert_eq!(trim("select 'é', ünï;").unwrap(), "select 'é', ünï");
    }

    #[test]
    fn bad_text_is_refused() {
        assert_eq!(trim(" ; -- x"), Err(StatementError::Empty));
        assert_eq!(trim(""), Err(StatementError::Empty));
        assert!(matches!(
            trim("select 'x"),
            Err(StatementError::Unterminated(_))
        ));
        assert!(matches!(
            trim("select 1 /* x"),
            Err(StatementError::Unterminated(_))
        ));
        assert!(matches!(
            trim("select $$x"),
            Err(StatementError::Unterminated(_))
        ));
        assert_eq!(trim("select 1 \\! id"), Err(StatementError::MetaCommand));
        assert_eq!(trim("select 1 \\gexec"), Err(StatementError::MetaCommand));
    }
}
