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
