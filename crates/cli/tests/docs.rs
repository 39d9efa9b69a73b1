//! `vers docs` (issue 17): a small stack's test suite runs, the proxies record who called
//! whom, and the docs show the observed edges (used, undeclared, declared but unused), the
//! flows of each branch as sequence diagrams, and the injected fault's outcome; runs are kept
//! apart, so a later run does not erase an earlier one.

mod common;

use common::*;
use serde_json::Value;

/// `api` reads an order: it pings redis, then fetches the item from `backend` (a call its
/// `depends_on` does not declare); `spare` is declared but never called.
const MANIFEST: &str = r#"
name: docshop
services:
  redis:
    template: redis@7
  backend:
    build: ./backend
    command: python3 -m http.server 3000
  spare:
    build: ./spare
    command: python3 -m http.server 3000
  api:
    build: ./api
    command: python3 api.py
    depends_on: [redis, spare]
tests:
  orders:
    command: curl -sf http://api:3000/orders/41; curl -sf http://api:3000/orders/42
    branches:
      - name: happy
        description: "An order is read through the api"
      - name: backend-down
        description: "The backend answers 503: the api reports 502"
        before: vers chaos inject --service backend --action http-error --status 503
        expect: fail
"#;

const API: &str = r#"
import socket, urllib.request, urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        code, body = 200, b"ok"
        if self.path.startswith("/orders/"):
            order = self.path.rsplit("/", 1)[1]
            with socket.create_connection(("redis", 6379), timeout=5) as s:
                s.sendall(b"PING\r\n")
                s.recv(64)
            try:
                body = urllib.request.urlopen(f"http://backend:3000/items/{order}", timeout=5).read()
            except urllib.error.HTTPError as e:
                code, body = 502, f"backend said {e.code}".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("0.0.0.0", 3000), Handler).serve_forever()
"#;

fn project() -> TempProject {
    let p = TempProject::new(MANIFEST);
    p.write("api/api.py", API);
    p.write("backend/items/41", "item 41\n");
    p.write("backend/items/42", "item 42\n");
    p.write("spare/index.html", "spare\n");
    p
}

fn edge<'a>(docs: &'a Value, from: &str, to: &str) -> &'a Value {
    docs["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == from && e["to"] == to)
        .unwrap_or_else(|| panic!("no edge {from} -> {to}: {docs:#}"))
}

fn flow<'a>(docs: &'a Value, branch: &str) -> &'a Value {
    docs["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["branch"] == branch)
        .unwrap_or_else(|| panic!("no flow {branch}: {docs:#}"))
}

fn has_step(flow: &Value, from: &str, to: &str, call: &str, status: u64) -> bool {
    flow["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["from"] == from && s["to"] == to && s["call"] == call && s["status"] == status)
}

#[test]
fn docs_show_observed_edges_flows_and_faults_of_a_test_run() {
    let p = project();
    // Before any run: the manifest alone.
    let bare: Value = p.json(&["docs", "--json"]);
    assert_eq!(bare["run"], Value::Null);
    assert_eq!(edge(&bare, "api", "spare")["state"], "declared");

    let report = p.json(&["test", "--json"]);
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");

    let docs: Value = p.json(&["docs", "--json"]);
    let run = docs["run"].as_str().expect("a run id").to_string();
    // Edges: declared and used, undeclared, declared but unused, and the tests' calls.
    let redis = edge(&docs, "api", "redis");
    assert_eq!(redis["state"], "used", "{docs:#}");
    assert_eq!(redis["observed"][0]["protocol"], "Redis");
    assert!(redis["observed"][0]["connections"].as_u64().unwrap() >= 4);
    let backend = edge(&docs, "api", "backend");
    assert_eq!(backend["state"], "undeclared", "{docs:#}");
    assert_eq!(backend["observed"][0]["protocol"], "HTTP");
    assert!(backend["observed"][0]["requests"].as_u64().unwrap() >= 4);
    assert_eq!(edge(&docs, "api", "spare")["state"], "declared-unused");
    assert_eq!(edge(&docs, "tests", "api")["state"], "tests");

    // Flows in manifest order, with the calls in order and their statuses.
    let happy = flow(&docs, "happy");
    assert_eq!(docs["flows"][0]["branch"], "happy");
    assert_eq!(happy["status"], "passed");
    assert!(
        has_step(happy, "tests", "api", "GET /orders/{id}", 200),
        "{happy:#}"
    );
    assert!(
        has_step(happy, "api", "backend", "GET /items/{id}", 200),
        "{happy:#}"
    );
    assert!(happy["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["from"] == "api" && s["to"] == "redis" && s["call"] == "connect (Redis)"));
    let first_api = happy["steps"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["to"] == "api");
    let first_backend = happy["steps"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["to"] == "backend");
    assert!(
        first_api < first_backend,
        "the test's call comes first: {happy:#}"
    );
    assert!(happy["sla"]["requests"].as_u64().unwrap() >= 4);
    let down = flow(&docs, "backend-down");
    assert!(
        has_step(down, "api", "backend", "GET /items/{id}", 503),
        "{down:#}"
    );
    assert!(
        has_step(down, "tests", "api", "GET /orders/{id}", 502),
        "{down:#}"
    );

    // The fault and its outcome.
    let failure = docs["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["service"] == "backend")
        .unwrap_or_else(|| panic!("no failure row: {docs:#}"));
    assert_eq!(failure["scenario"], "orders/backend-down");
    assert_eq!(failure["outcome"], "passed");
    assert!(failure["fault"].as_str().unwrap().starts_with("http-error"));
    assert!(
        failure["errors"]
            .as_str()
            .unwrap()
            .contains("backend: 2× 503"),
        "{failure}"
    );

    // Markdown into a directory, deterministic for the same run.
    let out_dir = p.scratch.path().join("docs/");
    p.ok(&["docs", "--output", out_dir.to_str().unwrap()]);
    let md = std::fs::read_to_string(out_dir.join("INTEGRATION.md")).unwrap();
    assert!(
        md.contains("## Topology") && md.contains("flowchart LR"),
        "{md}"
    );
    assert!(md.contains("| Service | Endpoint | Purpose |"), "{md}");
    assert!(md.contains("n_api ==>|\"undeclared: HTTP"), "{md}");
    assert!(
        md.contains("n_api -.->|\"declared, not observed\"| n_spare"),
        "{md}"
    );
    assert!(md.contains("n_api->>n_backend: GET /items/{id}"), "{md}");
    assert!(md.contains("n_backend-->>n_api: 503"), "{md}");
    assert!(md.contains("**SLA** (measured): p50 "), "{md}");
    assert_eq!(md.matches("sequenceDiagram").count(), 2, "{md}");
    assert_eq!(
        p.ok(&["docs"]),
        md,
        "the same run renders the same document"
    );

    // A later run keeps the earlier one.
    p.ok(&["test", "--scenario", "happy"]);
    let later: Value = p.json(&["docs", "--json"]);
    assert_ne!(later["run"], run.as_str());
    assert_eq!(later["flows"].as_array().unwrap().len(), 1);
    let earlier: Value = p.json(&["docs", "--json", "--run", &run]);
    assert_eq!(earlier["flows"].as_array().unwrap().len(), 2);
    let missing = p.vers(&["docs", "--run", "no-such-run"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(
        stderr(&missing).contains("no-such-run"),
        "{}",
        stderr(&missing)
    );
}
