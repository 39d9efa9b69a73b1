//! Each fault kind against real loopback sockets, plus source filtering, expiry and removal.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vers_proxy::{Fault, FaultKind};

const MS: fn(u64) -> Duration = Duration::from_millis;

#[tokio::test]
async fn latency_delays_new_and_existing_connections_until_removed() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let mut existing = connect_from("127.0.0.1", front).await.unwrap();
    assert!(round_trip(&mut existing, b"warm").await.unwrap() < MS(50));

    let id = proxy.add_fault(Fault::new(FaultKind::Latency {
        latency: MS(100),
        jitter: Duration::ZERO,
    }));
    let rtt = round_trip(&mut existing, b"ping").await.unwrap();
    assert!(
        rtt >= MS(100) && rtt < MS(300),
        "existing connection rtt {rtt:?}"
    );
    let mut fresh = connect_from("127.0.0.1", front).await.unwrap();
    let rtt = round_trip(&mut fresh, b"ping").await.unwrap();
    assert!(
        rtt >= MS(100) && rtt < MS(300),
        "new connection rtt {rtt:?}"
    );

    assert!(proxy.remove_fault(id));
    assert!(!proxy.remove_fault(id));
    let rtt = round_trip(&mut existing, b"ping").await.unwrap();
    assert!(rtt < MS(50), "after removal {rtt:?}");
}

#[tokio::test]
async fn jitter_stays_within_its_bounds() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    proxy.add_fault(Fault::new(FaultKind::Latency {
        latency: MS(60),
        jitter: MS(40),
    }));
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..12 {
        samples.push(round_trip(&mut s, b"j").await.unwrap());
    }
    let min = *samples.iter().min().unwrap();
    let max = *samples.iter().max().unwrap();
    assert!(min >= MS(20), "min {min:?}");
    assert!(max < MS(100) + MS(150), "max {max:?}");
    assert!(max - min > MS(5), "no jitter visible: {samples:?}");
}

#[tokio::test]
async fn bandwidth_caps_throughput() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    proxy.add_fault(Fault::new(FaultKind::Bandwidth { rate_kbps: 200 }));
    let data = pattern(300_000);
    let stream = connect_from("127.0.0.1", front).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    let start = Instant::now();
    let sent = data.clone();
    tokio::spawn(async move { w.write_all(&sent).await.unwrap() });
    let mut back = vec![0u8; data.len()];
    r.read_exact(&mut back).await.unwrap();
    let elapsed = start.elapsed();
    assert!(back == data);
    // 300 kB at 200 kB/s takes about 1.5 s.
    assert!(
        elapsed >= MS(1200) && elapsed < MS(4000),
        "took {elapsed:?}"
    );
}

#[tokio::test]
async fn down_refuses_new_connections_and_cuts_existing_ones() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let mut existing = connect_from("127.0.0.1", front).await.unwrap();
    round_trip(&mut existing, b"up").await.unwrap();

    let id = proxy.add_fault(Fault::new(FaultKind::Down));
    let outcome = observe(&mut existing, MS(1000)).await;
    assert!(
        matches!(outcome, Outcome::Reset | Outcome::Eof),
        "existing: {outcome:?}"
    );
    let mut fresh = connect_from("127.0.0.1", front).await.unwrap();
    let _ = fresh.write_all(b"hello").await;
    let outcome = observe(&mut fresh, MS(1000)).await;
    assert!(
        matches!(outcome, Outcome::Reset | Outcome::Eof),
        "new: {outcome:?}"
    );
    assert!(proxy.stats().connections_rejected >= 1);

    proxy.remove_fault(id);
    let mut again = connect_from("127.0.0.1", front).await.unwrap();
    round_trip(&mut again, b"back").await.unwrap();
}

#[tokio::test]
async fn reset_peer_gives_connection_reset() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    round_trip(&mut s, b"x").await.unwrap();
    let start = Instant::now();
    proxy.add_fault(Fault::new(FaultKind::ResetPeer { after: MS(200) }));
    let outcome = observe(&mut s, MS(2000)).await;
    assert_eq!(outcome, Outcome::Reset);
    assert!(
        start.elapsed() >= MS(190),
        "reset too early: {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn timeout_stalls_data_and_releases_it_when_removed() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    let id = proxy.add_fault(Fault::new(FaultKind::Timeout {
        after: Duration::ZERO,
    }));
    s.write_all(b"held").await.unwrap();
    assert_eq!(observe(&mut s, MS(300)).await, Outcome::Silent);
    proxy.remove_fault(id);
    let mut back = [0u8; 4];
    tokio::time::timeout(MS(1000), s.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&back, b"held");
}

#[tokio::test]
async fn timeout_with_delay_closes_the_connection() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    let start = Instant::now();
    proxy.add_fault(Fault::new(FaultKind::Timeout { after: MS(300) }));
    s.write_all(b"lost").await.unwrap();
    let outcome = observe(&mut s, MS(2000)).await;
    assert_eq!(outcome, Outcome::Eof);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= MS(290) && elapsed < MS(1500),
        "closed after {elapsed:?}"
    );
}

#[tokio::test]
async fn limit_data_closes_after_the_byte_budget() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    proxy.add_fault(Fault::new(FaultKind::LimitData { bytes: 1000 }));
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    s.write_all(&pattern(5000)).await.unwrap();
    let mut back = Vec::new();
    // The close may surface as EOF or as a reset; either way exactly the budget arrived.
    let _ = tokio::time::timeout(MS(2000), s.read_to_end(&mut back))
        .await
        .unwrap();
    assert_eq!(back.len(), 1000);
    assert!(back[..] == pattern(5000)[..1000]);
}

#[tokio::test]
async fn slicer_splits_and_delays_the_response() {
    let payload = pattern(1000);
    let backend = sending_server(payload.clone()).await;
    let (proxy, front) = start_proxy(vec![backend], false).await;
    proxy.add_fault(Fault::new(FaultKind::Slicer {
        avg_size: 100,
        delay: MS(20),
    }));
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    let start = Instant::now();
    let mut back = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        reads += 1;
        back.extend_from_slice(&buf[..n]);
    }
    assert_eq!(back, payload);
    assert!(reads >= 5, "only {reads} reads");
    assert!(start.elapsed() >= MS(100), "took {:?}", start.elapsed());
}

#[tokio::test]
async fn slow_close_delays_the_close() {
    let backend = sending_server(b"bye".to_vec()).await;
    let (proxy, front) = start_proxy(vec![backend], false).await;
    proxy.add_fault(Fault::new(FaultKind::SlowClose { delay: MS(300) }));
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    let start = Instant::now();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"bye");
    assert!(
        start.elapsed() >= MS(290),
        "closed after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn from_filter_affects_only_the_listed_source() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    proxy
        .add_fault(Fault::new(FaultKind::Isolate).from_sources(vec!["127.0.0.2".parse().unwrap()]));
    let mut blocked = connect_from("127.0.0.2", front).await.unwrap();
    let _ = blocked.write_all(b"hello").await;
    let outcome = observe(&mut blocked, MS(1000)).await;
    assert!(
        matches!(outcome, Outcome::Reset | Outcome::Eof),
        "{outcome:?}"
    );
    let mut allowed = connect_from("127.0.0.3", front).await.unwrap();
    round_trip(&mut allowed, b"hello").await.unwrap();
}

#[tokio::test]
async fn until_expires_the_fault_by_itself() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let mut existing = connect_from("127.0.0.1", front).await.unwrap();
    proxy.add_fault(
        Fault::new(FaultKind::Timeout {
            after: Duration::ZERO,
        })
        .lasting(MS(300)),
    );
    existing.write_all(b"wait").await.unwrap();
    assert_eq!(observe(&mut existing, MS(150)).await, Outcome::Silent);
    let mut back = [0u8; 4];
    tokio::time::timeout(MS(1000), existing.read_exact(&mut back))
        .await
        .expect("the stall ends when the fault expires")
        .unwrap();
    assert_eq!(&back, b"wait");
    assert!(proxy.faults().is_empty());
}

#[tokio::test]
async fn loss_drops_new_connections_until_cleared() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    proxy.add_fault(Fault::new(FaultKind::Loss { percent: 100.0 }));
    for _ in 0..4 {
        let mut s = connect_from("127.0.0.1", front).await.unwrap();
        let _ = s.write_all(b"ping").await;
        let outcome = observe(&mut s, MS(200)).await;
        assert!(
            matches!(outcome, Outcome::Reset | Outcome::Eof | Outcome::Silent),
            "{outcome:?}"
        );
    }
    proxy.clear_faults();
    assert!(proxy.faults().is_empty());
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    round_trip(&mut s, b"ping").await.unwrap();
}

#[tokio::test]
async fn faults_are_listed_and_serializable() {
    let (proxy, _front) = start_proxy(vec![dead_addr().await], false).await;
    let id = proxy.add_fault(Fault::new(FaultKind::HttpError {
        status: 429,
        percent: 25.0,
    }));
    let listed = proxy.faults();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, id);
    let json = serde_json::to_string(&listed[0].1).unwrap();
    assert!(json.contains("\"type\":\"http_error\""), "{json}");
    let back: Fault = serde_json::from_str(&json).unwrap();
    assert_eq!(back, listed[0].1);
}
