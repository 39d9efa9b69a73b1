//! A real redis-server behind the proxy: commands, a large value, and a latency fault.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use vers_proxy::{Fault, FaultKind};

struct Redis {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_redis() -> Redis {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Redis { child, addr }
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n", arg.len()).into_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one simple or bulk RESP reply.
async fn reply(conn: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut line = String::new();
    conn.read_line(&mut line).await.unwrap();
    if let Some(len) = line.strip_prefix('$') {
        let len: usize = len.trim().parse().unwrap();
        let mut value = vec![0u8; len + 2];
        conn.read_exact(&mut value).await.unwrap();
        value.truncate(len);
        return value;
    }
    line.trim_end().as_bytes().to_vec()
}

async fn call(conn: &mut BufReader<TcpStream>, args: &[&[u8]]) -> Vec<u8> {
    conn.get_mut().write_all(&command(args)).await.unwrap();
    reply(conn).await
}

#[tokio::test]
async fn redis_commands_and_large_values_pass_through() {
    let redis = start_redis().await;
    let (proxy, front) = start_proxy(vec![redis.addr], false).await;
    let mut conn = BufReader::new(connect_from("127.0.0.1", front).await.unwrap());
    assert_eq!(call(&mut conn, &[b"PING"]).await, b"+PONG");
    let big = pattern(2 * 1024 * 1024);
    assert_eq!(call(&mut conn, &[b"SET", b"big", &big]).await, b"+OK");
    let back = call(&mut conn, &[b"GET", b"big"]).await;
    assert!(back == big, "large value differs after the round trip");
    assert!(proxy.stats().bytes_to_client > big.len() as u64);
}

#[tokio::test]
async fn redis_latency_fault_slows_commands() {
    let redis = start_redis().await;
    let (proxy, front) = start_proxy(vec![redis.addr], false).await;
    let mut conn = BufReader::new(connect_from("127.0.0.1", front).await.unwrap());
    assert_eq!(call(&mut conn, &[b"PING"]).await, b"+PONG");
    proxy.add_fault(Fault::new(FaultKind::Latency {
        latency: Duration::from_millis(80),
        jitter: Duration::ZERO,
    }));
    let start = Instant::now();
    assert_eq!(call(&mut conn, &[b"PING"]).await, b"+PONG");
    let rtt = start.elapsed();
    assert!(
        rtt >= Duration::from_millis(80) && rtt < Duration::from_millis(300),
        "{rtt:?}"
    );
    proxy.clear_faults();
    let start = Instant::now();
    assert_eq!(call(&mut conn, &[b"PING"]).await, b"+PONG");
    assert!(start.elapsed() < Duration::from_millis(50));
}

#[tokio::test]
async fn pipelined_redis_commands_keep_their_order_across_faults() {
    pipelined_across_faults(false).await;
}

/// The same in the kernel: a fault that comes and goes before the connection's task runs
/// must still hand it over (it stalled once: the next command stayed unread).
#[tokio::test]
async fn pipelined_redis_commands_keep_their_order_across_faults_in_the_kernel() {
    pipelined_across_faults(true).await;
}

async fn pipelined_across_faults(kernel: bool) {
    let redis = start_redis().await;
    let (proxy, front) = start_proxy(vec![redis.addr], false).await;
    proxy.set_kernel_forwarding(kernel);
    // Each round a new connection (starting in the kernel) sends a pipeline of SET/GET
    // pairs; a latency fault arrives while the pipeline is in flight, so the hand-over to
    // the copying pumps happens with bytes queued both ways.
    for round in 0..12u32 {
        let mut conn = BufReader::new(connect_from("127.0.0.1", front).await.unwrap());
        let mut pipeline = Vec::new();
        for i in 0..200u32 {
            let key = format!("k{round}:{i}");
            let value = pattern(1000 + (i as usize * 37) % 3000);
            pipeline.extend(command(&[b"SET", key.as_bytes(), &value]));
            pipeline.extend(command(&[b"GET", key.as_bytes()]));
        }
        let write = conn.get_mut().write_all(&pipeline);
        let fault = async {
            tokio::time::sleep(Duration::from_micros(200 * u64::from(round))).await;
            proxy.add_fault(Fault::new(FaultKind::Latency {
                latency: Duration::from_millis(1),
                jitter: Duration::ZERO,
            }))
        };
        let (written, _) = tokio::join!(write, fault);
        written.unwrap();
        for i in 0..200u32 {
            assert_eq!(reply(&mut conn).await, b"+OK", "round {round} SET {i}");
            let value = pattern(1000 + (i as usize * 37) % 3000);
            assert!(reply(&mut conn).await == value, "round {round} GET {i}");
        }
        proxy.clear_faults();
        assert_eq!(call(&mut conn, &[b"PING"]).await, b"+PONG");
    }
}
