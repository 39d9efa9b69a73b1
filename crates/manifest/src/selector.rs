//! The `after:` grammar of checkpoints: health of selected services, a suite's setup, a
//! script in the project, or a shell command.

use std::path::PathBuf;

use globset::Glob;
use serde::Serialize;

use crate::model::Manifest;

/// What a checkpoint waits for before its snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AfterSelector {
    /// `services.*.healthcheck`, `services.NAME.healthcheck`, `services.[a,b-*].healthcheck`.
    Healthcheck(ServiceSelector),
    /// `tests.SUITE.setup` (all commands) or `tests.SUITE.setup[N]` (one, 0-based).
    SuiteSetup {
        /// The suite.
        suite: String,
        /// Which setup command; all when absent.
        index: Option<usize>,
    },
    /// A file in the project: one token containing `/` or ending in `.sh`, `.js` or `.py`.
    Script(PathBuf),
    /// Any other text: a shell command.
    Shell(String),
}

/// Which services a healthcheck selector names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ServiceSelector {
    /// `*`: every service.
    All,
    /// Names or globs (`postgres-*`).
    Patterns(Vec<String>),
}

impl AfterSelector {
    /// Parses the text of an `after:` value.
    pub fn parse(text: &str) -> AfterSelector {
        let t = text.trim();
        if let Some(sel) = t
            .strip_prefix("services.")
            .and_then(|r| r.strip_suffix(".healthcheck"))
            .and_then(ServiceSelector::parse)
        {
            return AfterSelector::Healthcheck(sel);
        }
        if let Some(setup) = parse_suite_setup(t) {
            return setup;
        }
        let single_token = !t.is_empty() && !t.chars().any(char::is_whitespace);
        let scripty = t.contains('/') || [".sh", ".js", ".py"].iter().any(|ext| t.ends_with(ext));
        if single_token && scripty {
            AfterSelector::Script(PathBuf::from(t))
        } else {
            AfterSelector::Shell(t.to_string())
        }
    }
}

fn parse_suite_setup(t: &str) -> Option<AfterSelector> {
    let rest = t.strip_prefix("tests.")?;
    if let Some(suite) = rest.strip_suffix(".setup") {
        return valid_name(suite).then(|| AfterSelector::SuiteSetup {
            suite: suite.to_string(),
            index: None,
        });
    }
    let (head, idx) = rest.strip_suffix(']')?.rsplit_once(".setup[")?;
    let index = idx.parse::<usize>().ok()?;
    valid_name(head).then(|| AfterSelector::SuiteSetup {
        suite: head.to_string(),
        index: Some(index),
    })
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '[' | ']'))
}

impl ServiceSelector {
    /// Parses the part between `services.` and `.healthcheck`.
    pub fn parse(middle: &str) -> Option<ServiceSelector> {
        let m = middle.trim();
        if m == "*" {
            return Some(ServiceSelector::All);
        }
        let items: Vec<String> = match m.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
            None => vec![m.to_string()],
        };
        if items
            .iter()
            .any(|i| i.is_empty() || i.chars().any(char::is_whitespace))
        {
            return None;
        }
        Some(ServiceSelector::Patterns(items))
    }

    /// The services selected, in manifest order.
    pub fn resolve(&self, m: &Manifest) -> Vec<String> {
        m.services
            .keys()
            .filter(|name| self.matches(name))
            .cloned()
            .collect()
    }

    /// Whether `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            ServiceSelector::All => true,
            ServiceSelector::Patterns(ps) => ps.iter().any(|p| pattern_matches(p, name)),
        }
    }
}

/// Longest pattern compiled as a glob; a longer one (far beyond any service name) matches
/// only itself, since compiling it could exceed the regex engine's size limit.
const MAX_PATTERN_LEN: usize = 256;

/// Whether a name or glob pattern matches `name`; an invalid glob matches only itself.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return false;
    }
    match Glob::new(pattern) {
        Ok(g) => g.compile_matcher().is_match(name),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Service;
    use proptest::prelude::*;

    #[test]
    fn grammar() {
        assert_eq!(
            AfterSelector::parse("services.*.healthcheck"),
            AfterSelector::Healthcheck(ServiceSelector::All)
        );
        assert_eq!(
            AfterSelector::parse("services.[kafka, postgres-*].healthcheck"),
            AfterSelector::Healthcheck(ServiceSelector::Patterns(vec![
                "kafka".into(),
                "postgres-*".into()
            ]))
        );
        assert_eq!(
            AfterSelector::parse("services.app.healthcheck"),
            AfterSelector::Healthcheck(ServiceSelector::Patterns(vec!["app".into()]))
        );
        assert_eq!(
            AfterSelector::parse("tests.auth.setup"),
            AfterSelector::SuiteSetup {
                suite: "auth".into(),
                index: None
            }
        );
        assert_eq!(
            AfterSelector::parse("tests.auth.setup[2]"),
            AfterSelector::SuiteSetup {
                suite: "auth".into(),
                index: Some(2)
            }
        );
        assert_eq!(
            AfterSelector::parse("scripts/seed.sh"),
            AfterSelector::Script("scripts/seed.sh".into())
        );
        assert_eq!(
            AfterSelector::parse("seed.py"),
            AfterSelector::Script("seed.py".into())
        );
        assert_eq!(
            AfterSelector::parse("./bin/seed"),
            AfterSelector::Script("./bin/seed".into())
        );
        assert_eq!(
            AfterSelector::parse("npm run seed"),
            AfterSelector::Shell("npm run seed".into())
        );
        assert_eq!(
            AfterSelector::parse("bash scripts/x.sh"),
            AfterSelector::Shell("bash scripts/x.sh".into())
        );
        assert_eq!(
            AfterSelector::parse("make seed"),
            AfterSelector::Shell("make seed".into())
        );
    }

    #[test]
    fn resolves_in_manifest_order() {
        let mut m = Manifest::empty(std::path::Path::new("m.yaml"));
        for n in ["kafka", "postgres-users", "redis", "postgres-orders", "app"] {
            m.services.insert(n.into(), Service::default());
        }
        let sel = ServiceSelector::parse("[redis,postgres-*]").unwrap();
        assert_eq!(
            sel.resolve(&m),
            vec!["postgres-users", "redis", "postgres-orders"]
        );
        assert_eq!(ServiceSelector::All.resolve(&m).len(), 5);
        assert!(ServiceSelector::parse("[a,,b]").is_none());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_named_selectors_roundtrip(s in ".{0,30}", name in "[a-z][a-z0-9-]{0,10}") {
            let _ = AfterSelector::parse(&s);
            prop_assert_eq!(
                AfterSelector::parse(&format!("services.{name}.healthcheck")),
                AfterSelector::Healthcheck(ServiceSelector::Patterns(vec![name.clone()]))
            );
            prop_assert_eq!(
                AfterSelector::parse(&format!("tests.{name}.setup")),
                AfterSelector::SuiteSetup { suite: name, index: None }
            );
        }
    }
}
