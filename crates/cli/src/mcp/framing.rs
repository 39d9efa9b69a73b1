//! The stdio framing of `vers mcp`: one JSON-RPC message per line each way. Lines that
//! are not JSON (a truncated message, plain text, invalid UTF-8) get the JSON-RPC answer
//! `-32700 Parse error` here; the MCP library would drop them, and a client waiting for an
//! answer would wait forever. Everything else passes to the library unchanged, and its
//! output goes to stdout a whole line at a time, so an error line never splits a message.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Room in each pipe between the framing and the MCP library.
const PIPE_BYTES: usize = 1 << 20;

/// The MCP library's ends of stdin and stdout, and the task writing to stdout (awaited at
/// the end so nothing written is lost).
pub(super) struct Stdio {
    /// What the library reads: the JSON lines of stdin.
    pub input: DuplexStream,
    /// What the library writes: copied to stdout.
    pub output: DuplexStream,
    /// Ends once the library's output is closed and written out.
    pub writer: JoinHandle<()>,
}

/// Starts the framing on this process's stdin and stdout.
pub(super) fn stdio() -> Stdio {
    let (input, feed) = tokio::io::duplex(PIPE_BYTES);
    let (output, drain) = tokio::io::duplex(PIPE_BYTES);
    let (errors, pending) = mpsc::unbounded_channel();
    tokio::spawn(read(tokio::io::stdin(), feed, errors));
    let writer = tokio::spawn(write(drain, pending, tokio::io::stdout()));
    Stdio {
        input,
        output,
        writer,
    }
}

/// Passes the JSON lines of `from` to `to`; answers the others on `errors`.
async fn read<R, W>(from: R, mut to: W, errors: mpsc::UnboundedSender<String>)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut lines = BufReader::new(from).split(b'\n');
    while let Ok(Some(mut line)) = lines.next_segment().await {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<serde::de::IgnoredAny>(&line) {
            Ok(_) => {
                line.push(b'\n');
                if to.write_all(&line).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                let answer = serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": null,
                    "error": {
                        "code": -32700,
                        "message": format!(
                            "Parse error: a line of stdin is not a JSON message ({e}); send one \
                             JSON-RPC message per line"
                        ),
                    },
                });
                if errors.send(answer.to_string()).is_err() {
                    return;
                }
            }
        }
    }
    // End of stdin: the library sees the end of its input and closes the session.
    let _ = to.shutdown().await;
}

/// Writes the library's output lines and the parse-error answers to `to`, whole lines only,
/// until the library's output ends.
async fn write<R, W>(from: R, mut errors: mpsc::UnboundedReceiver<String>, mut to: W)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut lines = BufReader::new(from).split(b'\n');
    let mut errors_open = true;
    loop {
        let mut line = tokio::select! {
            next = lines.next_segment() => match next {
                Ok(Some(line)) => line,
                _ => break,
            },
            error = errors.recv(), if errors_open => match error {
                Some(text) => text.into_bytes(),
                None => {
                    errors_open = false;
                    continue;
                }
            },
        };
        line.push(b'\n');
        if to.write_all(&line).await.is_err() || to.flush().await.is_err() {
            return;
        }
    }
    // Answers to lines read just before the end still go out.
    while let Ok(text) = errors.try_recv() {
        let _ = to.write_all(format!("{text}\n").as_bytes()).await;
    }
    let _ = to.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_that_are_not_json_are_answered_and_the_rest_pass_whole() {
        let stdin: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n\n{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\nplain text\n\xff\xfe\n";
        let (input, feed) = tokio::io::duplex(PIPE_BYTES);
        let (errors, pending) = mpsc::unbounded_channel();
        read(stdin, feed, errors).await;
        let mut passed = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut { input }, &mut passed)
            .await
            .unwrap();
        assert_eq!(
            passed,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"
        );

        let library: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";
        let mut stdout = Vec::new();
        write(library, pending, &mut stdout).await;
        let out = String::from_utf8(stdout).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert_eq!(
            lines
                .iter()
                .filter(|l| l["error"]["code"] == -32700)
                .count(),
            3
        );
        assert!(lines
            .iter()
            .any(|l| l["id"] == 1 && l["result"].is_object()));
        assert!(lines.iter().all(|l| l.get("id").is_some()));
    }
}
