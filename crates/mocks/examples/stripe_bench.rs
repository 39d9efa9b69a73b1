//! Measures stripe-mock's request rate in-process over loopback: N concurrent keep-alive
//! clients run `GET /v1/customers/cus_x` for half the time, then `POST /v1/customers` for
//! the other half (each POST persists a customer and a `customer.created` event). The
//! baseline, measured in the same run with the same clients: a minimal axum server in the
//! same process answering both routes with a fixed customer (no state, no validation), so
//! the ratio shows what the mock's own work costs over bare HTTP serving.
//!
//! `cargo run --release -p vers-mocks --example stripe_bench -- [clients] [seconds]`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vers_mocks::stripe::{router, StripeState};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Runs `clients` loops of one request kind for `duration`; returns (ok, failed) counts.
async fn phase(
    client: &reqwest::Client,
    base: &str,
    clients: usize,
    duration: Duration,
    post: bool,
) -> (u64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..clients {
        let (client, ok, failed, stop) = (client.clone(), ok.clone(), failed.clone(), stop.clone());
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let req = if post {
                    client
                        .post(format!("{base}/v1/customers"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(format!(
                            "email=c{n}-{i}%40example.com&name=Bench&metadata[n]={n}"
                        ))
                } else {
                    client.get(format!("{base}/v1/customers/cus_x"))
                };
                i += 1;
                let success = match req.bearer_auth("sk_test_bench").send().await {
                    Ok(resp) => resp.status().is_success() && resp.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let counter = if success { &ok } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

/// A server that answers the bench's two routes with a fixed customer: the floor of HTTP
/// serving in this process, without any of the mock's work.
async fn bare_server() -> BenchResult<String> {
    use axum::routing::{get, post};
    const CUSTOMER: &str = r#"{"id":"cus_x","object":"customer","email":"x@example.com"}"#;
    let answer = || async { ([("content-type", "application/json")], CUSTOMER) };
    let app = axum::Router::new()
        .route("/v1/customers/{id}", get(answer))
        .route("/v1/customers", post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let seconds: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5.0);
    let dir = tempfile::tempdir()?;
    let state = StripeState::open(dir.path(), &serde_json::Value::Null)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = router(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .no_proxy()
        .build()?;
    let created = client
        .post(format!("{base}/v1/customers"))
        .bearer_auth("sk_test_bench")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("id=cus_x&email=x%40example.com")
        .send()
        .await?;
    if !created.status().is_success() {
        return Err(format!("cannot create cus_x: {}", created.text().await?).into());
    }
    let half = Duration::from_secs_f64(seconds / 2.0);
    let started = Instant::now();
    let (get_ok, get_failed) = phase(&client, &base, clients, half, false).await;
    let get_time = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (post_ok, post_failed) = phase(&client, &base, clients, half, true).await;
    let post_time = started.elapsed().as_secs_f64();
    let bare = bare_server().await?;
    let started = Instant::now();
    let (bare_get, _) = phase(&client, &bare, clients, half, false).await;
    let bare_get_rate = bare_get as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (bare_post, _) = phase(&client, &bare, clients, half, true).await;
    let bare_post_rate = bare_post as f64 / started.elapsed().as_secs_f64();
    let journal = std::fs::metadata(dir.path().join("journal.jsonl"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.path().join("state.json"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("stripe-mock bench: {clients} keep-alive clients, {seconds} s on loopback");
    println!(
        "  GET  /v1/customers/cus_x: {get_ok} ok, {get_failed} failed, {:.0} req/s",
        get_ok as f64 / get_time
    );
    println!(
        "  POST /v1/customers:       {post_ok} ok, {post_failed} failed, {:.0} req/s",
        post_ok as f64 / post_time
    );
    println!(
        "  baseline, a bare axum server with a fixed answer: GET {bare_get_rate:.0} req/s, POST {bare_post_rate:.0} req/s; stripe-mock / bare: GET {:.2}, POST {:.2}",
        get_ok as f64 / get_time / bare_get_rate,
        post_ok as f64 / post_time / bare_post_rate
    );
    println!(
        "  overall: {:.0} req/s; state on disk {} KiB",
        (get_ok + post_ok) as f64 / (get_time + post_time),
        journal / 1024
    );
    if get_failed + post_failed > 0 {
        return Err("some requests failed".into());
    }
    Ok(())
}
