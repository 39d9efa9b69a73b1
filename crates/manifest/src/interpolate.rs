//! `${VAR}` / `${VAR:-default}` / `${VAR-default}` / `$$` interpolation in env values,
//! commands and hooks.
//!
//! Decisions (as in Docker Compose): an unset `${VAR}` without a default becomes the empty
//! string; `:-` uses the default when the variable is unset or empty, `-` only when unset;
//! defaults may themselves hold `${…}`; `$$` is a literal `$`; any other `$` (as in
//! `$HOME`) is left alone so that the shell running the command expands it. `${BRANCH_ID}`
//! is an ordinary variable the engine provides.

/// Why a text could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// `${` without a matching `}`.
    #[error("unclosed `${{` at byte {offset}")]
    Unclosed {
        /// Byte offset of the `$`.
        offset: usize,
    },
    /// `${}` or a name with characters other than letters, digits and `_`.
    #[error(
        "invalid variable name {} at byte {offset} (use letters, digits and _)",
        crate::diagnostic::quote(.name)
    )]
    InvalidName {
        /// The name as written.
        name: String,
        /// Byte offset of the `$`.
        offset: usize,
    },
}

impl InterpolationError {
    /// Byte offset of the offending `$` in the text.
    pub fn offset(&self) -> usize {
        match self {
            InterpolationError::Unclosed { offset }
            | InterpolationError::InvalidName { offset, .. } => *offset,
        }
    }
}

/// Expands `${…}` references in `s` with `lookup`; see the module docs for the rules.
pub fn interpolate(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    expand(s, 0, lookup)
}

/// Checks the syntax of `s` without expanding it.
pub fn check_interpolation(s: &str) -> Result<(), InterpolationError> {
    expand(s, 0, &|_| None).map(|_| ())
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Finds the `}` closing a `${` whose body starts at `start`, honouring nested `${…}`.
fn closing_brace(s: &str, start: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn expand(
    s: &str,
    base: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut consumed = 0usize;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let offset = base + consumed + i;
        if after.starts_with('$') {
            out.push('$');
            consumed += i + 2;
            rest = &rest[i + 2..];
        } else if after.starts_with('{') {
            let body_start = i + 2;
            let end =
                closing_brace(rest, body_start).ok_or(InterpolationError::Unclosed { offset })?;
            let body = &rest[body_start..end];
            let (name, default) = match body.find(['-', ':']) {
                Some(p) if body[p..].starts_with(":-") => {
                    (&body[..p], Some((true, &body[p + 2..], p + 2)))
                }
                Some(p) if body[p..].starts_with('-') => {
                    (&body[..p], Some((false, &body[p + 1..], p + 1)))
                }
                Some(_) => (body, None),
                None => (body, None),
            };
            if !valid_name(name) {
                return Err(InterpolationError::InvalidName {
                    name: name.to_string(),
                    offset,
                });
            }
            let value = lookup(name);
            match default {
                None => out.push_str(&value.unwrap_or_default()),
                Some((when_empty, text, skip)) => {
                    let use_default = match &value {
                        None => true,
                        Some(v) => when_empty && v.is_empty(),
                    };
                    // The default is checked even when unused, so syntax errors never hide.
                    let expanded = expand(text, base + consumed + body_start + skip, lookup)?;
                    if use_default {
                        out.push_str(&expanded);
                    } else {
                        out.push_str(&value.unwrap_or_default());
                    }
                }
            }
            consumed += end + 1;
            rest = &rest[end + 1..];
        } else {
            out.push('$');
            consumed += i + 1;
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            "BRANCH_ID" => Some("b-42".into()),
            _ => None,
        }
    }

    #[test]
    fn forms() {
        assert_eq!(interpolate("x ${A} y", &env).unwrap(), "x alpha y");
        assert_eq!(interpolate("${MISSING}", &env).unwrap(), "");
        assert_eq!(interpolate("${MISSING:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(interpolate("${EMPTY:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(interpolate("${EMPTY-dflt}", &env).unwrap(), "");
        assert_eq!(interpolate("${A:-dflt}", &env).unwrap(), "alpha");
        assert_eq!(interpolate("db_${BRANCH_ID}", &env).unwrap(), "db_b-42");
        assert_eq!(interpolate("cost $$5", &env).unwrap(), "cost $5");
        assert_eq!(interpolate("echo $HOME", &env).unwrap(), "echo $HOME");
        assert_eq!(interpolate("${MISSING:-${A}-x}", &env).unwrap(), "alpha-x");
        assert_eq!(interpolate("trailing $", &env).unwrap(), "trailing $");
    }

    #[test]
    fn errors() {
        assert_eq!(
            interpolate("a ${A", &env),
            Err(InterpolationError::Unclosed { offset: 2 })
        );
        assert!(matches!(
            interpolate("${}", &env),
            Err(InterpolationError::InvalidName { .. })
        ));
        assert!(matches!(
            interpolate("${1A}", &env),
            Err(InterpolationError::InvalidName { .. })
        ));
        assert!(matches!(
            interpolate("${A:-${B}", &env),
            Err(InterpolationError::Unclosed { .. })
        ));
        assert!(check_interpolation("${OK:-fine} $$ $x").is_ok());
    }

    proptest! {
        #[test]
        fn text_without_dollar_is_unchanged(s in "[^$]{0,40}") {
            prop_assert_eq!(interpolate(&s, &env).unwrap(), s);
        }

        #[test]
        fn escaped_dollars_become_single(s in "[a-z ]{0,10}", t in "[a-z ]{0,10}") {
            let src = format!("{s}$${t}");
            prop_assert_eq!(interpolate(&src, &env).unwrap(), format!("{s}${t}"));
        }

        #[test]
        fn defaults_apply_to_unset(name in "[A-Z_][A-Z0-9_]{0,8}", d in "[a-z0-9 ]{0,12}") {
            prop_assume!(env(&name).is_none());
            prop_assert_eq!(interpolate(&format!("${{{name}:-{d}}}"), &env).unwrap(), d);
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = interpolate(&s, &env);
        }
    }
}
