//! The names suites fork from (a suite's `checkpoint`, a branch's `from`) checked against the
//! checkpoints the manifest declares and the tags a project has made with `vers commit --tag`.
//! Tags live in the project's state, not in the manifest, so this check is separate from
//! [`crate::parse_str`]: `validate` and `test` run it with the project's tags.

use std::path::Path;

use crate::config::map_get;
use crate::ctx::{list, Ctx};
use crate::diagnostic::{quote, Diagnostics};
use crate::model::Manifest;
use crate::yaml::{self, Node, NodeKind};

/// Checks that every suite `checkpoint` and branch `from` of `m` (parsed from `src`, the text
/// of the manifest at `path`) names a checkpoint of the manifest (`services-ready` included
/// when the manifest declares none) or something `in_project` resolves (a tag, or a
/// checkpoint id). Each unknown name is an error at its file:line:col listing the
/// checkpoints and `tags`.
pub fn check_fork_points(
    src: &str,
    path: &Path,
    m: &Manifest,
    tags: &[String],
    in_project: &dyn Fn(&str) -> bool,
) -> Result<(), Diagnostics> {
    check(src, path, &crate::checkpoint_names(m), tags, in_project)
}

/// [`check_fork_points`] for a manifest that does not parse (other errors are reported
/// beside these, so one `validate` shows every mistake): the checkpoints are the names
/// under `checkpoints:` in the text. Nothing is checked when the text is not YAML.
pub fn check_fork_points_in_text(
    src: &str,
    path: &Path,
    tags: &[String],
    in_project: &dyn Fn(&str) -> bool,
) -> Result<(), Diagnostics> {
    let Ok(Some(root)) = yaml::parse(src) else {
        return Ok(());
    };
    let mut names: Vec<String> = match map_get(&root, "checkpoints").map(|c| &c.kind) {
        Some(NodeKind::Seq(items)) => items
            .iter()
            .filter_map(|c| map_get(c, "name").and_then(Node::scalar))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if !names.iter().any(|n| n == crate::SERVICES_READY) {
        names.insert(0, crate::SERVICES_READY.to_string());
    }
    check(src, path, &names, tags, in_project)
}

fn check(
    src: &str,
    path: &Path,
    checkpoints: &[String],
    tags: &[String],
    in_project: &dyn Fn(&str) -> bool,
) -> Result<(), Diagnostics> {
    let mut cx = Ctx::new(src, path);
    let Ok(Some(root)) = yaml::parse(src) else {
        // The manifest was parsed from `src`; nothing to point at otherwise.
        return Ok(());
    };
    let known = |name: &str| {
        checkpoints.iter().any(|c| c == name) || tags.iter().any(|t| t == name) || in_project(name)
    };
    let help = || {
        let cps: Vec<&str> = checkpoints.iter().map(String::as_str).collect();
        let tag_names: Vec<&str> = tags.iter().map(String::as_str).collect();
        format!(
            "checkpoints: {}; tags: {}",
            if cps.is_empty() {
                "none".to_string()
            } else {
                list(&cps)
            },
            if tag_names.is_empty() {
                "none (`vers commit --tag T` makes one)".to_string()
            } else {
                list(&tag_names)
            }
        )
    };
    let Some(NodeKind::Map(suites)) = map_get(&root, "tests").map(|t| &t.kind) else {
        return Ok(());
    };
    for (key, suite) in suites {
        let Some(suite_name) = key.scalar() else {
            continue;
        };
        if let Some(n) = map_get(suite, "checkpoint") {
            if let Some(name) = n.scalar().filter(|s| !known(s)) {
                cx.err_help(
                    n.pos,
                    format!(
                        "suite {} forks from {}, which is no checkpoint of the manifest and no tag",
                        quote(suite_name),
                        quote(name)
                    ),
                    help(),
                );
            }
        }
        let Some(NodeKind::Seq(branches)) = map_get(suite, "branches").map(|b| &b.kind) else {
            continue;
        };
        for b in branches {
            let Some(n) = map_get(b, "from") else {
                continue;
            };
            let Some(name) = n.scalar().filter(|s| !known(s)) else {
                continue;
            };
            let branch = map_get(b, "name").and_then(Node::scalar).unwrap_or("?");
            cx.err_help(
                n.pos,
                format!(
                    "branch {} of suite {} forks from {}, which is no checkpoint of the manifest and no tag",
                    quote(branch),
                    quote(suite_name),
                    quote(name)
                ),
                help(),
            );
        }
    }
    if cx.has_errors() {
        Err(cx.finish())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name: t\nservices:\n  db:\n    template: postgres@15\ncheckpoints:\n  - name: seeded\n    after: healthcheck\ntests:\n  s:\n    command: a\n    checkpoint: seeded\n    branches:\n      - name: ok\n        from: release-1\n      - name: bad\n        from: nosuchckpt\n";

    #[test]
    fn an_unknown_fork_point_is_an_error_at_its_position() {
        let path = Path::new("vers-integration.yaml");
        let m = crate::parse_str(SRC, path).unwrap();
        let tags = vec!["release-1".to_string()];
        let d = check_fork_points(SRC, path, &m, &tags, &|_| false).unwrap_err();
        assert_eq!(d.0.len(), 1, "{d}");
        let e = &d.0[0];
        assert_eq!((e.line, e.column), (16, 15), "{d}");
        assert!(e.message.contains("`nosuchckpt`"), "{d}");
        let help = e.help.clone().unwrap_or_default();
        assert!(
            help.contains("seeded") && help.contains("release-1"),
            "{help}"
        );
        // Without the tag, `from: release-1` is unknown too.
        let d = check_fork_points(SRC, path, &m, &[], &|_| false).unwrap_err();
        assert_eq!(d.0.len(), 2, "{d}");
        // Declared checkpoints and tags pass.
        let fixed = SRC.replace("nosuchckpt", "seeded");
        let m = crate::parse_str(&fixed, path).unwrap();
        assert!(check_fork_points(&fixed, path, &m, &tags, &|_| false).is_ok());
        // With no checkpoints declared, `services-ready` is one.
        let src = "name: t\nservices:\n  db:\n    template: postgres@15\ntests:\n  s:\n    command: a\n    checkpoint: services-ready\n";
        let m = crate::parse_str(src, path).unwrap();
        assert!(check_fork_points(src, path, &m, &[], &|_| false).is_ok());
    }
}
