//! Every mermaid diagram `vers docs` writes parses and renders with mermaid.js in Chromium:
//! docs of a stack with awkward names (dashes, digits, a mermaid keyword), every group, every
//! kind of edge, folded and unanswered calls. A broken diagram makes the renderer fail, so the
//! check cannot pass vacuously.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vers_engine::docs::render::{markdown, mermaid_blocks};
use vers_engine::docs::traffic::{
    BranchTraffic, ObservedCall, ObservedConnection, ObservedRequests, RunData,
};
use vers_engine::testrun::{BranchResult, SuiteResult, TestReport};

const MANIFEST: &str = r#"
name: awkward-stack
services:
  end:
    template: postgres@15
  cache-1:
    template: redis@7
  events:
    template: nats
  stripe:
    template: stripe-mock
  web-api:
    build: .
    depends_on: [end, cache-1, stripe]
  worker2:
    build: .
    depends_on: [events]
tests:
  checkout:
    command: npm test -- --grep "pay; now"
    branches:
      - name: card-ok
        description: 'A "quoted" card; is charged #1'
      - name: stripe-503
        before: vers chaos inject --service stripe --action http-error --status 503
    scenarios:
      - name: db-crash
        description: "PostgreSQL killed"
        inject: { service: end, action: kill, after: 1s, duration: 2s }
chaos:
  scenarios:
    - name: slow-cache
      inject: { service: cache-1, action: network-delay, latency: 200ms }
"#;

fn branch(name: &str, status: &str) -> BranchResult {
    BranchResult {
        name: name.into(),
        status: status.into(),
        duration_ms: 10,
        env: BTreeMap::new(),
        log: String::new(),
        message: None,
        kept_env: None,
        scenario: None,
    }
}

fn call(
    at: u64,
    client: &str,
    server: &str,
    port: u16,
    req: Option<(&str, &str, u16)>,
) -> ObservedCall {
    ObservedCall {
        at_us: at,
        client: client.into(),
        server: server.into(),
        port,
        method: req.map(|r| r.0.to_string()),
        path: req.map(|r| r.1.to_string()),
        status: req.map(|r| r.2),
        latency_us: req.map(|_| 1_500 + at % 7),
    }
}

fn conn(client: &str, server: &str, port: u16, http: bool) -> ObservedConnection {
    ObservedConnection {
        client: client.into(),
        server: server.into(),
        port,
        http,
        connections: 3,
        bytes_in: 1200,
        bytes_out: 4800,
        first_us: 1,
        last_us: 2,
    }
}

fn run() -> RunData {
    let mut statuses = BTreeMap::new();
    statuses.insert(200, 5);
    statuses.insert(0, 1);
    let mut buckets = vec![0; vers_proxy::LATENCY_BOUNDS_US.len() + 1];
    buckets[3] = 6;
    let traffic = |b: &str, status: u16| BranchTraffic {
        suite: "checkout".into(),
        branch: b.into(),
        started_us: 100,
        connections: vec![
            conn("tests", "web-api", 3000, true),
            conn("web-api", "end", 5432, false),
            conn("web-api", "stripe", 12111, true),
            conn("worker2", "cache-1", 6379, false),
        ],
        requests: vec![ObservedRequests {
            client: "web-api".into(),
            server: "stripe".into(),
            port: 12111,
            method: "POST".into(),
            path: "/v1/charges/{id}".into(),
            count: 6,
            statuses: statuses.clone(),
            latency_buckets: buckets.clone(),
            latency_max_us: 9_000,
        }],
        calls: {
            let mut c = vec![call(
                50,
                "tests",
                "web-api",
                3000,
                Some(("GET", "/health", 200)),
            )];
            for i in 0..3 {
                c.push(call(
                    200 + i,
                    "tests",
                    "web-api",
                    3000,
                    Some(("POST", "/checkout", 201)),
                ));
            }
            c.push(call(300, "web-api", "end", 5432, None));
            c.push(call(
                400,
                "web-api",
                "stripe",
                12111,
                Some(("POST", "/v1/charges/{id}", status)),
            ));
            c.push(call(
                500,
                "web-api",
                "stripe",
                12111,
                Some(("GET", "/v1/customers", 0)),
            ));
            c.push(call(600, "worker2", "cache-1", 6379, None));
            for i in 0..60 {
                c.push(call(
                    700 + i,
                    "tests",
                    "web-api",
                    3000,
                    Some(("GET", &format!("/p{i}"), 200)),
                ));
            }
            c
        },
        dropped: 0,
    };
    let mut crash = branch("db-crash", "failed");
    crash.scenario = Some(vers_engine::testrun::report::ScenarioResult {
        inject: serde_json::from_value(serde_json::json!({"service": "end", "action": "kill", "after": "1s", "duration": "2s"})).unwrap(),
        expect: vec!["web-api.returns_503".into()],
        injected_at_ms: Some(1000),
    });
    RunData {
        id: "1700000000".into(),
        report: TestReport::new(vec![SuiteResult {
            name: "checkout".into(),
            passed: 2,
            total: 3,
            branches: vec![
                branch("card-ok", "passed"),
                branch("stripe-503", "passed"),
                crash,
            ],
        }]),
        traffic: vec![
            traffic("card-ok", 200),
            traffic("stripe-503", 503),
            traffic("db-crash", 200),
        ],
    }
}

fn renderer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/render_mermaid.js")
}

fn render(file: &Path) -> (bool, String) {
    let out = Command::new("node")
        .arg(renderer())
        .arg(file)
        .output()
        .expect("node runs (scripts/setup.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_diagram_of_the_docs_renders_in_chromium() {
    let manifest =
        vers_manifest::parse_str(MANIFEST, Path::new("/tmp/vers-integration.yaml")).unwrap();
    let run = run();
    let docs = vers_engine::docs::build(&manifest, Some(&run));
    let md = markdown(&docs);
    // Manifest-only docs too.
    let bare = markdown(&vers_engine::docs::build(&manifest, None));
    let blocks = mermaid_blocks(&md);
    // Topology, and one sequence diagram per branch.
    assert_eq!(blocks.len(), 4, "{md}");
    assert!(md.contains("Note over"), "a long flow is cut: {md}");
    assert!(md.contains("×3"), "repeated calls are folded: {md}");
    assert!(md.contains("no response"), "{md}");
    assert_eq!(
        markdown(&vers_engine::docs::build(&manifest, Some(&run))),
        md,
        "deterministic"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("INTEGRATION.md");
    std::fs::write(&file, &md).unwrap();
    let bare_file = dir.path().join("BARE.md");
    std::fs::write(&bare_file, &bare).unwrap();
    let mut args = vec![file.clone(), bare_file];
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/saas-starter/INTEGRATION.md");
    if example.exists() {
        args.push(example);
    }
    for f in &args {
        let (ok, text) = render(f);
        assert!(ok, "{}: a diagram did not render:\n{text}", f.display());
        let rendered = text.lines().filter(|l| l.contains("\"ok\":true")).count();
        assert_eq!(
            rendered,
            mermaid_blocks(&std::fs::read_to_string(f).unwrap()).len(),
            "{text}"
        );
    }

    // A broken diagram fails the check.
    let broken = dir.path().join("BROKEN.md");
    std::fs::write(
        &broken,
        md.replacen("sequenceDiagram", "sequenceDiagram\n    n_x->>", 1),
    )
    .unwrap();
    let (ok, text) = render(&broken);
    assert!(!ok, "{text}");
    assert!(text.contains("\"failed\":1"), "{text}");
}
