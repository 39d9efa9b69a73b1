//! Zero-copy forwarding while no fault applies: bytes move socket → pipe → socket with
//! `splice(2)` and never enter user space. A fault that needs the bytes (latency, bandwidth,
//! HTTP errors, …) ends the splice, once the pipe is drained, and the caller copies instead.

use std::io;
use std::os::fd::OwnedFd;

use rustix::pipe::{PipeFlags, SpliceFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::pump::FaultCache;

/// Bytes moved per `splice` call at most; the pipe is grown to this size when allowed.
const CHUNK: usize = 256 * 1024;

/// How a splice ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Spliced {
    /// The source reached end of stream (everything read was forwarded).
    Eof,
    /// A fault now applies; `moved` says whether any byte was forwarded before it.
    Faulted {
        /// Bytes were forwarded.
        moved: bool,
    },
    /// No pipe could be made (e.g. out of file descriptors): copy instead.
    Unavailable,
}

/// The pipe of one direction of a connection, made on first use.
pub(crate) enum Pipe {
    /// Not made yet.
    Lazy,
    /// Read and write ends.
    Ready(OwnedFd, OwnedFd),
    /// Making it failed; the direction copies.
    Failed,
}

impl Pipe {
    pub(crate) fn lazy() -> Pipe {
        Pipe::Lazy
    }

    fn ends(&mut self) -> Option<(&OwnedFd, &OwnedFd)> {
        if let Pipe::Lazy = self {
            *self = match rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK) {
                Ok((r, w)) => {
                    // A bigger pipe moves more per call; the default 64 KiB works too.
                    let _ = rustix::pipe::fcntl_setpipe_size(&w, CHUNK);
                    Pipe::Ready(r, w)
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no pipe for zero-copy forwarding");
                    Pipe::Failed
                }
            };
        }
        match self {
            Pipe::Ready(r, w) => Some((r, w)),
            _ => None,
        }
    }
}

fn flags() -> SpliceFlags {
    SpliceFlags::MOVE | SpliceFlags::NONBLOCK
}

/// Forwards `src` to `dst` with `splice(2)` until `src` ends or a fault applies to the
/// connection (checked before each chunk and whenever the fault registry changes); `count`
/// is told of every byte forwarded.
pub(crate) async fn splice_while_clear(
    pipe: &mut Pipe,
    src: &TcpStream,
    dst: &TcpStream,
    faults: &mut FaultCache<'_>,
    count: &(dyn Fn(usize) + Sync),
) -> io::Result<Spliced> {
    let Some((rd, wr)) = pipe.ends() else {
        return Ok(Spliced::Unavailable);
    };
    let mut moved = false;
    loop {
        tokio::select! {
            biased;
            () = faults.changed() => {
                if !faults.view.clear {
                    return Ok(Spliced::Faulted { moved });
                }
                continue;
            }
            ready = src.readable() => ready?,
        }
        faults.refresh();
        if !faults.view.clear {
            return Ok(Spliced::Faulted { moved });
        }
        let n = match src.try_io(Interest::READABLE, || {
            rustix::pipe::splice(src, None, wr, None, CHUNK, flags()).map_err(io::Error::from)
        }) {
            Ok(0) => return Ok(Spliced::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let mut left = n;
        while left > 0 {
            dst.writable().await?;
            match dst.try_io(Interest::WRITABLE, || {
                rustix::pipe::splice(rd, None, dst, None, left, flags()).map_err(io::Error::from)
            }) {
                Ok(m) => {
                    left -= m;
                    count(m);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        moved = true;
    }
}
