//! Shared helpers for the proxy tests: echo backends, proxies on loopback, clients bound to a
//! chosen source address.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use vers_proxy::ServiceProxy;

/// An echo backend that counts the connections it accepted.
pub struct EchoServer {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
}

impl EchoServer {
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

pub async fn echo_server() -> EchoServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                stream.set_nodelay(true).unwrap();
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    EchoServer { addr, accepted }
}

/// A backend that writes `payload` and closes at once.
pub async fn sending_server(payload: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let payload = payload.clone();
            tokio::spawn(async move {
                let _ = stream.write_all(&payload).await;
            });
        }
    });
    addr
}

/// An address on which nothing listens (connections are refused).
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Starts a proxy on an ephemeral loopback port; returns it and its front address.
pub async fn start_proxy(backends: Vec<SocketAddr>, http: bool) -> (ServiceProxy, SocketAddr) {
    let proxy = ServiceProxy::new("svc", backends, http);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = listener.local_addr().unwrap();
    let serving = proxy.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    (proxy, front)
}

/// Connects to `front` from the source address `src`.
pub async fn connect_from(src: &str, front: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(src.parse::<IpAddr>().unwrap(), 0))?;
    let stream = socket.connect(front).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes `msg` and reads the same number of bytes back; returns the elapsed time.
pub async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<Duration> {
    let start = Instant::now();
    stream.write_all(msg).await?;
    let mut back = vec![0u8; msg.len()];
    stream.read_exact(&mut back).await?;
    assert_eq!(back, msg);
    Ok(start.elapsed())
}

/// What a client observes when it waits for data for `wait`.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Data(usize),
    Eof,
    Reset,
    OtherError(std::io::ErrorKind),
    Silent,
}

pub async fn observe(stream: &mut TcpStream, wait: Duration) -> Outcome {
    let mut buf = [0u8; 4096];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Err(_) => Outcome::Silent,
        Ok(Ok(0)) => Outcome::Eof,
        Ok(Ok(n)) => Outcome::Data(n),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Outcome::Reset,
        Ok(Err(e)) => Outcome::OtherError(e.kind()),
    }
}

/// Sends `data` through the proxy at `front` and half-closes, reading what comes back until
/// the other side ends (within `limit`). `paced` writes 61 KiB chunks 300 µs apart, so
/// faults added meanwhile land in the middle of the stream.
pub async fn echo_through(
    front: SocketAddr,
    data: Vec<u8>,
    paced: bool,
    limit: Duration,
) -> Vec<u8> {
    let stream = connect_from("127.0.0.1", front).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    let writer = tokio::spawn(async move {
        if paced {
            for chunk in data.chunks(61 * 1024) {
                w.write_all(chunk).await.unwrap();
                tokio::time::sleep(Duration::from_micros(300)).await;
            }
        } else {
            w.write_all(&data).await.unwrap();
        }
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    tokio::time::timeout(limit, r.read_to_end(&mut back))
        .await
        .unwrap()
        .unwrap();
    writer.await.unwrap();
    back
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}
