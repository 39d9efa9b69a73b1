//! With in-kernel forwarding disabled (as when BPF is unavailable: not root, old kernel), the
//! proxy falls back to splice(2) and the copying pumps, byte-exact both ways.

mod common;

use std::time::Duration;

use common::*;
use vers_proxy::{Fault, FaultKind};

#[tokio::test]
async fn without_bpf_the_stream_is_spliced_and_exact_across_faults() {
    // Read once per process, before the first connection: this binary never loads BPF.
    std::env::set_var("VERS_PROXY_NO_SOCKMAP", "1");
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    let data = pattern(6 * 1024 * 1024);
    let echoed = tokio::spawn(echo_through(
        front,
        data.clone(),
        true,
        Duration::from_secs(60),
    ));
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        let id = proxy.add_fault(Fault::new(FaultKind::Latency {
            latency: Duration::from_millis(2),
            jitter: Duration::ZERO,
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
        proxy.remove_fault(id);
    }
    let back = echoed.await.unwrap();
    assert!(back == data, "echoed bytes differ");
    let stats = proxy.stats();
    assert_eq!(stats.bytes_to_backend, data.len() as u64);
    assert_eq!(stats.bytes_to_client, data.len() as u64);
}
