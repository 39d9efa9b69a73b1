//! Traffic recording: who called the service, how often, how many bytes, and (on HTTP ports)
//! which requests with which statuses and latencies.
//!
//! Cost model: a connection takes one short lock at open (to find its client's tally) and
//! adds its bytes to that tally with relaxed atomics, beside the proxy's own counters. HTTP
//! requests are noticed by looking at the first bytes of each chunk (a request line toward
//! the service, a status line toward the client), so a request is seen when it starts a read,
//! which is how clients write them; one lock per answered request records it. Memory is
//! bounded: at most [`MAX_PEERS`] client addresses, [`MAX_REQUEST_KEYS`] request keys and
//! [`MAX_CALLS`] ordered call events per proxy; what does not fit is counted as dropped.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Most distinct client addresses tallied per proxy; later ones share one overflow tally.
pub const MAX_PEERS: usize = 256;
/// Most distinct (client, method, path template) keys per proxy.
pub const MAX_REQUEST_KEYS: usize = 512;
/// Most call events kept in order per proxy (the first ones: a flow's start matters most).
pub const MAX_CALLS: usize = 2000;
/// Requests awaiting their response on one connection beyond which new ones are not tracked.
const MAX_PENDING: usize = 64;
/// Longest request line looked at.
const MAX_LINE: usize = 2048;
/// Upper bounds (microseconds) of the latency histogram buckets; a last bucket holds the rest.
pub const LATENCY_BOUNDS_US: [u64; 15] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// What one client address did to the service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerTraffic {
    /// The client's source address (`None`: clients beyond [`MAX_PEERS`], together).
    pub peer: Option<IpAddr>,
    /// Connections opened.
    pub connections: u64,
    /// Bytes from the client to the service.
    pub bytes_in: u64,
    /// Bytes from the service to the client.
    pub bytes_out: u64,
    /// First connection, microseconds since the Unix epoch.
    pub first_us: u64,
    /// Last connection opened or closed, microseconds since the Unix epoch.
    pub last_us: u64,
}

/// The requests of one (client, method, path template).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTraffic {
    /// The client's source address.
    pub peer: IpAddr,
    /// HTTP method.
    pub method: String,
    /// Path with ids, numbers and uuids collapsed to `{id}`, without the query.
    pub path: String,
    /// Requests seen.
    pub count: u64,
    /// Responses by status (0: the connection ended without one).
    pub statuses: BTreeMap<u16, u64>,
    /// Counts per latency bucket ([`LATENCY_BOUNDS_US`], then the rest).
    pub latency_buckets: Vec<u64>,
    /// Longest latency, microseconds.
    pub latency_max_us: u64,
    /// Sum of latencies, microseconds.
    pub latency_sum_us: u64,
}

/// One call in time order: a request (HTTP ports) or a connection (other ports).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    /// When it started, microseconds since the Unix epoch.
    pub at_us: u64,
    /// The client's source address.
    pub peer: IpAddr,
    /// HTTP method (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path template (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Response status (requests only; 0 when none came).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time to the response's first bytes, microseconds (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
}

/// Everything recorded by one proxy since it started or was last cleared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficSnapshot {
    /// Per client address, sorted by address.
    pub connections: Vec<PeerTraffic>,
    /// Per request key, sorted by client, path, method.
    pub requests: Vec<RequestTraffic>,
    /// The first calls in time order.
    pub calls: Vec<CallEvent>,
    /// Request keys and call events not kept for want of room.
    pub dropped: u64,
}

/// Live tally of one client address.
#[derive(Default)]
pub(crate) struct PeerTally {
    connections: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    first_us: AtomicU64,
    last_us: AtomicU64,
}

impl PeerTally {
    /// Adds bytes sent toward the service (`to_backend`) or toward the client.
    #[inline]
    pub(crate) fn add(&self, to_backend: bool, n: usize) {
        let counter = if to_backend {
            &self.bytes_in
        } else {
            &self.bytes_out
        };
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn touch(&self, now: u64) {
        let _ = self
            .first_us
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.last_us.fetch_max(now, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct RequestAgg {
    count: u64,
    statuses: BTreeMap<u16, u64>,
    buckets: [u64; LATENCY_BOUNDS_US.len() + 1],
    max_us: u64,
    sum_us: u64,
}

#[derive(Default)]
struct Book {
    peers: HashMap<IpAddr, Arc<PeerTally>>,
    requests: HashMap<(IpAddr, String, String), RequestAgg>,
    calls: Vec<CallEvent>,
    dropped: u64,
}

/// The recorder of one proxy.
pub(crate) struct Traffic {
    enabled: AtomicBool,
    book: Mutex<Book>,
    overflow: Mutex<Arc<PeerTally>>,
}

impl Traffic {
    pub(crate) fn new() -> Traffic {
        Traffic {
            enabled: AtomicBool::new(true),
            book: Mutex::new(Book::default()),
            overflow: Mutex::new(Arc::new(PeerTally::default())),
        }
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the tap of a new connection from `peer`.
    pub(crate) fn open(&self, peer: IpAddr, http: bool, connection_event: bool) -> ConnTap {
        if !self.enabled.load(Ordering::Relaxed) {
            return ConnTap {
                peer,
                tally: Arc::new(PeerTally::default()),
                pending: None,
            };
        }
        let now = now_us();
        let tally = {
            let mut book = self.book();
            let tally = match book.peers.get(&peer) {
                Some(t) => Arc::clone(t),
                None if book.peers.len() < MAX_PEERS => {
                    let t = Arc::new(PeerTally::default());
                    book.peers.insert(peer, Arc::clone(&t));
                    t
                }
                None => Arc::clone(&self.overflow.lock().unwrap_or_else(PoisonError::into_inner)),
            };
            if connection_event {
                push_call(
                    &mut book,
                    CallEvent {
                        at_us: now,
                        peer,
                        method: None,
                        path: None,
                        status: None,
                        latency_us: None,
                    },
                );
            }
            tally
        };
        tally.connections.fetch_add(1, Ordering::Relaxed);
        tally.touch(now);
        ConnTap {
            peer,
            tally,
            pending: http.then(|| Mutex::new(VecDeque::new())),
        }
    }

    /// Records one finished request.
    fn request(&self, peer: IpAddr, pending: Pending, status: u16) {
        let latency = u64::try_from(pending.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut book = self.book();
        let key = (peer, pending.method, pending.path);
        let bucket = LATENCY_BOUNDS_US
            .iter()
            .position(|b| latency <= *b)
            .unwrap_or(LATENCY_BOUNDS_US.len());
        let room = book.requests.len() < MAX_REQUEST_KEYS;
        let agg = match book.requests.get_mut(&key) {
            Some(agg) => Some(agg),
            None if room => Some(book.requests.entry(key.clone()).or_default()),
            None => None,
        };
        match agg {
            Some(agg) => {
                agg.count += 1;
                *agg.statuses.entry(status).or_insert(0) += 1;
                agg.buckets[bucket] += 1;
                agg.max_us = agg.max_us.max(latency);
                agg.sum_us = agg.sum_us.saturating_add(latency);
            }
            None => book.dropped += 1,
        }
        if book.calls.len() >= MAX_CALLS {
            book.dropped += 1;
            return;
        }
        let (peer, method, path) = key;
        book.calls.push(CallEvent {
            at_us: pending.at_us,
            peer,
            method: Some(method),
            path: Some(path),
            status: Some(status),
            latency_us: Some(latency),
        });
    }

    /// A copy of everything recorded.
    pub(crate) fn snapshot(&self) -> TrafficSnapshot {
        let book = self.book();
        let mut connections: Vec<PeerTraffic> = book
            .peers
            .iter()
            .map(|(peer, t)| tally_row(Some(*peer), t))
            .collect();
        let overflow = Arc::clone(&self.overflow.lock().unwrap_or_else(PoisonError::into_inner));
        if overflow.connections.load(Ordering::Relaxed) > 0 {
            connections.push(tally_row(None, &overflow));
        }
        connections.sort_by_key(|a| a.peer);
        let mut requests: Vec<RequestTraffic> = book
            .requests
            .iter()
            .map(|((peer, method, path), a)| RequestTraffic {
                peer: *peer,
                method: method.clone(),
                path: path.clone(),
                count: a.count,
                statuses: a.statuses.clone(),
                latency_buckets: a.buckets.to_vec(),
                latency_max_us: a.max_us,
                latency_sum_us: a.sum_us,
            })
            .collect();
        requests.sort_by(|a, b| (a.peer, &a.path, &a.method).cmp(&(b.peer, &b.path, &b.method)));
        let mut calls = book.calls.clone();
        calls.sort_by_key(|c| c.at_us);
        TrafficSnapshot {
            connections,
            requests,
            calls,
            dropped: book.dropped,
        }
    }

    /// Forgets everything recorded so far (live connections keep counting into tallies that
    /// are no longer reported).
    pub(crate) fn clear(&self) {
        *self.book() = Book::default();
        *self.overflow.lock().unwrap_or_else(PoisonError::into_inner) =
            Arc::new(PeerTally::default());
    }
}

fn push_call(book: &mut Book, call: CallEvent) {
    if book.calls.len() < MAX_CALLS {
        book.calls.push(call);
    } else {
        book.dropped += 1;
    }
}

fn tally_row(peer: Option<IpAddr>, t: &PeerTally) -> PeerTraffic {
    PeerTraffic {
        peer,
        connections: t.connections.load(Ordering::Relaxed),
        bytes_in: t.bytes_in.load(Ordering::Relaxed),
        bytes_out: t.bytes_out.load(Ordering::Relaxed),
        first_us: t.first_us.load(Ordering::Relaxed),
        last_us: t.last_us.load(Ordering::Relaxed),
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A request sent to the service and not yet answered.
struct Pending {
    method: String,
    path: String,
    started: Instant,
    at_us: u64,
}

/// The recording side of one connection, shared by its two pumps.
pub(crate) struct ConnTap {
    peer: IpAddr,
    tally: Arc<PeerTally>,
    /// HTTP ports: requests awaiting their response, oldest first.
    pending: Option<Mutex<VecDeque<Pending>>>,
}

impl ConnTap {
    /// Whether the tap reads the bytes of the connection (HTTP requests and responses while
    /// recording), so they must pass through user space rather than be spliced.
    pub(crate) fn reads_bytes(&self) -> bool {
        self.pending.is_some()
    }

    /// The client's tally, which the pumps add bytes to.
    pub(crate) fn tally(&self) -> Arc<PeerTally> {
        Arc::clone(&self.tally)
    }

    /// Looks at a chunk the client sent: notes a request when it starts with a request line.
    #[inline]
    pub(crate) fn client_chunk(&self, data: &[u8]) {
        let Some(pending) = &self.pending else {
            return;
        };
        let Some((method, target)) = request_line(data) else {
            return;
        };
        let mut queue = pending.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() < MAX_PENDING {
            queue.push_back(Pending {
                method: method.to_string(),
                path: path_template(target),
                started: Instant::now(),
                at_us: now_us(),
            });
        }
    }

    /// Looks at a chunk sent to the client: a status line answers the oldest pending request.
    #[inline]
    pub(crate) fn server_chunk(&self, traffic: &Traffic, data: &[u8]) {
        let Some(pending) = &self.pending else {
            return;
        };
        let Some(status) = status_line(data) else {
            return;
        };
        // 1xx responses are interim: the final answer follows.
        if status < 200 {
            return;
        }
        let first = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        if let Some(p) = first {
            traffic.request(self.peer, p, status);
        }
    }

    /// Records the requests left unanswered when the connection ends.
    pub(crate) fn close(&self, traffic: &Traffic) {
        self.tally.touch(now_us());
        let Some(pending) = &self.pending else {
            return;
        };
        let left: Vec<Pending> = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        for p in left {
            traffic.request(self.peer, p, 0);
        }
    }
}

/// `METHOD TARGET HTTP/1.x` at the start of `data`.
fn request_line(data: &[u8]) -> Option<(&str, &str)> {
    let token = data.iter().take_while(|b| b.is_ascii_uppercase()).count();
    if !(3..=16).contains(&token) || data.get(token) != Some(&b' ') {
        return None;
    }
    let head = &data[..data.len().min(MAX_LINE)];
    let end = head.iter().position(|b| *b == b'\r' || *b == b'\n')?;
    let line = std::str::from_utf8(&head[..end]).ok()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    parts.next().filter(|v| v.starts_with("HTTP/1."))?;
    Some((method, target))
}

/// The status of `HTTP/1.x NNN` at the start of `data`.
fn status_line(data: &[u8]) -> Option<u16> {
    if data.len() < 12 || !data.starts_with(b"HTTP/1.") || data[8] != b' ' {
        return None;
    }
    let digits = &data[9..12];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The path of a request target with its query dropped and every segment that looks like an
/// identifier (a number, a uuid, a long hex or mixed token) replaced by `{id}`.
pub fn path_template(target: &str) -> String {
    let path = target.split(['?', '#']).next().unwrap_or("");
    // Absolute-form targets (proxies): keep only the path.
    let path = match path.find("://") {
        Some(i) => path[i + 3..].find('/').map_or("/", |j| &path[i + 3 + j..]),
        None => path,
    };
    if path.is_empty() || !path.starts_with('/') {
        return if path == "*" { "*".into() } else { "/".into() };
    }
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').skip(1).take(32) {
        out.push('/');
        if is_identifier(segment) {
            out.push_str("{id}");
        } else {
            out.push_str(segment);
        }
    }
    out
}

fn is_identifier(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    if digits == segment.len() {
        return true;
    }
    let hexish = segment.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if hexish && segment.len() >= 8 && digits > 0 {
        return true;
    }
    let token = segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !token {
        return false;
    }
    // Prefixed random ids (`cus_Xggsv2rWxI...`, `ch_3MmlLrLk...`): a short lowercase prefix,
    // then one run of letters and digits with a digit or a capital in it.
    if let Some((prefix, rest)) = segment.split_once('_') {
        let random = rest.len() >= 8
            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            && rest
                .bytes()
                .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if (1..=8).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_lowercase())
            && random
        {
            return true;
        }
    }
    // Other long tokens with digits (`ord-000123`), or long mixed-case random ones.
    let upper = segment.bytes().filter(u8::is_ascii_uppercase).count();
    (digits >= 3 && segment.len() >= 8)
        || (segment.len() >= 16 && upper > 0 && upper < segment.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_collapse_identifiers() {
        assert_eq!(path_template("/orders/42?x=1"), "/orders/{id}");
        assert_eq!(
            path_template("/users/3fa85f64-5717-4562-b3fc-2c963f66afa6/cart"),
            "/users/{id}/cart"
        );
        assert_eq!(
            path_template("/v1/charges/ch_3MmlLrLkdIwHu7ix0"),
            "/v1/charges/{id}"
        );
        assert_eq!(path_template("/v1/health"), "/v1/health");
        assert_eq!(
            path_template("/v1/customers/cus_Xggsv2rWxIXIIWaNbbcumytT"),
            "/v1/customers/{id}"
        );
        assert_eq!(
            path_template("/v1/payment_methods/pm_card_visa/attach"),
            "/v1/payment_methods/pm_card_visa/attach"
        );
        assert_eq!(
            path_template("/google/.well-known/openid-configuration"),
            "/google/.well-known/openid-configuration"
        );
        assert_eq!(
            path_template("/api/v2/items/deadbeef01"),
            "/api/v2/items/{id}"
        );
        assert_eq!(path_template("http://x:80/a/7"), "/a/{id}");
        assert_eq!(path_template("/"), "/");
        assert_eq!(path_template("/checkout/"), "/checkout/");
    }

    #[test]
    fn request_and_status_lines() {
        assert_eq!(
            request_line(b"GET /a/1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(("GET", "/a/1"))
        );
        assert_eq!(request_line(b"*1\r\n$4\r\nPING\r\n"), None);
        assert_eq!(request_line(b"hello world"), None);
        assert_eq!(status_line(b"HTTP/1.1 201 Created\r\n"), Some(201));
        assert_eq!(status_line(b"HTTP/1.0 5xx oops\r\n"), None);
        assert_eq!(status_line(b"{\"HTTP/1.1 200\"}"), None);
    }

    #[test]
    fn requests_are_paired_with_responses_and_bounded() {
        let traffic = Traffic::new();
        let peer: IpAddr = [10, 100, 0, 1].into();
        let tap = traffic.open(peer, true, false);
        tap.client_chunk(b"GET /orders/7 HTTP/1.1\r\n\r\n");
        tap.client_chunk(b"POST /orders HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
        tap.server_chunk(&traffic, b"HTTP/1.1 100 Continue\r\n\r\n");
        tap.server_chunk(&traffic, b"HTTP/1.1 200 OK\r\n\r\n");
        tap.server_chunk(&traffic, b"HTTP/1.1 201 Created\r\n\r\n");
        tap.client_chunk(b"GET /orders/8 HTTP/1.1\r\n\r\n");
        tap.close(&traffic);
        let snap = traffic.snapshot();
        assert_eq!(snap.connections.len(), 1);
        assert_eq!(snap.connections[0].connections, 1);
        let get = snap
            .requests
            .iter()
            .find(|r| r.method == "GET")
            .expect("GET recorded");
        assert_eq!(get.path, "/orders/{id}");
        assert_eq!(get.count, 2);
        assert_eq!(get.statuses.get(&200), Some(&1));
        assert_eq!(get.statuses.get(&0), Some(&1));
        let post = snap
            .requests
            .iter()
            .find(|r| r.method == "POST")
            .expect("POST");
        assert_eq!(post.statuses.get(&201), Some(&1));
        assert_eq!(snap.calls.len(), 3);
        assert_eq!(snap.calls[0].method.as_deref(), Some("GET"));

        for i in 0..(MAX_REQUEST_KEYS + 10) {
            let tap = traffic.open(peer, true, false);
            tap.client_chunk(format!("GET /k{i}x HTTP/1.1\r\n\r\n").as_bytes());
            tap.server_chunk(&traffic, b"HTTP/1.1 204 No Content\r\n\r\n");
        }
        let snap = traffic.snapshot();
        assert_eq!(snap.requests.len(), MAX_REQUEST_KEYS);
        assert!(snap.dropped >= 10);
        traffic.clear();
        assert_eq!(traffic.snapshot(), TrafficSnapshot::default());
    }

    #[test]
    fn peers_beyond_the_cap_share_one_tally() {
        let traffic = Traffic::new();
        for i in 0..(MAX_PEERS + 5) {
            let peer: IpAddr = [10, 1, (i / 250) as u8, (i % 250) as u8].into();
            let tap = traffic.open(peer, false, true);
            tap.tally().add(true, 10);
        }
        let snap = traffic.snapshot();
        assert_eq!(snap.connections.len(), MAX_PEERS + 1);
        let overflow = snap
            .connections
            .iter()
            .find(|c| c.peer.is_none())
            .expect("overflow");
        assert_eq!(overflow.connections, 5);
        assert_eq!(overflow.bytes_in, 50);
    }
}
