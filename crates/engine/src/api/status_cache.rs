//! The daemon's own view of `status`: `GET /api/status` answers from a report kept in the
//! daemon instead of a worker probing every service per call. The report is rebuilt when an
//! operation changed something since it was made, or when it is older than a second; while
//! anyone watches (a status call in the last minute, or a listener on the event feed) the
//! daemon rebuilds it every second and publishes each change of a service's state or health
//! on the event feed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::events::EventBus;
use crate::error::EngineError;
use crate::project::Project;
use crate::status::{self, StatusReport};

/// How often the daemon rebuilds the report while someone watches.
const REFRESH: Duration = Duration::from_secs(1);
/// How old a report may be before a status call rebuilds it (the watcher keeps it younger
/// while it runs; a rebuild may take a while on a busy machine).
const MAX_AGE: Duration = Duration::from_secs(2);
/// How long after the last status call the daemon keeps probing on its own.
const WATCH_FOR: Duration = Duration::from_secs(60);

struct Cached {
    generation: u64,
    /// The manifest file's (modification time, length) when the report was made: an edit
    /// changes what status says (checkpoint reuse, warnings).
    manifest: Option<(std::time::SystemTime, u64)>,
    made: Instant,
    report: Value,
    /// (environment, service) -> (state, health), to publish changes.
    seen: BTreeMap<(String, String), (String, String)>,
}

/// The report and what decides whether it is still true.
pub struct StatusCache {
    project: Project,
    bus: EventBus,
    /// Bumped whenever an operation may have changed environments.
    generation: AtomicU64,
    /// The last report; read without waiting for a rebuild in progress.
    cached: std::sync::RwLock<Option<Arc<Cached>>>,
    /// Held while a report is being built, so one build serves every waiting caller.
    building: Mutex<()>,
    last_asked: std::sync::Mutex<Option<Instant>>,
}

impl StatusCache {
    /// An empty cache for `project`, publishing changes on `bus`.
    pub fn new(project: Project, bus: EventBus) -> Arc<StatusCache> {
        Arc::new(StatusCache {
            project,
            bus,
            generation: AtomicU64::new(0),
            cached: std::sync::RwLock::new(None),
            building: Mutex::new(()),
            last_asked: std::sync::Mutex::new(None),
        })
    }

    /// Marks the report stale: an operation started, progressed or ended.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current report: the kept one when nothing changed since and it is fresh, else a
    /// new one.
    pub async fn get(&self) -> Result<Value, EngineError> {
        let mut report = self.environments().await?;
        // Whether `up` would reuse each checkpoint depends on the project's files, which no
        // request announces: that part is worked out for every call.
        let running = report["environments"]
            .as_array()
            .is_some_and(|e| !e.is_empty());
        let (checkpoints, mut warnings) = status::checkpoint_view(&self.project, running).await;
        let store = crate::store_space::report(&self.project.state_dir);
        if let Some(full) = store.as_ref().and_then(|s| s.full.clone()) {
            warnings.push(full);
        }
        if let Some(obj) = report.as_object_mut() {
            obj.insert("checkpoints".into(), serde_json::json!(checkpoints));
            match store {
                Some(store) => obj.insert("store".into(), serde_json::json!(store)),
                None => obj.remove("store"),
            };
            if warnings.is_empty() {
                obj.remove("warnings");
            } else {
                obj.insert("warnings".into(), serde_json::json!(warnings));
            }
        }
        Ok(report)
    }

    async fn environments(&self) -> Result<Value, EngineError> {
        if let Ok(mut t) = self.last_asked.lock() {
            *t = Some(Instant::now());
        }
        if let Some(v) = self.fresh(self.generation.load(Ordering::SeqCst)) {
            return Ok(v);
        }
        let _building = self.building.lock().await;
        let generation = self.generation.load(Ordering::SeqCst);
        // A build that finished while this call waited may already be current.
        if let Some(v) = self.fresh(generation) {
            return Ok(v);
        }
        self.rebuild(generation).await
    }

    fn kept(&self) -> Option<Arc<Cached>> {
        self.cached.read().ok().and_then(|c| c.clone())
    }

    fn fresh(&self, generation: u64) -> Option<Value> {
        let manifest = self.manifest_stamp();
        self.kept()
            .filter(|c| {
                c.generation == generation && c.made.elapsed() < MAX_AGE && c.manifest == manifest
            })
            .map(|c| c.report.clone())
    }

    fn manifest_stamp(&self) -> Option<(std::time::SystemTime, u64)> {
        let meta = std::fs::metadata(&self.project.manifest_path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    async fn rebuild(&self, generation: u64) -> Result<Value, EngineError> {
        let manifest = self.manifest_stamp();
        let report = status::environments(&self.project).await?;
        let seen = states_of(&report);
        if let Some(before) = self.kept() {
            self.publish_changes(&before.seen, &seen);
        }
        let value = serde_json::to_value(&report)
            .map_err(|e| EngineError::Failed(format!("encoding the status: {e}")))?;
        let fresh = Arc::new(Cached {
            generation,
            manifest,
            made: Instant::now(),
            report: value.clone(),
            seen,
        });
        if let Ok(mut c) = self.cached.write() {
            *c = Some(fresh);
        }
        Ok(value)
    }

    fn publish_changes(
        &self,
        before: &BTreeMap<(String, String), (String, String)>,
        now: &BTreeMap<(String, String), (String, String)>,
    ) {
        for ((env, service), (state, health)) in now {
            let key = (env.clone(), service.clone());
            if before.get(&key) != Some(&(state.clone(), health.clone())) {
                self.bus.publish_service(env, service, state, health);
            }
        }
        for (env, service) in before.keys() {
            if !now.contains_key(&(env.clone(), service.clone())) {
                self.bus.publish_service(env, service, "removed", "unknown");
            }
        }
    }

    fn watched(&self) -> bool {
        let asked = self
            .last_asked
            .lock()
            .ok()
            .and_then(|t| *t)
            .is_some_and(|t| t.elapsed() < WATCH_FOR);
        asked || self.bus.listeners() > 0
    }

    /// Rebuilds the report every second while someone watches, so health changes reach
    /// the event feed without anyone asking. Runs for the daemon's life.
    pub async fn watch(self: Arc<StatusCache>) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !self.watched() {
                continue;
            }
            let _building = self.building.lock().await;
            let generation = self.generation.load(Ordering::SeqCst);
            if let Err(e) = self.rebuild(generation).await {
                tracing::debug!("status refresh: {e}");
            }
        }
    }
}

/// Any request but a read may change environments: the kept status report is stale from then.
/// Health probes (which building the report itself sends) change nothing.
pub async fn stale_on_change(
    axum::extract::State(status): axum::extract::State<Arc<StatusCache>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let read_only = request.method() == axum::http::Method::GET
        || request.uri().path().ends_with("/probe")
        || request.uri().path() == "/api/exec/spec";
    if !read_only {
        status.invalidate();
    }
    next.run(request).await
}

fn states_of(report: &StatusReport) -> BTreeMap<(String, String), (String, String)> {
    report
        .environments
        .iter()
        .flat_map(|e| {
            e.services.iter().map(move |s| {
                (
                    (e.id.clone(), s.name.clone()),
                    (s.state.clone(), s.health.clone()),
                )
            })
        })
        .collect()
}
