//! Local deployments: `vers deploy NAME` answers from the host, a redeploy is version 2 with
//! its own checkpoint, `rollback` brings version 1's data back, deployments survive `down`,
//! `deploy rm` stops them, and hosted targets are refused with exit 2.

mod common;

use common::*;

const STACK: &str = "name: deploy-test
services:
  redis:
    template: redis@7
deploy:
  demo:
    target: local
  staging:
    target: vers.sh/hosted
    domain: staging.example.invalid
";

fn redis(endpoint: &str, args: &[&str]) -> String {
    let (host, port) = endpoint.split_once(':').unwrap();
    let out = std::process::Command::new("redis-cli")
        .args(["-h", host, "-p", port])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn endpoint(doc: &serde_json::Value) -> String {
    doc["endpoints"]["redis"]
        .as_str()
        .unwrap_or_else(|| panic!("no redis endpoint: {doc}"))
        .to_string()
}

#[test]
fn deploy_redeploy_rollback_and_remove() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    p.ok(&["execute", "redis-cli -h redis set k v1"]);

    let v1 = p.json(&["deploy", "demo", "--json"]);
    assert_eq!(v1["version"], 1, "{v1}");
    assert_eq!(v1["state"], "running", "{v1}");
    assert_eq!(redis(&endpoint(&v1), &["get", "k"]), "v1");

    // HEAD moves on; the running deployment does not.
    p.ok(&["execute", "redis-cli -h redis set k v2"]);
    assert_eq!(redis(&endpoint(&v1), &["get", "k"]), "v1");
    let v2 = p.json(&["deploy", "demo", "--json"]);
    assert_eq!(v2["version"], 2, "{v2}");
    assert_eq!(v2["versions"], serde_json::json!([1, 2]));
    assert_eq!(redis(&endpoint(&v2), &["get", "k"]), "v2");

    let back = p.json(&["deploy", "rollback", "demo", "--json"]);
    assert_eq!(back["version"], 1, "{back}");
    assert_eq!(redis(&endpoint(&back), &["get", "k"]), "v1");

    // Deployments survive `down` of HEAD and are listed apart.
    p.ok(&["down"]);
    let list = p.json(&["deployments", "--json"]);
    let d = &list["deployments"][0];
    assert_eq!(d["name"], "demo", "{list}");
    assert_eq!(d["version"], 1, "{list}");
    assert_eq!(d["env_name"], "deploy/demo/v1", "{list}");
    assert_eq!(redis(&endpoint(d), &["get", "k"]), "v1");

    // Hosted targets need the hosted service.
    let hosted = p.vers(&["deploy", "staging"]);
    assert_eq!(hosted.status.code(), Some(2), "{}", stderr(&hosted));
    let msg = stderr(&hosted);
    assert!(
        msg.contains("hosted service") && msg.contains("target: local"),
        "{msg}"
    );

    let ep = endpoint(d);
    p.ok(&["deploy", "rm", "demo"]);
    let list = p.json(&["deployments", "--json"]);
    assert_eq!(list["deployments"], serde_json::json!([]), "{list}");
    assert_ne!(
        redis(&ep, &["get", "k"]),
        "v1",
        "the removed deployment still answers"
    );
}

#[test]
fn a_preview_past_its_ttl_is_removed_by_the_daemon() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    p.ok(&["execute", "redis-cli -h redis set k pv"]);
    let pv = p.json(&["preview", "create", "pr-1", "--ttl", "2s", "--json"]);
    assert_eq!(pv["preview"], true, "{pv}");
    assert_eq!(pv["env_name"], "preview/pr-1/v1", "{pv}");
    let ep = endpoint(&pv);
    assert_eq!(redis(&ep, &["get", "k"]), "pv");
    let listed = p.json(&["preview", "list", "--json"]);
    assert_eq!(listed["previews"][0]["name"], "pr-1", "{listed}");
    // No command runs while it expires: the daemon removes it on its own.
    let env = pv["env"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let state_path = p.path().join(".vers/state.json");
    loop {
        let state = std::fs::read_to_string(&state_path).unwrap();
        if !state.contains(&format!("\"{env}\"")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "preview not removed:\n{state}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Its processes are gone: the endpoint no longer answers.
    assert_ne!(redis(&ep, &["get", "k"]), "pv");
    let listed = p.json(&["preview", "list", "--json"]);
    assert_eq!(listed["previews"], serde_json::json!([]), "{listed}");
}

const APP_STACK: &str = "name: deploy-code
services:
  web:
    build: ./web
    command: python3 server.py
deploy:
  demo:
    target: local
";

/// Answers with `message.txt` of its working directory, read at each request.
const SERVER: &str = r#"import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open("message.txt", "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer((os.environ.get("HOST", "0.0.0.0"), int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// The body of `GET /` at `endpoint` (`127.0.0.1:PORT`), or the error.
fn get(endpoint: &str) -> String {
    use std::io::{Read, Write};
    let mut s = match std::net::TcpStream::connect(endpoint) {
        Ok(s) => s,
        Err(e) => return format!("connect: {e}"),
    };
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    if let Err(e) = s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n") {
        return format!("write: {e}");
    }
    let mut out = String::new();
    if let Err(e) = s.read_to_string(&mut out) {
        return format!("read: {e}");
    }
    match out.split_once("\r\n\r\n") {
        Some((_, body)) => body.trim().to_string(),
        None => format!("no body: {out}"),
    }
}

fn web(doc: &serde_json::Value) -> String {
    doc["endpoints"]["web"]
        .as_str()
        .unwrap_or_else(|| panic!("no web endpoint: {doc}"))
        .to_string()
}

#[test]
fn each_version_runs_its_own_code_on_the_same_host_port() {
    let p = TempProject::new(APP_STACK);
    p.write("web/server.py", SERVER);
    let message = p.write("web/message.txt", "old\n");
    p.ok(&["up"]);

    let v1 = p.json(&["deploy", "demo", "--json"]);
    assert_eq!(v1["version"], 1, "{v1}");
    let ep = web(&v1);
    assert_eq!(get(&ep), "old");

    // Editing the working tree changes HEAD, never the running deployment.
    std::fs::write(&message, "new\n").unwrap();
    assert_eq!(
        get(&ep),
        "old",
        "v1 runs the working tree, not its own copy"
    );

    let v2 = p.json(&["deploy", "demo", "--json"]);
    assert_eq!(v2["version"], 2, "{v2}");
    assert_eq!(web(&v2), ep, "the host port changed between versions: {v2}");
    assert_eq!(get(&ep), "new");

    let back = p.json(&["deploy", "rollback", "demo", "--json"]);
    assert_eq!(back["version"], 1, "{back}");
    assert_eq!(web(&back), ep, "the host port changed on rollback: {back}");
    assert_eq!(
        get(&ep),
        "old",
        "rollback brought v1's data back but not its code"
    );

    // `status` shows the deployment apart from the branches.
    let status = p.json(&["status", "--json"]);
    let d = &status["deployments"][0];
    assert_eq!(d["name"], "demo", "{status}");
    assert_eq!(d["version"], 1, "{status}");
    assert_eq!(d["endpoints"]["web"], ep.as_str(), "{status}");
    let marked: Vec<&serde_json::Value> = status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["deployment"] == "demo")
        .collect();
    assert_eq!(marked.len(), 1, "{status}");
    let text = p.ok(&["status"]);
    assert!(
        text.contains("deployments") && text.contains("demo v1"),
        "{text}"
    );

    // `down --all` leaves deployments running; `--deployments` removes them too.
    let down = p.json(&["down", "--all", "--json"]);
    assert_eq!(
        down["kept_deployments"],
        serde_json::json!(["demo"]),
        "{down}"
    );
    assert_eq!(
        get(&ep),
        "old",
        "the deployment did not survive `down --all`"
    );
    let list = p.json(&["deployments", "--json"]);
    assert_eq!(list["deployments"][0]["state"], "running", "{list}");

    let down = p.json(&["down", "--all", "--deployments", "--json"]);
    assert_eq!(
        down["removed_deployments"],
        serde_json::json!(["demo"]),
        "{down}"
    );
    assert_ne!(get(&ep), "old", "a removed deployment still answers");
    assert!(
        !p.path().join(".vers/deployments/demo").exists(),
        "its code snapshots are left behind"
    );
}

#[test]
fn a_deployment_comes_back_on_its_port_when_its_daemon_died() {
    let p = TempProject::new(APP_STACK);
    p.write("web/server.py", SERVER);
    p.write("web/message.txt", "old\n");
    p.ok(&["up"]);
    let v1 = p.json(&["deploy", "demo", "--json"]);
    let ep = web(&v1);
    assert_eq!(get(&ep), "old");

    let pid = std::fs::read_to_string(p.path().join(".vers/daemon.pid")).unwrap();
    let pid = pid.trim().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "daemon {pid} still alive"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_ne!(get(&ep), "old", "answered with no daemon to forward");

    // The next command starts a daemon, which starts the deployment again on its port.
    p.ok(&["deployments", "--json"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while get(&ep) != "old" {
        assert!(
            std::time::Instant::now() < deadline,
            "not back on {ep}: {}",
            p.ok(&["deployments", "--json"])
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let list = p.json(&["deployments", "--json"]);
    assert_eq!(list["deployments"][0]["state"], "running", "{list}");
    assert_eq!(web(&list["deployments"][0]), ep, "{list}");
}

/// A deployment and a preview never take HEAD's fixed host port (`ports:`): HEAD keeps
/// answering on it, and they get free ports of their own.
#[test]
fn deployments_and_previews_leave_heads_fixed_port_to_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = TempProject::new(&APP_STACK.replace(
        "    command: python3 server.py\n",
        &format!("    command: python3 server.py\n    ports: [\"{port}:3000\"]\n"),
    ));
    p.write("web/server.py", SERVER);
    p.write("web/message.txt", "head\n");
    p.ok(&["up"]);
    let fixed = format!("127.0.0.1:{port}");
    assert_eq!(get(&fixed), "head");
    let out = p.vers(&["deploy", "demo", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let demo = web(&json_of(&out));
    assert_ne!(demo, fixed);
    assert_eq!(get(&demo), "head");
    let preview = p.json(&["preview", "create", "pr1", "--json"]);
    assert_ne!(web(&preview), fixed);
    assert_ne!(web(&preview), demo);
    // HEAD and the deployment keep theirs.
    assert_eq!(get(&fixed), "head");
    assert_eq!(get(&demo), "head");
}
