//! Host forwards: a listener on 127.0.0.1 per published port, each connection carried into
//! the environment's network namespace to the service's front address. Only root and the
//! project's owner may use them (see [`super::access::check_tcp_peer`]): a connection from
//! any other local user is closed before a byte is read or forwarded, and logged with its
//! uid. Processes inside the environment reach the services by name and are not affected.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::protocol::ServiceSpec;
use super::state::{internal, ApiError};

/// Opens the host forwards of a service: (port in the environment, host address, task).
/// Connections are admitted from the uids in `allowed` only.
pub(super) async fn open(
    spec: &ServiceSpec,
    ns: &tokio::runtime::Handle,
    allowed: Vec<u32>,
) -> Result<Vec<(u16, String, JoinHandle<()>)>, ApiError> {
    let mut forwards = Vec::new();
    for hp in &spec.host_ports {
        let bound = TcpListener::bind((Ipv4Addr::LOCALHOST, hp.host.unwrap_or(0))).await;
        let listener = match bound {
            Ok(l) => l,
            Err(e) => {
                for (_, _, task) in forwards {
                    JoinHandle::abort(&task);
                }
                return Err(internal(format!(
                    "host port {} for {}: {e}",
                    hp.host.unwrap_or(0),
                    spec.name
                )));
            }
        };
        let local = listener.local_addr().map_err(internal)?;
        let target = SocketAddr::from((spec.front, hp.container));
        let what = format!("host port {} of {}", local.port(), spec.name);
        let task = tokio::spawn(forward_loop(
            listener,
            ns.clone(),
            target,
            allowed.clone(),
            what,
        ));
        forwards.push((hp.container, local.to_string(), task));
    }
    Ok(forwards)
}

/// Accepts host connections from `allowed` uids and splices each into the environment's
/// namespace; others are closed unread and logged.
async fn forward_loop(
    listener: TcpListener,
    ns: tokio::runtime::Handle,
    target: SocketAddr,
    allowed: Vec<u32>,
    what: String,
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
        ns.spawn(async move {
            let Ok(mut inbound) = TcpStream::from_std(std_stream) else {
                return;
            };
            let Ok(mut outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}
