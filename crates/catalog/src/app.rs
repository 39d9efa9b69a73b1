//! App services built from source: detecting their build and run commands, and running them.
//!
//! An app is run with `sh -c <command>` in its build context (else the project directory)
//! with its `env` plus `HOST` (the address it must bind) and `PORT` (its first port). Apps
//! must listen on `HOST:PORT`: binding `0.0.0.0` also works inside the environment, but
//! `127.0.0.1` would be unreachable from the other services.

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
        env.insert("HOST".into(), ctx.listen.to_string());
        env.insert("PORT".into(), ctx.port(0, DEFAULT_PORT).to_string());
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

    fn connection_env(&self, _ctx: &InstanceCtx) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
}
