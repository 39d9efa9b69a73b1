//! Host forwards: a listener on 127.0.0.1 per published port, each connection carried into
//! the environment's network namespace to the service's front address. Only root and the
//! project's owner may use them (see [`super::access::check_tcp_peer`]): a connection from
//! any other local user is closed before a byte is read or forwarded, and logged with its
//! uid. Processes inside the environment reach the services by name and are not affected.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use axum::extract::{Path as UrlPath, State};
use axum::Json;

use super::protocol::{Reply, ServiceSpec, TakeHostPorts};
use super::state::{internal, not_found, ok, ApiError, Daemon, Shared};

/// A host forward: (port in the environment, host address, accept task).
pub(super) type Forward = (u16, String, JoinHandle<()>);

/// Opens the host forwards of a service. Connections are admitted from the uids in
/// `allowed` only. A fixed host port held by another environment of this project (a
/// checked-out branch, a paused HEAD) is taken from it: it gets a free port instead.
pub(super) async fn open(
    d: &Daemon,
    spec: &ServiceSpec,
    ns: &tokio::runtime::Handle,
    allowed: Vec<u32>,
) -> Result<Vec<Forward>, ApiError> {
    let mut forwards = Vec::new();
    for hp in &spec.host_ports {
        let mut opened = open_one(spec, ns, &allowed, hp.container, hp.host).await;
        if let (Err(e), Some(host)) = (&opened, hp.host) {
            if e.kind() == std::io::ErrorKind::AddrInUse && release(d, host, None).await {
                opened = open_one(spec, ns, &allowed, hp.container, hp.host).await;
            }
        }
        match opened {
            Ok(f) => forwards.push(f),
            Err(e) => {
                for (_, _, task) in forwards {
                    JoinHandle::abort(&task);
                }
                return Err(internal(match (e.kind(), hp.host) {
                    (std::io::ErrorKind::AddrInUse, Some(host)) => in_use(spec, host, hp.container),
                    _ => format!("host port {} for {}: {e}", hp.host.unwrap_or(0), spec.name),
                }));
            }
        }
    }
    Ok(forwards)
}

/// The error for a fixed host port another program holds: who holds it and the two fixes.
fn in_use(spec: &ServiceSpec, host: u16, container: u16) -> String {
    let holder = match super::port_owner::listener_of(host) {
        Some((pid, comm)) => format!("{comm} (pid {pid}) listens there"),
        None => "another program holds it".to_string(),
    };
    format!(
        "host port {host} for {} is in use: {holder}; stop it, or map another host port in \
         `ports:` of {} (e.g. \"{}:{container}\")",
        spec.name,
        spec.name,
        host.saturating_add(1)
    )
}

/// Whether forward `f` listens on host port `host`.
fn listens_on(f: &Forward, host: u16) -> bool {
    f.1.parse::<SocketAddr>().is_ok_and(|a| a.port() == host)
}

/// Listens on `host` (else a free port) of 127.0.0.1 for port `container` of a service.
async fn open_one(
    spec: &ServiceSpec,
    ns: &tokio::runtime::Handle,
    allowed: &[u32],
    container: u16,
    host: Option<u16>,
) -> std::io::Result<Forward> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, host.unwrap_or(0))).await?;
    let local = listener.local_addr()?;
    let target = SocketAddr::from((spec.front, container));
    let what = format!("host port {} of {}", local.port(), spec.name);
    let kafka = spec
        .kafka_ports
        .contains(&container)
        .then_some(super::kafka_forward::Advertised {
            host: local,
            broker_port: container,
        });
    let task = tokio::spawn(forward_loop(
        listener,
        ns.clone(),
        target,
        allowed.to_vec(),
        what,
        kafka,
    ));
    Ok((container, local.to_string(), task))
}

/// Stops the forward on host port `host` of whichever environment but `except` holds it,
/// and gives that environment a free port for it instead. Says whether one was found.
async fn release(d: &Daemon, host: u16, except: Option<&str>) -> bool {
    let ids: Vec<String> = d.envs.lock().await.keys().cloned().collect();
    for id in ids.iter().filter(|id| Some(id.as_str()) != except) {
        let Ok(mut env) = d.env(id).await else {
            continue;
        };
        let Some(ns) = env.rt.as_ref().map(|rt| rt.handle()) else {
            continue;
        };
        for svc in env.services.iter_mut() {
            let Some(i) = svc.forwards.iter().position(|f| listens_on(f, host)) else {
                continue;
            };
            let (container, _, task) = svc.forwards.remove(i);
            task.abort();
            let _ = task.await;
            let allowed = super::access::allowed_uids(&d.project);
            if let Ok(f) = open_one(&svc.spec, &ns, &allowed, container, None).await {
                svc.forwards.push(f);
            }
            return true;
        }
    }
    false
}

/// `POST /v1/envs/{id}/host-ports`: the environment takes the fixed host ports listed
/// (`vers checkout`), from whichever environment holds them; its forwards of those
/// ports on free host ports close.
pub(super) async fn take_host_ports(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<TakeHostPorts>,
) -> Result<Json<Reply>, ApiError> {
    for port in &req.ports {
        let held = {
            let env = d.env(&id).await?;
            env.services.iter().any(|s| {
                s.spec.name == port.service
                    && s.forwards
                        .iter()
                        .any(|f| f.0 == port.container && listens_on(f, port.host))
            })
        };
        if held {
            continue;
        }
        release(&d, port.host, Some(&id)).await;
        let mut env = d.env(&id).await?;
        let ns = env
            .rt
            .as_ref()
            .map(|rt| rt.handle())
            .ok_or_else(|| internal("environment runtime is gone"))?;
        let svc = env
            .services
            .iter_mut()
            .find(|s| s.spec.name == port.service)
            .ok_or_else(|| not_found(&format!("service {} of {id}", port.service)))?;
        let allowed = super::access::allowed_uids(&d.project);
        let opened = open_one(&svc.spec, &ns, &allowed, port.container, Some(port.host))
            .await
            .map_err(|e| internal(format!("host port {} for {}: {e}", port.host, port.service)))?;
        if let Some(i) = svc.forwards.iter().position(|f| f.0 == port.container) {
            let (_, _, task) = svc.forwards.remove(i);
            task.abort();
        }
        svc.forwards.push(opened);
    }
    Ok(ok())
}

/// Accepts host connections from `allowed` uids and splices each into the environment's
/// namespace; others are closed unread and logged. With `kafka`, connections go through
/// the Kafka forward, which advertises the host address in place of the broker's.
async fn forward_loop(
    listener: TcpListener,
    ns: tokio::runtime::Handle,
    target: SocketAddr,
    allowed: Vec<u32>,
    what: String,
    kafka: Option<super::kafka_forward::Advertised>,
) {
    let mut refused = 0u64;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if let Err(why) = super::access::check_tcp_peer(&stream, &allowed) {
            refused += 1;
            super::access::log_refused(&what, &why, &allowed, refused);
            continue;
        }
        let Ok(std_stream) = stream.into_std() else {
            continue;
        };
        let kafka = kafka.clone();
        ns.spawn(async move {
            let Ok(mut inbound) = TcpStream::from_std(std_stream) else {
                return;
            };
            let Ok(mut outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            match kafka {
                Some(advertised) => {
                    super::kafka_forward::relay(inbound, outbound, advertised).await
                }
                None => {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            }
        });
    }
}
