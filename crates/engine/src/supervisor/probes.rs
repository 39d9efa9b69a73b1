//! Health probes run inside an environment's network namespace: a command, a TCP connect,
//! a byte exchange, or an HTTP GET.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::Json;
use tokio::net::TcpStream;
use vers_runtime::spawn::{self, SpawnSpec};

use super::port_owner::listeners;
use super::protocol::*;
use super::services::spawn_spec;
use super::state::*;

pub(super) async fn probe(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<ProbeRequest>,
) -> Result<Json<ProbeResult>, ApiError> {
    // The environment is locked only to read what the probe needs: probes of one
    // environment run side by side and never hold up its other requests.
    let (spec, handle) = {
        let env = d.env(&id).await?;
        let rt = env
            .rt
            .as_ref()
            .ok_or_else(|| internal("environment runtime is gone"))?;
        (env.spec.clone(), rt.handle())
    };
    let limit = Duration::from_millis(req.timeout_ms.max(1));
    let result = match req.probe {
        ProbeSpec::Exec(p) => exec_probe(&d, &spec, &p, limit).await,
        ProbeSpec::Tcp { addr, port } => match connects(&handle, addr, port, limit).await {
            Ok(()) => ProbeResult::pass(""),
            Err(e) => ProbeResult::fail(e),
        },
        ProbeSpec::TcpOrRunning {
            addr,
            port,
            service,
            replica,
            settle_ms,
        } => match connects(&handle, addr, port, limit).await {
            Ok(()) => ProbeResult::pass(""),
            Err(e) => running_for(&d, &id, &service, replica, port, settle_ms)
                .await
                .unwrap_or_else(|why| ProbeResult::fail(format!("{e}, and {why}"))),
        },
        ProbeSpec::Exchange {
            addr,
            port,
            send,
            expect_at,
            expect,
        } => {
            let fut = handle.spawn(async move {
                tokio::time::timeout(limit, exchange(addr, port, &send, expect_at, &expect)).await
            });
            match fut.await {
                Ok(Ok(Ok(()))) => ProbeResult::pass(""),
                Ok(Ok(Err(e))) => ProbeResult::fail(e),
                _ => ProbeResult::fail(format!("{addr}:{port}: no answer in time")),
            }
        }
        ProbeSpec::Http {
            addr,
            port,
            path,
            headers,
        } => {
            let fut = handle.spawn(async move {
                tokio::time::timeout(limit, http_get(addr, port, &path, &headers)).await
            });
            match fut.await {
                Ok(Ok(Ok(code))) if (200..300).contains(&code) => {
                    ProbeResult::pass(format!("HTTP {code}"))
                }
                Ok(Ok(Ok(code))) => ProbeResult::fail(format!("HTTP {code}")),
                Ok(Ok(Err(e))) => ProbeResult::fail(e),
                _ => ProbeResult::fail("timed out"),
            }
        }
    };
    Ok(Json(result))
}

/// Connects to `addr:port` from the environment's namespace (the runtime `ns`) within
/// `limit`; the error says what went wrong.
async fn connects(
    ns: &tokio::runtime::Handle,
    addr: Ipv4Addr,
    port: u16,
    limit: Duration,
) -> Result<(), String> {
    let fut = ns
        .spawn(async move { tokio::time::timeout(limit, TcpStream::connect((addr, port))).await });
    match fut.await {
        Ok(Ok(Ok(_))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("connect {addr}:{port}: {e}")),
        _ => Err(format!("connect {addr}:{port}: timed out")),
    }
}

/// Passes when process `replica` of `service` has run `settle` without exiting; else says why
/// not (for the failure message).
async fn running_for(
    d: &Daemon,
    env: &str,
    service: &str,
    replica: u32,
    port: u16,
    settle_ms: u64,
) -> Result<ProbeResult, String> {
    let env = d.env(env).await.map_err(|e| e.1)?;
    let svc = env
        .services
        .iter()
        .find(|s| s.spec.name == service)
        .ok_or_else(|| format!("{service} is not running"))?;
    let proc = svc
        .procs
        .get(replica as usize)
        .or(svc.procs.first())
        .ok_or_else(|| format!("{service} has no process"))?;
    if proc.exit.lock().map(|e| e.is_some()).unwrap_or(true) {
        return Err(format!("{service} has exited"));
    }
    // A listener on the port that refused the probe is bound to an address no one else
    // reaches (`127.0.0.1`, as Flask's `app.run()` does): waiting cannot help.
    if let Some(bound) = loopback_listener(proc.pid, port) {
        return Ok(ProbeResult {
            healthy: false,
            detail: format!(
                "{service} listens on {bound} only, which no other service can reach: \
                 bind 0.0.0.0 (or the address in $HOST) instead"
            ),
            running_only: false,
            fatal: true,
        });
    }
    if settle_ms == u64::MAX {
        return Err(format!("{service} does not listen yet"));
    }
    let settle = Duration::from_millis(settle_ms);
    let ran = proc.started.elapsed();
    if ran < settle {
        return Err(format!(
            "{service} has run {} ms of the {} ms a worker needs",
            ran.as_millis(),
            settle.as_millis()
        ));
    }
    watch_worker(d, service, proc.pid, port);
    Ok(ProbeResult {
        healthy: true,
        detail: format!("listens on no port, running for {} ms", ran.as_millis()),
        running_only: true,
        fatal: false,
    })
}

/// Starts watching process `pid` of `service`, just taken for a worker, once per process
/// (see [`crate::workers`]).
fn watch_worker(d: &Daemon, service: &str, pid: i32, port: u16) {
    static WATCHED: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());
    {
        let Ok(mut watched) = WATCHED.lock() else {
            return;
        };
        // Forget processes that are gone, so the list stays as long as the live workers.
        watched.retain(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if watched.contains(&pid) {
            return;
        }
        watched.push(pid);
    }
    // Listed as a worker if it keeps running for `CONFIRM` never listening on `port`; taken
    // off the list the moment it listens; left alone if it exits.
    let (state_dir, name) = (d.project.state_dir.clone(), service.to_string());
    tokio::spawn(async move {
        let deadline = std::time::Instant::now() + crate::workers::CONFIRM;
        loop {
            if listens(pid, port) {
                return crate::workers::set_listed(&state_dir, &name, false);
            }
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
            if std::time::Instant::now() > deadline {
                return crate::workers::set_listed(&state_dir, &name, true);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

/// Whether a socket listens on TCP `port`, on any address, in the network namespace of
/// process `pid`.
fn listens(pid: i32, port: u16) -> bool {
    !listeners(&format!("/proc/{pid}"), port).is_empty()
}

/// A loopback address (`127.0.0.1:3000`) a socket listens on, on TCP `port`, in the
/// network namespace of process `pid` (from `/proc/PID/net/tcp{,6}`), when no socket
/// listens there on any other address: such an app is reachable from its own pod only.
fn loopback_listener(pid: i32, port: u16) -> Option<String> {
    let mut loopback = None;
    for l in listeners(&format!("/proc/{pid}"), port) {
        match proc_net_addr(&l.addr, l.v6) {
            Some(ip) if ip.is_loopback() => {
                loopback = Some(match ip {
                    IpAddr::V4(_) => format!("{ip}:{port}"),
                    IpAddr::V6(_) => format!("[{ip}]:{port}"),
                })
            }
            // Reachable from the other pods (or unreadable): the probe failed for
            // another reason (a full backlog, a frozen process).
            _ => return None,
        }
    }
    loopback
}

/// An address as `/proc/net/tcp{,6}` writes it (hex, in host-order 32-bit words).
fn proc_net_addr(hex: &str, v6: bool) -> Option<IpAddr> {
    let words: Vec<u32> = (0..hex.len() / 8)
        .filter_map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    if v6 {
        <[u8; 16]>::try_from(bytes.as_slice())
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
    } else {
        <[u8; 4]>::try_from(bytes.as_slice())
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
    }
}

async fn exec_probe(d: &Daemon, env: &EnvSpec, p: &ProcessSpec, limit: Duration) -> ProbeResult {
    let spec = spawn_spec(d, env, p, None);
    let spec = SpawnSpec {
        stdout: None,
        stderr: None,
        ..spec
    };
    let mut cmd = match spawn::spawn_command(&spec) {
        Ok(c) => c,
        Err(e) => return ProbeResult::fail(e.to_string()),
    };
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    match tokio::time::timeout(limit, cmd.output()).await {
        Ok(Ok(out)) => {
            let mut detail = String::from_utf8_lossy(&out.stdout).into_owned();
            detail.push_str(&String::from_utf8_lossy(&out.stderr));
            let mut detail = detail.trim().to_string();
            if !out.status.success() {
                // A silent check (`curl -sf …`) still says how it failed.
                let how = match out.status.code() {
                    Some(code) => format!("health command exited with code {code}"),
                    None => format!("health command ended by {}", out.status),
                };
                detail = if detail.is_empty() {
                    format!("{how}, printing nothing")
                } else {
                    format!("{how}: {detail}")
                };
            }
            ProbeResult {
                healthy: out.status.success(),
                detail,
                running_only: false,
                fatal: false,
            }
        }
        Ok(Err(e)) => ProbeResult::fail(e.to_string()),
        Err(_) => ProbeResult::fail(format!("health command timed out after {limit:?}")),
    }
}
/// Connects, writes `send`, and checks that the reply holds `expect` at `expect_at`.
async fn exchange(
    addr: Ipv4Addr,
    port: u16,
    send: &[u8],
    expect_at: usize,
    expect: &[u8],
) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect((addr, port))
        .await
        .map_err(|e| format!("connect {addr}:{port}: {e}"))?;
    if !send.is_empty() {
        stream
            .write_all(send)
            .await
            .map_err(|e| format!("write to {addr}:{port}: {e}"))?;
    }
    let want = expect_at + expect.len();
    let mut reply = Vec::with_capacity(want);
    while reply.len() < want {
        let mut buf = [0u8; 512];
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read from {addr}:{port}: {e}"))?;
        if n == 0 {
            return Err(format!(
                "{addr}:{port} closed the connection after {} bytes",
                reply.len()
            ));
        }
        reply.extend_from_slice(&buf[..n]);
    }
    if &reply[expect_at..want] == expect {
        Ok(())
    } else {
        Err(format!(
            "{addr}:{port} answered an unexpected reply ({} bytes)",
            reply.len()
        ))
    }
}

/// `GET path` over HTTP/1.1 and return the status code.
async fn http_get(
    addr: Ipv4Addr,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<u16, String> {
    let stream = TcpStream::connect((addr, port))
        .await
        .map_err(|e| format!("connect {addr}:{port}: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = hyper::Request::get(path).header("host", format!("{addr}:{port}"));
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    Ok(resp.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_read_as_written_by_the_kernel() {
        let v4 = |h| proc_net_addr(h, false).map(|a| a.to_string());
        assert_eq!(v4("0100007F").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("00000000").as_deref(), Some("0.0.0.0"));
        assert_eq!(
            proc_net_addr("00000000000000000000000001000000", true).map(|a| a.to_string()),
            Some("::1".to_string())
        );
        assert_eq!(v4("0100"), None);
    }

    #[test]
    fn only_a_listener_on_loopback_alone_is_reported() {
        let me = std::process::id() as i32;
        let lo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = lo.local_addr().unwrap().port();
        assert_eq!(
            loopback_listener(me, port),
            Some(format!("127.0.0.1:{port}"))
        );
        // (Not checked after closing it: the table is the whole namespace's, and any other
        // process may bind the freed port at once.)
        drop(lo);
        let any = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = any.local_addr().unwrap().port();
        assert_eq!(loopback_listener(me, port), None);
    }
}
