//! Measures what the proxy adds with no fault attached: request/response latency (p50/p99) and
//! pipelined throughput, direct vs through the proxy, against redis-server (or a built-in echo
//! server when redis-server is missing), then runs redis-benchmark against both if present.
//!
//! The proxy is measured twice: forwarding fault-free connections in the kernel (a BPF
//! sockhash, where available) and in user space with `splice(2)` (kernel forwarding off).
//! A bulk test streams 256 MiB one way to a discarding backend, direct and through both.
//!
//! Last, it measures what traffic recording costs: throughput through a proxy recording
//! (the default) and one not recording, alternated, for the TCP exchange and for HTTP/1.1
//! keep-alive requests (one request per round trip, each recorded with its status).
//!
//! Run with `cargo run --release -p vers-proxy --example proxy_bench`.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vers_proxy::ServiceProxy;

const ROUND_TRIPS: usize = 20_000;
const CONNECTIONS: usize = 8;
const PIPELINE: usize = 32;
const THROUGHPUT_TIME: Duration = Duration::from_secs(3);

/// The request and the exact reply of one round trip.
struct Exchange {
    request: Vec<u8>,
    reply_len: usize,
}

enum Backend {
    Redis(Child),
    Echo,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Backend::Redis(child) = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_backend() -> std::io::Result<(Backend, SocketAddr, Exchange)> {
    let port = free_port()?;
    let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], port));
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn();
    if let Ok(child) = spawned {
        let backend = Backend::Redis(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline {
                return Err(std::io::Error::other("redis-server did not start"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let exchange = Exchange {
            request: b"*1\r\n$4\r\nPING\r\n".to_vec(),
            reply_len: b"+PONG\r\n".len(),
        };
        return Ok((backend, addr, exchange));
    }
    let listener = TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let exchange = Exchange {
        request: vec![b'x'; 64],
        reply_len: 64,
    };
    Ok((Backend::Echo, addr, exchange))
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sequential round trips; returns (p50, p99) in microseconds.
async fn latency(addr: SocketAddr, exchange: &Exchange) -> std::io::Result<(f64, f64)> {
    let mut stream = connect(addr).await?;
    let mut reply = vec![0u8; exchange.reply_len];
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS + 1000 {
        let start = Instant::now();
        stream.write_all(&exchange.request).await?;
        stream.read_exact(&mut reply).await?;
        if i >= 1000 {
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    samples.sort_by(f64::total_cmp);
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    Ok((pick(0.50), pick(0.99)))
}

/// Pipelined requests over several connections; returns requests per second.
async fn throughput(addr: SocketAddr, exchange: &Exchange) -> std::io::Result<f64> {
    let batch: Vec<u8> = exchange.request.repeat(PIPELINE);
    let reply_len = exchange.reply_len * PIPELINE;
    let deadline = Instant::now() + THROUGHPUT_TIME;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let batch = batch.clone();
        let mut stream = connect(addr).await?;
        tasks.push(tokio::spawn(async move {
            let mut reply = vec![0u8; reply_len];
            let mut done = 0u64;
            while Instant::now() < deadline {
                stream.write_all(&batch).await?;
                stream.read_exact(&mut reply).await?;
                done += PIPELINE as u64;
            }
            Ok::<u64, std::io::Error>(done)
        }));
    }
    let start = Instant::now();
    let mut total = 0;
    for task in tasks {
        total += task.await.map_err(std::io::Error::other)??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// A bare `copy_bidirectional` forwarder, the floor any userspace tokio proxy pays.
async fn reference_forwarder(backend: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut server) = connect(backend).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    Ok(addr)
}

/// A backend that reads everything, then answers one byte and closes.
async fn sink_backend() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        let _ = stream.write_all(b"k").await;
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}

const BULK_BYTES: usize = 256 * 1024 * 1024;
/// Rounds of the throughput and bulk comparisons.
const ROUNDS: usize = 5;

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Streams BULK_BYTES to `addr` and waits for the answer; returns MB/s (10^6 bytes).
async fn bulk(addr: SocketAddr) -> std::io::Result<f64> {
    let mut stream = connect(addr).await?;
    let chunk = vec![0x5au8; 256 * 1024];
    let start = Instant::now();
    let mut sent = 0;
    while sent < BULK_BYTES {
        stream.write_all(&chunk).await?;
        sent += chunk.len();
    }
    stream.shutdown().await?;
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).await?;
    Ok(sent as f64 / start.elapsed().as_secs_f64() / 1e6)
}

/// A keep-alive HTTP/1.1 server answering every request head with a short 200.
async fn http_backend() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut buf = vec![0u8; 16 * 1024];
                let mut pending = Vec::new();
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buf[..n]);
                    let mut answers = Vec::new();
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        answers.extend_from_slice(HTTP_RESPONSE);
                    }
                    if stream.write_all(&answers).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}

const HTTP_REQUEST: &[u8] = b"GET /orders/12345 HTTP/1.1\r\nHost: bench\r\n\r\n";
const HTTP_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// Median of `rounds` alternated throughput runs against `a` and `b`.
async fn alternated(
    a: SocketAddr,
    b: SocketAddr,
    exchange: &Exchange,
    rounds: usize,
) -> std::io::Result<(f64, f64)> {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither gains from the order.
        if round % 2 == 0 {
            xs.push(throughput(a, exchange).await?);
            ys.push(throughput(b, exchange).await?);
        } else {
            ys.push(throughput(b, exchange).await?);
            xs.push(throughput(a, exchange).await?);
        }
    }
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    Ok((xs[rounds / 2], ys[rounds / 2]))
}

async fn start_proxy(
    backend: SocketAddr,
    http: bool,
    recording: bool,
) -> std::io::Result<(ServiceProxy, SocketAddr)> {
    let proxy = ServiceProxy::new("bench", vec![backend], http);
    proxy.set_traffic_recording(recording);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let front = listener.local_addr()?;
    let serving = proxy.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    Ok((proxy, front))
}

/// Throughput with and without traffic recording, TCP and HTTP.
async fn recording_cost(direct: SocketAddr, exchange: &Exchange) -> std::io::Result<()> {
    const ROUNDS: usize = 6;
    let (_on, on) = start_proxy(direct, false, true).await?;
    let (_off, off) = start_proxy(direct, false, false).await?;
    let (rec, plain) = alternated(on, off, exchange, ROUNDS).await?;
    println!("traffic recording, median of {ROUNDS} alternated runs:");
    println!(
        "  tcp  recording {rec:12.0} req/s, off {plain:12.0} req/s: {:+.1} %  (goal: cost <= 5 %)",
        (rec / plain - 1.0) * 100.0
    );
    let http = http_backend().await?;
    let (recorder, on) = start_proxy(http, true, true).await?;
    let (_off, off) = start_proxy(http, true, false).await?;
    let http_exchange = Exchange {
        request: HTTP_REQUEST.to_vec(),
        reply_len: HTTP_RESPONSE.len(),
    };
    let (rec, plain) = alternated(on, off, &http_exchange, ROUNDS).await?;
    println!(
        "  http recording {rec:12.0} req/s, off {plain:12.0} req/s: {:+.1} %  (goal: cost <= 5 %)",
        (rec / plain - 1.0) * 100.0
    );
    let t = recorder.traffic();
    let recorded: u64 = t.requests.iter().map(|r| r.count).sum();
    println!(
        "  http requests recorded: {recorded} under {} key(s), {} call events kept",
        t.requests.len(),
        t.calls.len()
    );
    Ok(())
}

fn redis_benchmark(port: u16) -> Option<String> {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-t", "ping,set,get", "-q", "-n", "100000"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<String> = text
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .map(|l| l.trim().to_string())
        .collect();
    Some(lines.join("\n    "))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let (backend, direct, exchange) = start_backend().await?;
    let kind = match backend {
        Backend::Redis(_) => "redis-server (PING/PONG)",
        Backend::Echo => "built-in echo (64-byte messages)",
    };
    let (proxy, front) = start_proxy(direct, false, true).await?;
    proxy.set_kernel_forwarding(true);
    let (spliced, splice_front) = start_proxy(direct, false, true).await?;
    spliced.set_kernel_forwarding(false);

    let reference = reference_forwarder(direct).await?;

    println!("backend: {kind}; direct {direct}, proxy {front}");
    let (d50, d99) = latency(direct, &exchange).await?;
    let (p50, p99) = latency(front, &exchange).await?;
    let (s50, s99) = latency(splice_front, &exchange).await?;
    let (r50, r99) = latency(reference, &exchange).await?;
    println!("latency over {ROUND_TRIPS} sequential round trips:");
    println!("  direct  p50 {d50:7.1} µs  p99 {d99:7.1} µs");
    println!("  proxy   p50 {p50:7.1} µs  p99 {p99:7.1} µs  (in the kernel where available)");
    println!("  splice  p50 {s50:7.1} µs  p99 {s99:7.1} µs  (kernel forwarding off)");
    println!("  bare copy_bidirectional forwarder: p50 {r50:7.1} µs  p99 {r99:7.1} µs");
    println!(
        "  added   p50 {:7.1} µs  p99 {:7.1} µs  (splice: p50 {:7.1} µs; goal: added p50 <= 50 µs)",
        p50 - d50,
        p99 - d99,
        s50 - d50
    );

    // Rounds rotate the order so that load changes on a shared machine hit all alike.
    let targets = [direct, front, splice_front, reference];
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for round in 0..ROUNDS {
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            rps[i].push(throughput(targets[i], &exchange).await?);
        }
    }
    let [direct_rps, proxy_rps, splice_rps, reference_rps] = [0, 1, 2, 3].map(|i| median(&rps[i]));
    println!(
        "throughput, {CONNECTIONS} connections pipelining {PIPELINE} for {}s, median of {ROUNDS} rotated rounds:",
        THROUGHPUT_TIME.as_secs()
    );
    println!("  direct  {direct_rps:12.0} req/s");
    println!("  proxy   {proxy_rps:12.0} req/s");
    println!("  splice  {splice_rps:12.0} req/s");
    println!(
        "  ratio   {:11.1} %  (splice {:.1} %; goal: >= 80 %)",
        proxy_rps / direct_rps * 100.0,
        splice_rps / direct_rps * 100.0
    );
    println!(
        "  bare copy_bidirectional forwarder: {reference_rps:12.0} req/s ({:.1} % of direct)",
        reference_rps / direct_rps * 100.0
    );

    let sink = sink_backend().await?;
    let (bulk_proxy, bulk_front) = start_proxy(sink, false, true).await?;
    bulk_proxy.set_kernel_forwarding(true);
    let (bulk_spliced, bulk_splice_front) = start_proxy(sink, false, true).await?;
    bulk_spliced.set_kernel_forwarding(false);
    let bulk_reference = reference_forwarder(sink).await?;
    let targets = [sink, bulk_front, bulk_splice_front, bulk_reference];
    let mut mbs: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for round in 0..ROUNDS {
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            mbs[i].push(bulk(targets[i]).await?);
        }
    }
    let [direct_mbs, proxy_mbs, splice_mbs, reference_mbs] = [0, 1, 2, 3].map(|i| median(&mbs[i]));
    println!(
        "bulk, {} MiB one way on one connection, median of {ROUNDS} rotated rounds:",
        BULK_BYTES >> 20
    );
    println!("  direct  {direct_mbs:8.0} MB/s");
    println!(
        "  proxy   {proxy_mbs:8.0} MB/s ({:.1} %), splice {splice_mbs:8.0} MB/s ({:.1} %), bare forwarder {reference_mbs:8.0} MB/s ({:.1} %)",
        proxy_mbs / direct_mbs * 100.0,
        splice_mbs / direct_mbs * 100.0,
        reference_mbs / direct_mbs * 100.0
    );

    if matches!(backend, Backend::Redis(_)) {
        if let (Some(d), Some(p)) = (
            redis_benchmark(direct.port()),
            redis_benchmark(front.port()),
        ) {
            println!("redis-benchmark -t ping,set,get -q -n 100000:");
            println!("  direct:\n    {d}");
            println!("  proxy:\n    {p}");
        } else {
            println!("redis-benchmark not found; skipped");
        }
    }
    recording_cost(direct, &exchange).await?;
    let stats = proxy.stats();
    println!(
        "proxy stats: {} connections, {} bytes to backend, {} bytes to clients",
        stats.connections_total, stats.bytes_to_backend, stats.bytes_to_client
    );
    proxy.stop();
    drop(backend);
    Ok(())
}
