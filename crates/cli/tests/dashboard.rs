//! The web dashboard served by the daemon: its URL and token, 401 without the token, the
//! checkpoint tree and services on the page, and a branch made from the CLI reaching the
//! page's live view and event relay within a second.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

const REDIS: &str = "name: dash-test\nservices:\n  redis:\n    template: redis@7\n";

/// `curl` answer: (HTTP status, body).
fn get(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

/// `curl` of `method` with the dashboard's token and a JSON `body`: (HTTP status, body).
fn send(method: &str, url: &str, token: &str, body: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
        ])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["-H", "Content-Type: application/json", "--data", body, url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

fn base_and_token(url: &str) -> (String, String) {
    let (base, token) = url.split_once("/?token=").unwrap();
    (base.to_string(), token.to_string())
}

#[test]
fn dashboard_serves_the_tree_behind_its_token_and_follows_the_cli_live() {
    let p = TempProject::new(REDIS);
    p.ok(&["up"]);
    p.ok(&["commit", "--tag", "base"]);

    let first = p.ok(&["dashboard", "--no-open"]);
    let url = first.lines().next().unwrap().to_string();
    let (base, token) = base_and_token(&url);
    assert!(base.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(token.len(), 64, "{url}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{url}");
    let again = p.ok(&["dashboard", "--no-open", "--port", "1"]);
    assert_eq!(
        again.lines().next(),
        Some(url.as_str()),
        "a second call prints the same URL"
    );

    // No access without the token (or with a wrong one), on pages and the API alike.
    let wrong = "0".repeat(64);
    for path in [
        "/",
        "/ui/view",
        "/api/status",
        "/api/log",
        "/api/events",
        "/nope",
    ] {
        let (code, body) = get(&format!("{base}{path}"));
        assert_eq!(code, 401, "{path}");
        assert_eq!(get(&format!("{base}{path}?token={wrong}")).0, 401, "{path}");
        // The API's refusals are in its own `{code, message}` shape.
        if path.starts_with("/api/") {
            let answer: serde_json::Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
            assert_eq!(answer["code"], "forbidden", "{path}: {body}");
            assert!(answer["message"].as_str().unwrap_or("").contains("token"));
        }
    }

    // The page's own JSON routes answer bad requests in the API's error shape.
    let (code, body) = send("POST", &format!("{base}/ui/test"), &token, "[]");
    assert_eq!(code, 400, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["code"], "usage", "{body}");
    let (code, body) = send("PUT", &format!("{base}/ui/test"), &token, "{}");
    assert_eq!(code, 405, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["code"], "usage", "{body}");

    let (code, page) = get(&url);
    assert_eq!(code, 200);
    assert!(page.len() < 200_000, "page weight {} bytes", page.len());
    eprintln!("page weight: {} bytes", page.len());
    assert!(page.contains("<svg id=\"tree\""), "{page}");
    assert!(
        page.contains("data-name=\"base\""),
        "checkpoint on the tree:\n{page}"
    );
    assert!(
        page.contains("node env ok head selected"),
        "HEAD marked:\n{page}"
    );
    assert!(page.contains("data-service=\"redis\""), "{page}");
    assert!(page.contains("redis@7"), "{page}");
    assert!(page.contains(">healthy<"), "{page}");
    let (code, status) = get(&format!("{base}/api/status?token={token}"));
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let endpoint = status["environments"][0]["services"][0]["host_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(page.contains(&endpoint), "host endpoint {endpoint} shown");

    // The event feed, relayed under the token.
    let mut feed = Command::new("curl")
        .args(["-sN", &format!("{base}/api/events?token={token}")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let out = feed.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));

    p.ok(&["branch", "--alias", "live1", "--from", "base"]);
    let returned = Instant::now();
    let shown = loop {
        let (code, view) = get(&format!("{base}/ui/view?token={token}"));
        assert_eq!(code, 200);
        if view.contains("data-name=\"live1\"") {
            break returned.elapsed();
        }
        assert!(
            returned.elapsed() < Duration::from_secs(5),
            "live1 never reached the view:\n{view}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "branch on the view {} ms after `vers branch` returned",
        shown.as_millis()
    );
    assert!(shown < Duration::from_secs(1), "{shown:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut relayed = None;
    while relayed.is_none() && Instant::now() < deadline {
        if let Ok((at, line)) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.starts_with("data:")
                && line.contains("\"op\":\"branch\"")
                && line.contains("finished")
            {
                relayed = Some(at);
            }
        }
    }
    let _ = feed.kill();
    let _ = feed.wait();
    let at = relayed.expect("the branch operation on the relayed event feed");
    assert!(at <= returned + Duration::from_secs(1));
}
