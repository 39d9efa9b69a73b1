//! Taking checkpoints (quiesce, freeze, snapshot, thaw) and the cache keys that let an
//! unchanged checkpoint be reused instead of recomputed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vers_catalog::EngineBinary;
use vers_manifest::{AfterSelector, Manifest};

use crate::environment::{self, EnvContext};
use crate::error::EngineError;
use crate::inputs::ProjectFiles;
use crate::project::Project;
use crate::state::{self, CheckpointRecord};

/// Name of the automatic checkpoint taken once every service is healthy.
pub const SERVICES_READY: &str = "services-ready";

/// One link of a manifest's checkpoint chain.
#[derive(Debug, Clone)]
pub struct ChainStep {
    /// Checkpoint name.
    pub name: String,
    /// What must happen before it is taken (None for the automatic `services-ready`).
    pub after: Option<AfterSelector>,
    /// Manifest description.
    pub description: Option<String>,
    /// Cache key of the checkpoint's inputs.
    pub key: String,
    /// The inputs the key covers, by name (a project file's relative path, `service NAME`,
    /// `engine NAME`, `trigger`, `matrix`, `parent`) -> a digest of each; recorded with the
    /// checkpoint so a later run can say which of them changed.
    pub inputs: BTreeMap<String, String>,
}

/// Hash of the whole manifest file content.
pub fn manifest_hash(m: &Manifest) -> String {
    let text = std::fs::read(&m.path).unwrap_or_default();
    crate::manifest_store::hash(&text)
}

/// The files of `inputs` globs (relative to the project); None when there are none or one is
/// not a glob (`validate` refuses those), in which case every project file counts.
fn input_globs(inputs: &[String]) -> Option<globset::GlobSet> {
    if inputs.is_empty() {
        return None;
    }
    let mut set = globset::GlobSetBuilder::new();
    for pattern in inputs {
        set.add(globset::Glob::new(pattern.trim_start_matches("./")).ok()?);
    }
    set.build().ok()
}

/// The named inputs of one checkpoint, turned into its key.
#[derive(Default)]
struct Inputs(BTreeMap<String, String>);

impl Inputs {
    fn add(&mut self, name: impl Into<String>, content: &[u8]) {
        self.0
            .insert(name.into(), hex::encode(Sha256::digest(content)));
    }

    /// The key: every (name, digest) pair in name order, with a version prefix.
    fn key(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"vers-checkpoint-v2\0");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        for (name, digest) in &self.0 {
            h.update(b"\0");
            h.update(name.as_bytes());
            h.update(b"\0");
            h.update(digest.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// The checkpoint chain of a manifest for a set of services: `services-ready` first (unless
/// declared), then the declared checkpoints in order, each keyed by its inputs: the first by
/// the services' definitions, engine versions and the files of their build contexts, each
/// declared one by its parent's key, its trigger and the project's files (every file git
/// would track, or those its `inputs` globs name).
pub fn chain(
    m: &Manifest,
    services: &[String],
    engines: &BTreeMap<String, EngineBinary>,
    versions: &BTreeMap<String, String>,
    project_dir: &std::path::Path,
) -> Vec<ChainStep> {
    let files = ProjectFiles::read(project_dir);
    let mut first = Inputs::default();
    for name in services {
        if let Some(svc) = m.services.get(name) {
            let definition = format!(
                "{:?}\0{}\0{:?}{:?}{:?}",
                svc.template, svc.config, svc.build, svc.command, svc.env
            );
            first.add(format!("service {name}"), definition.as_bytes());
            if let Some(e) = engines.get(name) {
                first.add(format!("engine {name}"), e.version.as_bytes());
            }
            // An app's start-up (migrations, fixtures) shapes the data too.
            if let Some(build) = &svc.build {
                for (path, hash) in files.entries(&build.context, None) {
                    first
                        .0
                        .insert(path.display().to_string(), hex::encode(hash));
                }
            }
            // init scripts are inputs of the data too
            if let Some(scripts) = svc.config.get("init_scripts").and_then(|v| v.as_array()) {
                for s in scripts.iter().filter_map(|s| s.as_str()) {
                    first.add(s, &std::fs::read(project_dir.join(s)).unwrap_or_default());
                }
            }
        }
    }
    first.add("matrix", format!("{versions:?}").as_bytes());
    let mut key = first.key();
    let mut steps = Vec::new();
    let declared_ready = m.checkpoints.iter().any(|c| c.name == SERVICES_READY);
    if !declared_ready {
        steps.push(ChainStep {
            name: SERVICES_READY.into(),
            after: None,
            description: Some("every service started and healthy".into()),
            key: key.clone(),
            inputs: first.0.clone(),
        });
    }
    let mut parent_name = SERVICES_READY.to_string();
    for c in &m.checkpoints {
        let mut inputs = Inputs::default();
        if steps.is_empty() {
            // The first checkpoint stands on the services themselves.
            inputs.0.extend(first.0.clone());
        } else {
            inputs
                .0
                .insert(format!("checkpoint {parent_name}"), key.clone());
        }
        inputs.add("name", c.name.as_bytes());
        inputs.add("trigger", format!("{:?}", c.after).as_bytes());
        let globs = input_globs(&c.inputs);
        for (path, hash) in files.entries(Path::new(""), globs.as_ref()) {
            inputs
                .0
                .insert(path.display().to_string(), hex::encode(hash));
        }
        match &c.after {
            AfterSelector::Script(p) => {
                inputs.add(
                    p.display().to_string(),
                    &std::fs::read(project_dir.join(p)).unwrap_or_default(),
                );
            }
            AfterSelector::SuiteSetup { suite, index } => {
                if let Some(s) = m.tests.get(suite) {
                    let setup = match index {
                        Some(i) => s.setup.get(*i).cloned().unwrap_or_default(),
                        None => s.setup.join("\n"),
                    };
                    inputs.add(format!("setup of suite {suite}"), setup.as_bytes());
                }
            }
            AfterSelector::Shell(_) | AfterSelector::Healthcheck(_) => {}
        }
        key = inputs.key();
        steps.push(ChainStep {
            name: c.name.clone(),
            after: Some(c.after.clone()),
            description: c.description.clone(),
            key: key.clone(),
            inputs: inputs.0,
        });
        parent_name = c.name.clone();
    }
    steps
}

/// Cache key of a suite's `setup` checkpoint on top of `parent_key`.
pub fn setup_key(parent_key: &str, commands: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(parent_key.as_bytes());
    h.update(b"\0setup\0");
    h.update(commands.join("\n").as_bytes());
    hex::encode(h.finalize())
}

/// What to record with a new checkpoint.
pub struct NewCheckpoint<'a> {
    /// Name (manifest checkpoint or tag).
    pub name: &'a str,
    /// Parent checkpoint id.
    pub parent: Option<String>,
    /// Services whose data it holds.
    pub services: &'a [String],
    /// Message or description.
    pub message: Option<String>,
    /// Cache key, for manifest checkpoints.
    pub cache_key: Option<String>,
    /// The named inputs the cache key covers (see [`ChainStep::inputs`]).
    pub inputs: Option<&'a BTreeMap<String, String>>,
    /// Checkpoint even when the snapshot store was full while the environment ran.
    pub force: bool,
}

/// Takes a checkpoint of a running environment: quiesce the engines, then freeze every
/// process, snapshot the data volume and thaw in one daemon operation. The snapshot becomes visible (in the store and in the
/// state) only once complete.
pub async fn take(
    ctx: &EnvContext,
    engines: &BTreeMap<String, EngineBinary>,
    new: NewCheckpoint<'_>,
) -> Result<(CheckpointRecord, Duration), EngineError> {
    crate::store_space::check_commit(&ctx.project, &ctx.env_id, new.force)?;
    let failed = environment::quiesce(ctx, new.services, engines).await;
    if !failed.is_empty() && !new.force {
        return Err(EngineError::Failed(format!(
            "not checkpointing {}: a service could not write what it holds in memory, so the \
             checkpoint would miss it.\n{}\nFix the service (its log: `vers logs SERVICE`), or \
             commit anyway with `vers commit --force`",
            ctx.env_name,
            failed.join("\n")
        )));
    }
    for f in &failed {
        tracing::warn!("checkpointing {} anyway (forced): {f}", ctx.env_name);
    }
    let id = {
        let mut g = state::lock(&ctx.project.state_dir)?;
        if let Ok(snap) = crate::storage::snapshotter(&ctx.project) {
            crate::cleanup::sweep_pending(&mut g.state, snap.as_ref());
        }
        let id = g.state.new_id("c");
        // A snapshot whose record below is never written (the process killed in between)
        // is removed by the next sweep.
        g.state.pending.insert(
            id.clone(),
            state::Pending::mine(state::PendingKind::Checkpoint),
        );
        g.save()?;
        id
    };
    crate::error::failpoint("checkpoint-before-snapshot")?;
    let began = Instant::now();
    ctx.client
        .snapshot(&ctx.env_id, &id)
        .await
        .map_err(|e| EngineError::Failed(format!("checkpoint {}: {e}", new.name)))?;
    let took = began.elapsed();
    crate::error::failpoint("checkpoint-after-snapshot")?;
    if let Some(inputs) = new.inputs {
        save_inputs(&ctx.project, &id, inputs)?;
    }
    // Kept for comparisons; a checkpoint does not fail for want of it.
    let _ = crate::manifest_store::save(&ctx.project);
    let record = CheckpointRecord {
        id: id.clone(),
        name: new.name.to_string(),
        parent: new.parent,
        env: ctx.env_id.clone(),
        services: new.services.to_vec(),
        message: new.message,
        cache_key: new.cache_key.clone(),
        created: state::now(),
        manifest_hash: manifest_hash(&ctx.manifest),
        engines: engines
            .iter()
            .map(|(k, v)| (k.clone(), format!("{}@{}", v.template, v.version)))
            .collect(),
        matrix: ctx.versions.clone(),
    };
    let mut g = state::lock(&ctx.project.state_dir)?;
    g.state.checkpoints.insert(id.clone(), record.clone());
    // A manifest checkpoint taken for a matrix combination (other engine versions) is found
    // through the cache, never by its name: the name keeps meaning the manifest's versions.
    let matrix_cell = !ctx.versions.is_empty() && new.cache_key.is_some();
    if !matrix_cell {
        g.state.tags.insert(new.name.to_string(), id.clone());
    }
    if let Some(key) = new.cache_key {
        g.state.cache.insert(key, id.clone());
    }
    if let Some(env) = g.state.envs.get_mut(&ctx.env_id) {
        env.parent_checkpoint = Some(id.clone());
    }
    g.state.pending.remove(&id);
    g.save()?;
    Ok((record, took))
}

/// A cached checkpoint for `key` whose snapshot still exists, taken at or after
/// `fresh_since` (unix seconds) when given: `--rebuild` ignores what was cached before the
/// run began, and still reuses what the run itself took.
pub fn cached(
    state: &state::State,
    snap: &dyn vers_runtime::snapshot::Snapshotter,
    key: &str,
    fresh_since: Option<u64>,
) -> Option<CheckpointRecord> {
    let id = state.cache.get(key)?;
    let rec = state.checkpoints.get(id)?;
    let fresh = fresh_since.is_none_or(|since| rec.created >= since);
    (fresh && snap.checkpoint_exists(id)).then(|| rec.clone())
}

/// Where the named inputs of checkpoint `id` are kept (beside the state, not in it: a
/// project of many files would make every state write large).
fn inputs_path(project: &Project, id: &str) -> PathBuf {
    project.state_dir.join("inputs").join(format!("{id}.json"))
}

/// Records the named inputs of checkpoint `id` (digests shortened to 16 hex digits: they
/// only tell which input changed; the key itself is the full hash).
pub fn save_inputs(
    project: &Project,
    id: &str,
    inputs: &BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let short: BTreeMap<&str, &str> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.get(..16).unwrap_or(v)))
        .collect();
    let path = inputs_path(project, id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    let text = serde_json::to_vec(&short)
        .map_err(|e| EngineError::Failed(format!("encoding the inputs of {id}: {e}")))?;
    std::fs::write(&path, text).map_err(|e| EngineError::io(&path, e))
}

/// The recorded inputs of checkpoint `id`, if any.
fn load_inputs(project: &Project, id: &str) -> Option<BTreeMap<String, String>> {
    let bytes = std::fs::read(inputs_path(project, id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Forgets the recorded inputs of a deleted checkpoint.
pub fn forget_inputs(project: &Project, id: &str) {
    let _ = std::fs::remove_file(inputs_path(project, id));
}

/// Whether one checkpoint of the chain would be reused, and why or why not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reuse {
    /// Checkpoint name.
    pub name: String,
    /// Whether the cached checkpoint is reused.
    pub reused: bool,
    /// The checkpoint reused.
    pub checkpoint: Option<String>,
    /// `reused: inputs unchanged`, `rebuilt: seed.sh changed`, `new: never taken`, ...
    pub reason: String,
}

/// Says, for each step of a chain in order, whether a run would reuse its cached
/// checkpoint and why (the same rule as [`crate::stack::build`]: the longest cached prefix).
pub fn explain(
    project: &Project,
    state: &state::State,
    snap: &dyn vers_runtime::snapshot::Snapshotter,
    steps: &[ChainStep],
    fresh_since: Option<u64>,
) -> Vec<Reuse> {
    let mut rebuilt: Option<&str> = None;
    let mut out = Vec::new();
    for step in steps {
        let reuse = match (rebuilt, cached(state, snap, &step.key, fresh_since)) {
            (None, Some(rec)) => Reuse {
                name: step.name.clone(),
                reused: true,
                checkpoint: Some(rec.id),
                reason: "reused: inputs unchanged".into(),
            },
            (Some(parent), _) => Reuse {
                name: step.name.clone(),
                reused: false,
                checkpoint: None,
                reason: format!("rebuilt: it follows {parent}, which is rebuilt"),
            },
            (None, None) => {
                rebuilt = Some(&step.name);
                Reuse {
                    name: step.name.clone(),
                    reused: false,
                    checkpoint: None,
                    reason: why_not_reused(project, state, snap, step, fresh_since),
                }
            }
        };
        out.push(reuse);
    }
    out
}

/// Why `step` has no usable cached checkpoint.
fn why_not_reused(
    project: &Project,
    state: &state::State,
    snap: &dyn vers_runtime::snapshot::Snapshotter,
    step: &ChainStep,
    fresh_since: Option<u64>,
) -> String {
    if let Some(id) = state.cache.get(&step.key) {
        return if !state.checkpoints.contains_key(id) || !snap.checkpoint_exists(id) {
            format!("rebuilt: checkpoint {id} with these inputs was deleted")
        } else if fresh_since.is_some() {
            "rebuilt: --rebuild ignores the cache".into()
        } else {
            "rebuilt".into()
        };
    }
    let previous = state
        .checkpoints
        .values()
        .filter(|c| c.name == step.name && c.cache_key.is_some())
        .max_by_key(|c| (c.created, c.id.len(), c.id.clone()));
    let Some(previous) = previous else {
        return "new: never taken".into();
    };
    let Some(before) = load_inputs(project, &previous.id) else {
        return format!("rebuilt: inputs changed since {}", previous.id);
    };
    let now: BTreeMap<&str, &str> = step
        .inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.get(..16).unwrap_or(v)))
        .collect();
    let mut changes = Vec::new();
    for (name, digest) in &now {
        match before.get(*name) {
            None => changes.push(format!("{name} added")),
            Some(old) if old != digest => changes.push(format!("{name} changed")),
            Some(_) => {}
        }
    }
    for name in before.keys() {
        if !now.contains_key(name.as_str()) {
            changes.push(format!("{name} removed"));
        }
    }
    if changes.is_empty() {
        return "rebuilt: this version of vers keys checkpoints differently".into();
    }
    const SHOWN: usize = 3;
    let more = changes.len().saturating_sub(SHOWN);
    changes.truncate(SHOWN);
    let mut reason = format!("rebuilt: {}", changes.join(", "));
    if more > 0 {
        reason.push_str(&format!(" and {more} more"));
    }
    reason
}
