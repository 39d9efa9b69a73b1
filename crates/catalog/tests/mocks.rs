//! Built-in mocks: the `vers mock` command lines, their config files and their probes.

mod support;

use serde_json::json;
use support::{ctx, dirs};
use vers_catalog::{template_for, EngineSource, Probe};

#[test]
fn stripe_mock_runs_vers_mock_stripe_with_its_config() {
    let t = template_for("stripe-mock").unwrap();
    let e = t.engine(None).unwrap();
    assert_eq!(e.source, EngineSource::Builtin);
    let d = dirs();
    let config = json!({"webhook_secret": "whsec_x", "fixtures": {"customers": [{"id": "cus_1"}]}});
    let c = ctx(
        "stripe",
        "stripe-mock",
        &d,
        vec![12111, 12112],
        config.clone(),
    );
    let l = t.launch(&c, &e).unwrap();
    assert_eq!(l.program, c.vers_exe);
    let cfg_path = d.run.join("config.json");
    let expected: Vec<String> = [
        "mock",
        "stripe",
        "--listen",
        "127.0.0.1",
        "--port",
        "12111",
        "--https-port",
        "12112",
        "--data-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        d.data.display().to_string(),
        "--config".into(),
        cfg_path.display().to_string(),
    ])
    .collect();
    assert_eq!(l.args, expected);
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    assert_eq!(written, config);
    assert_eq!(
        t.health(&c, &e),
        Probe::Http {
            port: 12111,
            path: "/v1/charges".into(),
            headers: vec![("Authorization".into(), "Bearer sk_test_health".into())]
        }
    );
}

#[test]
fn oauth_mock_gets_its_public_base_and_probes_its_first_provider() {
    let t = template_for("oauth-mock").unwrap();
    let e = t.engine(None).unwrap();
    let d = dirs();
    let c = ctx(
        "auth",
        "oauth-mock",
        &d,
        vec![8080],
        json!({"providers": ["github", "google"]}),
    );
    let l = t.launch(&c, &e).unwrap();
    let base = l.args.iter().position(|a| a == "--public-base").unwrap();
    assert_eq!(l.args[base + 1], "http://auth:8080");
    assert!(
        matches!(t.health(&c, &e), Probe::Http { port: 8080, ref path, .. } if path == "/github/.well-known/openid-configuration")
    );
    let c = ctx("auth", "oauth-mock", &d, vec![8080], json!(null));
    assert!(
        matches!(t.health(&c, &e), Probe::Http { ref path, .. } if path == "/google/.well-known/openid-configuration")
    );
}

#[test]
fn mailhog_listens_on_smtp_and_api_ports() {
    let t = template_for("mailhog").unwrap();
    let e = t.engine(None).unwrap();
    let d = dirs();
    let c = ctx(
        "mail",
        "mailhog",
        &d,
        vec![1025, 8025],
        json!({"storage": "maildir"}),
    );
    let l = t.launch(&c, &e).unwrap();
    let joined = l.args.join(" ");
    assert!(
        joined.starts_with(
            "mock mailhog --listen 127.0.0.1 --smtp-port 1025 --api-port 8025 --data-dir"
        ),
        "{joined}"
    );
    assert!(
        matches!(t.health(&c, &e), Probe::Http { port: 8025, ref path, .. } if path == "/api/v2/messages")
    );
}
