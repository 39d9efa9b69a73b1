//! A service's log followed live for the dashboard: its tail, then each appended piece, as
//! server-sent events read from the log file the supervisor writes.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::project::Project;

/// Bytes of the log sent first.
const FIRST_BYTES: u64 = 16 * 1024;
/// Most bytes sent in one event.
const CHUNK: u64 = 64 * 1024;
/// How often the file is looked at.
const POLL: Duration = Duration::from_millis(250);

/// The log file of `service` in environment `env` (its first replica when it has several).
pub fn service_log(project: &Project, env: &str, service: &str) -> PathBuf {
    let dir = project.logs_dir().join(env);
    let single = dir.join(format!("{service}.log"));
    if single.exists() {
        single
    } else {
        dir.join(format!("{service}-0.log"))
    }
}

/// What the reader knows of the file.
struct Follow {
    path: PathBuf,
    offset: Option<u64>,
}

/// The events of `path`: `log` events whose data is a JSON string of new text (the first one
/// its last [`FIRST_BYTES`], cut at a line), and `reset` when the file was truncated.
pub fn follow(path: PathBuf) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let state = Follow { path, offset: None };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = next(&mut st).await {
                return Some((Ok(ev), st));
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The next event, if the file has news.
async fn next(st: &mut Follow) -> Option<Event> {
    let len = tokio::fs::metadata(&st.path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let (from, first, reset) = match st.offset {
        None => (len.saturating_sub(FIRST_BYTES), true, false),
        Some(o) if len < o => (0, false, true),
        Some(o) if len == o => return None,
        Some(o) => (o, false, false),
    };
    let mut f = match tokio::fs::File::open(&st.path).await {
        Ok(f) => f,
        Err(_) => {
            st.offset = Some(0);
            return first.then(|| Event::default().event("log").data("\"\""));
        }
    };
    if f.seek(std::io::SeekFrom::Start(from)).await.is_err() {
        return None;
    }
    let mut bytes = Vec::new();
    let _ = (&mut f).take(CHUNK).read_to_end(&mut bytes).await;
    st.offset = Some(from + bytes.len() as u64);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if first && from > 0 {
        // Start at a whole line.
        text = text
            .split_once('\n')
            .map(|x| x.1.to_string())
            .unwrap_or_default();
    }
    let data = serde_json::to_string(&text).unwrap_or_else(|_| "\"\"".into());
    Some(
        Event::default()
            .event(if reset { "reset" } else { "log" })
            .data(data),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_reader_sends_the_tail_then_what_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.log");
        let old: String = (0..5000).map(|i| format!("old {i}\n")).collect();
        std::fs::write(&path, &old).unwrap();
        let mut st = Follow {
            path: path.clone(),
            offset: None,
        };
        assert!(next(&mut st).await.is_some());
        assert_eq!(st.offset, Some(old.len() as u64));
        assert!(next(&mut st).await.is_none(), "nothing new");
        std::fs::write(&path, format!("{old}new line\n")).unwrap();
        assert!(next(&mut st).await.is_some());
        assert_eq!(st.offset, Some(old.len() as u64 + 9));
        std::fs::write(&path, "rotated\n").unwrap();
        assert!(
            next(&mut st).await.is_some(),
            "a truncated file is read again"
        );
        assert_eq!(st.offset, Some(8));
    }
}
