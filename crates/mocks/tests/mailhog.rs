//! mailhog judged by real clients: Python's smtplib and the MailHog HTTP API over urllib.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use vers_mocks::mailhog::{serve_on, MailhogOptions};

struct Running {
    smtp_port: String,
    api: String,
    handle: JoinHandle<()>,
}

async fn start(data_dir: &Path, config: serde_json::Value) -> Running {
    let smtp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp_port = smtp.local_addr().unwrap().port();
    let api_port = api.local_addr().unwrap().port();
    let opts = MailhogOptions {
        listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
        smtp_port,
        api_port,
        data_dir: data_dir.to_path_buf(),
        config,
    };
    let handle = tokio::spawn(async move {
        serve_on(smtp, api, opts).await.unwrap();
    });
    Running {
        smtp_port: smtp_port.to_string(),
        api: format!("http://127.0.0.1:{api_port}"),
        handle,
    }
}

async fn phase(server: &Running, phase: &str, state: &Path) -> String {
    support::run_python(
        "mailhog_client.py",
        &[
            &server.smtp_port,
            &server.api,
            phase,
            state.to_str().unwrap(),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_and_http_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), serde_json::Value::Null).await;
    let out = phase(&server, "full", &dir.path().join("state.json")).await;
    assert!(out.contains("mailhog phase full passed"), "{out}");
    server.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_messages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let state = dir.path().join("state.json");
    let server = start(&data, json!({"storage": "maildir"})).await;
    phase(&server, "before", &state).await;
    server.handle.abort();
    let _ = server.handle.await;
    let log = std::fs::metadata(data.join("messages.log")).unwrap();
    assert!(log.len() > 0, "messages are in the data directory");
    let server = start(&data, json!({"storage": "maildir"})).await;
    let out = phase(&server, "after", &state).await;
    assert!(out.contains("mailhog phase after passed"), "{out}");
    server.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_storage_forgets_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let server = start(dir.path(), json!({"storage": "memory"})).await;
    phase(&server, "before", &state).await;
    server.handle.abort();
    let _ = server.handle.await;
    assert!(!dir.path().join("messages.log").exists());
    let server = start(dir.path(), json!({"storage": "memory"})).await;
    phase(&server, "after-empty", &state).await;
    server.handle.abort();
}
