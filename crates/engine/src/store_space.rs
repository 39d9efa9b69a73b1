//! Space in the loop-mounted snapshot store: the daemon's watch that grows the image on demand
//! ([`vers_runtime::snapshot::growth`]), the record of when the store was full
//! (`.vers/store-full.json`), what `status` shows of it, and the refusal to checkpoint an
//! environment that ran while the store was full (its writes may have failed with ENOSPC).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vers_runtime::snapshot::growth::{self, Bound, Growth};

use crate::error::EngineError;
use crate::project::Project;
use crate::state;

/// How often the daemon looks at the store's free space (one `statvfs`, a few microseconds):
/// often, since a burst of writes larger than the free space fails before the next look.
pub const WATCH_EVERY: Duration = Duration::from_millis(100);

/// What `.vers/store-full.json` keeps: whether the store is full now, when it was first and
/// last seen full, and the message saying why and what to do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FullRecord {
    /// Whether the store is full now.
    pub full: bool,
    /// Unix seconds the store was first seen full in the latest episode.
    pub since: u64,
    /// Unix seconds the store was last seen full.
    pub last: u64,
    /// The message (`snapshot store full (N GB): … — …`).
    pub message: String,
}

/// The store as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoreReport {
    /// Apparent size of the image, in bytes.
    pub size_bytes: u64,
    /// Bytes free in it.
    pub free_bytes: u64,
    /// The size it may grow to.
    pub limit_bytes: u64,
    /// What sets the limit: `VERS_STORE_LIMIT` or `host disk`.
    pub limit_from: String,
    /// The message when the store is full now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<String>,
    /// Unix seconds the store was last seen full, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_full: Option<u64>,
}

fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("store-full.json")
}

/// The record of when the store was full; `None` when it never was.
pub fn read_record(state_dir: &Path) -> Option<FullRecord> {
    let text = std::fs::read_to_string(record_path(state_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_record(state_dir: &Path, rec: &FullRecord) {
    let path = record_path(state_dir);
    let written = serde_json::to_vec(rec)
        .map_err(std::io::Error::other)
        .and_then(|b| crate::atomic_file::write(&path, &b));
    if let Err(e) = written {
        tracing::warn!("{}: {e}", path.display());
    }
}

/// The message of a store that is full now (as the daemon last saw it).
pub fn full_now(state_dir: &Path) -> Option<String> {
    read_record(state_dir).filter(|r| r.full).map(|r| r.message)
}

/// The store's space and state for `status`; `None` when the store is not a loop image.
pub fn report(state_dir: &Path) -> Option<StoreReport> {
    let space = growth::space(state_dir)?;
    let rec = read_record(state_dir);
    Some(StoreReport {
        size_bytes: space.size,
        free_bytes: space.free,
        limit_bytes: space.limit,
        limit_from: match space.bound {
            Bound::Configured => growth::LIMIT_VAR.to_string(),
            Bound::HostDisk { .. } => "host disk".to_string(),
        },
        full: rec.as_ref().filter(|r| r.full).map(|r| r.message.clone()),
        last_full: rec.map(|r| r.last),
    })
}

/// Refuses to checkpoint environment `env_id` when the store was full since it started or
/// was last rolled back (some of its writes may have failed with ENOSPC, so its data may be
/// broken), unless `force`.
pub fn check_commit(project: &Project, env_id: &str, force: bool) -> Result<(), EngineError> {
    let Some(rec) = read_record(&project.state_dir) else {
        return Ok(());
    };
    let st = state::read(&project.state_dir)?;
    let Some(env) = st.envs.get(env_id) else {
        return Ok(());
    };
    if rec.last < env.created.max(env.restored) {
        return Ok(());
    }
    let now = if rec.full {
        "and still is"
    } else {
        "and has room again"
    };
    if force {
        tracing::warn!(
            "checkpointing {} although the snapshot store was full while it ran (forced)",
            env.name
        );
        return Ok(());
    }
    Err(EngineError::Failed(format!(
        "refusing to checkpoint `{}`: the snapshot store was full while it ran ({now}), so \
         writes of its services may have failed with ENOSPC and its data may be incomplete.\n\
         {}\nStart again from a good checkpoint (`vers rollback`, `vers checkout`), or commit \
         anyway with `vers commit --force`",
        env.name, rec.message
    )))
}

/// What the watch reports, for logs and the event feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The image grew.
    Grew {
        /// Size before, bytes.
        from: u64,
        /// Size after, bytes.
        to: u64,
        /// Milliseconds it took.
        ms: u64,
    },
    /// The store became full (the message).
    Full(String),
    /// A full store has room again.
    Room,
}

/// One look at the store: grows it when short of space, and records (and returns) a change
/// of state. Cheap when there is room (one `statvfs`).
pub fn check(state_dir: &Path) -> Option<Change> {
    let growth = match growth::ensure_room(state_dir, None, 0) {
        Ok(g) => g?,
        Err(e) => {
            tracing::warn!("growing the snapshot store: {e}");
            return None;
        }
    };
    let rec = read_record(state_dir);
    let was_full = rec.as_ref().is_some_and(|r| r.full);
    match growth {
        Growth::Full(full) => {
            let now = state::now();
            let message = full.to_string();
            let rec = match rec {
                Some(r) if r.full => FullRecord {
                    last: now,
                    message: message.clone(),
                    ..r
                },
                _ => FullRecord {
                    full: true,
                    since: now,
                    last: now,
                    message: message.clone(),
                },
            };
            // One write a second at most while it stays full.
            let unchanged = read_record(state_dir)
                .is_some_and(|old| old.full && old.last == rec.last && old.message == message);
            if !unchanged {
                write_record(state_dir, &rec);
            }
            (!was_full).then_some(Change::Full(message))
        }
        Growth::Grew { from, space, took } => {
            if was_full {
                if let Some(r) = rec {
                    write_record(state_dir, &FullRecord { full: false, ..r });
                }
            }
            Some(Change::Grew {
                from,
                to: space.size,
                ms: took.as_millis() as u64,
            })
        }
        Growth::Enough(space) | Growth::AtLimit(space) => {
            // Twice the full threshold before it counts as having room: no flapping.
            if was_full && space.free >= 2 * growth::full_threshold(space.size) {
                if let Some(r) = rec {
                    write_record(state_dir, &FullRecord { full: false, ..r });
                }
                Some(Change::Room)
            } else {
                None
            }
        }
    }
}

/// The daemon's watch: looks at the store every [`WATCH_EVERY`], grows it, and logs and
/// publishes what changed (`store` events on the feed).
pub async fn watch(project: Project, bus: crate::api::events::EventBus) {
    loop {
        let dir = project.state_dir.clone();
        let change = tokio::task::spawn_blocking(move || check(&dir))
            .await
            .ok()
            .flatten();
        if let Some(change) = change {
            let (level, message) = match &change {
                Change::Grew { from, to, ms } => (
                    "info",
                    format!(
                        "snapshot store grew from {} MB to {} MB in {ms} ms",
                        from / 1_000_000,
                        to / 1_000_000
                    ),
                ),
                Change::Full(m) => ("warning", m.clone()),
                Change::Room => ("info", "snapshot store has room again".to_string()),
            };
            if level == "warning" {
                tracing::warn!("{message}");
                eprintln!("warning: {message}");
            } else {
                tracing::info!("{message}");
                eprintln!("{message}");
            }
            bus.publish_store(level, &message);
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}
