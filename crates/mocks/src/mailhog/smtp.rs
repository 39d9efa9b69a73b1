//! The ESMTP capture server: a small state machine per connection (EHLO/HELO, AUTH PLAIN and
//! LOGIN accepting any credentials, MAIL/RCPT/DATA with dot-unstuffing, RSET, NOOP, QUIT),
//! answering pipelined commands in batches.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter,
};
use tokio::net::TcpListener;

use super::storage::{Envelope, MessageStore};
use super::MailhogError;

/// Host name in the greeting and EHLO answer.
const HOSTNAME: &str = "mailhog.example";
/// Largest message accepted, advertised with SIZE.
pub(crate) const MAX_MESSAGE_SIZE: usize = 32 * 1024 * 1024;
/// Longest command line accepted.
const MAX_COMMAND_LINE: u64 = 64 * 1024;
/// Most recipients of one message.
const MAX_RECIPIENTS: usize = 1000;
/// A connection silent for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Accepts SMTP connections on `listener` until accepting fails.
pub(crate) async fn run(
    listener: TcpListener,
    store: Arc<MessageStore>,
) -> Result<(), MailhogError> {
    loop {
        let (stream, peer) = listener
            .accept()
            .await
            .map_err(|source| MailhogError::Serve {
                what: "smtp",
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let store = store.clone();
        tokio::spawn(async move {
            let (read, write) = stream.into_split();
            if let Err(e) = Session::new(read, write, store).run().await {
                tracing::debug!("mailhog: smtp connection from {peer} ended: {e}");
            }
        });
    }
}

/// What reading one line gave.
enum Line {
    /// A complete line, CRLF (or LF) included.
    Complete,
    /// The peer closed the connection.
    Closed,
    /// The line is longer than the limit.
    TooLong,
}

/// One SMTP connection.
pub(crate) struct Session<R, W> {
    reader: BufReader<R>,
    writer: BufWriter<W>,
    store: Arc<MessageStore>,
    helo: Option<String>,
    authenticated: bool,
    from: Option<(String, String)>,
    to: Vec<String>,
    line: Vec<u8>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Session<R, W> {
    /// A session over a connection's two halves.
    pub(crate) fn new(read: R, write: W, store: Arc<MessageStore>) -> Self {
        Session {
            reader: BufReader::with_capacity(16 * 1024, read),
            writer: BufWriter::with_capacity(16 * 1024, write),
            store,
            helo: None,
            authenticated: false,
            from: None,
            to: Vec::new(),
            line: Vec::with_capacity(1024),
        }
    }

    /// Runs the dialogue until QUIT or until the peer goes away.
    pub(crate) async fn run(mut self) -> std::io::Result<()> {
        self.reply(&format!("220 {HOSTNAME} ESMTP MailHog ready"))
            .await?;
        loop {
            match self.read_line(MAX_COMMAND_LINE).await? {
                Line::Closed => {
                    self.writer.flush().await?;
                    return Ok(());
                }
                Line::TooLong => {
                    self.reply("500 5.5.2 Line too long").await?;
                    self.writer.flush().await?;
                    return Ok(());
                }
                Line::Complete => {}
            }
            let line = String::from_utf8_lossy(&self.line)
                .trim_end_matches(['\r', '\n'])
                .to_string();
            if !self.command(&line).await? {
                self.writer.flush().await?;
                return Ok(());
            }
        }
    }

    /// Handles one command line; false when the connection is to be closed.
    async fn command(&mut self, line: &str) -> std::io::Result<bool> {
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (line.to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" | "HELO" if arg.is_empty() => {
                self.reply("501 5.5.4 Syntax: EHLO hostname").await?
            }
            "EHLO" => {
                self.reset();
                self.helo = Some(arg.to_string());
                let answer = format!(
                    "250-{HOSTNAME} Hello {arg}\r\n250-PIPELINING\r\n250-8BITMIME\r\n\
                     250-SIZE {MAX_MESSAGE_SIZE}\r\n250 AUTH PLAIN LOGIN"
                );
                self.reply(&answer).await?;
            }
            "HELO" => {
                self.reset();
                self.helo = Some(arg.to_string());
                self.reply(&format!("250 {HOSTNAME} Hello {arg}")).await?;
            }
            "AUTH" => self.auth(arg).await?,
            "MAIL" => self.mail(arg).await?,
            "RCPT" => self.rcpt(arg).await?,
            "DATA" => self.data().await?,
            "RSET" => {
                self.reset();
                self.reply("250 2.0.0 Ok").await?;
            }
            "NOOP" => self.reply("250 2.0.0 Ok").await?,
            "VRFY" => self.reply("252 2.1.5 Cannot verify, will accept").await?,
            "HELP" => {
                self.reply("214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT")
                    .await?
            }
            "QUIT" => {
                self.reply("221 2.0.0 Bye").await?;
                return Ok(false);
            }
            _ => self.reply("500 5.5.2 Unrecognized command").await?,
        }
        Ok(true)
    }

    async fn auth(&mut self, arg: &str) -> std::io::Result<()> {
        if self.authenticated {
            return self.reply("503 5.5.1 Already authenticated").await;
        }
        let mut parts = arg.split_whitespace();
        let mechanism = parts.next().unwrap_or_default().to_ascii_uppercase();
        let initial = parts.next();
        let prompts: &[&str] = match mechanism.as_str() {
            "PLAIN" if initial.is_some() => &[],
            "PLAIN" => &["334 "],
            "LOGIN" if initial.is_some() => &["334 UGFzc3dvcmQ6"],
            "LOGIN" => &["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"],
            _ => {
                return self
                    .reply("504 5.5.4 Unrecognized authentication type")
                    .await
            }
        };
        for prompt in prompts {
            self.reply(prompt).await?;
            match self.read_line(MAX_COMMAND_LINE).await? {
                Line::Complete if self.line.starts_with(b"*") => {
                    return self.reply("501 5.7.0 Authentication cancelled").await
                }
                Line::Complete => {}
                Line::Closed | Line::TooLong => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection ended during AUTH",
                    ))
                }
            }
        }
        self.authenticated = true;
        self.reply("235 2.7.0 Authentication successful").await
    }

    async fn mail(&mut self, arg: &str) -> std::io::Result<()> {
        if self.from.is_some() {
            return self.reply("503 5.5.1 Nested MAIL command").await;
        }
        let Some((path, params)) = parse_path(arg, "FROM:") else {
            return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        let declared_size = params.split_whitespace().find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.eq_ignore_ascii_case("SIZE")
                .then(|| v.parse::<usize>().ok())
                .flatten()
        });
        if declared_size.is_some_and(|s| s > MAX_MESSAGE_SIZE) {
            return self
                .reply("552 5.3.4 Message size exceeds fixed limit")
                .await;
        }
        self.from = Some((path, params));
        self.reply("250 2.1.0 Ok").await
    }

    async fn rcpt(&mut self, arg: &str) -> std::io::Result<()> {
        if self.from.is_none() {
            return self.reply("503 5.5.1 Need MAIL before RCPT").await;
        }
        let Some((path, _)) = parse_path(arg, "TO:") else {
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if path.is_empty() {
            return self.reply("501 5.1.3 Empty recipient").await;
        }
        if self.to.len() >= MAX_RECIPIENTS {
            return self.reply("452 4.5.3 Too many recipients").await;
        }
        self.to.push(path);
        self.reply("250 2.1.5 Ok").await
    }

    async fn data(&mut self) -> std::io::Result<()> {
        if self.from.is_none() {
            return self.reply("503 5.5.1 Need MAIL command").await;
        }
        if self.to.is_empty() {
            return self.reply("554 5.5.1 No valid recipients").await;
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let mut data = Vec::with_capacity(4096);
        let mut too_big = false;
        loop {
            let limit = (MAX_MESSAGE_SIZE + 1024) as u64;
            match self.read_line(limit).await? {
                Line::Complete => {}
                Line::Closed | Line::TooLong => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection ended during DATA",
                    ))
                }
            }
            let line = &self.line[..];
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            if data.len() + line.len() > MAX_MESSAGE_SIZE {
                too_big = true;
            } else {
                data.extend_from_slice(line);
            }
        }
        let (from, from_params) = self.from.take().unwrap_or_default();
        let to = std::mem::take(&mut self.to);
        if too_big {
            return self
                .reply("552 5.3.4 Message size exceeds fixed limit")
                .await;
        }
        let envelope = Envelope {
            helo: self.helo.clone().unwrap_or_default(),
            from,
            from_params,
            to,
        };
        let store = self.store.clone();
        let stored = tokio::task::spawn_blocking(move || store.add(envelope, data)).await;
        match stored {
            Ok(Ok(id)) => self.reply(&format!("250 2.0.0 Ok: queued as {id}")).await,
            Ok(Err(e)) => {
                tracing::error!("mailhog: {e}");
                self.reply("451 4.3.0 Could not store the message").await
            }
            Err(e) => {
                tracing::error!("mailhog: storing a message panicked: {e}");
                self.reply("451 4.3.0 Could not store the message").await
            }
        }
    }

    fn reset(&mut self) {
        self.from = None;
        self.to.clear();
    }

    /// Queues a reply, flushing only when no pipelined input is waiting.
    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        self.writer.write_all(text.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await?;
        if self.reader.buffer().is_empty() {
            self.writer.flush().await?;
        }
        Ok(())
    }

    async fn read_line(&mut self, limit: u64) -> std::io::Result<Line> {
        self.line.clear();
        let mut bounded = (&mut self.reader).take(limit);
        let read = bounded.read_until(b'\n', &mut self.line);
        let n = tokio::time::timeout(IDLE_TIMEOUT, read)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle timeout"))??;
        Ok(if n == 0 {
            Line::Closed
        } else if self.line.ends_with(b"\n") {
            Line::Complete
        } else if n as u64 >= limit {
            Line::TooLong
        } else {
            Line::Closed
        })
    }
}

/// Parses `FROM:<path> params` (or `TO:`), returning the address and the parameters.
fn parse_path(arg: &str, keyword: &str) -> Option<(String, String)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        Some((
            inner[..end].to_string(),
            inner[end + 1..].trim().to_string(),
        ))
    } else {
        let mut words = rest.splitn(2, ' ');
        let path = words.next().filter(|p| !p.is_empty())?;
        Some((
            path.to_string(),
            words.next().unwrap_or_default().trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailhog::storage::StorageMode;

    #[test]
    fn parses_paths_and_params() {
        assert_eq!(
            parse_path("FROM:<a@x.io> BODY=8BITMIME SIZE=10", "FROM:"),
            Some(("a@x.io".into(), "BODY=8BITMIME SIZE=10".into()))
        );
        assert_eq!(
            parse_path("to: <b@y.io>", "TO:"),
            Some(("b@y.io".into(), String::new()))
        );
        assert_eq!(
            parse_path("FROM:<>", "FROM:"),
            Some((String::new(), String::new()))
        );
        assert_eq!(
            parse_path("FROM:b@y.io", "FROM:"),
            Some(("b@y.io".into(), String::new()))
        );
        assert_eq!(parse_path("TO:<b@y.io>", "FROM:"), None);
    }

    #[tokio::test]
    async fn pipelined_dialogue_captures_and_unstuffs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MessageStore::open(StorageMode::Memory, dir.path()).unwrap());
        let input =
            b"EHLO c\r\nAUTH PLAIN AHUAcA==\r\nMAIL FROM:<a@x.io>\r\nRCPT TO:<b@y.io>\r\nDATA\r\n\
            Subject: s\r\n\r\n..dot\r\n.\r\nRCPT TO:<c@z.io>\r\nRSET\r\nNOOP\r\nBOGUS\r\nQUIT\r\n";
        let mut output = Vec::new();
        Session::new(&input[..], &mut output, store.clone())
            .run()
            .await
            .unwrap();
        let text = String::from_utf8(output).unwrap();
        let codes: Vec<&str> = text.lines().map(|l| &l[..4]).collect();
        assert_eq!(
            codes,
            vec![
                "220 ", "250-", "250-", "250-", "250-", "250 ", "235 ", "250 ", "250 ", "354 ",
                "250 ", "503 ", "250 ", "250 ", "500 ", "221 "
            ]
        );
        let messages = store.newest_first();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].raw, b"Subject: s\r\n\r\n.dot\r\n");
        assert_eq!(messages[0].envelope.to, vec!["b@y.io".to_string()]);
        assert_eq!(messages[0].envelope.helo, "c");
    }

    #[tokio::test]
    async fn auth_login_prompts_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MessageStore::open(StorageMode::Memory, dir.path()).unwrap());
        let input = b"EHLO c\r\nAUTH LOGIN\r\ndQ==\r\ncA==\r\nAUTH CRAM-MD5\r\nQUIT\r\n";
        let mut output = Vec::new();
        Session::new(&input[..], &mut output, store)
            .run()
            .await
            .unwrap();
        let text = String::from_utf8(output).unwrap();
        assert!(
            text.contains("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 "),
            "{text}"
        );
        assert!(text.contains("503 5.5.1 Already authenticated"), "{text}");
    }
}
