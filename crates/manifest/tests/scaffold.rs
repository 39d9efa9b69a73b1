//! Stack templates render and validate; `add_service` inserts a block and keeps every other byte.

use std::path::Path;

use vers_manifest::scaffold::{
    add_service, config_value, config_value_for, render_stack, stack_names, stack_template,
    EditError,
};
use vers_manifest::{parse_str, TemplateRef};

fn valid(src: &str) -> vers_manifest::Manifest {
    parse_str(src, Path::new("vers-integration.yaml")).unwrap_or_else(|d| panic!("{d}\n---\n{src}"))
}

fn tref(s: &str) -> TemplateRef {
    TemplateRef::parse(s)
}

#[test]
fn every_stack_renders_valid_with_the_project_name() {
    assert_eq!(stack_names().len(), 6);
    assert_eq!(stack_names()[0], "blank");
    for name in stack_names() {
        let text = render_stack(name, "my-proj").unwrap();
        let m = valid(&text);
        assert_eq!(m.name, "my-proj");
        // Only the name line differs from the shipped template.
        let shipped = stack_template(name).unwrap();
        let diff = shipped
            .lines()
            .zip(text.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(diff, 1, "{name}");
        assert_eq!(shipped.lines().count(), text.lines().count());
    }
    assert_eq!(
        render_stack("nope", "x"),
        Err(EditError::UnknownStack("nope".into()))
    );
    assert!(matches!(
        render_stack("blank", "bad name"),
        Err(EditError::InvalidName { .. })
    ));
    assert!(valid(&render_stack("blank", "b").unwrap())
        .services
        .contains_key("postgres"));
}

#[test]
fn add_service_keeps_comments_and_indentation() {
    let src = stack_template("event-driven-microservices").unwrap();
    let out = add_service(
        src,
        "cache",
        &tref("redis@7"),
        &[
            ("maxmemory".into(), "256mb".into()),
            ("maxmemory_policy".into(), "allkeys-lru".into()),
            ("databases".into(), "4".into()),
        ],
    )
    .unwrap();
    let m = valid(&out);
    assert_eq!(m.services.keys().last().unwrap(), "cache");
    assert_eq!(m.services["cache"].config["databases"], 4);
    assert_eq!(m.services["cache"].config["maxmemory"], "256mb");
    // Removing the inserted lines gives back the original byte for byte.
    let inserted = "\n  cache:\n    template: redis@7\n    config:\n      maxmemory: 256mb\n      maxmemory_policy: allkeys-lru\n      databases: 4\n";
    assert!(out.contains(inserted), "{out}");
    assert_eq!(out.replacen(inserted, "", 1), src);
    assert!(out.contains("  # Message broker\n"));
    assert!(out.contains("  # API Gateway\n"));
}

#[test]
fn add_service_lists_and_other_indents() {
    let src = "name: t\n# top comment\nservices:\n    db:   # the database\n        template: postgres@15\n\n# tests come later\ntests:\n    s:\n        command: x\n";
    let out = add_service(
        src,
        "pg2",
        &tref("postgres@16"),
        &[("databases".into(), "app,analytics".into())],
    )
    .unwrap();
    assert_eq!(
        out,
        "name: t\n# top comment\nservices:\n    db:   # the database\n        template: postgres@15\n\n    pg2:\n        template: postgres@16\n        config:\n            databases: [app, analytics]\n\n# tests come later\ntests:\n    s:\n        command: x\n"
    );
    let m = valid(&out);
    assert_eq!(m.services["pg2"].config["databases"][1], "analytics");
}

#[test]
fn add_service_without_services_and_errors() {
    let out = add_service("name: t\n", "db", &tref("postgres"), &[]).unwrap();
    assert_eq!(out, "name: t\n\nservices:\n  db:\n    template: postgres\n");
    valid(&out);
    let out = add_service("name: t\nservices: {}\n", "db", &tref("redis"), &[]).unwrap();
    assert_eq!(out, "name: t\nservices:\n  db:\n    template: redis\n");
    let src = "name: t\nservices:\n  db:\n    template: redis\n";
    assert_eq!(
        add_service(src, "db", &tref("redis"), &[]),
        Err(EditError::ServiceExists("db".into()))
    );
    assert!(matches!(
        add_service(src, "x", &tref("nosuch"), &[]),
        Err(EditError::UnknownTemplate { .. })
    ));
    assert!(matches!(
        add_service("name: [", "x", &tref("redis"), &[]),
        Err(EditError::Syntax { .. })
    ));
}

#[test]
fn config_values_are_yaml() {
    assert_eq!(config_value("a,b"), "[a, b]");
    assert_eq!(config_value("12"), "12");
    assert_eq!(config_value("true"), "true");
    assert_eq!(config_value("http://app:3000/hook"), "http://app:3000/hook");
    assert_eq!(config_value("a: b"), "\"a: b\"");
    assert_eq!(config_value("#x"), "\"#x\"");
    assert_eq!(config_value(""), "\"\"");
    assert_eq!(config_value("[a, b]"), "[a, b]");
    assert_eq!(config_value("[x]"), "[x]");
    assert_eq!(config_value("[]"), "[]");
    assert_eq!(config_value("x,"), "[x]");
    // A key whose value is a list takes one item as a one-item list.
    assert_eq!(config_value_for("postgres", "databases", "one"), "[one]");
    assert_eq!(config_value_for("postgres", "databases", "[x]"), "[x]");
    assert_eq!(config_value_for("postgres", "databases", "a,b"), "[a, b]");
    assert_eq!(config_value_for("redis", "databases", "4"), "4");
    assert_eq!(config_value_for("nosuch", "databases", "one"), "one");
}

/// Regression (found by the fuzzer): a tab in the indentation of `services` used to give a
/// block at the wrong indentation; it is now refused.
#[test]
fn add_service_refuses_tab_indentation() {
    let src = "name: t\nservices:\n \t postgres:\n    template: postgres@15\n";
    valid(src);
    assert!(matches!(
        add_service(src, "cache", &tref("redis@7"), &[]),
        Err(EditError::Layout(_))
    ));
}

/// Regressions found by the fuzzer: on each of these valid manifests `add_service` either
/// refuses or gives a manifest that still validates.
#[test]
fn add_service_on_fuzzer_finds_refuses_or_stays_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        assert!(
            parse_str(&src, &path).is_ok(),
            "{} should be a valid manifest",
            path.display()
        );
        if let Ok(out) = add_service(
            &src,
            "fuzz-added",
            &tref("redis@7"),
            &[("maxmemory".into(), "1gb".into())],
        ) {
            let m = parse_str(&out, &path).unwrap_or_else(|d| panic!("{}: {d}", path.display()));
            assert!(m.services.contains_key("fuzz-added"));
        }
        seen += 1;
    }
    assert_eq!(seen, 4);
}
