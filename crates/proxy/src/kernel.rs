//! The in-kernel path of a fault-free connection (see [`crate::sockmap`]): the process-wide
//! program, the watch that notices a connection ending without waking on its data, the live
//! byte counts, and the hand-over to the copying pumps.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::sockmap::{Link, Sockmap};
use crate::stats::Counters;
use crate::traffic::PeerTally;

/// How often a hand-over re-checks the psock queues it waits for.
const HANDOVER_POLL: Duration = Duration::from_millis(1);

/// Set (to anything) to keep every connection in user space.
const DISABLE_ENV: &str = "VERS_PROXY_NO_SOCKMAP";

/// Set to `1` to forward fault-free connections in the kernel by default.
const ENABLE_ENV: &str = "VERS_PROXY_SOCKMAP";

/// Whether new proxies forward in the kernel unless told otherwise: off unless
/// `VERS_PROXY_SOCKMAP=1`, as it is no faster than splice on a small machine (issue 15,
/// bench/README.md).
pub(crate) fn on_by_default() -> bool {
    std::env::var_os(ENABLE_ENV).is_some_and(|v| v == "1")
}

/// The program and maps of this process, loaded on first use; `None` (logged once) when BPF
/// is unavailable: not root, no `CONFIG_BPF_STREAM_PARSER`, an old kernel, a seccomp filter.
pub(crate) fn sockmap() -> Option<&'static Sockmap> {
    static SOCKMAP: OnceLock<Option<Sockmap>> = OnceLock::new();
    SOCKMAP
        .get_or_init(|| {
            if std::env::var_os(DISABLE_ENV).is_some() {
                tracing::info!("{DISABLE_ENV} is set: forwarding with splice(2) in user space");
                return None;
            }
            match Sockmap::load() {
                Ok(map) => {
                    tracing::debug!("forwarding fault-free connections in the kernel (sockmap)");
                    Some(map)
                }
                Err(err) => {
                    tracing::info!(
                        error = %err,
                        "in-kernel forwarding unavailable, forwarding with splice(2) in user space"
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// Waits for either socket of a linked pair to end (FIN, RST, error) without waking on data:
/// an epoll set of its own asking only for `EPOLLRDHUP` (errors and hang-ups are always
/// reported), so the program's data-ready wake-ups do not reach the runtime.
pub(crate) struct EndWatch {
    epoll: AsyncFd<OwnedFd>,
}

impl EndWatch {
    pub(crate) fn new(fds: [RawFd; 2]) -> io::Result<EndWatch> {
        // SAFETY: plain syscall; the result is checked.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
        for fd in fds {
            let mut event = libc::epoll_event {
                events: libc::EPOLLRDHUP as u32,
                u64: u64::try_from(fd).unwrap_or(0),
            };
            // SAFETY: `event` is a valid epoll_event for the call.
            if unsafe { libc::epoll_ctl(raw, libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: `epoll` is an open descriptor owned by the AsyncFd for as long as it is
        // registered, and `as_raw_fd` always returns it.
        let epoll = unsafe { AsyncFd::register_with_interest(epoll, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(EndWatch { epoll })
    }

    /// Returns once a socket hung up, half-closed or failed.
    pub(crate) async fn ended(&self) -> io::Result<()> {
        loop {
            let mut guard = self.epoll.readable().await?;
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
            // SAFETY: `events` has room for 2 entries; zero timeout.
            let n = unsafe {
                libc::epoll_wait(self.epoll.get_ref().as_raw_fd(), events.as_mut_ptr(), 2, 0)
            };
            if n != 0 {
                return Ok(());
            }
            guard.clear_ready();
        }
    }
}

/// A live linked pair whose kernel counts are credited to the proxy's counters.
struct Live {
    cookies: [u64; 2],
    peer: IpAddr,
    credited: [u64; 2],
    tally: Arc<PeerTally>,
}

/// Byte counts of the connections on the kernel path, credited to the counters on demand
/// ([`KernelLinks::flush`] before every stats or traffic snapshot) and when they leave it.
#[derive(Default)]
pub(crate) struct KernelLinks {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Live>>,
}

impl KernelLinks {
    /// Starts crediting the pair with these cookies (client first), a connection from
    /// `peer`, to the counters and `tally`.
    pub(crate) fn add(&self, cookies: [u64; 2], peer: IpAddr, tally: Arc<PeerTally>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            id,
            Live {
                cookies,
                peer,
                credited: [0; 2],
                tally,
            },
        );
        id
    }

    /// Stops redirecting, before returning, for every pair whose client `hit` selects: called
    /// when a fault is added, so bytes sent after that never take the kernel path. Each
    /// connection then notices the fault and completes its hand-over.
    pub(crate) fn divert(&self, hit: impl Fn(IpAddr) -> bool) {
        let Some(map) = sockmap() else { return };
        for live in self.lock().values().filter(|l| hit(l.peer)) {
            if let Err(err) = map.divert(live.cookies) {
                tracing::warn!(error = %err, "cannot stop in-kernel forwarding for a fault");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Credits what every live pair forwarded since the last flush.
    pub(crate) fn flush(&self, counters: &Counters) {
        let Some(map) = sockmap() else { return };
        for live in self.lock().values_mut() {
            credit(map, live, counters);
        }
    }

    /// Credits the pair's last bytes and forgets it; call after [`Link::stop`].
    pub(crate) fn finish(&self, id: u64, counters: &Counters) {
        let Some(map) = sockmap() else { return };
        let mut live = self.lock();
        if let Some(mut entry) = live.remove(&id) {
            credit(map, &mut entry, counters);
        }
    }
}

fn credit(map: &Sockmap, live: &mut Live, counters: &Counters) {
    for (i, to_backend) in [(0, true), (1, false)] {
        let Ok([redirected, _]) = map.counts_of(live.cookies[i]) else {
            continue;
        };
        let delta = redirected.saturating_sub(live.credited[i]);
        if delta == 0 {
            continue;
        }
        live.credited[i] = redirected;
        let counter = if to_backend {
            &counters.bytes_to_backend
        } else {
            &counters.bytes_to_client
        };
        counter.fetch_add(delta, Ordering::Relaxed);
        live.tally
            .add(to_backend, usize::try_from(delta).unwrap_or(usize::MAX));
    }
}

/// A connection that left the kernel path: what its copying pumps must wait for first.
pub(crate) struct Handover {
    link: Link<'static>,
    /// Unconfirmed ends of stream seen per side, to give up waiting at some point.
    unconfirmed: [std::sync::atomic::AtomicU32; 2],
}

/// Unconfirmed ends of stream (one per [`HANDOVER_POLL`]) after which an end is taken anyway,
/// with a warning: a few seconds, far beyond any psock queue delay.
const MAX_UNCONFIRMED: u32 = 5_000;

/// Side index of the client socket in a [`Link`]; the backend is the other one.
pub(crate) const CLIENT: usize = 0;
/// Side index of the backend socket.
pub(crate) const BACKEND: usize = 1;

impl Handover {
    pub(crate) fn new(link: Link<'static>) -> Handover {
        Handover {
            link,
            unconfirmed: Default::default(),
        }
    }

    /// Bytes the kernel forwarded from side `from` to the other before the hand-over.
    pub(crate) fn forwarded(&self, from: usize) -> u64 {
        self.link
            .counts(from)
            .map_or(u64::MAX, |[redirected, _]| redirected)
    }

    /// Waits until every byte redirected toward side `to` is in its send queue, so a pump may
    /// write to it after them.
    pub(crate) async fn drained(&self, to: usize) {
        loop {
            match self.link.drained(to) {
                Ok(false) => tokio::time::sleep(HANDOVER_POLL).await,
                Ok(true) => return,
                Err(err) => {
                    tracing::debug!(error = %err, "cannot check the psock queue; going on");
                    return;
                }
            }
        }
    }

    /// After reading end of stream from side `from`, having read `read` bytes from it in
    /// user space: whether it is real (false: bytes are still on their way, read again).
    pub(crate) async fn eof_confirmed(&self, from: usize, read: u64) -> bool {
        match self.link.eof_confirmed(from, read) {
            Ok(true) => true,
            Ok(false) => {
                let seen = self.unconfirmed[from].fetch_add(1, Ordering::Relaxed);
                if seen >= MAX_UNCONFIRMED {
                    tracing::warn!(
                        "end of stream after a kernel hand-over never confirmed; taking it"
                    );
                    return true;
                }
                tokio::time::sleep(HANDOVER_POLL).await;
                false
            }
            Err(err) => {
                tracing::debug!(error = %err, "cannot check the psock queue; taking the end");
                true
            }
        }
    }
}
