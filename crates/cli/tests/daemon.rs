//! The project's daemon and its engine API: exactly one daemon per project, a private socket
//! with a short path, operations finished or cancelled by the daemon whatever happens to the
//! client, typed errors, the VM-shaped routes, the event feed and the OpenAPI description.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const REDIS: &str = "name: daemon-test\nservices:\n  redis:\n    template: redis@7\n";

/// The daemon's socket of a project: `/run/vers/<first 16 hex of sha256(dir)>/api/api.sock`.
fn socket_of(p: &Path) -> PathBuf {
    let canon = p.canonicalize().unwrap();
    let mut h = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    h.stdin
        .take()
        .unwrap()
        .write_all(canon.as_os_str().as_encoded_bytes())
        .unwrap();
    let out = h.wait_with_output().unwrap();
    let key = String::from_utf8_lossy(&out.stdout)[..16].to_string();
    PathBuf::from(format!("/run/vers/{key}/api/api.sock"))
}

/// One HTTP/1.1 request on the daemon's socket; returns status and body.
fn http(socket: &Path, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    http_typed(socket, method, path, body, "application/json")
}

/// [`http`] with the body sent as `content_type`.
fn http_typed(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
    content_type: &str,
) -> (u16, String) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: vers\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn daemons_of(p: &Path) -> Vec<i32> {
    let canon = p.canonicalize().unwrap();
    let needle = format!("daemon --project {}", canon.display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}

fn processes_matching(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .count()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let began = Instant::now();
    while !ok() {
        assert!(
            began.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn concurrent_first_commands_start_exactly_one_daemon() {
    let p = TempProject::new(REDIS);
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(vers_bin())
                .args(["integration", "status", "--json"])
                .current_dir(p.path())
                .env("CI", "true")
                .env_remove("VERS_ENV")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut snapshotters = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        snapshotters.push(json(&stdout(&out))["snapshotter"].clone());
    }
    assert!(
        snapshotters.windows(2).all(|w| w[0] == w[1]),
        "every command saw the same store: {snapshotters:?}"
    );
    assert_eq!(daemons_of(p.path()).len(), 1, "one daemon per project");
    // The private socket: a short path, mode 0600 in a 0700 directory; `.vers` is 0700.
    let socket = socket_of(p.path());
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(socket.parent().unwrap()), 0o700);
    // `.vers` is root's alone, but for search access of the engine user (an ACL entry, whose
    // mask shows as the group bits) so services reach their volumes.
    assert_eq!(mode(&p.path().join(".vers")), 0o710);
    let acl = Command::new("getfattr")
        .args([
            "--absolute-names",
            "-n",
            "system.posix_acl_access",
            "--only-values",
        ])
        .arg(p.path().join(".vers"))
        .output();
    if let Ok(acl) = acl {
        if acl.status.success() {
            assert_eq!(acl.stdout.len(), 4 + 5 * 8, "five ACL entries");
        }
    }
    // Another user cannot reach it.
    let other = Command::new("setpriv")
        .args(["--reuid=vers", "--regid=vers", "--clear-groups", "--"])
        .arg("/usr/bin/python3")
        .arg("-c")
        .arg(format!(
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n  s.connect('{}')\nexcept OSError as e:\n  print('refused', e.errno); sys.exit(0)\nprint('connected'); sys.exit(1)",
            socket.display()
        ))
        .output()
        .unwrap();
    assert!(
        other.status.success(),
        "{}{}",
        stdout(&other),
        stderr(&other)
    );
}

#[test]
fn a_project_path_longer_than_a_socket_path_works() {
    let base = tempfile::Builder::new()
        .prefix("vers-test-")
        .tempdir()
        .unwrap();
    let deep = base.path().join("a".repeat(60)).join("b".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("vers-integration.yaml"), REDIS).unwrap();
    let p = TempProject::in_dir(base);
    let out = vers_in(&deep, &["integration", "up", "--no-checkpoints"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let st = vers_in(&deep, &["integration", "status", "--json"]);
    assert!(st.status.success(), "{}", stderr(&st));
    assert_eq!(json(&stdout(&st))["environments"][0]["status"], "running");
    let down = vers_in(&deep, &["integration", "down", "--all"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(daemons_of(&deep).is_empty(), "down --all stops the daemon");
    drop(p);
}

#[test]
fn a_killed_commit_never_leaves_the_environment_frozen() {
    let p = TempProject::new(REDIS);
    p.ok(&["up", "--no-checkpoints"]);
    for delay_ms in [5u64, 30, 80, 150] {
        let mut c = Command::new(vers_bin())
            .args(["commit", "--tag", &format!("t{delay_ms}")])
            .current_dir(p.path())
            .env("CI", "true")
            .env_remove("VERS_ENV")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = c.kill();
        let _ = c.wait();
        // The daemon finishes the freeze-snapshot-thaw: HEAD answers again at once.
        wait_for(
            "redis to answer after a killed commit",
            Duration::from_secs(20),
            || {
                let out = p.vers(&["execute", "redis-cli -h redis ping"]);
                stdout(&out).contains("PONG")
            },
        );
    }
    let st = p.json(&["status", "--json"]);
    assert_eq!(st["environments"][0]["status"], "running", "{st}");
    assert_eq!(
        st["environments"][0]["services"][0]["state"], "running",
        "{st}"
    );
}

#[test]
fn a_cancelled_test_run_stops_its_branches() {
    let manifest = format!(
        "{REDIS}tests:\n  slow:\n    command: sleep 127\n    branches:\n      - name: a\n      - name: b\n      - name: c\n"
    );
    let p = TempProject::new(&manifest);
    p.ok(&["up", "--no-checkpoints"]);
    p.ok(&["commit", "--tag", "base"]);
    let mut run = Command::new(vers_bin())
        .args(["test", "--parallel"])
        .current_dir(p.path())
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "the three branches' commands",
        Duration::from_secs(60),
        || processes_matching("sleep 127") >= 3,
    );
    let before = p.json(&["branch", "list", "--format", "json"]);
    assert!(before.as_array().unwrap().len() >= 4, "{before}");
    run.kill().unwrap();
    let _ = run.wait();
    let killed = Instant::now();
    wait_for(
        "the cancelled run's branches to stop",
        Duration::from_secs(10),
        || processes_matching("sleep 127") == 0,
    );
    wait_for(
        "the cancelled run's branches to be deleted",
        Duration::from_secs(10),
        || {
            p.json(&["branch", "list", "--format", "json"])
                .as_array()
                .is_some_and(|l| l.len() == 1)
        },
    );
    eprintln!("cancelled run cleaned in {:?}", killed.elapsed());
    let st = p.json(&["status", "--json"]);
    assert_eq!(st["environments"][0]["name"], "root", "{st}");
}

#[test]
fn the_api_answers_typed_errors_vm_routes_and_events() {
    let p = TempProject::new(REDIS);
    p.ok(&["up", "--no-checkpoints"]);
    let socket = socket_of(p.path());

    let (code, body) = http(&socket, "GET", "/api/nothing-here", None);
    assert_eq!(code, 404);
    assert_eq!(json(&body)["code"], "not_found");
    let (code, body) = http(&socket, "POST", "/api/commit", Some("{\"tag\": 5}"));
    assert_eq!(code, 422, "{body}");
    assert_eq!(json(&body)["code"], "usage");
    let (code, body) = http(&socket, "POST", "/api/vm/nope/commit", Some("{}"));
    assert_eq!(code, 404, "{body}");
    assert_eq!(json(&body)["code"], "not_found");

    // The event feed sees an operation start and finish.
    let mut feed = UnixStream::connect(&socket).unwrap();
    write!(feed, "GET /api/events HTTP/1.1\r\nHost: vers\r\n\r\n").unwrap();
    feed.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut feed = BufReader::new(feed);

    let (code, body) = http(&socket, "GET", "/api/vm", None);
    assert_eq!(code, 200, "{body}");
    let vms = json(&body);
    let root = vms[0]["id"].as_str().unwrap().to_string();
    assert_eq!(vms[0]["head"], true);

    let (code, body) = http(
        &socket,
        "POST",
        &format!("/api/vm/{root}/commit"),
        Some("{\"tag\":\"api-tag\"}"),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["tag"], "api-tag");

    let mut seen = String::new();
    let began = Instant::now();
    while !(seen.contains("\"op\":\"commit\"") && seen.contains("\"outcome\":\"finished\"")) {
        assert!(began.elapsed() < Duration::from_secs(30), "events: {seen}");
        let mut line = String::new();
        feed.read_line(&mut line).unwrap();
        seen.push_str(&line);
    }

    let (code, body) = http(
        &socket,
        "POST",
        "/api/vm/from_commit",
        Some("{\"commit_id\":\"api-tag\",\"alias\":\"fork\"}"),
    );
    assert_eq!(code, 200, "{body}");
    let fork = json(&body)["id"].as_str().unwrap().to_string();
    let (code, body) = http(
        &socket,
        "PATCH",
        &format!("/api/vm/{fork}/state"),
        Some("{\"state\":\"paused\"}"),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["status"], "paused");
    let (code, body) = http(
        &socket,
        "PATCH",
        &format!("/api/vm/{fork}/state"),
        Some("{\"state\":\"running\"}"),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["status"], "running");
    let (code, body) = http(
        &socket,
        "POST",
        &format!("/api/vm/{fork}/branch"),
        Some("{\"alias\":\"fork2\"}"),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["name"], "fork2");
    let (code, body) = http(&socket, "DELETE", &format!("/api/vm/{fork}"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["deleted"][0], "fork");
    let names: Vec<String> = p
        .json(&["branch", "list", "--format", "json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["root", "fork2"]);
}

#[test]
fn bad_requests_and_unknown_names_answer_json_errors_with_their_status() {
    let p = TempProject::new(REDIS);
    p.ok(&["status"]);
    let socket = socket_of(p.path());
    // (method, path, body, content type, status, code, what the message names)
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static str,
        u16,
        &'static str,
        &'static str,
    );
    let cases: &[Case] = &[
        // Unknown environments, branches and checkpoints.
        (
            "DELETE",
            "/api/vm/nope",
            None,
            "application/json",
            404,
            "not_found",
            "`nope`",
        ),
        (
            "DELETE",
            "/api/branches/nope",
            None,
            "application/json",
            404,
            "not_found",
            "`nope`",
        ),
        (
            "POST",
            "/api/checkout",
            Some(r#"{"name":"nope"}"#),
            "application/json",
            404,
            "not_found",
            "`nope`",
        ),
        (
            "POST",
            "/api/branches",
            Some(r#"{"from":"nope"}"#),
            "application/json",
            404,
            "not_found",
            "`nope`",
        ),
        (
            "POST",
            "/api/vm/from_commit",
            Some(r#"{"commit_id":"nope"}"#),
            "application/json",
            404,
            "not_found",
            "`nope`",
        ),
        (
            "POST",
            "/api/diff",
            Some(r#"{"from":"nope"}"#),
            "application/json",
            404,
            "not_found",
            "",
        ),
        (
            "POST",
            "/api/rollback",
            Some(r#"{"target":"nope"}"#),
            "application/json",
            404,
            "not_found",
            "",
        ),
        // Query strings and path parameters that do not decode.
        (
            "GET",
            "/api/services/redis/logs?lines=abc",
            None,
            "application/json",
            400,
            "usage",
            "lines",
        ),
        (
            "DELETE",
            "/api/vm/nope?force=maybe",
            None,
            "application/json",
            400,
            "usage",
            "force",
        ),
        (
            "GET",
            "/api/services/%FF/logs",
            None,
            "application/json",
            400,
            "usage",
            "name",
        ),
        // Bodies: not an object, not JSON, not sent as JSON, of the wrong shape.
        (
            "POST",
            "/api/branches",
            Some("[]"),
            "application/json",
            400,
            "usage",
            "JSON object",
        ),
        (
            "POST",
            "/api/up",
            Some("\"x\""),
            "application/json",
            400,
            "usage",
            "JSON object",
        ),
        (
            "POST",
            "/api/dashboard",
            Some("[]"),
            "application/json",
            400,
            "usage",
            "JSON object",
        ),
        (
            "POST",
            "/api/branches",
            Some(r#"{"alias":"#),
            "application/json",
            400,
            "usage",
            "not JSON",
        ),
        (
            "POST",
            "/api/commit",
            Some(r#"{"tag":"x"}"#),
            "text/plain",
            415,
            "usage",
            "application/json",
        ),
        (
            "POST",
            "/api/branches",
            Some(r#"{"alias":5}"#),
            "application/json",
            422,
            "usage",
            "alias",
        ),
        (
            "POST",
            "/api/commit",
            None,
            "application/json",
            422,
            "usage",
            "missing field `tag`",
        ),
        (
            "POST",
            "/api/diff",
            Some("{}"),
            "application/json",
            422,
            "usage",
            "missing field `from`",
        ),
        (
            "POST",
            "/api/exec",
            Some(r#"{"service":"redis"}"#),
            "application/json",
            422,
            "usage",
            "missing field `command`",
        ),
        (
            "POST",
            "/api/chaos/inject",
            Some(r#"{"service":"redis"}"#),
            "application/json",
            422,
            "usage",
            "missing field `action`",
        ),
        // A route asked with a method it does not serve.
        (
            "GET",
            "/api/up",
            None,
            "application/json",
            405,
            "usage",
            "/api/up",
        ),
    ];
    let mut wrong = Vec::new();
    for &(method, path, body, ctype, status, code, needle) in cases {
        let (got, text) = http_typed(&socket, method, path, body, ctype);
        let answer: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        let ok = got == status
            && answer.as_ref().is_some_and(|a| {
                a["code"] == code && a["message"].as_str().is_some_and(|m| m.contains(needle))
            });
        if !ok {
            wrong.push(format!("{method} {path} {body:?} ({ctype}): {got} {text}"));
        }
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
}

#[test]
fn every_documented_route_is_served_and_every_served_route_documented() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.yaml"
    ))
    .unwrap();
    let documented: Vec<String> = spec
        .lines()
        .filter(|l| l.starts_with("  /api/") && l.trim_end().ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_string())
        .collect();
    let routes = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../engine/src/api/routes.rs"
    ))
    .unwrap();
    // The daemon's own `/api` routes (the dashboard) are documented too.
    let daemon_routes = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../engine/src/supervisor/server.rs"
    ))
    .unwrap();
    // `.route("/path", ...)`, also where rustfmt put the path on the next line.
    let paths = |text: &str| -> Vec<String> {
        text.split(".route(")
            .skip(1)
            .filter_map(|rest| rest.trim_start().strip_prefix('"'))
            .map(|l| l.split('"').next().unwrap().to_string())
            .collect()
    };
    let served: Vec<String> = paths(&routes)
        .into_iter()
        .chain(
            paths(&daemon_routes)
                .into_iter()
                .filter(|p| p.starts_with("/api/")),
        )
        .collect();
    let mut d = documented.clone();
    let mut s = served.clone();
    d.sort();
    s.sort();
    assert_eq!(d, s, "docs/openapi.yaml and the router disagree");
    // And the daemon really serves each documented path (no `not_found` from the fallback).
    let p = TempProject::new(REDIS);
    p.ok(&["status"]);
    let socket = socket_of(p.path());
    for path in documented.iter().filter(|p| !p.contains("events")) {
        let concrete = path.replace("{id}", "none").replace("{name}", "none");
        let (_, body) = http(&socket, "OPTIONS", &concrete, None);
        assert!(
            !body.contains("no such route"),
            "{path} is not routed: {body}"
        );
    }
}

#[test]
fn status_comes_from_the_daemon_and_is_never_older_than_the_last_change() {
    let p = TempProject::new(REDIS);
    p.ok(&["up", "--no-checkpoints"]);
    let socket = socket_of(p.path());
    let services = |body: &str| json(body)["environments"][0]["services"][0].clone();

    let (code, body) = http(&socket, "GET", "/api/status", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(services(&body)["health"], "healthy", "{body}");
    assert_eq!(services(&body)["faults"].as_array().unwrap().len(), 0);

    // A watcher on the feed makes the daemon probe on its own and publish what changes.
    let mut feed = UnixStream::connect(&socket).unwrap();
    write!(feed, "GET /api/events HTTP/1.1\r\nHost: vers\r\n\r\n").unwrap();
    feed.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut feed = BufReader::new(feed);

    // A change made through the API shows in the very next status, however fresh the kept
    // report was.
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "redis",
        "--action",
        "network-delay",
        "--latency",
        "50ms",
        "--duration",
        "2m",
    ]);
    let (_, body) = http(&socket, "GET", "/api/status", None);
    assert_eq!(
        services(&body)["faults"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    p.ok(&["chaos", "recover"]);
    let (_, body) = http(&socket, "GET", "/api/status", None);
    assert_eq!(
        services(&body)["faults"].as_array().unwrap().len(),
        0,
        "{body}"
    );

    // A service that dies by itself is reported on the feed, without anyone asking. Its
    // process is the redis-server in the project's cgroup (`vers/<key>/<env>/redis`).
    let key = socket
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .unwrap()
        .to_string_lossy()
        .to_string();
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .find(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains("redis-server")
                && cgroup.contains(&format!("/vers/{key}/"))
        })
        .expect("the environment's redis-server");
    assert!(Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let mut seen = String::new();
    let began = Instant::now();
    while !seen.lines().any(|l| {
        l.contains("\"type\":\"service\"")
            && l.contains("\"service\":\"redis\"")
            && !l.contains("\"health\":\"healthy\"")
    }) {
        assert!(began.elapsed() < Duration::from_secs(20), "events: {seen}");
        let mut line = String::new();
        feed.read_line(&mut line).unwrap();
        seen.push_str(&line);
    }
}

#[test]
fn a_broken_manifest_does_not_stop_serving_running_environments() {
    let p = TempProject::new(REDIS);
    p.ok(&["up"]);
    // A branch name that would climb out of the logs directory is refused.
    let out = p.vers(&["branch", "--alias", "../../../tmp/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("branch name `../../../tmp/x` is refused"),
        "{}",
        stderr(&out)
    );
    p.write(
        "vers-integration.yaml",
        "name: daemon-test\nservices:\n  redis: [oops\n",
    );
    // Commands that change environments refuse with the manifest's diagnostics...
    let up = p.vers(&["up"]);
    assert_eq!(up.status.code(), Some(2), "{}", stderr(&up));
    assert!(
        stderr(&up).contains("vers-integration.yaml:"),
        "{}",
        stderr(&up)
    );
    // ...those that serve the running ones go on, with the manifest HEAD was started with.
    let out = p.vers(&["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning:") && stderr(&out).contains("is invalid"));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        report["environments"][0]["services"][0]["health"],
        "healthy"
    );
    let out = p.vers(&["execute", "redis-cli -h redis ping"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "PONG");
    assert!(stderr(&out).contains("is invalid"), "{}", stderr(&out));
    let out = p.vers(&["logs", "redis"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("is invalid"), "{}", stderr(&out));
    assert!(!stdout(&out).is_empty());
    assert_eq!(p.json(&["branch", "list", "--json"])[0]["name"], "root");
    let log = p.json(&["log", "--json"]);
    assert_eq!(log[0]["name"], "services-ready", "{log}");

    // `vers status | head`: the reader is gone before anything is printed.
    let mut child = Command::new(vers_bin())
        .arg("status")
        .current_dir(p.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(done.status.code(), Some(141), "{err}");
    // `vers validate 2>&1 | head` whose reader is gone: the diagnostics meet a closed pipe.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let done = Command::new(vers_bin())
        .arg("validate")
        .current_dir(p.path())
        .stdout(Stdio::null())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(done.code(), Some(141));
    p.ok(&["down"]);
}

#[test]
fn a_noisy_test_keeps_the_tail_of_its_log_under_the_cap_and_never_hangs() {
    let p = TempProject::new(&format!(
        "{REDIS}tests:\n  noisy:\n    command: sh scripts/noisy.sh\n"
    ));
    // 300 KB on stderr (more than a pipe holds) and ~600 KB on stdout.
    p.write(
        "scripts/noisy.sh",
        "head -c 300000 /dev/zero | tr '\\0' e >&2\necho >&2\nseq 1 100000\necho last-line\n",
    );
    let began = Instant::now();
    let out = Command::new(vers_bin())
        .args(["test", "--json"])
        .current_dir(p.path())
        .env("VERS_LOG_CAP", "65536")
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(began.elapsed() < Duration::from_secs(90));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let branch = &report["suites"][0]["branches"][0];
    assert_eq!(branch["status"], "passed", "{branch}");
    let log = std::fs::read_to_string(branch["log"].as_str().unwrap()).unwrap();
    assert!(log.len() <= 65536, "{} bytes", log.len());
    assert!(
        log.starts_with("[vers: ") && log.contains("earlier bytes of this log were cut"),
        "{}",
        &log[..200.min(log.len())]
    );
    assert!(
        log.ends_with("99999\n100000\nlast-line\n"),
        "{}",
        &log[log.len() - 100..]
    );
    p.ok(&["down", "--all"]);
}

#[test]
fn down_with_services_stops_only_those_and_refuses_them_with_all() {
    let p = TempProject::new(
        "name: down-services\nservices:\n  redis:\n    template: redis@7\n  cache:\n    template: redis@7\n",
    );
    p.ok(&["up"]);
    let socket = socket_of(p.path());
    let (code, body) = http(
        &socket,
        "POST",
        "/api/down",
        Some(r#"{"services":["cache"],"all":true}"#),
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        json(&body)["message"].as_str().unwrap().contains("`all`"),
        "{body}"
    );
    let (code, body) = http(
        &socket,
        "POST",
        "/api/down",
        Some(r#"{"services":["cache"]}"#),
    );
    assert_eq!(code, 200, "{body}");
    let status = json(&p.ok(&["status", "--json"]));
    let head = status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["head"] == true)
        .cloned()
        .unwrap_or_else(|| panic!("HEAD keeps running: {status}"));
    let states: std::collections::BTreeMap<String, String> = head["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(states["redis"], "running", "{head}");
    assert_ne!(states["cache"], "running", "{head}");
    p.ok(&["down", "--all"]);
}
