//! Taking checkpoints (quiesce, freeze, snapshot, thaw) and the cache keys that let an
//! unchanged checkpoint be reused instead of recomputed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use vers_catalog::EngineBinary;
use vers_manifest::{AfterSelector, Manifest};

use crate::environment::{self, EnvContext};
use crate::error::EngineError;
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
}

/// Hash of the whole manifest file content.
pub fn manifest_hash(m: &Manifest) -> String {
    let text = std::fs::read(&m.path).unwrap_or_default();
    hex::encode(Sha256::digest(&text))
}

/// The checkpoint chain of a manifest for a set of services: `services-ready` first (unless
/// declared), then the declared checkpoints in order, each keyed by its inputs.
pub fn chain(
    m: &Manifest,
    services: &[String],
    engines: &BTreeMap<String, EngineBinary>,
    versions: &BTreeMap<String, String>,
    project_dir: &std::path::Path,
) -> Vec<ChainStep> {
    let mut h = Sha256::new();
    h.update(b"vers-checkpoint-v1\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    for name in services {
        if let Some(svc) = m.services.get(name) {
            h.update(name.as_bytes());
            h.update(b"\0");
            h.update(format!("{:?}", svc.template).as_bytes());
            h.update(svc.config.to_string().as_bytes());
            h.update(format!("{:?}{:?}{:?}", svc.build, svc.command, svc.env).as_bytes());
            if let Some(e) = engines.get(name) {
                h.update(e.version.as_bytes());
            }
            // init scripts are inputs of the data too
            if let Some(scripts) = svc.config.get("init_scripts").and_then(|v| v.as_array()) {
                for s in scripts.iter().filter_map(|s| s.as_str()) {
                    h.update(std::fs::read(project_dir.join(s)).unwrap_or_default());
                }
            }
        }
    }
    h.update(format!("{versions:?}").as_bytes());
    let mut key = hex::encode(h.finalize());
    let mut steps = Vec::new();
    let declared_ready = m.checkpoints.iter().any(|c| c.name == SERVICES_READY);
    if !declared_ready {
        steps.push(ChainStep {
            name: SERVICES_READY.into(),
            after: None,
            description: Some("every service started and healthy".into()),
            key: key.clone(),
        });
    }
    for c in &m.checkpoints {
        let mut h = Sha256::new();
        h.update(key.as_bytes());
        h.update(c.name.as_bytes());
        h.update(format!("{:?}", c.after).as_bytes());
        match &c.after {
            AfterSelector::Script(p) => {
                h.update(std::fs::read(project_dir.join(p)).unwrap_or_default());
            }
            AfterSelector::SuiteSetup { suite, index } => {
                if let Some(s) = m.tests.get(suite) {
                    match index {
                        Some(i) => h.update(s.setup.get(*i).cloned().unwrap_or_default()),
                        None => h.update(s.setup.join("\n")),
                    }
                }
            }
            AfterSelector::Shell(_) | AfterSelector::Healthcheck(_) => {}
        }
        key = hex::encode(h.finalize());
        steps.push(ChainStep {
            name: c.name.clone(),
            after: Some(c.after.clone()),
            description: c.description.clone(),
            key: key.clone(),
        });
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
}

/// Takes a checkpoint of a running environment: quiesce the engines, freeze every process,
/// snapshot the data volume, thaw. The snapshot becomes visible (in the store and in the
/// state) only once complete.
pub async fn take(
    ctx: &EnvContext,
    snap: &dyn vers_runtime::snapshot::Snapshotter,
    engines: &BTreeMap<String, EngineBinary>,
    new: NewCheckpoint<'_>,
) -> Result<(CheckpointRecord, Duration), EngineError> {
    environment::quiesce(ctx, new.services, engines).await;
    let id = {
        let mut g = state::lock(&ctx.project.state_dir)?;
        let id = g.state.new_id("c");
        g.save()?;
        id
    };
    let began = Instant::now();
    ctx.client.freeze(&ctx.env_id).await?;
    let committed = snap.commit(&ctx.env_id, &id);
    let thawed = ctx.client.thaw(&ctx.env_id).await;
    committed.map_err(|e| EngineError::Failed(format!("checkpoint {}: {e}", new.name)))?;
    thawed?;
    let took = began.elapsed();
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
    g.state.tags.insert(new.name.to_string(), id.clone());
    if let Some(key) = new.cache_key {
        g.state.cache.insert(key, id.clone());
    }
    if let Some(env) = g.state.envs.get_mut(&ctx.env_id) {
        env.parent_checkpoint = Some(id.clone());
    }
    g.save()?;
    Ok((record, took))
}

/// A cached checkpoint for `key` whose snapshot still exists.
pub fn cached(
    state: &state::State,
    snap: &dyn vers_runtime::snapshot::Snapshotter,
    key: &str,
) -> Option<CheckpointRecord> {
    let id = state.cache.get(key)?;
    let rec = state.checkpoints.get(id)?;
    snap.checkpoint_exists(id).then(|| rec.clone())
}
