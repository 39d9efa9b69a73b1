//! Forwarding while no fault applies, at the fewest system calls per batch.
//!
//! A direction starts by copying: one `read(2)` into the pump's buffer and one `write(2)`.
//! A read that does not fill the buffer drained the socket (epoll is edge-triggered; tokio's
//! own `poll_read` relies on the same fact), so the readiness is cleared without the extra
//! read that would only return `EAGAIN`. Requests, replies and pipelined commands thus cost
//! two system calls a batch, where splicing costs three (socket → pipe, pipe → socket, and the
//! probe: a short splice into the pipe may mean a full pipe, not a drained socket).
//!
//! A read that fills the buffer marks bulk: the direction switches to `splice(2)` socket →
//! pipe → socket, where the bytes never enter user space, and back to copying when a splice
//! moves less than a buffer. A fault that needs the bytes (latency, bandwidth, HTTP errors, …)
//! ends the forwarding between batches, after everything read was written; the caller then
//! applies it.

use std::io;
use std::os::fd::OwnedFd;

use rustix::pipe::{PipeFlags, SpliceFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::pump::FaultCache;

/// Bytes moved per `splice` call at most; the pipe is grown to this size when allowed.
const CHUNK: usize = 256 * 1024;

/// How forwarding ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Forwarded {
    /// The source reached end of stream (everything read was forwarded).
    Eof,
    /// A fault now applies; `moved` says whether any byte was forwarded before it.
    Faulted {
        /// Bytes were forwarded.
        moved: bool,
    },
}

/// The pipe of one direction of a connection, made on first bulk batch.
pub(crate) struct Pipe {
    state: PipeState,
    /// Bytes forwarded by splicing and by copying, for the tests of the mode switch.
    #[cfg(test)]
    moved: [u64; 2],
}

enum PipeState {
    /// Not made yet.
    Lazy,
    /// Read and write ends.
    Ready(OwnedFd, OwnedFd),
    /// Making it failed; the direction copies.
    Failed,
}

impl Pipe {
    pub(crate) fn lazy() -> Pipe {
        Pipe {
            state: PipeState::Lazy,
            #[cfg(test)]
            moved: [0; 2],
        }
    }

    fn ends(&mut self) -> Option<(&OwnedFd, &OwnedFd)> {
        if let PipeState::Lazy = self.state {
            self.state = match rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK) {
                Ok((r, w)) => {
                    // A bigger pipe moves more per call; the default 64 KiB works too.
                    let _ = rustix::pipe::fcntl_setpipe_size(&w, CHUNK);
                    PipeState::Ready(r, w)
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no pipe for zero-copy forwarding");
                    PipeState::Failed
                }
            };
        }
        match &self.state {
            PipeState::Ready(r, w) => Some((r, w)),
            _ => None,
        }
    }

    #[cfg(test)]
    fn note(&mut self, spliced: bool, n: usize) {
        self.moved[usize::from(!spliced)] += n as u64;
    }

    #[cfg(not(test))]
    #[inline]
    fn note(&mut self, _spliced: bool, _n: usize) {}
}

fn flags() -> SpliceFlags {
    SpliceFlags::MOVE | SpliceFlags::NONBLOCK
}

/// Forwards `src` to `dst` until `src` ends or a fault applies to the connection (checked
/// before each batch and whenever the fault registry changes), copying small batches through
/// `buf` and splicing bulk through `pipe`; `count` is told of every byte forwarded.
pub(crate) async fn forward_while_clear(
    pipe: &mut Pipe,
    buf: &mut [u8],
    src: &TcpStream,
    dst: &TcpStream,
    faults: &mut FaultCache<'_>,
    count: &(dyn Fn(usize) + Sync),
) -> io::Result<Forwarded> {
    let mut moved = false;
    let mut splicing = false;
    loop {
        tokio::select! {
            biased;
            () = faults.changed() => {
                if !faults.view.clear {
                    return Ok(Forwarded::Faulted { moved });
                }
                continue;
            }
            ready = src.readable() => ready?,
        }
        faults.refresh();
        if !faults.view.clear {
            return Ok(Forwarded::Faulted { moved });
        }
        let n = if splicing {
            match splice_batch(pipe, src, dst, count).await? {
                Batch::Moved(n) => {
                    pipe.note(true, n);
                    // A batch smaller than the buffer is copied more cheaply.
                    splicing = n >= buf.len();
                    n
                }
                Batch::Drained => continue,
                Batch::NoPipe => {
                    splicing = false;
                    continue;
                }
            }
        } else {
            let n = match read_draining(src, buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            };
            write_all(dst, &buf[..n], count).await?;
            pipe.note(false, n);
            // A full buffer: more is likely waiting, splice it.
            splicing = n == buf.len();
            n
        };
        if n == 0 {
            return Ok(Forwarded::Eof);
        }
        moved = true;
    }
}

/// One `read(2)` from `src`; a read that does not fill `buf` clears the readiness (the socket
/// is drained: a later arrival raises a new edge, which tokio's tick check keeps).
fn read_draining(src: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let len = buf.len();
    let mut short = None;
    let read = src.try_io(Interest::READABLE, || {
        let n = rustix::io::read(src, &mut *buf)?;
        if 0 < n && n < len {
            short = Some(n);
            // Makes `try_io` clear the readiness the read was attempted under.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match read {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => short.ok_or(e),
        read => read,
    }
}

/// Writes all of `data` to `dst`, waiting for room when its send buffer is full.
async fn write_all(
    dst: &TcpStream,
    mut data: &[u8],
    count: &(dyn Fn(usize) + Sync),
) -> io::Result<()> {
    while !data.is_empty() {
        match dst.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(m) => {
                count(m);
                data = &data[m..];
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => dst.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What one splice batch did.
enum Batch {
    /// Moved this many bytes from the source to the destination (0: end of stream).
    Moved(usize),
    /// The source had nothing; its readiness is cleared.
    Drained,
    /// No pipe could be made (e.g. out of file descriptors): copy instead.
    NoPipe,
}

/// Splices what `src` holds (up to a pipe's worth) into the pipe and all of it on to `dst`.
async fn splice_batch(
    pipe: &mut Pipe,
    src: &TcpStream,
    dst: &TcpStream,
    count: &(dyn Fn(usize) + Sync),
) -> io::Result<Batch> {
    let Some((rd, wr)) = pipe.ends() else {
        return Ok(Batch::NoPipe);
    };
    let n = match src.try_io(Interest::READABLE, || {
        rustix::pipe::splice(src, None, wr, None, CHUNK, flags()).map_err(io::Error::from)
    }) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Batch::Drained),
        Err(e) => return Err(e),
    };
    let mut left = n;
    while left > 0 {
        match dst.try_io(Interest::WRITABLE, || {
            rustix::pipe::splice(rd, None, dst, None, left, flags()).map_err(io::Error::from)
        }) {
            Ok(m) => {
                left -= m;
                count(m);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => dst.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(Batch::Moved(n))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use rand::{Rng, RngCore};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::fault::{Fault, FaultKind};
    use crate::registry::FaultRegistry;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (far, _) = listener.accept().await.unwrap();
        (near, far)
    }

    fn latency() -> Fault {
        Fault::new(FaultKind::Latency {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
        })
    }

    /// Small writes, bulk writes and pauses, so that batches switch between copying and
    /// splicing; a fault added mid-stream (from the byte counter) ends the forwarding, the
    /// test copies a while as the pump would, and forwarding resumes once it is removed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copy_and_splice_batches_keep_every_byte_in_order_across_a_fault() {
        let (mut client, src) = pair().await;
        let (dst, mut sink) = pair().await;
        let mut payload = vec![0u8; 24 << 20];
        rand::rng().fill_bytes(&mut payload);
        let sent = payload.clone();
        let writer = tokio::spawn(async move {
            let mut at = 0;
            while at < sent.len() {
                let size = {
                    let mut rng = rand::rng();
                    if rng.random_bool(0.5) {
                        rng.random_range(1..=3000)
                    } else {
                        rng.random_range(16 << 10..=400 << 10)
                    }
                };
                let end = (at + size).min(sent.len());
                client.write_all(&sent[at..end]).await.unwrap();
                at = end;
                if rand::rng().random_bool(0.2) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            client.shutdown().await.unwrap();
        });
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            sink.read_to_end(&mut out).await.unwrap();
            out
        });

        let registry = FaultRegistry::new();
        let peer = IpAddr::from([127, 0, 0, 1]);
        let mut faults = FaultCache::new(&registry, peer);
        let mut pipe = Pipe::lazy();
        let mut buf = vec![0u8; 32 * 1024];
        let total = AtomicU64::new(0);
        let fault = std::sync::Mutex::new(None);
        let count = |n: usize| {
            let before = total.fetch_add(n as u64, Ordering::Relaxed);
            if before < (8 << 20) && before + n as u64 >= 8 << 20 {
                *fault.lock().unwrap() = Some(registry.add(latency()));
            }
        };
        let first = forward_while_clear(&mut pipe, &mut buf, &src, &dst, &mut faults, &count);
        let first = tokio::time::timeout(Duration::from_secs(60), first).await;
        assert_eq!(
            first.unwrap().unwrap(),
            Forwarded::Faulted { moved: true },
            "the fault ends the forwarding"
        );
        // The pump's copying path, for 2 MiB or so.
        let mut copied = 0;
        while copied < (2 << 20) {
            src.readable().await.unwrap();
            match src.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    write_all(&dst, &buf[..n], &count).await.unwrap();
                    copied += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        let id = fault.lock().unwrap().take().expect("the fault was added");
        assert!(registry.remove(id));
        let rest = forward_while_clear(&mut pipe, &mut buf, &src, &dst, &mut faults, &count);
        let rest = tokio::time::timeout(Duration::from_secs(60), rest).await;
        assert_eq!(rest.unwrap().unwrap(), Forwarded::Eof);
        writer.await.unwrap();
        drop(dst);
        let out = reader.await.unwrap();
        assert_eq!(out.len(), payload.len(), "every byte arrives");
        assert!(out == payload, "in order and unchanged");
        assert_eq!(total.load(Ordering::Relaxed), payload.len() as u64);
        let [spliced, copied] = pipe.moved;
        assert!(spliced > 0, "bulk was spliced");
        assert!(copied > 0, "small batches were copied");
    }

    /// Sequential small round trips: a drained socket's readiness is cleared after a short
    /// read, and the next arrival still wakes the forwarding (no stall).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_batches_are_copied_and_none_stalls() {
        let (mut client, src) = pair().await;
        let (dst, mut sink) = pair().await;
        let forwarder = tokio::spawn(async move {
            let registry = FaultRegistry::new();
            let mut faults = FaultCache::new(&registry, IpAddr::from([127, 0, 0, 1]));
            let mut pipe = Pipe::lazy();
            let mut buf = vec![0u8; 32 * 1024];
            let end = forward_while_clear(&mut pipe, &mut buf, &src, &dst, &mut faults, &|_| {});
            (end.await.unwrap(), pipe.moved)
        });
        let mut got = vec![0u8; 512];
        for round in 0..3000usize {
            let size = 1 + round % 500;
            let message: Vec<u8> = (0..size).map(|i| (round + i) as u8).collect();
            client.write_all(&message).await.unwrap();
            let read = sink.read_exact(&mut got[..size]);
            tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .expect("forwarded without a stall")
                .unwrap();
            assert_eq!(got[..size], message[..]);
        }
        client.shutdown().await.unwrap();
        let (end, [spliced, copied]) = forwarder.await.unwrap();
        assert_eq!(end, Forwarded::Eof);
        assert_eq!(spliced, 0, "no small batch was spliced");
        assert_eq!(copied, (0..3000u64).map(|r| 1 + r % 500).sum::<u64>());
    }
}
