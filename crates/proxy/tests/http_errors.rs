//! HTTP error injection against a keep-alive HTTP backend, seen by curl and by a raw client.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use vers_proxy::{Fault, FaultKind};

/// A minimal keep-alive HTTP/1.1 server answering `200 ok:<path>:<body length>`.
async fn http_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve_http(stream));
        }
    });
    addr
}

async fn serve_http(stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await.unwrap();
            if header == "\r\n" {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await.unwrap();
        let text = format!("ok:{path}:{length}");
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        reader
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .unwrap();
    }
}

/// Sends one request on a keep-alive connection and returns (status, headers, body).
async fn request(
    stream: &mut BufReader<TcpStream>,
    path: &str,
    body: &str,
) -> (u16, String, String) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: svc\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(req.as_bytes()).await.unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await.unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = String::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        stream.read_line(&mut header).await.unwrap();
        if header == "\r\n" {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        headers.push_str(&header);
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, headers, String::from_utf8(body).unwrap())
}

async fn curl_status(front: SocketAddr) -> String {
    let url = format!("http://{front}/charge");
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
            ])
            .arg(&url)
            .output()
            .expect("curl is installed");
        String::from_utf8(out.stdout).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn curl_sees_503_at_100_percent_and_200_at_0_percent() {
    let backend = http_backend().await;
    let (proxy, front) = start_proxy(vec![backend], true).await;
    assert_eq!(curl_status(front).await, "200");
    let id = proxy.add_fault(Fault::new(FaultKind::HttpError {
        status: 503,
        percent: 100.0,
    }));
    assert_eq!(curl_status(front).await, "503");
    proxy.remove_fault(id);
    proxy.add_fault(Fault::new(FaultKind::HttpError {
        status: 503,
        percent: 0.0,
    }));
    assert_eq!(curl_status(front).await, "200");
    assert_eq!(proxy.stats().http_errors_injected, 1);
}

#[tokio::test]
async fn keep_alive_connection_switches_per_request() {
    let backend = http_backend().await;
    let (proxy, front) = start_proxy(vec![backend], true).await;
    let mut conn = BufReader::new(connect_from("127.0.0.1", front).await.unwrap());
    let (status, _, body) = request(&mut conn, "/a", "12345").await;
    assert_eq!((status, body.as_str()), (200, "ok:/a:5"));

    let id = proxy.add_fault(Fault::new(FaultKind::HttpError {
        status: 429,
        percent: 100.0,
    }));
    let (status, headers, body) = request(&mut conn, "/b", "dropped body").await;
    assert_eq!(status, 429);
    assert!(headers.contains("Retry-After: 1"), "{headers}");
    assert!(body.contains("\"status\":429"), "{body}");

    proxy.remove_fault(id);
    let (status, _, body) = request(&mut conn, "/c", "xy").await;
    assert_eq!((status, body.as_str()), (200, "ok:/c:2"));
}

#[tokio::test]
async fn keep_alive_connection_switches_per_request_when_not_recording() {
    // Not recording: the connection starts on the in-kernel path and is handed over to the
    // parsing pump when the fault arrives.
    let backend = http_backend().await;
    let (proxy, front) = start_proxy(vec![backend], true).await;
    proxy.set_traffic_recording(false);
    proxy.set_kernel_forwarding(true);
    let mut conn = BufReader::new(connect_from("127.0.0.1", front).await.unwrap());
    for _ in 0..3 {
        let (status, _, body) = request(&mut conn, "/a", "12345").await;
        assert_eq!((status, body.as_str()), (200, "ok:/a:5"));
    }
    let id = proxy.add_fault(Fault::new(FaultKind::HttpError {
        status: 429,
        percent: 100.0,
    }));
    let (status, _, body) = request(&mut conn, "/b", "dropped body").await;
    assert_eq!(status, 429, "{body}");
    proxy.remove_fault(id);
    let (status, _, body) = request(&mut conn, "/c", "xy").await;
    assert_eq!((status, body.as_str()), (200, "ok:/c:2"));
}

#[tokio::test]
async fn partial_share_answers_some_requests_with_errors() {
    let backend = http_backend().await;
    let (proxy, front) = start_proxy(vec![backend], true).await;
    proxy.add_fault(Fault::new(FaultKind::HttpError {
        status: 503,
        percent: 50.0,
    }));
    let mut conn = BufReader::new(connect_from("127.0.0.1", front).await.unwrap());
    let mut errors = 0;
    for i in 0..200 {
        let (status, _, body) = request(&mut conn, &format!("/{i}"), "b").await;
        match status {
            503 => errors += 1,
            200 => assert_eq!(body, format!("ok:/{i}:1")),
            other => panic!("unexpected status {other}"),
        }
    }
    assert!((60..=140).contains(&errors), "{errors} errors out of 200");
}

#[tokio::test]
async fn tcp_services_are_not_parsed() {
    let echo = echo_server().await;
    let (proxy, front) = start_proxy(vec![echo.addr], false).await;
    proxy.add_fault(Fault::new(FaultKind::HttpError {
        status: 503,
        percent: 100.0,
    }));
    let mut s = connect_from("127.0.0.1", front).await.unwrap();
    let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let rtt = round_trip(&mut s, req).await.unwrap();
    assert!(rtt < Duration::from_secs(1));
    assert_eq!(proxy.stats().http_errors_injected, 0);
}
