//! oauth-mock judged by real OAuth/OIDC clients (authlib, PyJWT, requests).

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use vers_mocks::oauth::{serve_on, OauthOptions};

fn config() -> serde_json::Value {
    json!({
        "providers": {
            "google": {
                "client_id": "test-client-id",
                "client_secret": "test-client-secret",
                "users": [
                    {"email": "test.user@example.com", "name": "Test User"},
                    {"email": "alice@example.com", "name": "Alice Example", "locale": "en"}
                ]
            },
            "github": null
        },
        "callback_urls": ["http://localhost:3000/auth/callback"]
    })
}

async fn start(listener: TcpListener, data_dir: &Path) -> (String, JoinHandle<()>) {
    let port = listener.local_addr().unwrap().port();
    let opts = OauthOptions {
        listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        data_dir: data_dir.to_path_buf(),
        config: config(),
        public_base: None,
    };
    let handle = tokio::spawn(async move {
        serve_on(listener, opts).await.unwrap();
    });
    (format!("http://127.0.0.1:{port}"), handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_run_every_flow() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (base, server) = start(listener, dir.path()).await;
    let out = support::run_python("oauth_client.py", &[&base]).await;
    assert!(out.contains("oauth client checks passed"), "{out}");
    assert!(dir.path().join("keys/rs256.pem").is_file());
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_tokens_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("client-state.json");
    let data = dir.path().join("data");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (base, server) = start(listener, &data).await;
    support::run_python(
        "oauth_restart.py",
        &[&base, "before", state.to_str().unwrap()],
    )
    .await;
    server.abort();
    let _ = server.await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let (base, server) = start(listener, &data).await;
    let out = support::run_python(
        "oauth_restart.py",
        &[&base, "after", state.to_str().unwrap()],
    )
    .await;
    assert!(out.contains("phase after passed"), "{out}");
    server.abort();
}
