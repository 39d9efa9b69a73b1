//! The one rule for names a manifest gives to things that become host names, file names
//! and directory names: services, suites, branches, scenarios and checkpoints (a branch
//! name becomes a log file name, a checkpoint name a snapshot directory). A name that could
//! climb out of a directory (`../../tmp/x`) or hide a file (`.x`) is refused.

/// Longest name accepted (a DNS label's limit, since service names are host names).
pub const MAX_NAME_LEN: usize = 63;

/// The rule in words, for help texts.
pub const NAME_RULE: &str =
    "use letters, digits, - and _ (at most 63 characters), starting with a letter or digit";

/// Why a name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The empty string.
    #[error("it is empty")]
    Empty,
    /// More than [`MAX_NAME_LEN`] bytes.
    #[error("it is longer than {MAX_NAME_LEN} characters")]
    TooLong,
    /// The first character is not an ASCII letter or digit.
    #[error("it starts with {0:?}")]
    BadStart(char),
    /// A character other than ASCII letters, digits, `-` and `_`.
    #[error("it contains {0:?}")]
    BadChar(char),
}

/// Checks a service, suite, branch, scenario or checkpoint name against the rule.
pub fn check_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(NameError::Empty);
    };
    if !first.is_ascii_alphanumeric() {
        return Err(NameError::BadStart(first));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(NameError::BadChar(c));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        for ok in ["db", "postgres-users", "a_b", "9lives", &"x".repeat(63)] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name("../../tmp/x"), Err(NameError::BadStart('.')));
        assert_eq!(check_name("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(check_name("a..b"), Err(NameError::BadChar('.')));
        assert_eq!(check_name("-x"), Err(NameError::BadStart('-')));
        assert_eq!(check_name("a b"), Err(NameError::BadChar(' ')));
        assert_eq!(check_name("é"), Err(NameError::BadStart('é')));
        assert_eq!(check_name(&"x".repeat(64)), Err(NameError::TooLong));
        // The reason alone: callers add the rule once.
        let shown = format!("{}", NameError::BadChar(' '));
        assert_eq!(shown, "it contains ' '");
    }

    proptest! {
        /// An accepted name is one path component that stays in its directory.
        #[test]
        fn accepted_names_are_single_safe_components(s in ".{0,70}") {
            if check_name(&s).is_ok() {
                let p = std::path::Path::new(&s);
                prop_assert_eq!(p.components().count(), 1);
                prop_assert!(matches!(p.components().next(), Some(std::path::Component::Normal(_))));
                prop_assert!(!s.starts_with('.') && s.len() <= MAX_NAME_LEN);
            }
        }
    }
}
