//! `vers mcp` driven by the official MCP Python SDK (`mcp` from PyPI, installed in the test
//! virtual environment): a full agent session on real PostgreSQL and Redis, error cases
//! answered with `isError` while the server keeps serving, and the manifest tools.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::*;

const STACK: &str = r#"
name: agent
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
  redis:
    template: redis@7
checkpoints:
  - name: seeded
    after: scripts/seed.sh
tests:
  items:
    parallel: true
    branches:
      - name: add-one
        command: psql -v ON_ERROR_STOP=1 -tA postgres://postgres@postgres/app -c "insert into items values ('x', 9)" && test "$(psql -tA postgres://postgres@postgres/app -c 'select count(*) from items')" = 3
      - name: keeps-seed
        command: test "$(psql -tA postgres://postgres@postgres/app -c 'select count(*) from items')" = 2
"#;

const SEED: &str = r#"#!/bin/bash
set -e
psql -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "create table items(name text, qty int); insert into items values ('a', 1), ('b', 2)"
"#;

/// The Python of the test virtual environment, where `mcp` is installed.
fn python() -> PathBuf {
    let venv = std::env::var_os("VERS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vers/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh to create the test virtual environment",
        python.display()
    );
    let has_mcp = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .status()
        .unwrap();
    assert!(
        has_mcp.success(),
        "the `mcp` package is missing from {}: run scripts/setup.sh",
        python.display()
    );
    python
}

#[test]
fn an_agent_session_through_the_mcp_python_sdk() {
    let python = python();
    let p = TempProject::new(STACK);
    let seed = p.write("scripts/seed.sh", SEED);
    std::fs::set_permissions(&seed, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let fresh = tempfile::Builder::new()
        .prefix("vers-mcp-fresh-")
        .tempdir()
        .unwrap();
    let began = Instant::now();
    let out = std::process::Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_session.py"))
        .arg(vers_bin())
        .arg(p.path())
        .arg(fresh.path())
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .output()
        .unwrap();
    // The fresh project's daemon was started by integration_remove_service.
    let _ = vers_in(fresh.path(), &["down", "--all"]);
    let text = stdout(&out);
    assert!(
        out.status.success() && text.contains("MCP_SESSION_OK"),
        "the MCP session failed ({:?}):\nstdout:\n{text}\nstderr:\n{}",
        out.status.code(),
        stderr(&out)
    );
    let figure = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    let (mcp_ms, api_ms) = (figure("MCP_STATUS_P50_MS="), figure("API_STATUS_P50_MS="));
    eprintln!(
        "vers_status p50: {mcp_ms:.1} ms through MCP, {api_ms:.1} ms API alone; session {:.1}s",
        began.elapsed().as_secs_f64()
    );
    // A generous bound that still catches a per-call daemon start or a reconnect storm.
    assert!(
        mcp_ms - api_ms < 100.0,
        "MCP adds {:.1} ms to vers_status",
        mcp_ms - api_ms
    );
}

/// A raw JSON-RPC session with `vers mcp` on stdio (newline-delimited messages).
struct RawSession {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
    next_id: u64,
}

impl RawSession {
    fn start(dir: &std::path::Path) -> RawSession {
        let mut child = std::process::Command::new(vers_bin())
            .arg("mcp")
            .current_dir(dir)
            .env("CI", "true")
            .env_remove("VERS_ENV")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut s = RawSession {
            child,
            out,
            next_id: 0,
        };
        let init = s.request(
            "initialize",
            serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}}),
        );
        assert!(init.get("result").is_some(), "initialize: {init}");
        s.send(&serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        s
    }

    fn send(&mut self, msg: &serde_json::Value) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request and returns its response (notifications in between are skipped).
    fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use std::io::BufRead;
        self.next_id += 1;
        let id = self.next_id;
        self.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        );
        loop {
            let mut line = String::new();
            let n = self.out.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "vers mcp closed stdout while {method} #{id} was pending"
            );
            let msg: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if msg["id"] == id {
                return msg;
            }
        }
    }

    /// A `tools/call` that must be answered with JSON-RPC error -32602; its message.
    fn invalid_params(&mut self, params: serde_json::Value) -> String {
        let answer = self.request("tools/call", params.clone());
        assert_eq!(
            answer["error"]["code"], -32602,
            "tools/call {params} must be invalid params: {answer}"
        );
        answer["error"]["message"].as_str().unwrap().to_string()
    }
}

impl Drop for RawSession {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

#[test]
fn missing_or_malformed_tool_arguments_are_invalid_params_naming_the_argument() {
    let p = TempProject::new("name: mcp-args\nservices:\n  redis:\n    template: redis@7\n");
    let mut s = RawSession::start(p.path());

    // Missing arguments, or a required one absent.
    let m = s.invalid_params(serde_json::json!({"name": "vers_branch_checkout"}));
    assert!(
        m.contains("vers_branch_checkout") && m.contains("`branch`"),
        "{m}"
    );
    let m = s.invalid_params(serde_json::json!({"name": "vers_commit", "arguments": {}}));
    assert!(m.contains("`tag`"), "{m}");
    // An argument of the wrong type.
    let m = s.invalid_params(
        serde_json::json!({"name": "integration_logs", "arguments": {"service": "redis", "lines": "abc"}}),
    );
    assert!(m.contains("`lines`"), "{m}");
    let m = s.invalid_params(
        serde_json::json!({"name": "vers_branch_create", "arguments": {"alias": 5}}),
    );
    assert!(m.contains("`alias`"), "{m}");
    // `arguments` that is not an object (rmcp cannot read such a call at all).
    for bad in [
        serde_json::json!("x"),
        serde_json::json!([]),
        serde_json::json!(3),
    ] {
        let m =
            s.invalid_params(serde_json::json!({"name": "vers_branch_create", "arguments": bad}));
        assert!(m.contains("`arguments` must be an object"), "{m}");
    }

    // Every tool: each required argument left out, and each argument of a type no tool
    // takes, is invalid params naming it.
    let tools = s.request("tools/list", serde_json::json!({}));
    let tools = tools["result"]["tools"].as_array().unwrap().clone();
    assert!(tools.len() > 25, "{tools:?}");
    let mut checked = 0;
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let schema = &tool["inputSchema"];
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .collect();
        if !required.is_empty() {
            let m = s.invalid_params(serde_json::json!({"name": name, "arguments": {}}));
            assert!(
                m.contains(name)
                    && required
                        .iter()
                        .any(|f| m.contains(&format!("missing field `{f}`"))),
                "{name} (requires {required:?}): {m}"
            );
            checked += 1;
        }
        for field in schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            let m =
                s.invalid_params(serde_json::json!({"name": name, "arguments": {field: [[[1]]]}}));
            assert!(
                m.contains(&format!("`{field}`")) || m.contains("missing field"),
                "{name}.{field}: {m}"
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} checks");

    // An unknown tool stays invalid params, and the server keeps serving real calls.
    let m = s.invalid_params(serde_json::json!({"name": "no_such_tool", "arguments": {}}));
    assert!(m.contains("not found"), "{m}");
    let list = s.request(
        "tools/call",
        serde_json::json!({"name": "vers_branch_list", "arguments": {}}),
    );
    assert!(
        list.get("error").is_none() && list["result"]["isError"] != true,
        "{list}"
    );
}

#[test]
fn arguments_a_tool_does_not_take_are_invalid_params_naming_them() {
    // An agent that guesses an argument's name (`name` for vers_branch_create's `alias`)
    // must be told, not have the call run without it (a branch with a generated name).
    let p = TempProject::new("name: mcp-extra\nservices:\n  redis:\n    template: redis@7\n");
    let mut s = RawSession::start(p.path());
    let answer = s.request(
        "tools/call",
        serde_json::json!({"name": "vers_branch_create", "arguments": {"name": "feature"}}),
    );
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let m = answer["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("vers_branch_create") && m.contains("`name`") && m.contains("`alias`"),
        "{m}"
    );
    assert_eq!(answer["error"]["data"]["argument"], "name", "{answer}");
    let m = s.invalid_params(
        serde_json::json!({"name": "vers_commit", "arguments": {"tag": "t", "mesage": "typo"}}),
    );
    assert!(m.contains("`mesage`") && m.contains("`message`"), "{m}");
    // A tool that takes none refuses them too, and still answers a call without any.
    let m = s.invalid_params(
        serde_json::json!({"name": "vers_branch_list", "arguments": {"all": true}}),
    );
    assert!(m.contains("vers_branch_list") && m.contains("`all`"), "{m}");
    let listed = s.request(
        "tools/call",
        serde_json::json!({"name": "vers_branch_list", "arguments": {}}),
    );
    assert!(listed["result"].is_object(), "{listed}");
    // The schemas say so too, every one of them.
    let tools = s.request("tools/list", serde_json::json!({}));
    for tool in tools["result"]["tools"].as_array().unwrap() {
        assert_eq!(tool["inputSchema"]["additionalProperties"], false, "{tool}");
    }
}

#[test]
fn a_commit_racing_a_checkout_of_another_branch_answers() {
    // The checkout pauses (freezes) the HEAD the commit is quiescing; the commit's quiesce
    // command (psql CHECKPOINT) froze with it and the commit never answered.
    let p = TempProject::new(
        "name: mcp-race\nservices:\n  postgres:\n    template: postgres@15\n    config:\n      databases: [app]\n",
    );
    p.ok(&["integration", "up"]);
    p.ok(&["commit", "--tag", "base"]);
    p.ok(&["branch", "--alias", "other", "--from", "base"]);
    let mut s = RawSession::start(p.path());
    // A stuck call is ended by killing the server, so the test fails instead of hanging.
    let pid = s.child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            for _ in 0..240 {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        })
    };
    let mut targets = ["other", "root"].iter().cycle();
    for round in 0..4 {
        let commit = 1000 + round * 2;
        s.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": commit, "method": "tools/call",
            "params": {"name": "vers_commit", "arguments": {"tag": format!("race-{round}")}}}),
        );
        s.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": commit + 1, "method": "tools/call",
            "params": {"name": "vers_branch_checkout",
                       "arguments": {"branch": targets.next().unwrap()}}}),
        );
        let mut answered = Vec::new();
        while answered.len() < 2 {
            use std::io::BufRead;
            let mut line = String::new();
            let n = s.out.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "round {round}: the commit or the checkout never answered (answered: {answered:?})"
            );
            let msg: serde_json::Value = serde_json::from_str(&line).unwrap();
            if msg["id"] == commit || msg["id"] == commit + 1 {
                answered.push(msg);
            }
        }
        for a in &answered {
            assert!(a.get("result").is_some(), "round {round}: {a}");
            if a["result"]["isError"] == true {
                let text = a["result"]["content"][0]["text"].as_str().unwrap_or("");
                assert!(text.contains("is paused"), "round {round}: {a}");
            }
        }
    }
    // Every environment is in the state its record says: the paused one is frozen, HEAD
    // answers.
    let q = s.request(
        "tools/call",
        serde_json::json!({"name": "db_query", "arguments": {"query": "select 1 as one"}}),
    );
    assert!(q["result"]["isError"] != true, "{q}");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    drop(s);
}

#[test]
fn branches_created_at_once_under_one_name_are_one_branch() {
    // Each call checked the name, then made its branch (a warm one handed out, or a new
    // one): calls at once made several branches of one name, and unnamed ones got the
    // same generated name. A race: several rounds, from a warmed checkpoint.
    let p = TempProject::new(
        "name: mcp-names\nservices:\n  redis:\n    template: redis@7\ncheckpoints:\n  - name: base\n    after: redis-cli -h redis set seed yes\n    warm: 3\n",
    );
    p.ok(&["integration", "up"]);
    let mut s = RawSession::start(p.path());
    // Hand-outs of warm branches are the fast path where the names collided: wait for them.
    let began = Instant::now();
    loop {
        let list = s.request(
            "tools/call",
            serde_json::json!({"name": "vers_branch_list", "arguments": {}}),
        );
        let list: serde_json::Value =
            serde_json::from_str(list["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
        let warm = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["warm"] == true && b["status"] == "running")
            .count();
        if warm >= 3 {
            break;
        }
        assert!(
            began.elapsed().as_secs() < 120,
            "the warm pool never filled: {list}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    for round in 0..4u64 {
        let alias = format!("same-{round}");
        let calls = [
            serde_json::json!({"alias": alias, "from": "base"}),
            serde_json::json!({"alias": alias, "from": "base"}),
            serde_json::json!({"from": "base"}),
            serde_json::json!({"from": "base"}),
        ];
        let first = 500 + round * 10;
        for (i, args) in calls.iter().enumerate() {
            s.send(
                &serde_json::json!({"jsonrpc": "2.0", "id": first + i as u64,
                "method": "tools/call",
                "params": {"name": "vers_branch_create", "arguments": args}}),
            );
        }
        let mut answers = std::collections::BTreeMap::new();
        while answers.len() < calls.len() {
            use std::io::BufRead;
            let mut line = String::new();
            assert!(
                s.out.read_line(&mut line).unwrap() > 0,
                "vers mcp closed stdout"
            );
            let msg: serde_json::Value = serde_json::from_str(&line).unwrap();
            if let Some(id) = msg["id"]
                .as_u64()
                .filter(|id| (first..first + 4).contains(id))
            {
                answers.insert(id, msg);
            }
        }
        let made = answers
            .values()
            .filter(|a| a["result"]["isError"] != true)
            .count();
        assert_eq!(made, 3, "round {round}: {answers:?}");
        for a in answers.values().filter(|a| a["result"]["isError"] == true) {
            let text = a["result"]["content"][0]["text"].as_str().unwrap_or("");
            assert!(text.contains(&format!("`{alias}` already exists")), "{a}");
        }
    }
    let list = s.request(
        "tools/call",
        serde_json::json!({"name": "vers_branch_list", "arguments": {}}),
    );
    let list: serde_json::Value =
        serde_json::from_str(list["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["warm"] != true)
        .filter_map(|b| b["name"].as_str())
        .collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "two branches share a name: {list}");
    assert_eq!(before, 13, "{list}");
}

#[test]
fn a_cancelled_integration_test_stops_its_branches() {
    // An agent that gives up on a long test run sends notifications/cancelled; the run went
    // on to its end for nobody, its branches running.
    let p = TempProject::new(
        "name: mcp-cancel\nservices:\n  redis:\n    template: redis@7\ntests:\n  slow:\n    command: sleep 150\n",
    );
    p.ok(&["integration", "up"]);
    let mut s = RawSession::start(p.path());
    s.send(
        &serde_json::json!({"jsonrpc": "2.0", "id": 900, "method": "tools/call",
        "params": {"name": "integration_test", "arguments": {}}}),
    );
    let branches = |p: &TempProject| -> Vec<String> {
        stdout(&p.vers(&["branch", "list", "--format", "names"]))
            .lines()
            .map(str::trim)
            .filter(|n| !n.is_empty() && *n != "root")
            .map(str::to_string)
            .collect()
    };
    let began = Instant::now();
    while branches(&p).is_empty() {
        assert!(
            began.elapsed().as_secs() < 90,
            "the test branch never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    s.send(
        &serde_json::json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 900, "reason": "the agent gave up"}}),
    );
    let cancelled = Instant::now();
    loop {
        let left = branches(&p);
        if left.is_empty() {
            break;
        }
        assert!(
            cancelled.elapsed().as_secs() < 40,
            "the cancelled run's branches still run: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // The server keeps serving.
    let st = s.request(
        "tools/call",
        serde_json::json!({"name": "vers_status", "arguments": {}}),
    );
    assert!(st["result"]["isError"] != true, "{st}");
}
