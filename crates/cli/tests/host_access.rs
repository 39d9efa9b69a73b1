//! Host endpoints belong to the project's owner: the forwards on 127.0.0.1 of real PostgreSQL
//! and Redis, and the dashboard, close connections from any other local user unread (and the
//! daemon log names the uid), while root and the owner connect, and the same other user
//! inside the environment still reaches the services by name. The engines' unix sockets
//! under `/run/vers/<key>` are out of other users' reach too.

mod common;

use std::os::unix::fs::chown;
use std::process::{Command, Output};

use common::*;

const STACK: &str = r#"
name: hostaccess
services:
  postgres:
    template: postgres@15
  redis:
    template: redis@7
"#;

const NOBODY: u32 = 65534;

/// Runs `script` with bash as uid/gid `uid` with no supplementary groups.
fn as_user(uid: u32, script: &str) -> Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "bash",
            "-c",
            script,
        ])
        .env("HOME", "/tmp")
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .unwrap()
}

fn as_root(script: &str) -> Output {
    Command::new("bash")
        .args(["-c", script])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .unwrap()
}

/// `service`'s host endpoint (`127.0.0.1:PORT`) from `status --json`.
fn endpoint(p: &TempProject, service: &str) -> String {
    let st = p.json(&["integration", "status", "--json"]);
    st["environments"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == service)
        .and_then(|s| s["host_endpoint"].as_str())
        .unwrap_or_else(|| panic!("no host endpoint of {service} in {st}"))
        .to_string()
}

fn psql(endpoint: &str) -> String {
    format!("psql -tA postgres://postgres@{endpoint}/postgres -c 'select 40+2'")
}

/// A raw TCP client: sends a redis PING and prints whatever comes back before the close.
fn raw_ping(endpoint: &str) -> String {
    let (host, port) = endpoint.split_once(':').unwrap();
    format!(
        "trap '' PIPE; exec 3<>/dev/tcp/{host}/{port} || exit 3; printf 'PING\\r\\n' >&3; \
         timeout 5 head -c 7 <&3; echo \"[exit $?]\""
    )
}

/// The directory holding postgres's unix socket: `/run/vers/<key>/<env>/postgres-0` of the
/// key whose claim names this project.
fn postgres_socket_dir(p: &TempProject) -> std::path::PathBuf {
    let project = p.path().canonicalize().unwrap();
    for key in std::fs::read_dir("/run/vers").unwrap().flatten() {
        let claim = std::fs::read(key.path().join("project")).unwrap_or_default();
        if std::path::Path::new(std::str::from_utf8(&claim).unwrap_or("").trim()) != project {
            continue;
        }
        for env in std::fs::read_dir(key.path()).unwrap().flatten() {
            let dir = env.path().join("postgres-0");
            if dir.join(".s.PGSQL.5432").exists() {
                return dir;
            }
        }
    }
    panic!("no postgres socket of {}", project.display());
}

fn daemon_log(p: &TempProject) -> String {
    std::fs::read_to_string(p.path().join(".vers/daemon.log")).unwrap_or_default()
}

#[test]
fn host_forwards_and_dashboard_refuse_other_users_but_not_the_owner() {
    let p = TempProject::new(STACK);
    p.ok(&["integration", "up"]);
    let pg = endpoint(&p, "postgres");
    let redis = endpoint(&p, "redis");

    // Root (here also the project directory's owner) uses the forwards.
    let out = as_root(&psql(&pg));
    assert_eq!(stdout(&out).trim(), "42", "{}", stderr(&out));
    let out = as_root(&raw_ping(&redis));
    assert!(stdout(&out).starts_with("+PONG"), "{}", stdout(&out));

    // Another local user is closed on, without an answer: psql, redis-cli and raw TCP.
    let out = as_user(NOBODY, &psql(&pg));
    assert!(!out.status.success(), "psql as nobody got in: {out:?}");
    assert!(!stdout(&out).contains("42"), "{out:?}");
    // Closed unread: a FIN, or a reset when the client's first bytes were already there.
    let err = stderr(&out);
    assert!(
        err.contains("closed the connection") || err.contains("reset by peer"),
        "{err}"
    );
    let (host, port) = redis.split_once(':').unwrap();
    let out = as_user(
        NOBODY,
        &format!("timeout 10 redis-cli -h {host} -p {port} ping"),
    );
    assert!(!stdout(&out).contains("PONG"), "{out:?}");
    assert_ne!(out.status.code(), Some(124), "redis-cli hung: {out:?}");
    let out = as_user(NOBODY, &raw_ping(&redis));
    let text = stdout(&out);
    assert!(
        !text.contains("PONG") && text.contains("[exit ") && !text.contains("[exit 124]"),
        "no byte, then the close: {out:?}"
    );

    // Fire and forget: a write then a close before the daemon looks (the kernel then reports
    // the socket as uid 0) gets nothing through either.
    let (host, port) = redis.split_once(':').unwrap();
    let out = as_user(
        NOBODY,
        &format!(
            "trap '' PIPE; for i in $(seq 30); do exec 3<>/dev/tcp/{host}/{port} && \
             printf '*3\\r\\n$3\\r\\nSET\\r\\n$5\\r\\npwned\\r\\n$1\\r\\n1\\r\\n' >&3; \
             exec 3>&-; done"
        ),
    );
    assert!(out.status.success(), "{out:?}");
    // Nothing to wait for when nothing may happen: give a forwarded write time to land.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = as_root(&format!("redis-cli -h {host} -p {port} exists pwned"));
    assert_eq!(stdout(&out).trim(), "0", "a write got through: {out:?}");

    // The daemon log names the refused uid and the endpoint.
    let log = daemon_log(&p);
    let port = redis.split_once(':').unwrap().1;
    assert!(
        log.lines().any(|l| l.contains("refused a connection")
            && l.contains(&format!("host port {port} of redis"))
            && l.contains(&format!("uid {NOBODY}"))),
        "{log}"
    );

    // Inside the environment the same user reaches both services by name.
    let out = p.vers(&[
        "execute",
        &format!(
            "setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups \
             psql -tA postgres://postgres@postgres/postgres -c 'select 40+2' && \
             setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups redis-cli -h redis ping"
        ),
    ]);
    assert_eq!(
        stdout(&out).split_whitespace().collect::<Vec<_>>(),
        ["42", "PONG"],
        "{}",
        stderr(&out)
    );

    // The engine's unix socket (postgres trusts it) is root's and the engine user's only.
    let dir = postgres_socket_dir(&p);
    let local = format!(
        "psql -tA -h {} -U postgres postgres -c 'select 40+2'",
        dir.display()
    );
    let out = as_root(&local);
    assert_eq!(stdout(&out).trim(), "42", "{}", stderr(&out));
    let out = as_user(NOBODY, &local);
    assert!(
        !out.status.success(),
        "nobody used the unix socket: {out:?}"
    );
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );

    // The dashboard: root gets an HTTP answer (401 without the token), nobody an empty reply.
    let url = p.ok(&["dashboard", "--no-open"]);
    let base = url
        .lines()
        .next()
        .unwrap()
        .split("/?")
        .next()
        .unwrap()
        .to_string();
    let curl = format!("curl -s -o /dev/null -w '%{{http_code}}' {base}/api/status; echo \" $?\"");
    let out = as_root(&curl);
    assert_eq!(stdout(&out).trim(), "401 0", "{out:?}");
    let out = as_user(NOBODY, &curl);
    let text = stdout(&out);
    assert!(
        text.trim() == "000 52" || text.trim() == "000 56",
        "curl: an empty reply or a reset: {out:?}"
    );
    assert!(daemon_log(&p).contains("connection to the dashboard"));

    // Once the project directory belongs to that user, its new forwards admit it.
    p.ok(&["integration", "down"]);
    chown(p.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    p.ok(&["integration", "up"]);
    let pg = endpoint(&p, "postgres");
    let out = as_user(NOBODY, &psql(&pg));
    assert_eq!(stdout(&out).trim(), "42", "the owner connects: {out:?}");
    let out = as_root(&psql(&pg));
    assert_eq!(stdout(&out).trim(), "42", "root still connects: {out:?}");
    chown(p.path(), Some(0), Some(0)).unwrap();
}
