//! The dashboard end to end in a real browser: Debian's Chromium, driven by playwright-core
//! through `tests/browser/driver.js` (both installed by scripts/setup.sh). The page loads
//! behind its token, shows the tree and services, follows a branch made from the CLI and a
//! test run branch by branch, follows a service's log, and its actions (branch, commit,
//! delete with confirmation) take effect as the CLI sees them, with no console error.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const MANIFEST: &str = r#"name: dash-browser
services:
  redis:
    template: redis@7
tests:
  checks:
    command: echo case-$CASE && sleep 1 && test "$CASE" = ok
    branches:
      - name: ok
        env:
          CASE: ok
      - name: bad
        env:
          CASE: bad
"#;

/// Where setup.sh puts playwright-core.
fn playwright() -> PathBuf {
    let dir =
        std::env::var("VERS_BROWSER_DIR").unwrap_or_else(|_| "/var/cache/vers/browser".into());
    Path::new(&dir).join("node_modules/playwright-core")
}

/// The Node driver of Chromium.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Browser {
    fn start() -> Browser {
        assert!(
            playwright().join("package.json").exists() && Path::new("/usr/bin/chromium").exists(),
            "Chromium and playwright-core are missing: run scripts/setup.sh"
        );
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/driver.js");
        let mut child = Command::new("node")
            .arg(driver)
            .env("PLAYWRIGHT_CORE", playwright())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Browser {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one command; its value, or the driver's error.
    fn try_call(&mut self, cmd: Value) -> Result<Value, String> {
        writeln!(self.stdin, "{cmd}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let answer: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("driver answered {line:?}: {e}"));
        if answer["ok"] == true {
            Ok(answer["value"].clone())
        } else {
            Err(answer["error"].as_str().unwrap_or("?").to_string())
        }
    }

    fn call(&mut self, cmd: Value) -> Value {
        let shown = cmd.to_string();
        self.try_call(cmd)
            .unwrap_or_else(|e| panic!("browser command {shown} failed: {e}"))
    }

    fn wait(&mut self, selector: &str, timeout_ms: u64) {
        self.call(json!({"cmd": "wait", "selector": selector, "timeout": timeout_ms}));
    }

    fn text(&mut self, selector: &str) -> String {
        self.call(json!({"cmd": "text", "selector": selector}))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn click(&mut self, selector: &str) {
        self.call(json!({"cmd": "click", "selector": selector}));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.try_call(json!({"cmd": "close"}));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn branch_names(p: &TempProject) -> Vec<String> {
    p.ok(&["branch", "list", "--format", "names"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Resident memory of the project's daemon, in KiB.
fn daemon_rss_kib(p: &TempProject) -> u64 {
    let pid = std::fs::read_to_string(p.path().join(".vers/daemon.pid")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn dashboard_in_chromium_follows_the_cli_and_acts_through_the_api() {
    let p = TempProject::new(MANIFEST);
    p.ok(&["up"]);
    p.ok(&["commit", "--tag", "base"]);
    let url = p.ok(&["dashboard", "--no-open"]);
    let url = url.lines().next().unwrap().to_string();
    let (base, token) = url.split_once("/?token=").unwrap();
    let mut b = Browser::start();

    // No access without the token, in a browser too.
    for path in ["/", "/ui/view", "/api/status"] {
        let r = b.call(json!({"cmd": "probe", "url": format!("{base}{path}")}));
        assert_eq!(r["status"], 401, "{path}: {r}");
        assert!(r["text"].as_str().unwrap().contains("token"), "{r}");
    }
    let r = b.call(json!({"cmd": "probe", "url": format!("{base}/?token={}", "0".repeat(64))}));
    assert_eq!(r["status"], 401);

    // The page: tree, HEAD, services.
    let status = b.call(json!({"cmd": "open", "url": url, "width": 1400, "height": 900}));
    assert_eq!(status, 200);
    b.wait("#live.ok", 10_000);
    b.wait("#tree .checkpoint[data-name=\"base\"]", 5_000);
    b.wait("#tree .env.head.selected[data-name=\"root\"]", 5_000);
    let row = b.text("tr[data-service=\"redis\"]");
    assert!(row.contains("redis@7"), "{row}");
    assert!(row.contains("running"), "{row}");
    assert!(row.contains("healthy"), "{row}");
    let st = p.json(&["status", "--json"]);
    let endpoint = st["environments"][0]["services"][0]["host_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(row.contains(&endpoint), "{endpoint} in {row}");
    let weight = b.call(json!({"cmd": "eval",
        "js": "new TextEncoder().encode(document.documentElement.outerHTML).length"}));
    eprintln!("page weight in the browser: {weight} bytes");
    assert!(weight.as_u64().unwrap() < 200_000);

    // A branch made from the CLI shows up live.
    p.ok(&["branch", "--alias", "live1", "--from", "base"]);
    let returned = Instant::now();
    b.wait("#tree .env[data-name=\"live1\"]", 5_000);
    let delay = returned.elapsed();
    eprintln!(
        "branch on the page {} ms after `vers branch` returned",
        delay.as_millis()
    );
    assert!(delay < Duration::from_secs(1), "{delay:?}");

    // A test run from the CLI, branch by branch, then its summary and JUnit report.
    let run = Command::new(vers_bin())
        .args(["test", "--parallel"])
        .current_dir(p.path())
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    b.wait(".run[data-outcome=\"running\"]", 15_000);
    b.wait(
        ".run [data-suite=\"checks\"] tr[data-branch=\"ok\"][data-status=\"passed\"]",
        120_000,
    );
    b.wait(
        ".run [data-suite=\"checks\"] tr[data-branch=\"bad\"][data-status=\"failed\"]",
        120_000,
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "one branch fails");
    b.wait(".run[data-outcome=\"failed\"] a.junit", 5_000);
    let suite = b.text(".run [data-suite=\"checks\"] .suitehead");
    assert!(suite.contains("1/2 branches passed"), "{suite}");
    b.click(".run tr[data-branch=\"bad\"] summary");
    let tail = b.text(".run tr[data-branch=\"bad\"] details[open] pre");
    assert!(tail.contains("case-bad"), "log tail: {tail}");
    let href = b.call(json!({"cmd": "attr", "selector": ".run a.junit", "name": "href"}));
    let href = format!("{base}{}", href.as_str().unwrap());
    assert!(href.contains(token), "{href}");
    let junit = b.call(json!({"cmd": "probe", "url": href}));
    assert_eq!(junit["status"], 200, "{junit}");
    let xml = junit["text"].as_str().unwrap();
    assert!(xml.contains("case-bad"), "{xml}");

    // A service's log, followed live.
    b.click("tr[data-service=\"redis\"] button[data-action=\"logs\"]");
    b.wait("#logs:not([hidden])", 5_000);
    b.call(json!({"cmd": "waitText", "selector": "#logtext", "text": "Ready to accept"}));
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let mut redis = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    redis.write_all(b"BGSAVE\r\n").unwrap();
    let written = Instant::now();
    b.call(json!({"cmd": "waitText", "selector": "#logtext", "text": "Background saving started"}));
    eprintln!(
        "log line on the page {} ms after redis wrote it",
        written.elapsed().as_millis()
    );

    // Actions from the page, seen through the CLI: a branch from a checkpoint...
    b.click("#tree .checkpoint[data-name=\"base\"]");
    b.wait("dialog[open][data-action=\"branch\"]", 5_000);
    b.call(json!({"cmd": "fill", "selector": "#dialog input[name=alias]", "value": "frompage"}));
    b.click("#dialogok");
    b.wait("#toast.ok:not([hidden])", 30_000);
    b.wait("#tree .env[data-name=\"frompage\"]", 5_000);
    assert!(branch_names(&p).contains(&"frompage".to_string()));

    // ... a commit of the selected branch under a tag ...
    b.click("#tree .env[data-name=\"frompage\"]");
    b.wait(".services .envname", 5_000);
    b.call(json!({"cmd": "waitText", "selector": ".services .envname", "text": "frompage"}));
    b.click("button[data-action=\"commit\"]");
    b.wait("dialog[open][data-action=\"commit\"]", 5_000);
    b.call(json!({"cmd": "fill", "selector": "#dialog input[name=tag]", "value": "pagetag"}));
    b.click("#dialogok");
    b.wait("#tree .checkpoint[data-name=\"pagetag\"]", 30_000);
    assert!(p.ok(&["log"]).contains("pagetag"), "{}", p.ok(&["log"]));

    // ... and deleting it, only after a confirmation marked as destructive.
    b.click("button[data-action=\"delete\"]");
    b.wait(
        "dialog[open][data-action=\"delete\"] #dialogok.danger",
        5_000,
    );
    assert!(
        branch_names(&p).contains(&"frompage".to_string()),
        "not before confirming"
    );
    b.click("#dialogok");
    let gone = Instant::now();
    while branch_names(&p).contains(&"frompage".to_string()) {
        assert!(
            gone.elapsed() < Duration::from_secs(30),
            "frompage never deleted"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    b.call(
        json!({"cmd": "wait", "selector": "#tree .env[data-name=\"frompage\"]",
        "state": "detached", "timeout": 5_000}),
    );

    // Usable at 800 px: nothing wider than the window.
    b.call(json!({"cmd": "viewport", "width": 800, "height": 900}));
    let wide = b.call(json!({"cmd": "eval",
        "js": "document.documentElement.scrollWidth"}));
    assert!(
        wide.as_u64().unwrap() <= 800,
        "page {wide} px wide at 800 px"
    );

    let errors = b.call(json!({"cmd": "errors"}));
    assert_eq!(errors, json!([]), "console errors");

    // The daemon's memory with ten environments (figure for the closing note).
    for i in 0..8 {
        p.ok(&["branch", "--alias", &format!("mem{i}"), "--from", "base"]);
    }
    let envs = p.json(&["status", "--json"])["environments"]
        .as_array()
        .unwrap()
        .len();
    eprintln!(
        "daemon resident memory with {envs} environments and the dashboard open: {} KiB",
        daemon_rss_kib(&p)
    );
}
