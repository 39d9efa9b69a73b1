//! The README's test command (`scripts/test.sh`, run by `.ci/run`) checks formatting and
//! lints before the tests, so CI fails on unformatted code or a clippy warning.

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shell commands of a script: lines that are not blank or comments.
fn commands(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn the_readme_test_command_checks_format_and_lints_before_testing() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("./scripts/test.sh"),
        "README names scripts/test.sh"
    );
    assert!(
        commands(".ci/run")
            .iter()
            .any(|c| c.contains("./scripts/test.sh")),
        ".ci/run runs scripts/test.sh"
    );
    let cmds = commands("scripts/test.sh");
    let at = |wanted: &str| {
        cmds.iter()
            .position(|c| c == wanted)
            .unwrap_or_else(|| panic!("scripts/test.sh lacks `{wanted}`: {cmds:#?}"))
    };
    let fmt = at("cargo fmt --all -- --check");
    let clippy = at("cargo clippy --release --all-targets -- -D warnings");
    let test = cmds
        .iter()
        .position(|c| c.starts_with("cargo test "))
        .expect("scripts/test.sh runs cargo test");
    assert!(
        fmt < test && clippy < test,
        "checks run before the tests: {cmds:#?}"
    );
    // `set -e` makes a failed check fail the script.
    assert!(cmds.iter().any(|c| c.contains("set -euo pipefail")));
}
