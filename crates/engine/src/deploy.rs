//! Local deployments (`vers deploy NAME`): named, long-lived environments forked from a
//! checkpoint, outside the test runner's lifecycle. Each deploy is a new version with its own
//! checkpoint, so `rollback` brings an earlier version's data back; only the current version
//! runs. Hosted targets (`target: vers.sh/hosted`) need the hosted service and are refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::branches;
use crate::error::EngineError;
use crate::progress::Progress;
use crate::stack::Stack;
use crate::state::{self, EnvStatus};

/// The deploy target that needs the hosted service.
pub const HOSTED: &str = "vers.sh/hosted";

/// One version of a deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployVersion {
    /// 1, 2, …
    pub version: u32,
    /// Checkpoint id it runs from.
    pub checkpoint: String,
    /// What it was deployed from (`--from`, or `HEAD`), as given.
    pub source: String,
    /// Environment id while this version runs.
    pub env: Option<String>,
    /// Unix seconds of the deploy.
    pub started: u64,
}

/// A deployment and its versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    /// Name (a `deploy:` target of the manifest, or any name).
    pub name: String,
    /// The version that runs.
    pub current: u32,
    /// Every version, oldest first.
    pub versions: Vec<DeployVersion>,
    /// Whether it is a preview (`vers preview create`).
    #[serde(default)]
    pub preview: bool,
    /// Unix seconds after which the daemon removes it (previews with a TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
}

impl Deployment {
    /// The version `v`.
    pub fn version(&self, v: u32) -> Option<&DeployVersion> {
        self.versions.iter().find(|x| x.version == v)
    }
}

/// A deployment as `vers deployments` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentView {
    /// Name.
    pub name: String,
    /// Version that runs.
    pub version: u32,
    /// Name of the checkpoint it runs from.
    pub checkpoint: String,
    /// What it was deployed from.
    pub source: String,
    /// Unix seconds of the deploy.
    pub started: u64,
    /// running, paused or stopped.
    pub state: String,
    /// Environment id.
    pub env: Option<String>,
    /// Environment name (`deploy/NAME/vN`).
    pub env_name: Option<String>,
    /// Every version, oldest first.
    pub versions: Vec<u32>,
    /// Whether it is a preview.
    pub preview: bool,
    /// Unix seconds after which the daemon removes it.
    pub expires: Option<u64>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Refuses hosted targets: exit 2 with what to do instead.
pub fn check_target(stack: &Stack, name: &str) -> Result<(), EngineError> {
    if let Some(d) = stack.manifest.deploy.get(name) {
        if d.target == HOSTED {
            return Err(EngineError::Manifest(format!(
                "deploy target `{name}` is `{HOSTED}`: hosted deploys need the hosted service (vers.sh), \
                 which this machine cannot reach. To deploy on this machine, add a target with \
                 `target: local` under `deploy:` (e.g. `deploy: {{{name}-local: {{target: local}}}}`) \
                 and run `vers deploy {name}-local`, or `vers export compose|kubernetes` to run it elsewhere"
            )));
        }
    }
    vers_manifest::check_name(name)
        .map_err(|e| EngineError::Manifest(format!("deployment name `{name}`: {e}")))
}

fn env_name(name: &str, version: u32, preview: bool) -> String {
    let kind = if preview { "preview" } else { "deploy" };
    format!("{kind}/{name}/v{version}")
}

/// What kind of deployment `deploy` makes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kind {
    /// A preview rather than a deployment.
    pub preview: bool,
    /// Time to live (previews).
    pub ttl: Option<std::time::Duration>,
}

/// `vers deploy NAME [--from X]`: a new version of `name` from checkpoint or tag `from`, or
/// from a fresh checkpoint of branch `from` (default: of HEAD). The previous version stops;
/// its checkpoint stays for `rollback`.
pub async fn deploy(
    stack: &Stack,
    name: &str,
    from: Option<&str>,
    kind: Kind,
    progress: &dyn Progress,
) -> Result<DeploymentView, EngineError> {
    check_target(stack, name)?;
    let st = state::read(&stack.project.state_dir)?;
    if let Some(d) = st.deployments.get(name) {
        if d.preview != kind.preview {
            let what = if d.preview {
                "a preview"
            } else {
                "a deployment"
            };
            return Err(EngineError::Failed(format!(
                "`{name}` is already {what}; remove it first or pick another name"
            )));
        }
    }
    let version = st
        .deployments
        .get(name)
        .and_then(|d| d.versions.iter().map(|v| v.version).max())
        .unwrap_or(0)
        + 1;
    let tag = format!(
        "{}-{name}-v{version}",
        if kind.preview { "preview" } else { "deploy" }
    );
    let (ckpt, source) = match from {
        Some(f) => match st.find_checkpoint(f) {
            Some(c) => (c.clone(), f.to_string()),
            None if st.find_env(f).is_some() => (
                branches::commit_env(
                    stack,
                    Some(f),
                    &tag,
                    Some(format!("deploy {name} v{version}")),
                )
                .await?,
                f.to_string(),
            ),
            None => {
                return Err(EngineError::NotFound(format!(
                    "--from {f}: no checkpoint, tag or branch of that name"
                )))
            }
        },
        None => {
            if st.head.is_none() {
                return Err(EngineError::Failed(
                    "nothing to deploy: start the stack with `vers up` first, or pass --from TAG"
                        .into(),
                ));
            }
            (
                branches::commit_env(stack, None, &tag, Some(format!("deploy {name} v{version}")))
                    .await?,
                "HEAD".to_string(),
            )
        }
    };
    drop(st);
    let env = branches::fork(
        stack,
        &env_name(name, version, kind.preview),
        &ckpt,
        None,
        false,
        BTreeMap::new(),
        progress,
    )
    .await?;
    let previous = {
        let mut g = state::lock(&stack.project.state_dir)?;
        let d = g
            .state
            .deployments
            .entry(name.to_string())
            .or_insert_with(|| Deployment {
                name: name.to_string(),
                current: 0,
                versions: Vec::new(),
                preview: kind.preview,
                expires: None,
            });
        d.expires = kind.ttl.map(|t| now() + t.as_secs().max(1));
        let previous = d
            .versions
            .iter_mut()
            .find(|v| v.version == d.current)
            .and_then(|v| v.env.take());
        d.versions.push(DeployVersion {
            version,
            checkpoint: ckpt.id.clone(),
            source,
            env: Some(env),
            started: now(),
        });
        d.current = version;
        g.save()?;
        previous
    };
    if let Some(old) = previous {
        stack.destroy_env(&old).await?;
    }
    view(stack, name)
}

/// `vers deploy rollback NAME [--to V]`: runs version `to` (default: the one before the
/// current) again from its own checkpoint; the current version stops.
pub async fn rollback(
    stack: &Stack,
    name: &str,
    to: Option<u32>,
    progress: &dyn Progress,
) -> Result<DeploymentView, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let d = st
        .deployments
        .get(name)
        .ok_or_else(|| EngineError::NotFound(format!("no deployment `{name}`")))?;
    let target = match to {
        Some(v) => v,
        None => d
            .versions
            .iter()
            .map(|v| v.version)
            .filter(|v| *v < d.current)
            .max()
            .ok_or_else(|| {
                EngineError::Failed(format!(
                    "deployment `{name}` has no version before v{}",
                    d.current
                ))
            })?,
    };
    if target == d.current {
        return Err(EngineError::Failed(format!(
            "deployment `{name}` already runs v{target}"
        )));
    }
    let v = d.version(target).ok_or_else(|| {
        EngineError::NotFound(format!("deployment `{name}` has no version {target}"))
    })?;
    let ckpt = st
        .checkpoints
        .get(&v.checkpoint)
        .cloned()
        .ok_or_else(|| EngineError::NotFound(format!("v{target}'s checkpoint is gone")))?;
    let preview = d.preview;
    drop(st);
    let env = branches::fork(
        stack,
        &env_name(name, target, preview),
        &ckpt,
        None,
        false,
        BTreeMap::new(),
        progress,
    )
    .await?;
    let previous = {
        let mut g = state::lock(&stack.project.state_dir)?;
        let d = g
            .state
            .deployments
            .get_mut(name)
            .ok_or_else(|| EngineError::NotFound(format!("deployment `{name}` vanished")))?;
        let current = d.current;
        let previous = d
            .versions
            .iter_mut()
            .find(|v| v.version == current)
            .and_then(|v| v.env.take());
        if let Some(v) = d.versions.iter_mut().find(|v| v.version == target) {
            v.env = Some(env);
            v.started = now();
        }
        d.current = target;
        g.save()?;
        previous
    };
    if let Some(old) = previous {
        stack.destroy_env(&old).await?;
    }
    view(stack, name)
}

/// `vers deploy rm NAME`: stops it and forgets its versions (their checkpoints stay in the
/// checkpoint tree until pruned).
pub async fn remove(stack: &Stack, name: &str) -> Result<Vec<String>, EngineError> {
    let d = {
        let mut g = state::lock(&stack.project.state_dir)?;
        let d = g
            .state
            .deployments
            .remove(name)
            .ok_or_else(|| EngineError::NotFound(format!("no deployment `{name}`")))?;
        g.save()?;
        d
    };
    let mut stopped = Vec::new();
    for env in d.versions.iter().filter_map(|v| v.env.clone()) {
        stack.destroy_env(&env).await?;
        stopped.push(env);
    }
    Ok(stopped)
}

/// Every deployment, by name.
pub fn list(stack: &Stack) -> Result<Vec<DeploymentView>, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    st.deployments.keys().map(|n| view(stack, n)).collect()
}

fn view(stack: &Stack, name: &str) -> Result<DeploymentView, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let d = st
        .deployments
        .get(name)
        .ok_or_else(|| EngineError::NotFound(format!("no deployment `{name}`")))?;
    let v = d.version(d.current).ok_or_else(|| {
        EngineError::Failed(format!("deployment `{name}` lost its current version"))
    })?;
    let env = v.env.as_ref().and_then(|id| st.envs.get(id));
    let state = match env.map(|e| e.status) {
        Some(EnvStatus::Running) => "running",
        Some(EnvStatus::Paused) => "paused",
        _ => "stopped",
    };
    Ok(DeploymentView {
        name: d.name.clone(),
        version: v.version,
        checkpoint: st
            .checkpoints
            .get(&v.checkpoint)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| v.checkpoint.clone()),
        source: v.source.clone(),
        started: v.started,
        state: state.into(),
        env: env.map(|e| e.id.clone()),
        env_name: env.map(|e| e.name.clone()),
        versions: d.versions.iter().map(|v| v.version).collect(),
        preview: d.preview,
        expires: d.expires,
    })
}

/// Names of the previews past their TTL at `now` (Unix seconds).
pub fn expired(project: &crate::project::Project, now: u64) -> Vec<String> {
    state::read(&project.state_dir)
        .map(|st| {
            st.deployments
                .values()
                .filter(|d| d.expires.is_some_and(|e| e <= now))
                .map(|d| d.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The daemon's reaper: once a second, removes the previews past their TTL (processes,
/// namespaces, data), whether or not any command runs.
pub async fn reap_expired(project: crate::project::Project) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let names = expired(&project, now());
        if names.is_empty() {
            continue;
        }
        let manifest = vers_manifest::load(&project.manifest_path)
            .unwrap_or_else(|_| vers_manifest::Manifest::empty(&project.manifest_path));
        let stack = match Stack::open(project.clone(), manifest).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("preview reaper: {e}");
                continue;
            }
        };
        for name in names {
            if let Err(e) = remove(&stack, &name).await {
                eprintln!("removing expired preview {name}: {e}");
            }
        }
    }
}
