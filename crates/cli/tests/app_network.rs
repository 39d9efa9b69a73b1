//! Every app instance in a network of its own (issue 16): apps that all bind `0.0.0.0:3000`
//! never collide and each name answers with its own app; `localhost` in a health command is
//! the service itself; pods reach every service by name and nothing outside; network and
//! HTTP faults reach a single-replica app.

mod common;

use common::*;

/// Three apps on port 3000, each a Python HTTP server binding every address, serving a file
/// `who` that names it; `solo` binds only 127.0.0.1, as an app with a loopback default would.
const MANIFEST: &str = r#"
name: appnet
services:
  db:
    template: postgres@15
  web:
    build: ./web
    command: python3 -m http.server 3000
    healthcheck:
      command: curl -sf localhost:3000/who
  web2:
    build: ./web2
    command: python3 -m http.server 3000
    replicas: 2
  solo:
    build: ./solo
    command: python3 -m http.server 3000 --bind 127.0.0.1
    healthcheck:
      command: curl -sf http://127.0.0.1:3000/who
"#;

fn project() -> TempProject {
    let p = TempProject::new(MANIFEST);
    for name in ["web", "web2", "solo"] {
        p.write(&format!("{name}/who"), &format!("{name}\n"));
    }
    p
}

#[test]
fn apps_on_the_same_port_each_answer_for_themselves() {
    let p = project();
    let up = p.ok(&["up", "--no-checkpoints"]);
    assert!(up.contains("web2"), "{up}");

    // Each name reaches its own app, from the environment and from another app's pod.
    let seen = p.ok(&[
        "execute",
        "curl -sf http://web:3000/who; curl -sf http://web2:3000/who; curl -sf http://web2:3000/who",
    ]);
    assert_eq!(seen, "web\nweb2\nweb2\n");
    let from_pod = p.ok(&[
        "execute",
        "--service",
        "web",
        "curl -sf http://web2:3000/who && pg_isready -q -h db -p 5432 && echo db-ok",
    ]);
    assert_eq!(from_pod, "web2\ndb-ok\n");

    // Both replicas of web2 bound 0.0.0.0:3000 and are alive (none failed on a taken port).
    let st = p.json(&["status", "--json"]);
    let services = st["environments"][0]["services"].as_array().unwrap();
    let web2 = services.iter().find(|s| s["name"] == "web2").unwrap();
    assert_eq!(web2["health"], "healthy", "{st}");
    assert_eq!(web2["state"], "running", "{st}");
    // The loopback-only app is healthy through its own localhost, and unreachable from the
    // others, as in a container of its own.
    let solo = services.iter().find(|s| s["name"] == "solo").unwrap();
    assert_eq!(solo["health"], "healthy", "{st}");
    let out = p.vers(&["execute", "curl -s -m 2 http://solo:3000/who"]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));

    // A pod reaches nothing outside the environment, and fails at once.
    let began = std::time::Instant::now();
    let out = p.vers(&[
        "execute",
        "--service",
        "web",
        "curl -s -m 5 http://192.0.2.1/",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        began.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
}

#[test]
fn faults_reach_a_single_replica_app() {
    let p = project();
    p.ok(&["up", "--no-checkpoints", "--services", "web"]);
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "web",
        "--action",
        "http-error",
        "--status",
        "503",
    ]);
    let code = p.ok(&[
        "execute",
        "curl -s -o /dev/null -w '%{http_code}' http://web:3000/who",
    ]);
    assert_eq!(code, "503");
    p.ok(&["chaos", "recover", "--service", "web"]);
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "web",
        "--action",
        "network-delay",
        "--latency",
        "400ms",
    ]);
    let secs = p.ok(&[
        "execute",
        "curl -sf -o /dev/null -w '%{time_total}' http://web:3000/who",
    ]);
    let secs: f64 = secs.trim().parse().unwrap();
    assert!(secs >= 0.4, "delay not applied: {secs}s");
    p.ok(&["chaos", "recover", "--service", "web"]);
    let code = p.ok(&[
        "execute",
        "curl -s -o /dev/null -w '%{http_code}' http://web:3000/who",
    ]);
    assert_eq!(code, "200");
}

/// An app whose `PORT` is written with a default (`${APP_PORT:-8000}`) listens on the port
/// the interpolation gives, and its name answers there: vers neither replaces that `PORT`
/// with 3000 nor probes 3000 for its health.
#[test]
fn an_interpolated_port_is_the_port_the_app_gets_and_serves() {
    let p = TempProject::new(
        r#"
name: envport
services:
  api:
    build: ./api
    command: python3 -m http.server "$PORT"
    env:
      PORT: "${VERS_TEST_APP_PORT_UNSET:-8000}"
"#,
    );
    p.write("api/who", "api\n");
    p.ok(&["up", "--no-checkpoints"]);
    let seen = p.ok(&[
        "execute",
        "curl -sf http://api:8000/who; echo $VERS_API_PORT",
    ]);
    assert_eq!(seen, "api\n8000\n");
}

/// Compose's exec form: a service `command` written as a list of words runs with each word
/// as one argument, and a `["CMD", "sh", "-c", "…"]` health check keeps its script whole.
#[test]
fn list_commands_and_cmd_health_checks_run_word_for_word() {
    let p = TempProject::new(
        r#"
name: execform
services:
  web:
    build: ./web
    command: ["sh", "-c", "exec python3 -m http.server 3000"]
    healthcheck:
      command: ["CMD", "sh", "-c", "curl -sf http://localhost:3000/who"]
"#,
    );
    p.write("web/who", "web\n");
    p.ok(&["up", "--no-checkpoints"]);
    let st = p.json(&["status", "--json"]);
    assert_eq!(
        st["environments"][0]["services"][0]["health"], "healthy",
        "{st}"
    );
    assert_eq!(p.ok(&["execute", "curl -sf http://web:3000/who"]), "web\n");
}

/// `${PORT}` in an app's own command and health command is the port the app is given (its
/// `env.PORT`, or 3000), not an empty caller variable.
#[test]
fn port_in_an_apps_own_command_is_its_port() {
    let p = TempProject::new(
        r#"
name: ownport
services:
  api:
    build: ./api
    command: python3 -m http.server ${PORT}
    env:
      PORT: 8089
    healthcheck:
      command: curl -sf http://localhost:${PORT}/who
      interval: 200ms
      retries: 20
  plain:
    build: ./api
    command: python3 -m http.server ${PORT:-1}
"#,
    );
    p.write("api/who", "api\n");
    p.ok(&["up", "--no-checkpoints"]);
    let seen = p.ok(&[
        "execute",
        "curl -sf http://api:8089/who; curl -sf http://plain:3000/who",
    ]);
    assert_eq!(seen, "api\napi\n");
}
