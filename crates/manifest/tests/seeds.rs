//! The five seed manifests (copied verbatim from the seed document into `tests/fixtures`)
//! validate with no error, decode to what they say, and plan as expected. Every input lives
//! in the repository; a missing one fails the test.

use std::path::Path;
use std::time::Duration;

use vers_manifest::{parse_str, plan, AfterSelector, Manifest, ServiceSelector};

const SEEDS: &[&str] = &[
    "saas-starter",
    "event-driven-microservices",
    "data-pipeline",
    "ecommerce-platform",
    "multi-tenant-saas",
];

fn fixture(name: &str) -> (String, Manifest) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.yaml"));
    let src = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    let m = vers_manifest::load(&path).unwrap_or_else(|d| panic!("{name} must validate:\n{d}"));
    (src, m)
}

#[test]
fn every_seed_manifest_validates() {
    for name in SEEDS {
        let (_, m) = fixture(name);
        assert_eq!(m.name, *name);
        assert_eq!(m.version.as_deref(), Some("1.0.0"));
    }
}

/// The fixtures are the seed manifests as the user wrote them; `vers integration init` ships
/// the same text, so what `init` writes is exactly what these tests validate.
#[test]
fn fixtures_are_the_stacks_init_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut expected: Vec<String> = SEEDS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "tests/fixtures must hold exactly the five seeds"
    );
    for name in SEEDS {
        let (src, _) = fixture(name);
        let shipped = vers_manifest::scaffold::stack_template(name)
            .unwrap_or_else(|| panic!("`init` has no stack template `{name}`"));
        assert_eq!(src, shipped, "{name}: fixture and init template differ");
    }
}

#[test]
fn saas_starter_decodes() {
    let (_, m) = fixture("saas-starter");
    let vm = m.vm.as_ref().unwrap();
    assert_eq!(
        (vm.memory_mib, vm.vcpu, vm.storage_mib),
        (Some(4096), Some(2), Some(10000))
    );
    assert_eq!(
        m.services.keys().collect::<Vec<_>>(),
        ["postgres", "redis", "stripe", "oauth", "smtp", "app"]
    );
    let pg = &m.services["postgres"];
    let t = pg.template.as_ref().unwrap();
    assert_eq!(
        (t.name.as_str(), t.version.as_deref()),
        ("postgres", Some("15"))
    );
    assert_eq!(pg.config["databases"][1], "analytics");
    assert_eq!(m.services["redis"].config["maxmemory"], "256mb");
    assert_eq!(
        m.services["stripe"].config["fixtures"]["products"][1]["prices"][0]["unit_amount"],
        2999
    );
    let app = &m.services["app"];
    assert_eq!(app.build.as_ref().unwrap().context, Path::new("."));
    assert_eq!(
        app.depends_on,
        ["postgres", "redis", "stripe", "oauth", "smtp"]
    );
    assert_eq!(app.env["SMTP_PORT"], "1025");
    assert_eq!(app.replicas, 1);
    assert!(app.config.is_null());
    assert!(m.tests["unit"].parallel);
    assert_eq!(m.tests["auth"].branches[0].env["OAUTH_PROVIDER"], "google");
    assert_eq!(m.tests["email"].branches.len(), 3);
    assert_eq!(
        m.checkpoints[0].after,
        AfterSelector::Healthcheck(ServiceSelector::All)
    );
    assert_eq!(
        m.checkpoints[1].after,
        AfterSelector::Script("scripts/seed.sh".into())
    );
    assert_eq!(m.deploy["production"].scaling.unwrap().max, 10);
    assert_eq!(m.deploy["staging"].target, "vers.sh/hosted");
}

#[test]
fn event_driven_resolves_selectors_and_hooks() {
    let (_, m) = fixture("event-driven-microservices");
    let AfterSelector::Healthcheck(sel) = &m.checkpoints[0].after else {
        panic!("healthcheck selector")
    };
    assert_eq!(
        sel.resolve(&m),
        [
            "kafka",
            "postgres-users",
            "postgres-orders",
            "mongodb-inventory",
            "redis"
        ]
    );
    assert_eq!(m.services["user-service"].replicas, 2);
    let kafka_down = &m.tests["resilience"].branches[0];
    assert_eq!(
        kafka_down.before,
        ["vers chaos inject --service kafka --action pause --duration 30s"]
    );
    assert_eq!(
        m.services["kafka"].config["topics"][0]["config"]["retention.ms"],
        86_400_000
    );
    let p = plan(&m);
    assert_eq!(
        p.waves,
        vec![
            vec![
                "kafka",
                "postgres-users",
                "postgres-orders",
                "mongodb-inventory",
                "redis",
                "smtp",
                "gateway"
            ],
            vec![
                "user-service",
                "order-service",
                "inventory-service",
                "notification-service"
            ],
        ]
    );
    // `services-ready` is declared (second), so it is not added again.
    assert_eq!(
        p.checkpoints,
        ["infrastructure-ready", "services-ready", "seeded"]
    );
}

#[test]
fn data_pipeline_matrix_and_settings() {
    let (_, m) = fixture("data-pipeline");
    assert_eq!(m.matrix["postgres"], ["14", "15", "16"]);
    let combos = vers_manifest::matrix_combinations(&m);
    assert_eq!(combos.len(), 6);
    assert_eq!(combos[0]["postgres"], "14");
    assert_eq!(combos[0]["elasticsearch"], "7");
    assert_eq!(combos[5]["postgres"], "16");
    assert_eq!(combos[5]["elasticsearch"], "8");
    assert_eq!(
        m.services["postgres-warehouse"].config["settings"]["shared_buffers"],
        "1GB"
    );
    assert_eq!(
        m.checkpoints[2].description.as_deref(),
        Some("Data quality checks passed")
    );
    assert_eq!(
        vers_manifest::suite_services(&m, "extraction"),
        ["postgres-source", "redis", "etl-extract"]
    );
    assert_eq!(vers_manifest::suite_services(&m, "data-quality").len(), 7);
}

#[test]
fn saas_plan_json_shape() {
    let (_, m) = fixture("saas-starter");
    let json = serde_json::to_value(plan(&m)).unwrap();
    assert_eq!(
        json["waves"],
        serde_json::json!([["postgres", "redis", "stripe", "oauth", "smtp"], ["app"]])
    );
    assert_eq!(
        json["checkpoints"],
        serde_json::json!(["services-ready", "db-seeded", "users-created"])
    );
    assert_eq!(
        json["tests"][0],
        serde_json::json!({"suite": "unit", "branches": ["unit"]})
    );
    assert_eq!(
        json["tests"][1],
        serde_json::json!({"suite": "auth", "branches": ["google-oauth", "github-oauth", "email-password"]})
    );
    assert_eq!(json["matrix"], serde_json::json!([]));
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4);
}

#[test]
fn multi_tenant_and_ecommerce_details() {
    let (_, m) = fixture("multi-tenant-saas");
    assert_eq!(m.services["app"].env["TENANT_ISOLATION"], "schema");
    assert!(m.vm.as_ref().unwrap().storage_mib.is_none());
    let (_, e) = fixture("ecommerce-platform");
    assert_eq!(
        e.tests["payment"].branches[2].env["CARD"],
        "4000002760003184"
    );
    assert_eq!(
        e.services["s3"].config["s3_buckets"][0]["cors"][0]["AllowedOrigins"][0],
        "*"
    );
    assert_eq!(e.tests["search"].timeout, None::<Duration>);
}

#[test]
fn parse_str_records_the_path() {
    let (src, _) = fixture("multi-tenant-saas");
    let m = parse_str(&src, Path::new("/p/vers-integration.yaml")).unwrap();
    assert_eq!(m.path, Path::new("/p/vers-integration.yaml"));
    assert_eq!(m.project_dir(), Path::new("/p"));
}
