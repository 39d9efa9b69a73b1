//! Names that become paths are refused unless safe, errors quote values cut, and the
//! checkpoint extension keys (`inputs`, `warm`) are checked.

use std::path::Path;

use vers_manifest::{parse_str, Diagnostic, Manifest, MAX_QUOTED_CHARS};

fn parse(src: &str) -> Result<Manifest, Vec<Diagnostic>> {
    parse_str(src, Path::new("vers-integration.yaml")).map_err(|d| d.0)
}

/// The single error of `src`: its message must contain `needle`; returns it.
fn one(src: &str, needle: &str) -> Diagnostic {
    let e = parse(src)
        .err()
        .unwrap_or_else(|| panic!("expected an error:\n{src}"));
    assert_eq!(e.len(), 1, "{e:#?}");
    let d = e.into_iter().next().unwrap();
    assert!(
        d.message.contains(needle),
        "`{}` lacks `{needle}`",
        d.message
    );
    d
}

const BASE: &str = "name: t\nservices:\n  db:\n    template: postgres@15\n";

#[test]
fn suite_branch_scenario_and_checkpoint_names_are_safe_path_parts() {
    let d = one(
        &format!("{BASE}tests:\n  ../../tmp/x:\n    command: a\n"),
        "invalid suite name `../../tmp/x`: it starts with '.'",
    );
    assert_eq!((d.line, d.column), (6, 3));
    assert!(d.help.unwrap().contains("letters, digits, - and _"));
    let d = one(
        &format!(
            "{BASE}tests:\n  s:\n    command: a\n    branches:\n      - name: ../../../tmp/x\n"
        ),
        "invalid branch name `../../../tmp/x`",
    );
    assert_eq!((d.line, d.column), (9, 15));
    let d = one(
        &format!("{BASE}tests:\n  s:\n    command: a\n    branches: [ok, a/b]\n"),
        "invalid branch name `a/b`: it contains '/'",
    );
    assert_eq!((d.line, d.column), (8, 20));
    let d = one(
        &format!("{BASE}tests:\n  s:\n    command: a\n    scenarios:\n      - name: x..y\n        inject: {{service: db, action: kill}}\n"),
        "invalid scenario name `x..y`",
    );
    assert_eq!((d.line, d.column), (9, 15));
    let d = one(
        &format!("{BASE}checkpoints:\n  - name: seed/../../x\n    after: seed.sh\n"),
        "invalid checkpoint name",
    );
    assert_eq!((d.line, d.column), (6, 11));
    let long = "x".repeat(64);
    let d = one(
        &format!("{BASE}checkpoints:\n  - name: {long}\n    after: seed.sh\n"),
        "is longer than 63 characters",
    );
    assert_eq!((d.line, d.column), (6, 11));
    let d = one(
        "name: t\nservices:\n  \".hidden\":\n    template: redis\n",
        "invalid service name `.hidden`",
    );
    assert_eq!((d.line, d.column), (3, 3));
    let ok = parse(&format!(
        "{BASE}tests:\n  unit_2:\n    command: a\n    branches: [Happy-Path_1]\ncheckpoints:\n  - name: {}\n    after: seed.sh\n",
        "x".repeat(63)
    ));
    assert!(ok.is_ok(), "{ok:#?}");
}

/// A 1 MB value anywhere in the manifest must not come back 1 MB long in an error.
#[test]
fn errors_quote_at_most_a_cut_of_each_value() {
    let huge = "k".repeat(1 << 20);
    // YAML limits implicit keys to 1024 characters; explicit keys (`? key`) have no limit.
    let cases = [
        format!("name: t\n? {huge}\n: 1\n"),
        format!("name: t\nservices:\n  ? {huge}\n  : {{template: redis}}\n"),
        format!("name: t\nservices:\n  a:\n    template: {huge}\n"),
        format!("name: t\nservices:\n  a:\n    command: x\n    depends_on: [{huge}]\n"),
        format!("name: t\nservices:\n  a:\n    command: x\n    ? {huge}\n    : 1\n"),
        format!("name: t\nservices:\n  a:\n    command: x\n    env: {{? 9{huge} : 1}}\n"),
        format!("name: t\nservices:\n  a:\n    template: redis\n    config: {{maxmemory_policy: {huge}}}\n"),
        format!("name: t\nservices:\n  a:\n    template: redis\n    config: {{? {huge} : 1}}\n"),
        format!("{BASE}tests:\n  ? {huge}\n  : {{command: a, depends_on: [{huge}x]}}\n"),
        format!("{BASE}tests:\n  s:\n    command: a\n    branches: [{huge}]\n"),
        format!("{BASE}tests:\n  s:\n    command: a\n    timeout: {huge}\n"),
        format!("{BASE}matrix:\n  ? {huge}\n  : [1]\n"),
        format!("{BASE}deploy:\n  ? {huge}\n  : {{target: {huge}}}\n"),
        format!("{BASE}chaos:\n  scenarios:\n    - name: x\n      inject: {{service: {huge}, action: {huge}}}\n"),
        format!("{BASE}chaos:\n  scenarios:\n    - name: x\n      inject: {{service: db, action: kill}}\n      expect: [\"{huge},\"]\n"),
        format!("{BASE}checkpoints:\n  - name: a\n    after: services.{huge}.healthcheck\n"),
        format!("{BASE}checkpoints:\n  - name: a\n    after: x.sh\n    inputs: [\"/{huge}\"]\n"),
    ];
    for src in &cases {
        let errs = parse(src).expect_err("a huge value is an error");
        for d in &errs {
            let text = d.to_string();
            assert!(
                text.len() < 2_000,
                "an error of {} bytes: {}",
                text.len(),
                &text[..300]
            );
            let shown = d.source_line.as_deref().unwrap_or("");
            assert!(shown.chars().count() <= MAX_QUOTED_CHARS + 2, "{shown}");
        }
        assert!(
            errs.iter()
                .any(|d| d.message.contains("… (") || d.message.contains("…` (")),
            "no cut value in {:#?}",
            errs.iter()
                .map(|d| &d.message[..d.message.len().min(200)])
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn long_source_lines_keep_the_caret_on_the_error() {
    let pad = "x".repeat(500);
    let src =
        format!("name: t\nservices:\n  db: {{template: redis, env: {{A: {pad}}}, bogus: 1}}\n");
    let d = one(&src, "unknown key `bogus`");
    let column = src.lines().nth(2).unwrap().find("bogus").unwrap() + 1;
    assert_eq!((d.line, d.column), (3, column));
    let text = d.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let code = lines[2].split_once("| ").unwrap().1;
    let caret = lines[3].split_once("| ").unwrap().1;
    let caret_at = caret.find('^').unwrap();
    assert_eq!(
        code.chars().skip(caret_at).take(5).collect::<String>(),
        "bogus",
        "{text}"
    );
}

#[test]
fn checkpoint_inputs_and_warm() {
    let m = parse(&format!(
        "{BASE}checkpoints:\n  - name: seeded\n    after: scripts/seed.sh\n    inputs: [scripts/seed.sh, \"db/**/*.sql\", test-users.json]\n    warm: 4\n  - name: plain\n    after: x.sh\n"
    ))
    .unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(
        m.checkpoints[0].inputs,
        ["scripts/seed.sh", "db/**/*.sql", "test-users.json"]
    );
    assert_eq!(m.checkpoints[0].warm, 4);
    assert!(m.checkpoints[1].inputs.is_empty());
    assert_eq!(m.checkpoints[1].warm, 0);
    let cp = |rest: &str| format!("{BASE}checkpoints:\n  - name: a\n    after: x.sh\n{rest}");
    let d = one(
        &cp("    warm: 65\n"),
        "`warm` of checkpoint `a` is 65; at most 64",
    );
    assert_eq!((d.line, d.column), (8, 11));
    let d = one(
        &cp("    warm: -1\n"),
        "`warm` of checkpoint `a` must be a non-negative integer",
    );
    assert_eq!((d.line, d.column), (8, 11));
    let d = one(
        &cp("    inputs: [ok, /etc/passwd]\n"),
        "`/etc/passwd` in `inputs` of checkpoint `a` is absolute",
    );
    assert_eq!((d.line, d.column), (8, 18));
    let d = one(
        &cp("    inputs: [\"../secrets/*\"]\n"),
        "leaves the project directory",
    );
    assert_eq!((d.line, d.column), (8, 14));
    let d = one(&cp("    inputs: [\"db/[a-\"]\n"), "is not a valid glob");
    assert_eq!((d.line, d.column), (8, 14));
    one(&cp("    inputs: [a, a]\n"), "`a` is listed twice");
    one(
        &cp(&format!("    inputs: [{}]\n", "a".repeat(1025))),
        "is longer than 1024 characters",
    );
    one(&cp("    inputs: {a: 1}\n"), "must be a list of globs");
    one(&cp("    wrm: 1\n"), "unknown key `wrm`");
}

/// `load` looks at the build contexts: a symlink loop, a file or a dangling link is named
/// for what it is, at the `build:` value; a missing directory is left for `up`.
#[test]
fn build_contexts_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink("b", d.join("a")).unwrap();
    std::os::unix::fs::symlink("a", d.join("b")).unwrap();
    std::fs::write(d.join("notes.txt"), "x").unwrap();
    std::os::unix::fs::symlink("gone", d.join("dangling")).unwrap();
    std::fs::create_dir(d.join("web")).unwrap();
    let manifest = d.join("vers-integration.yaml");
    let write = |build: &str| {
        std::fs::write(
            &manifest,
            format!("name: t\nservices:\n  app:\n    build: {build}\n    command: ./run\n"),
        )
        .unwrap();
        vers_manifest::load(&manifest)
    };
    for (build, says) in [
        ("./a", "is a symlink loop"),
        ("notes.txt", "is a file, not a directory"),
        (
            "{context: dangling}",
            "is a symlink to gone, which does not exist",
        ),
    ] {
        let e = write(build).expect_err(build).0;
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].message.starts_with("service `app`: build context "),
            "{}",
            e[0].message
        );
        assert!(e[0].message.ends_with(says), "{}", e[0].message);
        assert_eq!((e[0].line, e[0].column), (4, 12));
    }
    let m = write("web").unwrap();
    assert_eq!(
        m.services["app"].build.as_ref().unwrap().context,
        Path::new("web")
    );
    write("./not-yet").expect("a missing context is for `up` to report");
    // parse_str touches no file.
    assert!(parse_str(
        "name: t\nservices:\n  app:\n    build: /nonexistent/loop\n",
        &manifest
    )
    .is_ok());
}
