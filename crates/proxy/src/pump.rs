//! The two data pumps of a proxied connection: a plain copy while no fault applies, and a
//! chunk-by-chunk path that applies latency, bandwidth, slicing, data limits, stalls and HTTP
//! errors when one does.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::fault::FaultId;
use crate::http::{error_response, Action, RequestFramer};
use crate::kernel::{Handover, BACKEND, CLIENT};
use crate::registry::FaultRegistry;
use crate::service::Shared;
use crate::traffic::{ConnTap, PeerTally};
use crate::view::ConnFaults;
use crate::zerocopy::{self, Forwarded};

/// Read buffer size per direction.
const BUF_SIZE: usize = 32 * 1024;

/// How a pump finished.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Its source reached end of stream; the other direction may continue.
    Eof,
    /// The whole connection must close now (data limit reached, HTTP `Connection: close`).
    Close,
}

/// An injected HTTP response handed from the request side to the response side.
pub(crate) struct Injected {
    response: Vec<u8>,
    close: bool,
}

/// The faults of one connection, recomputed only when the registry generation moves.
pub(crate) struct FaultCache<'a> {
    registry: &'a FaultRegistry,
    peer: IpAddr,
    generation: u64,
    changes: watch::Receiver<u64>,
    pub(crate) view: ConnFaults,
}

impl<'a> FaultCache<'a> {
    pub(crate) fn new(registry: &'a FaultRegistry, peer: IpAddr) -> FaultCache<'a> {
        let mut changes = registry.subscribe();
        changes.mark_unchanged();
        let generation = registry.generation();
        let view = ConnFaults::compute(&registry.snapshot(), peer, SystemTime::now());
        FaultCache {
            registry,
            peer,
            generation,
            changes,
            view,
        }
    }

    /// Recomputes the view if the registry changed; one atomic load otherwise.
    #[inline]
    pub(crate) fn refresh(&mut self) {
        let generation = self.registry.generation();
        if generation != self.generation {
            self.generation = generation;
            self.view =
                ConnFaults::compute(&self.registry.snapshot(), self.peer, SystemTime::now());
        }
    }

    /// Waits for the next registry change and refreshes the view.
    pub(crate) async fn changed(&mut self) {
        if self.changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.refresh();
    }

    /// Waits while a timeout fault holds the data back.
    async fn wait_unstalled(&mut self) {
        self.refresh();
        while self.view.stalled() {
            self.changed().await;
        }
    }
}

/// Paces writes to a byte rate with a virtual clock.
#[derive(Default)]
struct Pacer {
    next: Option<Instant>,
}

impl Pacer {
    /// Waits until `len` more bytes may be sent at `bytes_per_sec`.
    async fn admit(&mut self, len: usize, bytes_per_sec: u64) {
        let now = Instant::now();
        let start = self.next.filter(|n| *n > now).unwrap_or(now);
        let cost = Duration::from_secs_f64(len as f64 / bytes_per_sec as f64);
        self.next = Some(start + cost);
        if start > now {
            tokio::time::sleep_until(start.into()).await;
        }
    }
}

/// Which way a pump copies, for counters and for the faults that only act toward the client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToBackend,
    ToClient,
}

/// Writes one chunk with the faults of `view`; returns the number of bytes actually sent.
struct FaultyWriter {
    direction: Direction,
    tally: Arc<PeerTally>,
    pacer: Pacer,
    limit_sent: HashMap<FaultId, u64>,
}

impl FaultyWriter {
    fn new(direction: Direction, tally: Arc<PeerTally>) -> FaultyWriter {
        FaultyWriter {
            direction,
            tally,
            pacer: Pacer::default(),
            limit_sent: HashMap::new(),
        }
    }

    /// Sends `data` honouring latency, slicing, bandwidth and data limits; returns `Flow::Close`
    /// when a data limit was reached.
    async fn write<W: AsyncWrite + Unpin>(
        &mut self,
        writer: &mut W,
        data: &[u8],
        arrived: Instant,
        view: &ConnFaults,
        shared: &Shared,
    ) -> io::Result<Option<Flow>> {
        let to_client = self.direction == Direction::ToClient;
        let mut data = data;
        let mut limited = false;
        if to_client && !view.limits.is_empty() {
            self.limit_sent
                .retain(|id, _| view.limits.iter().any(|(l, _)| l == id));
            let budget = view
                .limits
                .iter()
                .map(|(id, bytes)| bytes.saturating_sub(*self.limit_sent.entry(*id).or_insert(0)))
                .min()
                .unwrap_or(u64::MAX);
            if budget <= data.len() as u64 {
                data = &data[..usize::try_from(budget).unwrap_or(data.len())];
                limited = true;
            }
            for (id, _) in &view.limits {
                *self.limit_sent.entry(*id).or_insert(0) += data.len() as u64;
            }
        }
        if to_client {
            if let Some((latency, jitter)) = view.latency {
                tokio::time::sleep_until((arrived + jittered(latency, jitter)).into()).await;
            }
        }
        let slicer = if to_client { view.slicer } else { None };
        let mut first = true;
        while !data.is_empty() {
            let mut piece = data.len();
            if let Some((avg, _)) = slicer {
                piece = piece.min(rand::rng().random_range(avg.div_ceil(2)..=avg + avg / 2));
            }
            if let Some(rate) = view.bytes_per_sec {
                let slot = usize::try_from(rate / 20).unwrap_or(usize::MAX).max(1);
                piece = piece.min(slot);
                self.pacer.admit(piece, rate).await;
            }
            if let (Some((_, delay)), false) = (slicer, first) {
                tokio::time::sleep(delay).await;
            }
            first = false;
            writer.write_all(&data[..piece]).await?;
            self.count(shared, piece);
            data = &data[piece..];
        }
        Ok(limited.then_some(Flow::Close))
    }

    fn count(&self, shared: &Shared, n: usize) {
        let counter = match self.direction {
            Direction::ToBackend => &shared.counters.bytes_to_backend,
            Direction::ToClient => &shared.counters.bytes_to_client,
        };
        counter.fetch_add(n as u64, Ordering::Relaxed);
        self.tally.add(self.direction == Direction::ToBackend, n);
    }
}

fn jittered(latency: Duration, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return latency;
    }
    let offset = jitter.as_secs_f64() * (rand::rng().random::<f64>() * 2.0 - 1.0);
    Duration::from_secs_f64((latency.as_secs_f64() + offset).max(0.0))
}

/// Copies client bytes to the backend; on HTTP services with an HTTP error fault, answers the
/// chosen requests through `injected` instead.
pub(crate) async fn to_backend<R, W>(
    shared: &Shared,
    peer: IpAddr,
    reader: &mut R,
    writer: &mut W,
    tap: &ConnTap,
    injected: Option<mpsc::Sender<Injected>>,
    handover: Option<&Handover>,
) -> io::Result<Flow>
where
    R: AsyncRead + Unpin + AsRef<TcpStream>,
    W: AsyncWrite + Unpin + AsRef<TcpStream>,
{
    let mut faults = FaultCache::new(&shared.registry, peer);
    let mut out = FaultyWriter::new(Direction::ToBackend, tap.tally());
    let mut framer = RequestFramer::new();
    let mut pipe = zerocopy::Pipe::lazy();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut read_total = 0u64;
    if let Some(handover) = handover {
        if handover.forwarded(CLIENT) > 0 {
            // The kernel forwarded requests: where the last one ends is unknown.
            framer.forwarded_raw();
        }
        handover.drained(BACKEND).await;
    }
    loop {
        faults.refresh();
        // After the kernel path the psock owns the receive queue: read(2) only, no splice.
        if handover.is_none()
            && faults.view.clear
            && !tap.reads_bytes()
            && (injected.is_none() || framer.at_boundary())
        {
            let src = AsRef::<TcpStream>::as_ref(&*reader);
            let dst = AsRef::<TcpStream>::as_ref(&*writer);
            let count = |n: usize| out.count(shared, n);
            let forwarded =
                zerocopy::forward_while_clear(&mut pipe, &mut buf, src, dst, &mut faults, &count);
            match forwarded.await? {
                Forwarded::Eof => {
                    drop(injected);
                    let _ = writer.shutdown().await;
                    return Ok(Flow::Eof);
                }
                Forwarded::Faulted { moved: true } => framer.forwarded_raw(),
                Forwarded::Faulted { moved: false } => {}
            }
        }
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            if let Some(handover) = handover {
                if !handover.eof_confirmed(CLIENT, read_total).await {
                    continue;
                }
            }
            drop(injected);
            // The backend may already be gone; the other direction reports that.
            let _ = writer.shutdown().await;
            return Ok(Flow::Eof);
        }
        read_total += n as u64;
        let arrived = Instant::now();
        tap.client_chunk(&buf[..n]);
        faults.refresh();
        let parsing =
            injected.is_some() && (!faults.view.http_errors.is_empty() || !framer.at_boundary());
        if faults.view.clear && !parsing {
            writer.write_all(&buf[..n]).await?;
            out.count(shared, n);
            framer.forwarded_raw();
            continue;
        }
        faults.wait_unstalled().await;
        let Some(injected) = injected.as_ref().filter(|_| parsing) else {
            framer.forwarded_raw();
            out.write(writer, &buf[..n], arrived, &faults.view, shared)
                .await?;
            continue;
        };
        let errors = faults.view.http_errors.clone();
        let mut reject = || {
            let mut rng = rand::rng();
            errors
                .iter()
                .find(|(_, percent)| rng.random::<f64>() * 100.0 < *percent)
                .map(|(status, _)| *status)
        };
        for action in framer.feed(&buf[..n], &mut reject) {
            match action {
                Action::Forward(bytes) => {
                    out.write(writer, &bytes, arrived, &faults.view, shared)
                        .await?;
                }
                Action::Respond { status, close } => {
                    shared
                        .counters
                        .http_errors_injected
                        .fetch_add(1, Ordering::Relaxed);
                    let response = error_response(status, &shared.name, close);
                    if injected.send(Injected { response, close }).await.is_err() {
                        return Ok(Flow::Close);
                    }
                    if close {
                        return Ok(Flow::Eof);
                    }
                }
            }
        }
    }
}

/// Copies backend bytes to the client, interleaving injected HTTP responses.
pub(crate) async fn to_client<R, W>(
    shared: &Shared,
    peer: IpAddr,
    reader: &mut R,
    writer: &mut W,
    tap: &ConnTap,
    mut injected: Option<mpsc::Receiver<Injected>>,
    handover: Option<&Handover>,
) -> io::Result<Flow>
where
    R: AsyncRead + Unpin + AsRef<TcpStream>,
    W: AsyncWrite + Unpin + AsRef<TcpStream>,
{
    let mut faults = FaultCache::new(&shared.registry, peer);
    let mut out = FaultyWriter::new(Direction::ToClient, tap.tally());
    let mut pipe = zerocopy::Pipe::lazy();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut read_total = 0u64;
    if let Some(handover) = handover {
        handover.drained(CLIENT).await;
    }
    loop {
        faults.refresh();
        if handover.is_none()
            && faults.view.clear
            && !tap.reads_bytes()
            && injected.as_ref().is_none_or(|rx| rx.is_empty())
        {
            let src = AsRef::<TcpStream>::as_ref(&*reader);
            let dst = AsRef::<TcpStream>::as_ref(&*writer);
            let count = |n: usize| out.count(shared, n);
            let forwarded =
                zerocopy::forward_while_clear(&mut pipe, &mut buf, src, dst, &mut faults, &count);
            if forwarded.await? == Forwarded::Eof {
                let _ = writer.shutdown().await;
                return Ok(Flow::Eof);
            }
        }
        let n = match injected.as_mut() {
            None => reader.read(&mut buf).await?,
            Some(rx) => tokio::select! {
                biased;
                msg = rx.recv() => {
                    match msg {
                        Some(msg) => {
                            tap.server_chunk(&shared.traffic, &msg.response);
                            faults.wait_unstalled().await;
                            out.write(writer, &msg.response, Instant::now(), &faults.view, shared).await?;
                            if msg.close {
                                let _ = writer.flush().await;
                                return Ok(Flow::Close);
                            }
                        }
                        None => injected = None,
                    }
                    continue;
                }
                n = reader.read(&mut buf) => n?,
            },
        };
        if n == 0 {
            if let Some(handover) = handover {
                if !handover.eof_confirmed(BACKEND, read_total).await {
                    continue;
                }
            }
        }
        read_total += n as u64;
        if n == 0 {
            faults.refresh();
            if let Some(delay) = faults.view.slow_close {
                tokio::time::sleep(delay).await;
            }
            // The client may already be gone; the other direction reports that.
            let _ = writer.shutdown().await;
            return Ok(Flow::Eof);
        }
        let arrived = Instant::now();
        tap.server_chunk(&shared.traffic, &buf[..n]);
        faults.refresh();
        if faults.view.clear {
            writer.write_all(&buf[..n]).await?;
            out.count(shared, n);
            continue;
        }
        faults.wait_unstalled().await;
        if let Some(flow) = out
            .write(writer, &buf[..n], arrived, &faults.view, shared)
            .await?
        {
            return Ok(flow);
        }
    }
}
