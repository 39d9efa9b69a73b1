//! `vers export compose|kubernetes` on every example: the Compose file must validate against
//! the Compose Specification's JSON schema and the Kubernetes manifests against the
//! Kubernetes schemas (both offline), engines must be their official images, apps their
//! build contexts and mocks vers's own mock image.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const EXAMPLES: &[&str] = &[
    "saas-starter",
    "event-driven-microservices",
    "data-pipeline",
    "ecommerce-platform",
    "multi-tenant-saas",
    "resilience",
];

fn python() -> PathBuf {
    std::env::var_os("VERS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vers/test-venv"))
        .join("bin/python")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn validate(args: &[&str]) {
    let out = std::process::Command::new(python())
        .arg(fixtures().join("validate_export.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "validation failed for {args:?}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn yaml_to_json(path: &Path) -> serde_json::Value {
    let out = std::process::Command::new(python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_example_exports_a_valid_compose_file_and_kubernetes_manifests() {
    let schema = fixtures().join("compose-spec.json");
    for name in EXAMPLES {
        let dir = tempfile::Builder::new()
            .prefix("vers-export-")
            .tempdir()
            .unwrap();
        copy_example(name, dir.path());
        let p = TempProject::in_dir(dir);
        let out = p.scratch.path().join("out");
        let compose = out.join("compose.yaml");
        let doc = p.json(&[
            "export",
            "compose",
            "-o",
            compose.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(doc["format"], "compose", "{name}: {doc}");
        validate(&[
            "compose",
            schema.to_str().unwrap(),
            compose.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(&compose).unwrap();
        let c = &yaml_to_json(&compose)[0];
        let services = c["services"].as_object().unwrap();
        let manifest = std::fs::read_to_string(p.path().join("vers-integration.yaml")).unwrap();
        // Every manifest service is there; engines are official images.
        for (svc, body) in services {
            assert!(manifest.contains(&format!("  {svc}:")), "{name}: {svc}");
            let image = body["image"].as_str().unwrap_or_default();
            if manifest.contains("template: postgres@15") && svc == "postgres" {
                assert_eq!(image, "postgres:15", "{name}");
            }
            if manifest.contains("template: redis@7") && svc == "redis" {
                assert_eq!(image, "redis:7", "{name}");
            }
            if image == "vers-mock:latest" {
                assert_eq!(body["build"]["context"], "vers-mock", "{name}: {svc}");
                let args: Vec<&str> = body["command"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|a| a.as_str())
                    .collect();
                assert!(
                    args.windows(2).any(|w| w == ["--listen", "0.0.0.0"]),
                    "{name}: {svc}: {args:?}"
                );
                assert!(out.join(format!("vers-mock/{svc}.json")).is_file());
                assert!(out.join("vers-mock/vers").is_file());
                assert!(out.join("vers-mock/Dockerfile").is_file());
            }
            if body.get("image").is_none() {
                // An app: a build context that exists, relative to the Compose file.
                let ctx = body["build"]["context"].as_str().unwrap();
                assert!(out.join(ctx).is_dir(), "{name}: {svc}: context {ctx}");
            }
        }
        // Hard dependencies on services with a health check wait for healthy.
        let deps_healthy = services.values().any(|b| {
            b["depends_on"]
                .as_object()
                .is_some_and(|d| d.values().any(|v| v["condition"] == "service_healthy"))
        });
        assert!(
            deps_healthy,
            "{name}: no depends_on with service_healthy:\n{text}"
        );
        assert!(text.starts_with("# Compose file for"), "{name}");

        let k8s = p.scratch.path().join("k8s");
        p.ok(&["export", "kubernetes", "-o", k8s.to_str().unwrap()]);
        validate(&["kubernetes", k8s.to_str().unwrap()]);
        for svc in services.keys() {
            let label = svc.replace('_', "-");
            let docs = yaml_to_json(&k8s.join(format!("{label}.yaml")));
            let kinds: Vec<&str> = docs
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["kind"].as_str())
                .collect();
            assert!(
                kinds.contains(&"Deployment") || kinds.contains(&"StatefulSet"),
                "{name}: {svc}: {kinds:?}"
            );
            assert!(kinds.contains(&"Service"), "{name}: {svc}: {kinds:?}");
        }
    }
}

#[test]
fn saas_starter_export_carries_its_services_over() {
    let dir = tempfile::Builder::new()
        .prefix("vers-export-")
        .tempdir()
        .unwrap();
    copy_example("saas-starter", dir.path());
    let p = TempProject::in_dir(dir);
    let out = p.scratch.path().join("c");
    let compose = out.join("docker-compose.yml");
    p.ok(&[
        "export",
        "compose",
        "-o",
        compose.to_str().unwrap(),
        "--target",
        "production",
    ]);
    let c = &yaml_to_json(&compose)[0];
    let s = &c["services"];
    assert_eq!(s["postgres"]["image"], "postgres:15");
    assert_eq!(
        s["postgres"]["healthcheck"]["test"][1],
        "pg_isready -U postgres"
    );
    let init = std::fs::read_to_string(out.join("postgres-init/postgres.sql")).unwrap();
    assert!(
        init.contains("format('CREATE DATABASE %I', 'analytics')"),
        "{init}"
    );
    assert!(
        init.contains("CREATE EXTENSION IF NOT EXISTS \"pg_trgm\""),
        "{init}"
    );
    assert_eq!(s["redis"]["image"], "redis:7");
    assert_eq!(
        s["redis"]["command"],
        serde_json::json!([
            "redis-server",
            "--maxmemory",
            "256mb",
            "--maxmemory-policy",
            "allkeys-lru"
        ])
    );
    assert_eq!(s["stripe"]["command"][0], "stripe");
    assert_eq!(s["oauth"]["command"][0], "oauth");
    assert_eq!(s["smtp"]["command"][0], "mailhog");
    let stripe_config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("vers-mock/stripe.json")).unwrap())
            .unwrap();
    assert_eq!(
        stripe_config["fixtures"]["products"][0]["id"],
        "prod_starter"
    );
    let app = &s["app"];
    let ctx = app["build"]["context"].as_str().unwrap();
    assert_eq!(
        out.join(ctx).canonicalize().unwrap(),
        p.path().canonicalize().unwrap(),
        "{app}"
    );
    assert_eq!(
        app["environment"]["DATABASE_URL"],
        "postgres://postgres@postgres/app"
    );
    assert_eq!(
        app["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    // The production target scales the app from 2 replicas.
    assert_eq!(app["deploy"]["replicas"], 2);
    let text = std::fs::read_to_string(&compose).unwrap();
    assert!(text.contains("# Not expressed in this export:"), "{text}");
    assert!(text.contains("myapp.vers.sh"), "{text}");

    // Hosted-only formats are refused with exit 2.
    let refused = p.vers(&["export", "ami"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("hosted"), "{}", stderr(&refused));
}

/// What the export writes runs where it goes: the postgres init script is vers's own setup
/// (the users get their grants: on PostgreSQL 15 a user without them cannot create a table),
/// and an app's HTTP healthcheck asks with what its image has, Kubernetes's own `httpGet` or
/// bash for a Debian image, never curl, which slim images lack.
#[test]
fn exported_postgres_users_keep_their_grants_and_http_probes_need_no_curl() {
    let p = TempProject::new(
        "name: exp\nservices:\n  db:\n    template: postgres@15\n    config:\n      databases: [app]\n      users:\n        - name: appuser\n          password: s3cret\n          grants: [ALL]\n  web:\n    command: python3 -m http.server 8080\n    ports: [\"8080\"]\n    healthcheck:\n      path: /\n    depends_on: [db]\n",
    );
    let out = p.scratch.path().join("c");
    let compose = out.join("compose.yaml");
    p.ok(&["export", "compose", "-o", compose.to_str().unwrap()]);
    let c = &yaml_to_json(&compose)[0];
    let probe = c["services"]["web"]["healthcheck"]["test"][1]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        probe.contains("/dev/tcp/localhost/8080") && !probe.contains("curl"),
        "{probe}"
    );
    let k8s = p.scratch.path().join("k");
    p.ok(&["export", "kubernetes", "-o", k8s.to_str().unwrap()]);
    let docs = yaml_to_json(&k8s.join("web.yaml"));
    let deployment = docs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("{docs:#}"));
    let web = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        web["readinessProbe"]["httpGet"],
        serde_json::json!({"path": "/", "port": 8080}),
        "{web:#}"
    );

    // The init script, run as the image runs it on a fresh server, lets appuser create tables.
    let init = std::fs::read_to_string(out.join("postgres-init/db.sql")).unwrap();
    let fresh = TempProject::new("name: fresh\nservices:\n  db:\n    template: postgres@15\n");
    fresh.write("init.sql", &init);
    fresh.ok(&["up", "--no-checkpoints"]);
    fresh.ok(&[
        "execute",
        "psql -v ON_ERROR_STOP=1 -h db -U postgres -d postgres -f init.sql",
    ]);
    fresh.ok(&[
        "execute",
        "PGPASSWORD=s3cret psql -v ON_ERROR_STOP=1 -h db -U appuser -d app -c 'create table t (x int)'",
    ]);
}
