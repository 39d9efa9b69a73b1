//! Engine discovery: distro packages, missing majors with install hints, built-ins, installs.

use vers_catalog::{engines, template_for, EngineSource};

#[test]
fn finds_the_distro_postgres_15() {
    let e = engines::find("postgres", Some("15")).unwrap();
    assert_eq!(e.major, "15");
    assert!(e.version.starts_with("15."), "{}", e.version);
    assert_eq!(
        e.bin_dir,
        std::path::Path::new("/usr/lib/postgresql/15/bin")
    );
    assert_eq!(
        e.source,
        EngineSource::Distro {
            package: "postgresql-15".into()
        }
    );
}

#[test]
fn a_missing_major_says_how_to_install_it() {
    let err = engines::find("postgres", Some("9")).unwrap_err();
    assert_eq!(err.template, "postgres");
    assert_eq!(err.version.as_deref(), Some("9"));
    assert!(err.hint.contains("postgresql-9"), "{}", err.hint);
    assert!(
        err.hint.contains("vers engines install postgres@9"),
        "{}",
        err.hint
    );
    assert!(
        err.to_string().starts_with("postgres@9 is not installed"),
        "{err}"
    );

    let kafka = engines::find("kafka", Some("4")).unwrap_err();
    assert!(
        kafka.hint.contains("kafka.apache.org") && kafka.hint.contains("VERS_ENGINE_KAFKA"),
        "{}",
        kafka.hint
    );
    let unknown = engines::find("oracle", None).unwrap_err();
    assert!(
        unknown.hint.contains("not a catalog template"),
        "{}",
        unknown.hint
    );
}

#[test]
fn lists_distro_engines_and_builtins() {
    let all = engines::list();
    assert!(all
        .iter()
        .any(|e| e.template == "postgres" && e.major == "15"));
    assert!(all.iter().any(|e| e.template == "redis"));
    for name in ["stripe-mock", "oauth-mock", "mailhog"] {
        assert!(
            all.iter()
                .any(|e| e.template == name && e.source == EngineSource::Builtin),
            "{name}"
        );
    }
}

#[test]
fn install_reuses_an_installed_engine_and_names_what_it_cannot_install() {
    let mut lines = Vec::new();
    let e = engines::install("postgres", "15", &mut |l| lines.push(l.to_string())).unwrap();
    assert_eq!(e.major, "15");
    assert!(lines[0].contains("already installed"), "{lines:?}");
    let err = engines::install("meilisearch", "1", &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("meilisearch@1") && err.contains("not packaged"),
        "{err}"
    );
    let err = engines::install("postgres", "x1", &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a PostgreSQL major"), "{err}");
}

#[test]
fn every_catalog_template_is_known() {
    for name in [
        "postgres",
        "redis",
        "stripe-mock",
        "oauth-mock",
        "mailhog",
        "app",
        "memcached",
        "mysql",
        "mariadb",
        "mongodb",
        "kafka",
        "rabbitmq",
        "elasticsearch",
        "opensearch",
        "meilisearch",
        "localstack",
        "kong",
        "nats",
        "traefik",
        "monitoring-stack",
        "logging-stack",
    ] {
        assert_eq!(template_for(name).map(|t| t.name()), Some(name));
    }
    assert!(template_for("oracle").is_none());
}

#[test]
fn cache_dir_honours_the_environment_variable_or_is_absolute() {
    let dir = engines::cache_dir();
    match std::env::var_os("VERS_ENGINE_CACHE") {
        Some(v) if !v.is_empty() => assert_eq!(dir, std::path::PathBuf::from(v)),
        _ => assert!(
            dir.is_absolute() && dir.ends_with("vers/engines"),
            "{}",
            dir.display()
        ),
    }
}
