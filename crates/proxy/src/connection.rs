//! Life of one client connection: admission (down, loss), backend choice, the two pumps, and
//! the control loop that cuts, times out or resets the connection when faults say so.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::fault::FaultId;
use crate::kernel::{self, EndWatch, Handover};
use crate::pump::{self, FaultCache, Flow};
use crate::service::Shared;
use crate::stats::ActiveGuard;
use crate::traffic::ConnTap;

/// How often a lost (stalled) connection checks whether its client hung up.
const STALL_POLL: Duration = Duration::from_millis(500);

/// How a connection is torn down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Orderly close (FIN).
    Close,
    /// Abortive close toward the client (RST through SO_LINGER 0).
    Reset,
}

/// Serves one accepted client connection until it ends.
pub(crate) async fn handle(shared: Arc<Shared>, client: TcpStream, peer: SocketAddr) {
    let _active = ActiveGuard::new(&shared.counters);
    let peer_ip = peer.ip().to_canonical();
    let mut faults = FaultCache::new(&shared.registry, peer_ip);
    if shared.registry.is_stopped() {
        return;
    }
    if faults.view.down {
        reject(&shared, client, Ending::Reset);
        return;
    }
    if faults.view.loss_percent > 0.0
        && rand::rng().random::<f64>() * 100.0 < faults.view.loss_percent
    {
        if rand::rng().random::<bool>() {
            reject(&shared, client, Ending::Reset);
            return;
        }
        shared
            .counters
            .connections_rejected
            .fetch_add(1, Ordering::Relaxed);
        if !stall_while_lost(&shared, &client, &mut faults).await {
            return;
        }
    }
    let (backend, lease) = match shared.balancer.connect().await {
        Ok(pair) => pair,
        Err(err) => {
            tracing::warn!(%peer, error = %err, "cannot forward connection");
            reject(&shared, client, Ending::Reset);
            return;
        }
    };
    tracing::trace!(service = %shared.name, %peer, backend = %lease.addr(), "forwarding");
    set_nodelay(&client);
    set_nodelay(&backend);
    let tap = shared.traffic.open(peer_ip, shared.http, !shared.http);
    relay(&shared, peer_ip, &tap, client, backend).await;
    tap.close(&shared.traffic);
}

/// Closes a client connection without forwarding it.
fn reject(shared: &Shared, client: TcpStream, ending: Ending) {
    shared
        .counters
        .connections_rejected
        .fetch_add(1, Ordering::Relaxed);
    close(client, ending);
}

fn close(stream: TcpStream, ending: Ending) {
    if ending == Ending::Reset {
        if let Err(err) = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
            tracing::debug!(error = %err, "cannot set SO_LINGER 0 for a reset");
        }
    }
    drop(stream);
}

fn set_nodelay(stream: &TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
    }
}

/// Holds a lost connection without data until the loss fault no longer applies (then returns
/// true and the connection proceeds, like a retransmitted SYN getting through), the client
/// hangs up or the proxy stops (false).
async fn stall_while_lost(
    shared: &Shared,
    client: &TcpStream,
    faults: &mut FaultCache<'_>,
) -> bool {
    let mut probe = [0u8; 1];
    loop {
        tokio::select! {
            () = faults.changed() => {
                if shared.registry.is_stopped() || faults.view.down {
                    return false;
                }
                if faults.view.loss_percent <= 0.0 {
                    return true;
                }
            }
            () = tokio::time::sleep(STALL_POLL) => {
                let hung_up = tokio::select! {
                    biased;
                    peeked = client.peek(&mut probe) => matches!(peeked, Ok(0) | Err(_)),
                    () = std::future::ready(()) => false,
                };
                if hung_up {
                    return false;
                }
            }
        }
    }
}

/// Runs the connection on the kernel path while it can, then both pumps, with the control
/// loop throughout, until the connection ends; then closes it.
async fn relay(
    shared: &Shared,
    peer: IpAddr,
    tap: &ConnTap,
    client: TcpStream,
    backend: TcpStream,
) {
    let mut control = pin!(control(shared, peer));
    let (mut client, mut backend, handover) =
        match in_kernel(shared, peer, tap, client, backend, control.as_mut()).await {
            InKernel::Ended => return,
            InKernel::Left {
                client,
                backend,
                handover,
            } => (client, backend, handover),
        };
    let handover = handover.as_ref();
    let ending = {
        let (mut client_read, mut client_write) = client.split();
        let (mut backend_read, mut backend_write) = backend.split();
        let (tx, rx) = if shared.http {
            let (tx, rx) = mpsc::channel(8);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let mut up = pin!(pump::to_backend(
            shared,
            peer,
            &mut client_read,
            &mut backend_write,
            tap,
            tx,
            handover
        ));
        let mut down = pin!(pump::to_client(
            shared,
            peer,
            &mut backend_read,
            &mut client_write,
            tap,
            rx,
            handover
        ));
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                flow = &mut up, if !up_done => match flow {
                    Ok(Flow::Eof) => up_done = true,
                    Ok(Flow::Close) | Err(_) => break Ending::Close,
                },
                flow = &mut down, if !down_done => match flow {
                    Ok(Flow::Eof) => down_done = true,
                    Ok(Flow::Close) | Err(_) => break Ending::Close,
                },
                ending = &mut control => break ending,
            }
            if up_done && down_done {
                break Ending::Close;
            }
        }
    };
    close(client, ending);
    drop(backend);
}

/// How the kernel path of a connection ended.
enum InKernel {
    /// The connection was closed (control loop) or could not be handed back.
    Ended,
    /// The pumps take over; `handover` says what they wait for if the kernel path was used.
    Left {
        client: TcpStream,
        backend: TcpStream,
        handover: Option<Handover>,
    },
}

/// Forwards a fault-free connection in the kernel until a fault reaches it or either side
/// ends (FIN, RST, error); then stops the redirection and returns the sockets for the pumps.
/// Connections with a fault at the start, recorded HTTP services and processes without BPF
/// go to the pumps at once.
async fn in_kernel(
    shared: &Shared,
    peer: IpAddr,
    tap: &ConnTap,
    client: TcpStream,
    backend: TcpStream,
    mut control: Pin<&mut impl Future<Output = Ending>>,
) -> InKernel {
    let mut faults = FaultCache::new(&shared.registry, peer);
    let eligible =
        shared.kernel_forwarding.load(Ordering::Relaxed) && faults.view.clear && !tap.reads_bytes();
    let Some(map) = eligible.then(kernel::sockmap).flatten() else {
        return InKernel::Left {
            client,
            backend,
            handover: None,
        };
    };
    // Off the runtime's epoll set while in the kernel: the program's data-ready wake-ups
    // would otherwise wake the runtime for every skb.
    let (client, backend) = match (client.into_std(), backend.into_std()) {
        (Ok(c), Ok(b)) => (c, b),
        _ => return InKernel::Ended,
    };
    let link = match map.link(client.as_raw_fd(), backend.as_raw_fd()) {
        Ok(link) => Some(link),
        Err(err) => {
            tracing::debug!(error = %err, "cannot link the connection in the kernel");
            None
        }
    };
    let (mut ending, mut live) = (None, None);
    if let Some(link) = &link {
        live = Some(shared.kernel.add(link.cookies(), peer, tap.tally()));
        // A fault added before the registration is seen here, one added after it diverts
        // the link itself (`KernelLinks::divert`).
        faults.refresh();
        let clear = faults.view.clear && !shared.registry.is_stopped();
        match EndWatch::new([client.as_raw_fd(), backend.as_raw_fd()]) {
            Ok(watch) if clear && !link.diverted().unwrap_or(true) => loop {
                tokio::select! {
                    biased;
                    e = control.as_mut() => {
                        ending = Some(e);
                        break;
                    }
                    () = faults.changed() => {
                        // A fault may have come and gone before this task ran: it diverted
                        // the link all the same (`add_fault`), so hand over then too.
                        if !faults.view.clear
                            || shared.registry.is_stopped()
                            || link.diverted().unwrap_or(true)
                        {
                            break;
                        }
                    }
                    _ = watch.ended() => break,
                }
            },
            Ok(_) => {}
            Err(err) => tracing::debug!(error = %err, "cannot watch a kernel-forwarded pair"),
        }
    }
    let handover = link.map(|mut link| {
        if let Err(err) = link.stop() {
            tracing::warn!(error = %err, "cannot stop in-kernel forwarding");
        }
        Handover::new(link)
    });
    if let Some(id) = live {
        shared.kernel.finish(id, &shared.counters);
    }
    if let Some(ending) = ending {
        if ending == Ending::Reset {
            if let Err(err) = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO)) {
                tracing::debug!(error = %err, "cannot set SO_LINGER 0 for a reset");
            }
        }
        return InKernel::Ended;
    }
    match (TcpStream::from_std(client), TcpStream::from_std(backend)) {
        (Ok(client), Ok(backend)) => InKernel::Left {
            client,
            backend,
            handover,
        },
        _ => InKernel::Ended,
    }
}

/// Watches the faults of a live connection: cuts it when the service goes down or the proxy
/// stops, resets it after a reset-peer delay, closes it after a timeout delay.
async fn control(shared: &Shared, peer: IpAddr) -> Ending {
    let mut faults = FaultCache::new(&shared.registry, peer);
    let mut first_seen: HashMap<FaultId, Instant> = HashMap::new();
    loop {
        if shared.registry.is_stopped() {
            return Ending::Close;
        }
        if faults.view.down {
            return Ending::Reset;
        }
        let now = Instant::now();
        let view = &faults.view;
        first_seen.retain(|id, _| {
            view.resets.iter().any(|(r, _)| r == id) || view.timeouts.iter().any(|(t, _)| t == id)
        });
        let resets = view
            .resets
            .iter()
            .map(|(id, after)| (*id, *after, Ending::Reset));
        let timeouts = view
            .timeouts
            .iter()
            .filter(|(_, after)| !after.is_zero())
            .map(|(id, after)| (*id, *after, Ending::Close));
        let next = resets
            .chain(timeouts)
            .map(|(id, after, ending)| (*first_seen.entry(id).or_insert(now) + after, ending))
            .min_by_key(|(at, _)| *at);
        match next {
            Some((at, ending)) if at <= now => return ending,
            Some((at, _)) => {
                tokio::select! {
                    () = faults.changed() => {}
                    () = tokio::time::sleep_until(at.into()) => {}
                }
            }
            None => faults.changed().await,
        }
    }
}
