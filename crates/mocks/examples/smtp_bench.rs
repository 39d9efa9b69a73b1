//! Measures mailhog's SMTP capture rate: N concurrent clients send small messages over
//! loopback for a bounded time, each on one connection with PIPELINING. The baseline, run
//! with the same clients in the same process: a bare SMTP responder that answers every
//! command and discards the mail, so the ratio shows what capturing (parsing, storing,
//! indexing for the API) costs over speaking SMTP.
//!
//! `cargo run --release -p vers-mocks --example smtp_bench -- [clients] [seconds] [maildir|memory]`

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use vers_mocks::mailhog::{serve_on, MailhogOptions};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Reads one (possibly multi-line) SMTP reply and returns its code.
async fn reply(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> BenchResult<u16> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err("server closed the connection".into());
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(line.get(..3).unwrap_or("0").parse()?);
        }
    }
}

async fn expect(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    code: u16,
) -> BenchResult<()> {
    let got = reply(reader).await?;
    if got != code {
        return Err(format!("expected {code}, got {got}").into());
    }
    Ok(())
}

async fn client(port: u16, id: usize, deadline: Instant, sent: Arc<AtomicU64>) -> BenchResult<()> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    expect(&mut reader, 220).await?;
    write.write_all(b"EHLO bench.example\r\n").await?;
    expect(&mut reader, 250).await?;
    let envelope =
        format!("MAIL FROM:<bench{id}@example.com>\r\nRCPT TO:<inbox@example.com>\r\nDATA\r\n");
    let mut n = 0u64;
    while Instant::now() < deadline {
        write.write_all(envelope.as_bytes()).await?;
        expect(&mut reader, 250).await?;
        expect(&mut reader, 250).await?;
        expect(&mut reader, 354).await?;
        let body = format!(
            "From: bench{id}@example.com\r\nTo: inbox@example.com\r\nSubject: bench {n}\r\n\r\nHello number {n}.\r\n.\r\n"
        );
        write.write_all(body.as_bytes()).await?;
        expect(&mut reader, 250).await?;
        sent.fetch_add(1, Ordering::Relaxed);
        n += 1;
    }
    write.write_all(b"QUIT\r\n").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let clients: usize = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(8);
    let seconds: u64 = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(5);
    let storage = args.get(3).cloned().unwrap_or_else(|| "maildir".into());
    let dir = tempfile::tempdir()?;
    let smtp = TcpListener::bind("127.0.0.1:0").await?;
    let api = TcpListener::bind("127.0.0.1:0").await?;
    let port = smtp.local_addr()?.port();
    let opts = MailhogOptions {
        listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
        smtp_port: port,
        api_port: api.local_addr()?.port(),
        data_dir: dir.path().to_path_buf(),
        config: serde_json::json!({ "storage": storage }),
    };
    let server = tokio::spawn(serve_on(smtp, api, opts));
    let (total, elapsed) = load(port, clients, seconds).await?;
    let log_bytes = std::fs::metadata(dir.path().join("messages.log")).map_or(0, |m| m.len());
    server.abort();
    let rate = total as f64 / elapsed;
    println!(
        "smtp_bench: {clients} clients, {elapsed:.1} s, storage {storage}: {total} messages, {rate:.0} messages/s ({log_bytes} bytes stored)"
    );
    let bare = TcpListener::bind("127.0.0.1:0").await?;
    let bare_port = bare.local_addr()?.port();
    let responder = tokio::spawn(bare_smtp(bare));
    let (bare_total, bare_elapsed) = load(bare_port, clients, seconds).await?;
    responder.abort();
    let bare_rate = bare_total as f64 / bare_elapsed;
    println!(
        "baseline, a bare SMTP responder that discards the mail: {bare_rate:.0} messages/s; mailhog / bare: {:.2}",
        rate / bare_rate
    );
    Ok(())
}

/// Runs `clients` senders against `port` for `seconds`; returns (messages, elapsed s).
async fn load(port: u16, clients: usize, seconds: u64) -> BenchResult<(u64, f64)> {
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|id| tokio::spawn(client(port, id, deadline, sent.clone())))
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok((sent.load(Ordering::Relaxed), start.elapsed().as_secs_f64()))
}

/// Answers SMTP on `listener` without keeping anything: the floor of the protocol itself.
async fn bare_smtp(listener: TcpListener) -> BenchResult<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            let mut line = String::new();
            let mut in_data = false;
            write.write_all(b"220 bare ESMTP\r\n").await?;
            loop {
                line.clear();
                if reader.read_line(&mut line).await? == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                let answer: &[u8] = if in_data {
                    if line != ".\r\n" {
                        continue;
                    }
                    in_data = false;
                    b"250 queued\r\n"
                } else {
                    match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                        Some("EHLO") => b"250-bare\r\n250 PIPELINING\r\n",
                        Some("DATA") => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        Some("QUIT") => {
                            write.write_all(b"221 bye\r\n").await?;
                            return Ok(());
                        }
                        _ => b"250 ok\r\n",
                    }
                };
                write.write_all(answer).await?;
            }
        });
    }
}
