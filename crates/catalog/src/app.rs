//! App services built from source: detecting their build and run commands, and running them.
//!
//! An app is run with `sh -c <command>` in its build context (else the project directory)
//! with its `env` plus `HOST` (the address it must bind) and `PORT` (its first port). Apps
//! must listen on `HOST:PORT`: binding `0.0.0.0` also works inside the environment, but
//! `127.0.0.1` would be unreachable from the other services.
//!
//! Each instance also learns who it is, as a container does from its hostname: `VERS_SERVICE`
//! (the service name), `VERS_REPLICA` (0 to replicas − 1) and `VERS_INSTANCE`
//! (`<service>-<replica>`, unique in the environment and the same in every branch), e.g. for
//! the consumer name of each replica in a Kafka group or a Redis stream consumer group.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{
    CatalogError, EngineBinary, EngineSource, Exec, InstanceCtx, Launch, MissingEngine, Probe,
    Template,
};

/// The port an app gets when the engine assigned none.
const DEFAULT_PORT: u16 = 3000;
/// The shell apps run under.
const SHELL: &str = "/bin/sh";

/// The build command for a source tree: `npm ci` (or `npm install` without a lockfile) for
/// `package.json`, `cargo build --release` for `Cargo.toml`; `None` when nothing is recognised.
pub fn detect_build(context: &Path) -> Option<String> {
    if context.join("package.json").is_file() {
        let locked = ["package-lock.json", "npm-shrinkwrap.json"]
            .iter()
            .any(|lock| context.join(lock).is_file());
        return Some(if locked { "npm ci" } else { "npm install" }.to_string());
    }
    if context.join("Cargo.toml").is_file() {
        return Some("cargo build --release".to_string());
    }
    None
}

/// The npm workspace root `context` is a member of: the nearest ancestor whose `package.json`
/// lists, in `workspaces` (an array of globs, or `{"packages": [...]}`), a pattern matching
/// the path from it to `context`. npm installs a workspace's dependencies there, from the
/// root's lockfile, whichever member it is run in.
pub fn npm_workspace_root(context: &Path) -> Option<PathBuf> {
    let context = std::path::absolute(context).ok()?;
    for dir in context.ancestors().skip(1) {
        let Ok(bytes) = std::fs::read(dir.join("package.json")) else {
            continue;
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let patterns = match json.get("workspaces") {
            Some(serde_json::Value::Array(list)) => list,
            Some(serde_json::Value::Object(map)) => match map.get("packages") {
                Some(serde_json::Value::Array(list)) => list,
                _ => continue,
            },
            _ => continue,
        };
        let Ok(member) = context.strip_prefix(dir) else {
            continue;
        };
        let member = member.to_string_lossy();
        let listed = patterns.iter().filter_map(|p| p.as_str()).any(|pattern| {
            let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
            globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .is_ok_and(|glob| glob.compile_matcher().is_match(member.as_ref()))
        });
        if listed {
            return Some(dir.to_path_buf());
        }
    }
    None
}

/// Where the detected build of `context` runs: the npm workspace root for a member of an npm
/// workspace that has no lockfile of its own (one install there serves every member), else
/// `context` itself.
pub fn build_dir(context: &Path) -> PathBuf {
    let own_lock = ["package-lock.json", "npm-shrinkwrap.json"]
        .iter()
        .any(|lock| context.join(lock).is_file());
    if context.join("package.json").is_file() && !own_lock {
        if let Some(root) = npm_workspace_root(context) {
            return root;
        }
    }
    context.to_path_buf()
}

/// The run command for a source tree: the `web:` line of a `Procfile`, else `npm start` when
/// `package.json` has a `start` script; `None` when nothing is recognised.
pub fn detect_command(context: &Path) -> Option<String> {
    if let Ok(procfile) = std::fs::read_to_string(context.join("Procfile")) {
        let web = procfile.lines().find_map(|line| {
            let (name, cmd) = line.split_once(':')?;
            (name.trim() == "web" && !cmd.trim().is_empty()).then(|| cmd.trim().to_string())
        });
        if web.is_some() {
            return web;
        }
    }
    let package = std::fs::read(context.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&package).ok()?;
    json.get("scripts")?
        .get("start")?
        .as_str()
        .map(|_| "npm start".to_string())
}

/// The `app` template: the user's own service.
pub(crate) struct App;

impl App {
    fn dir(ctx: &InstanceCtx) -> PathBuf {
        ctx.build_context
            .clone()
            .unwrap_or_else(|| ctx.project_dir.clone())
    }
}

impl Template for App {
    fn name(&self) -> &'static str {
        "app"
    }

    /// Apps have no engine of their own: this is the shell that runs their command.
    fn engine(&self, _version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        Ok(EngineBinary {
            stand_in: None,
            template: "app".into(),
            version: "0".into(),
            major: "0".into(),
            bin_dir: PathBuf::from("/bin"),
            source: EngineSource::Path,
        })
    }

    fn init_data(
        &self,
        _ctx: &InstanceCtx,
        _engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn launch(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let dir = Self::dir(ctx);
        let command = match &ctx.command {
            Some(c) => c.clone(),
            None => detect_command(&dir).ok_or_else(|| CatalogError::NoCommand {
                service: ctx.service.clone(),
                context: dir.clone(),
            })?,
        };
        let mut env = ctx.env.clone();
        env.insert("HOST".into(), ctx.bind.to_string());
        env.insert("PORT".into(), ctx.port(0, DEFAULT_PORT).to_string());
        env.insert("VERS_SERVICE".into(), ctx.service.clone());
        env.insert("VERS_REPLICA".into(), ctx.replica.to_string());
        env.insert(
            "VERS_INSTANCE".into(),
            format!("{}-{}", ctx.service, ctx.replica),
        );
        Ok(Launch {
            program: PathBuf::from(SHELL),
            args: vec!["-c".into(), command],
            env,
            cwd: dir,
        })
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Tcp {
            port: ctx.port(0, DEFAULT_PORT),
        }
    }

    fn setup(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        Vec::new()
    }

    /// Apps are assumed to speak HTTP on every port (the usual case for `build:` services);
    /// HTTP faults then apply to them, and other traffic passes through untouched.
    fn http_ports(&self, ctx: &InstanceCtx) -> Vec<u16> {
        ctx.ports.clone()
    }

    fn connection_env(&self, _ctx: &InstanceCtx) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
}
