//! With in-kernel forwarding disabled (as when BPF is unavailable: not root, old kernel), the
//! proxy falls back to splice(2) and the copying pumps, byte-exact both ways.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vers_proxy::{Fault, FaultKind};

#[tokio::test]
async fn without_bpf_the_stream_is_spliced_and_exact_across_faults() {
    // Read once per process, before the first connection: this binary never loads BPF.
    std::env::set_var("VERS_PROXY_NO_SOCKMAP", "1");
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let data = pattern(6 * 1024 * 1024);
    let stream = connect_from("127.0.0.1", front).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(61 * 1024) {
            w.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        w.shutdown().await.unwrap();
    });
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        let id = proxy.add_fault(Fault::new(FaultKind::Latency {
            latency: Duration::from_millis(2),
            jitter: Duration::ZERO,
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
        proxy.remove_fault(id);
    }
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), r.read_to_end(&mut back))
        .await
        .unwrap()
        .unwrap();
    writer.await.unwrap();
    assert!(back == data, "echoed bytes differ");
    let stats = proxy.stats();
    assert_eq!(stats.bytes_to_backend, data.len() as u64);
    assert_eq!(stats.bytes_to_client, data.len() as u64);
}
