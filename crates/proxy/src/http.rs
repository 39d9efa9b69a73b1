//! Just enough HTTP/1.1 request framing to answer single requests of a keep-alive connection
//! with an injected error while forwarding the others.

/// Longest request head accepted before giving up on parsing the connection.
const MAX_HEAD: usize = 64 * 1024;

/// What to do with a piece of the client's byte stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send these bytes on to the backend.
    Forward(Vec<u8>),
    /// Answer the client with an error of this status instead; close afterwards when `close` is set.
    Respond {
        /// The HTTP status to answer with.
        status: u16,
        /// The client asked for the connection to end after this request.
        close: bool,
    },
}

/// The parts of a request head the framer needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Head {
    content_length: u64,
    chunked: bool,
    close: bool,
    upgrade: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Position in the stream unknown (bytes were forwarded without parsing).
    Unsynced,
    /// Collecting a request head; empty at a request boundary.
    Head(Vec<u8>),
    /// Fixed-length body left to pass or drop.
    Body { remaining: u64, forward: bool },
    /// Chunked body, in one of its phases.
    Chunked { phase: Chunk, forward: bool },
    /// Not HTTP any more (upgrade, CONNECT, or unparsable): forward everything.
    Passthrough,
}

#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    Size(Vec<u8>),
    Data(u64),
    DataEnd(u8),
    Trailer(Vec<u8>),
}

/// Splits a client byte stream into requests and applies a per-request verdict.
pub(crate) struct RequestFramer {
    state: State,
}

impl RequestFramer {
    /// A framer for a fresh connection (the first byte starts a request).
    pub(crate) fn new() -> RequestFramer {
        RequestFramer {
            state: State::Head(Vec::new()),
        }
    }

    /// Whether the framer sits between requests, so parsing may stop without losing track.
    pub(crate) fn at_boundary(&self) -> bool {
        match &self.state {
            State::Head(buf) => buf.is_empty(),
            State::Unsynced | State::Passthrough => true,
            State::Body { .. } | State::Chunked { .. } => false,
        }
    }

    /// Records that bytes went through unparsed, so the stream position is unknown.
    pub(crate) fn forwarded_raw(&mut self) {
        if self.state != State::Passthrough {
            self.state = State::Unsynced;
        }
    }

    /// Feeds client bytes; `reject` decides per complete request head whether to answer it with
    /// an error status instead of forwarding it.
    pub(crate) fn feed(
        &mut self,
        mut data: &[u8],
        reject: &mut dyn FnMut() -> Option<u16>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Unsynced {
            if looks_like_request_start(data) {
                self.state = State::Head(Vec::new());
            } else {
                push_forward(&mut out, data);
                return out;
            }
        }
        while !data.is_empty() {
            match &mut self.state {
                State::Unsynced | State::Passthrough => {
                    push_forward(&mut out, data);
                    data = &[];
                }
                State::Head(buf) => {
                    let used = take_head(buf, data);
                    data = &data[used..];
                    if buf.ends_with(b"\r\n\r\n") {
                        let head_bytes = std::mem::take(buf);
                        self.finish_head(head_bytes, reject, &mut out);
                    } else if buf.len() > MAX_HEAD {
                        let bytes = std::mem::take(buf);
                        push_forward(&mut out, &bytes);
                        self.state = State::Passthrough;
                    }
                }
                State::Body { remaining, forward } => {
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    if *forward {
                        push_forward(&mut out, &data[..n]);
                    }
                    *remaining -= n as u64;
                    data = &data[n..];
                    if *remaining == 0 {
                        self.state = State::Head(Vec::new());
                    }
                }
                State::Chunked { phase, forward } => {
                    let (used, done) = step_chunked(phase, data);
                    if *forward {
                        push_forward(&mut out, &data[..used]);
                    }
                    data = &data[used..];
                    if done {
                        self.state = State::Head(Vec::new());
                    } else if matches!(phase, Chunk::Size(b) | Chunk::Trailer(b) if b.len() > MAX_HEAD)
                    {
                        self.state = State::Passthrough;
                    }
                }
            }
        }
        out
    }

    fn finish_head(
        &mut self,
        head_bytes: Vec<u8>,
        reject: &mut dyn FnMut() -> Option<u16>,
        out: &mut Vec<Action>,
    ) {
        let Some(head) = parse_head(&head_bytes) else {
            push_forward(out, &head_bytes);
            self.state = State::Passthrough;
            return;
        };
        let verdict = if head.upgrade { None } else { reject() };
        let forward = verdict.is_none();
        match verdict {
            None => push_forward(out, &head_bytes),
            Some(status) => out.push(Action::Respond {
                status,
                close: head.close,
            }),
        }
        self.state = if head.upgrade && forward {
            State::Passthrough
        } else if head.chunked {
            State::Chunked {
                phase: Chunk::Size(Vec::new()),
                forward,
            }
        } else if head.content_length > 0 {
            State::Body {
                remaining: head.content_length,
                forward,
            }
        } else {
            State::Head(Vec::new())
        };
    }
}

fn push_forward(out: &mut Vec<Action>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    if let Some(Action::Forward(last)) = out.last_mut() {
        last.extend_from_slice(data);
    } else {
        out.push(Action::Forward(data.to_vec()));
    }
}

/// Appends head bytes to `buf`, stopping right after the blank line if it appears; returns bytes used.
fn take_head(buf: &mut Vec<u8>, data: &[u8]) -> usize {
    let start = buf.len().saturating_sub(3);
    buf.extend_from_slice(data);
    match find_from(buf, start) {
        Some(end) => {
            let extra = buf.len() - end;
            buf.truncate(end);
            data.len() - extra
        }
        None => data.len(),
    }
}

fn find_from(buf: &[u8], start: usize) -> Option<usize> {
    buf[start..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| start + p + 4)
}

/// Whether `data` starts like an HTTP request line (`TOKEN SP`).
fn looks_like_request_start(data: &[u8]) -> bool {
    let token_len = data.iter().take_while(|b| b.is_ascii_uppercase()).count();
    (3..=16).contains(&token_len) && data.get(token_len) == Some(&b' ')
}

fn parse_head(bytes: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?;
    let _target = parts.next()?;
    let version = parts.next()?;
    if !looks_like_request_start(request_line.as_bytes()) || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut head = Head {
        close: version == "HTTP/1.0",
        upgrade: method == "CONNECT",
        ..Head::default()
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => head.content_length = value.parse().ok()?,
            "transfer-encoding" => {
                head.chunked = value.to_ascii_lowercase().contains("chunked");
            }
            "connection" => {
                let value = value.to_ascii_lowercase();
                if value.contains("close") {
                    head.close = true;
                } else if value.contains("keep-alive") {
                    head.close = false;
                }
            }
            "upgrade" => head.upgrade = true,
            _ => {}
        }
    }
    Some(head)
}

/// Advances a chunked body over `data`; returns bytes consumed and whether the body ended.
fn step_chunked(phase: &mut Chunk, data: &[u8]) -> (usize, bool) {
    let mut used = 0;
    while used < data.len() {
        let rest = &data[used..];
        match phase {
            Chunk::Size(line) => {
                let (n, complete) = take_line(line, rest);
                used += n;
                if complete {
                    let size = parse_chunk_size(line);
                    *phase = match size {
                        Some(0) | None => Chunk::Trailer(Vec::new()),
                        Some(size) => Chunk::Data(size),
                    };
                }
            }
            Chunk::Data(remaining) => {
                let n = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                used += n;
                *remaining -= n as u64;
                if *remaining == 0 {
                    *phase = Chunk::DataEnd(2);
                }
            }
            Chunk::DataEnd(left) => {
                used += 1;
                *left -= 1;
                if *left == 0 {
                    *phase = Chunk::Size(Vec::new());
                }
            }
            Chunk::Trailer(line) => {
                let (n, complete) = take_line(line, rest);
                used += n;
                if complete {
                    if line == b"\r\n" || line == b"\n" {
                        return (used, true);
                    }
                    line.clear();
                }
            }
        }
    }
    (used, false)
}

/// Appends bytes up to and including a newline; returns bytes used and whether the line ended.
fn take_line(line: &mut Vec<u8>, data: &[u8]) -> (usize, bool) {
    match data.iter().position(|b| *b == b'\n') {
        Some(p) => {
            line.extend_from_slice(&data[..=p]);
            (p + 1, true)
        }
        None => {
            line.extend_from_slice(data);
            (data.len(), false)
        }
    }
}

fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let hex = text.split(';').next()?.trim();
    u64::from_str_radix(hex, 16).ok()
}

/// Builds the injected response for `status`: a short JSON body, `Retry-After` for 429/503.
pub(crate) fn error_response(status: u16, service: &str, close: bool) -> Vec<u8> {
    let reason = reason_phrase(status);
    let body = format!(
        "{{\"error\":{{\"type\":\"vers_chaos\",\"status\":{status},\"message\":\"{reason} (injected by vers chaos on {})\"}}}}",
        service.replace(['"', '\\'], "")
    );
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if status == 429 || status == 503 {
        response.push_str("Retry-After: 1\r\n");
    }
    if close {
        response.push_str("Connection: close\r\n");
    }
    response.push_str("\r\n");
    response.push_str(&body);
    response.into_bytes()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(actions: &[Action]) -> Vec<u8> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Forward(b) => Some(b.clone()),
                Action::Respond { .. } => None,
            })
            .flatten()
            .collect()
    }

    fn responses(actions: &[Action]) -> usize {
        actions
            .iter()
            .filter(|a| matches!(a, Action::Respond { .. }))
            .count()
    }

    #[test]
    fn rejects_every_other_request_and_drops_its_body() {
        let stream = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /d HTTP/1.1\r\n\r\n";
        let mut n = 0;
        let mut reject = || {
            n += 1;
            (n % 2 == 0).then_some(503)
        };
        let mut framer = RequestFramer::new();
        let actions = framer.feed(stream, &mut reject);
        let expected = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(forwarded(&actions), expected.to_vec());
        assert_eq!(responses(&actions), 2);
        assert!(framer.at_boundary());
    }

    #[test]
    fn byte_by_byte_feeding_matches_whole_feeding() {
        let stream = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
        let mut framer = RequestFramer::new();
        let mut never = || None;
        let mut out = Vec::new();
        for b in stream.iter() {
            out.extend(forwarded(&framer.feed(&[*b], &mut never)));
        }
        assert_eq!(out, stream.to_vec());
        assert!(framer.at_boundary());
        let mut always = || Some(503);
        let mut framer = RequestFramer::new();
        let mut count = 0;
        for b in stream.iter() {
            let actions = framer.feed(&[*b], &mut always);
            assert!(forwarded(&actions).is_empty());
            count += responses(&actions);
        }
        assert_eq!(count, 2);
    }

    #[test]
    fn unsynced_stream_resyncs_only_on_request_start() {
        let mut framer = RequestFramer::new();
        framer.forwarded_raw();
        let mut always = || Some(503);
        let actions = framer.feed(b"tail of a body", &mut always);
        assert_eq!(forwarded(&actions), b"tail of a body".to_vec());
        let actions = framer.feed(b"GET / HTTP/1.1\r\n\r\n", &mut always);
        assert_eq!(responses(&actions), 1);
    }

    #[test]
    fn non_http_falls_back_to_passthrough() {
        let mut framer = RequestFramer::new();
        let mut always = || Some(503);
        let actions = framer.feed(b"*1\r\n$4\r\nPING\r\n\r\n", &mut always);
        assert_eq!(forwarded(&actions), b"*1\r\n$4\r\nPING\r\n\r\n".to_vec());
        let actions = framer.feed(b"GET / HTTP/1.1\r\n\r\n", &mut always);
        assert_eq!(responses(&actions), 0);
    }

    #[test]
    fn error_response_has_retry_after_and_length() {
        let text = String::from_utf8(error_response(429, "api", false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
        assert!(text.contains("Retry-After: 1\r\n"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["status"], 429);
    }
}
