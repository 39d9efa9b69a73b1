//! stripe-mock judged by the official Stripe Python SDK (`pip install stripe`), with a
//! real webhook receiver verifying signatures through `stripe.Webhook.construct_event`.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use vers_mocks::stripe::{serve_on, StripeOptions, StripeState};

fn config(webhook_port: u16) -> serde_json::Value {
    json!({
        "webhook_endpoint": format!("http://127.0.0.1:{webhook_port}/config"),
        "fixtures": {
            "customers": [
                {"id": "cus_fixture", "email": "fixture@example.com", "name": "Fixture", "metadata": {"plan": "pro"}}
            ],
            "products": [
                {"id": "prod_starter", "name": "Starter Plan", "prices": [
                    {"id": "price_starter_monthly", "unit_amount": 999, "recurring": {"interval": "month"}}
                ]},
                {"id": "prod_pro", "name": "Pro Plan", "prices": [
                    {"id": "price_pro_monthly", "amount": 2999, "recurring": {"interval": "month"}}
                ]}
            ],
            "payment_methods": [
                {"id": "pm_fixture_visa", "type": "card", "card": {"brand": "visa", "last4": "4242"}}
            ],
            "shipping_rates": [
                {"id": "shr_standard", "display_name": "Standard Shipping", "amount": 500},
                {"id": "shr_express", "display_name": "Express Shipping", "amount": 1500}
            ]
        }
    })
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn start(
    listener: TcpListener,
    data_dir: &Path,
    webhook_port: u16,
) -> (String, JoinHandle<()>) {
    let port = listener.local_addr().unwrap().port();
    let opts = StripeOptions {
        listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
        http_port: port,
        https_port: None,
        data_dir: data_dir.to_path_buf(),
        config: config(webhook_port),
    };
    let handle = tokio::spawn(async move {
        serve_on(listener, None, opts).await.unwrap();
    });
    (format!("http://127.0.0.1:{port}"), handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_runs_every_flow() {
    let dir = tempfile::tempdir().unwrap();
    let hook_port = free_port().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (base, server) = start(listener, dir.path(), hook_port).await;
    let port = hook_port.to_string();
    let out = support::run_python("stripe_client.py", &[&base, &port]).await;
    assert!(out.contains("stripe sdk checks passed"), "{out}");
    assert!(dir.path().join("journal.jsonl").metadata().unwrap().len() > 0);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_pending_webhooks_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ids = dir.path().join("ids.json");
    // Nothing listens on this port: every delivery fails and stays pending.
    let dead_port = free_port().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (base, server) = start(listener, &data, dead_port).await;
    support::run_python(
        "stripe_restart.py",
        &[&base, "before", ids.to_str().unwrap()],
    )
    .await;
    server.abort();
    let _ = server.await;
    let reopened = StripeState::open(&data, &config(dead_port)).unwrap();
    assert!(
        reopened.pending_webhooks() > 0,
        "undelivered events stay pending on disk"
    );
    drop(reopened);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let (base, server) = start(listener, &data, dead_port).await;
    let out = support::run_python(
        "stripe_restart.py",
        &[&base, "after", ids.to_str().unwrap()],
    )
    .await;
    assert!(out.contains("phase after passed"), "{out}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listener_serves_the_api_with_a_persisted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_port = tls_listener.local_addr().unwrap().port();
    let opts = StripeOptions {
        listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
        http_port: 0,
        https_port: Some(tls_port),
        data_dir: dir.path().to_path_buf(),
        config: serde_json::Value::Null,
    };
    let server = tokio::spawn(async move {
        serve_on(listener, Some(tls_listener), opts).await.unwrap();
    });
    let cert = dir.path().join("tls/cert.pem");
    for _ in 0..100 {
        if cert.is_file() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let output = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--cacert",
            cert.to_str().unwrap(),
            "-H",
            "Authorization: Bearer sk_test_health",
        ])
        .arg(format!("https://localhost:{tls_port}/v1/charges"))
        .output()
        .await
        .expect("curl must be installed");
    let body = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["object"], "list", "{body}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_webhook_deliveries_are_retried_with_backoff() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let receiver = axum::Router::new().route(
        "/config",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let counter = counter.clone();
            async move {
                assert!(headers.get("stripe-signature").is_some());
                // Refuse the first attempt; accept the retry.
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let hook = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_port = hook.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(hook, receiver).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let state = StripeState::open(
        dir.path(),
        &json!({"webhook_endpoint": format!("http://127.0.0.1:{hook_port}/config")}),
    )
    .unwrap();
    let app = vers_mocks::stripe::router(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let status = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-u",
            "sk_test_retry:",
            "-d",
            "email=retry@example.com",
        ])
        .arg(format!("{base}/v1/customers"))
        .status()
        .await
        .expect("curl must be installed");
    assert!(status.success());
    let started = std::time::Instant::now();
    while state.pending_webhooks() > 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state.pending_webhooks(), 0, "the retry was delivered");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "one refusal, one successful retry"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the retry waited for its backoff"
    );
}
