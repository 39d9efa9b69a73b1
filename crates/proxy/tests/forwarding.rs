//! Fault-free forwarding: byte-exact pass-through, balancing, dead backends, stats and stop.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn large_transfer_is_byte_exact() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let data = pattern(8 * 1024 * 1024);
    let back = echo_through(front, data.clone(), false, Duration::from_secs(20)).await;
    assert_eq!(back.len(), data.len());
    assert!(back == data, "echoed bytes differ");
    let stats = proxy.stats();
    assert_eq!(stats.bytes_to_backend, data.len() as u64);
    assert_eq!(stats.bytes_to_client, data.len() as u64);
    assert_eq!(stats.connections_total, 1);
}

#[tokio::test]
async fn balances_across_backends_and_skips_a_dead_one() {
    let a = echo_server().await;
    let b = echo_server().await;
    let dead = dead_addr().await;
    let (proxy, front) = start_proxy(vec![dead, a.addr, b.addr], false).await;
    let mut conns = Vec::new();
    for i in 0..10u8 {
        let mut s = connect_from("127.0.0.1", front).await.unwrap();
        round_trip(&mut s, &[i; 16]).await.unwrap();
        conns.push(s);
    }
    assert_eq!(a.accepted() + b.accepted(), 10);
    assert_eq!(a.accepted(), 5, "least-connections spreads evenly");
    assert_eq!(proxy.stats().connections_active, 10);
    drop(conns);

    proxy.set_backends(vec![b.addr]);
    let before = b.accepted();
    for _ in 0..3 {
        let mut s = connect_from("127.0.0.1", front).await.unwrap();
        round_trip(&mut s, b"only b").await.unwrap();
    }
    assert_eq!(b.accepted(), before + 3);
    assert_eq!(a.accepted(), 5);
}

#[tokio::test]
async fn no_live_backend_closes_the_client() {
    let (proxy, front) = start_proxy(vec![dead_addr().await], false).await;
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    s.write_all(b"hello").await.unwrap();
    let outcome = observe(&mut s, Duration::from_secs(5)).await;
    assert!(
        matches!(outcome, Outcome::Reset | Outcome::Eof),
        "{outcome:?}"
    );
    assert_eq!(proxy.stats().connections_rejected, 1);
}

#[tokio::test]
async fn stop_ends_serve_and_cuts_connections() {
    let echo = echo_server().await;
    let proxy = vers_proxy::ServiceProxy::new("svc", vec![echo.addr], false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = listener.local_addr().unwrap();
    let serving = proxy.clone();
    let task = tokio::spawn(async move { serving.serve(listener).await });
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    round_trip(&mut s, b"ping").await.unwrap();
    proxy.stop();
    let served = tokio::time::timeout(Duration::from_secs(2), task).await;
    assert!(matches!(served, Ok(Ok(Ok(())))));
    let outcome = observe(&mut s, Duration::from_secs(2)).await;
    assert!(
        matches!(outcome, Outcome::Eof | Outcome::Reset),
        "{outcome:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(proxy.stats().connections_active, 0);
}
