//! Fault-free connections forwarded in the kernel (BPF sockhash) and handed over to the
//! copying pumps when a fault arrives: no byte lost, duplicated or reordered, either way,
//! across faults coming and going, half-closes and ends. Without BPF (not root) the same
//! tests exercise the splice path.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vers_proxy::{Fault, FaultKind};

/// A proxy forwarding fault-free connections in the kernel (off by default).
async fn start_kernel_proxy(
    backends: Vec<SocketAddr>,
    http: bool,
) -> (vers_proxy::ServiceProxy, SocketAddr) {
    let (proxy, front) = start_proxy(backends, http).await;
    proxy.set_kernel_forwarding(true);
    (proxy, front)
}

/// A backend that reads everything, then answers the byte count and a checksum, and closes.
async fn counting_sink() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let (mut total, mut sum) = (0u64, 0u64);
                loop {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    for b in &buf[..n] {
                        sum = sum.wrapping_mul(31).wrapping_add(u64::from(*b));
                    }
                    total += n as u64;
                }
                let mut answer = total.to_be_bytes().to_vec();
                answer.extend_from_slice(&sum.to_be_bytes());
                stream.write_all(&answer).await.unwrap();
            });
        }
    });
    addr
}

fn checksum(data: &[u8]) -> u64 {
    data.iter()
        .fold(0u64, |s, b| s.wrapping_mul(31).wrapping_add(u64::from(*b)))
}

#[tokio::test]
async fn an_upload_then_half_close_reaches_the_backend_whole() {
    let sink = counting_sink().await;
    let (proxy, front) = start_kernel_proxy(vec![sink], false).await;
    let data = pattern(32 * 1024 * 1024);
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    s.write_all(&data).await.unwrap();
    s.shutdown().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.len(), 16, "answer {answer:?}");
    assert_eq!(
        u64::from_be_bytes(answer[..8].try_into().unwrap()),
        data.len() as u64
    );
    assert_eq!(
        u64::from_be_bytes(answer[8..].try_into().unwrap()),
        checksum(&data)
    );
    let stats = proxy.stats();
    assert_eq!(stats.bytes_to_backend, data.len() as u64);
    assert_eq!(stats.bytes_to_client, 16);
}

#[tokio::test]
async fn echoed_streams_ended_by_the_client_come_back_whole() {
    // The client's FIN arrives while the echo's bytes still queue in the psock toward it.
    let echo = echo_server().await;
    let (proxy, front) = start_kernel_proxy(vec![echo.addr], false).await;
    let data = pattern(8 * 1024 * 1024);
    for round in 1..=6u64 {
        let back = echo_through(front, data.clone(), false, Duration::from_secs(30)).await;
        assert_eq!(back.len(), data.len(), "round {round}");
        assert!(back == data, "round {round}: echoed bytes differ");
        assert_eq!(proxy.stats().bytes_to_client, round * data.len() as u64);
    }
}

#[tokio::test]
async fn echoed_stream_survives_faults_toggling_on_and_off() {
    let echo = echo_server().await;
    let (proxy, front) = start_kernel_proxy(vec![echo.addr], false).await;
    let data = pattern(12 * 1024 * 1024);
    let echoed = tokio::spawn(echo_through(
        front,
        data.clone(),
        true,
        Duration::from_secs(60),
    ));
    let toggler = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            for i in 0..6u64 {
                tokio::time::sleep(Duration::from_millis(15 + 7 * i)).await;
                let id = proxy.add_fault(Fault::new(FaultKind::Latency {
                    latency: Duration::from_millis(2),
                    jitter: Duration::ZERO,
                }));
                tokio::time::sleep(Duration::from_millis(10)).await;
                proxy.remove_fault(id);
            }
        })
    };
    let back = echoed.await.unwrap();
    toggler.await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(
        back == data,
        "echoed bytes differ (lost, duplicated or reordered)"
    );
    let stats = proxy.stats();
    assert_eq!(stats.bytes_to_backend, data.len() as u64);
    assert_eq!(stats.bytes_to_client, data.len() as u64);
}

#[tokio::test]
async fn many_connections_each_get_their_own_bytes_back() {
    let echo = echo_server().await;
    let (proxy, front) = start_kernel_proxy(vec![echo.addr], false).await;
    let mut tasks = Vec::new();
    for i in 0..16usize {
        tasks.push(tokio::spawn(async move {
            let mut s = connect_from("127.0.0.1", front).await.unwrap();
            let data: Vec<u8> = pattern(200_000 + i)
                .into_iter()
                .map(|b| b ^ i as u8)
                .collect();
            for chunk in data.chunks(10_000) {
                round_trip(&mut s, chunk).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Counted once the connections are open, again after they end.
    let total: u64 = (0..16u64).map(|i| 200_000 + i).sum();
    assert_eq!(proxy.stats().bytes_to_backend, total);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = proxy.stats();
    assert_eq!(
        (stats.bytes_to_backend, stats.bytes_to_client),
        (total, total)
    );
    assert_eq!(stats.connections_total, 16);
}

#[tokio::test]
async fn a_greeting_backend_that_closes_at_once_is_forwarded_whole() {
    let greeting = pattern(300_000);
    let backend = sending_server(greeting.clone()).await;
    let (_proxy, front) = start_kernel_proxy(vec![backend], false).await;
    for _ in 0..5 {
        let mut s = connect_from("127.0.0.1", front).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert!(
            got == greeting,
            "got {} of {} bytes",
            got.len(),
            greeting.len()
        );
    }
}

#[tokio::test]
async fn a_fault_on_a_live_kernel_connection_applies_from_the_next_byte() {
    let echo = echo_server().await;
    let (proxy, front) = start_kernel_proxy(vec![echo.addr], false).await;
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    assert!(round_trip(&mut s, b"fast").await.unwrap() < Duration::from_millis(50));
    proxy.add_fault(Fault::new(FaultKind::Latency {
        latency: Duration::from_millis(80),
        jitter: Duration::ZERO,
    }));
    let rtt = round_trip(&mut s, b"slow").await.unwrap();
    assert!(rtt >= Duration::from_millis(80), "{rtt:?}");
    proxy.clear_faults();
    // Back to fault-free: the connection stays on the copying path, still fast.
    assert!(round_trip(&mut s, b"fast again").await.unwrap() < Duration::from_millis(50));
    // A reset fault cuts it.
    proxy.add_fault(Fault::new(FaultKind::ResetPeer {
        after: Duration::ZERO,
    }));
    let outcome = observe(&mut s, Duration::from_secs(2)).await;
    assert!(
        matches!(outcome, Outcome::Reset | Outcome::Eof),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_reset_fault_cuts_a_kernel_connection() {
    let echo = echo_server().await;
    let (proxy, front) = start_kernel_proxy(vec![echo.addr], false).await;
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    round_trip(&mut s, b"hello").await.unwrap();
    proxy.add_fault(Fault::new(FaultKind::Down));
    let outcome = observe(&mut s, Duration::from_secs(2)).await;
    assert_eq!(outcome, Outcome::Reset);
}

/// A backend that reads `len` bytes, then resets the connection (SO_LINGER 0).
async fn resetting_server(len: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; len];
                let _ = stream.read_exact(&mut buf).await;
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_backend_reset_ends_the_client_connection() {
    let backend = resetting_server(1000).await;
    let (proxy, front) = start_kernel_proxy(vec![backend], false).await;
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    s.write_all(&pattern(1000)).await.unwrap();
    let outcome = observe(&mut s, Duration::from_secs(3)).await;
    assert!(
        matches!(outcome, Outcome::Reset | Outcome::Eof),
        "{outcome:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(proxy.stats().connections_active, 0);
}

#[tokio::test]
async fn a_client_reset_releases_the_backend() {
    let echo = echo_server().await;
    let (proxy, front) = start_kernel_proxy(vec![echo.addr], false).await;
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    round_trip(&mut s, b"hello").await.unwrap();
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while proxy.stats().connections_active > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "connection never released"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(proxy.stats().bytes_to_client, 5);
}
