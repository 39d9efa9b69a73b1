//! Traffic recording: connections and bytes per client address, HTTP requests by path
//! template with status and latency, as curl and raw TCP clients produce them.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use vers_proxy::{Fault, FaultKind};

/// A keep-alive HTTP/1.1 server answering `201` to POST and `200` to everything else.
async fn http_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}

async fn serve(stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await.unwrap();
        let status = if line.starts_with("POST") {
            "201 Created"
        } else {
            "200 OK"
        };
        let response = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok");
        if reader
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn curl(args: Vec<String>) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "5"])
            .args(&args)
            .output()
            .expect("curl is installed")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "curl {:?}", out);
}

#[tokio::test]
async fn http_requests_are_recorded_by_template_with_statuses() {
    let (proxy, front) = start_proxy(vec![http_backend().await], true).await;
    // Three requests on one keep-alive connection, ids collapsed to one template.
    curl(vec![
        format!("http://{front}/orders/42?expand=1"),
        format!("http://{front}/orders/43"),
        format!("http://{front}/orders/3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    ])
    .await;
    curl(vec![
        "-X".into(),
        "POST".into(),
        "-d".into(),
        "{}".into(),
        format!("http://{front}/orders"),
    ])
    .await;
    proxy.add_fault(Fault::new(FaultKind::HttpError {
        status: 503,
        percent: 100.0,
    }));
    curl(vec![format!("http://{front}/orders/44")]).await;
    proxy.clear_faults();

    let t = proxy.traffic();
    let get = t
        .requests
        .iter()
        .find(|r| r.method == "GET")
        .expect("GET recorded");
    assert_eq!(get.path, "/orders/{id}");
    assert_eq!(get.count, 4, "{t:?}");
    assert_eq!(get.statuses.get(&200), Some(&3), "{t:?}");
    assert_eq!(get.statuses.get(&503), Some(&1), "{t:?}");
    assert_eq!(get.latency_buckets.iter().sum::<u64>(), 4);
    let post = t
        .requests
        .iter()
        .find(|r| r.method == "POST")
        .expect("POST");
    assert_eq!(post.path, "/orders");
    assert_eq!(post.statuses.get(&201), Some(&1));
    assert_eq!(t.connections.len(), 1, "one client address: {t:?}");
    assert_eq!(t.connections[0].connections, 3);
    assert!(t.connections[0].bytes_in > 100 && t.connections[0].bytes_out > 100);
    let order: Vec<(&str, u16)> = t
        .calls
        .iter()
        .map(|c| (c.method.as_deref().unwrap(), c.status.unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("GET", 200),
            ("GET", 200),
            ("GET", 200),
            ("POST", 201),
            ("GET", 503)
        ]
    );
    proxy.clear_traffic();
    assert!(proxy.traffic().requests.is_empty());
}

#[tokio::test]
async fn tcp_connections_are_tallied_per_client_address() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    for (src, rounds) in [("127.0.0.2", 3), ("127.0.0.3", 1)] {
        let mut s = connect_from(src, front).await.unwrap();
        for _ in 0..rounds {
            round_trip(&mut s, &pattern(1000)).await.unwrap();
        }
    }
    let mut s = connect_from("127.0.0.2", front).await.unwrap();
    round_trip(&mut s, b"x").await.unwrap();
    let t = proxy.traffic();
    assert!(t.requests.is_empty());
    let two: IpAddr = "127.0.0.2".parse().unwrap();
    let three: IpAddr = "127.0.0.3".parse().unwrap();
    let a = t.connections.iter().find(|c| c.peer == Some(two)).unwrap();
    let b = t
        .connections
        .iter()
        .find(|c| c.peer == Some(three))
        .unwrap();
    assert_eq!((a.connections, a.bytes_in, a.bytes_out), (2, 3001, 3001));
    assert_eq!((b.connections, b.bytes_in, b.bytes_out), (1, 1000, 1000));
    assert!(a.first_us > 0 && a.last_us >= a.first_us);
    assert_eq!(t.calls.len(), 3, "one event per connection");
    // Recording off: new connections are not counted.
    proxy.set_traffic_recording(false);
    let mut s = connect_from("127.0.0.3", front).await.unwrap();
    round_trip(&mut s, b"y").await.unwrap();
    let again = proxy.traffic();
    let b = again
        .connections
        .iter()
        .find(|c| c.peer == Some(three))
        .unwrap();
    assert_eq!(b.connections, 1);
}
