//! Building app services from source on the host (`build:`), once per change of their inputs.

use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::error::EngineError;
use crate::progress::{Event, Progress};
use crate::stack::Stack;

/// Files whose content decides whether a build is still current.
const BUILD_INPUTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.toml",
    "Cargo.lock",
    "requirements.txt",
    "go.mod",
    "go.sum",
];

fn build_key(context: &Path, command: &str) -> String {
    let mut h = Sha256::new();
    h.update(command.as_bytes());
    for f in BUILD_INPUTS {
        if let Ok(bytes) = std::fs::read(context.join(f)) {
            h.update(f.as_bytes());
            h.update(&bytes);
        }
    }
    hex::encode(h.finalize())
}

/// Runs the build command of every app service in `services` that has one, on the host
/// network in its build context, unless a build with the same inputs already succeeded. A
/// detected build of an npm workspace member without a lockfile of its own runs at the
/// workspace root, once for all the members that share it.
pub async fn build_apps(
    stack: &Stack,
    services: &[String],
    force: bool,
    progress: &dyn Progress,
) -> Result<(), EngineError> {
    if !services.iter().any(|name| {
        stack
            .manifest
            .services
            .get(name)
            .is_some_and(|s| s.build.is_some())
    }) {
        return Ok(());
    }
    // Builds run in the project's directories (`npm ci` rewrites `node_modules`): two at once
    // (two `up`s, an `up` and a `test`) would break each other. The second one waits, then
    // finds the first one's build done.
    let state_dir = &stack.project.state_dir;
    std::fs::create_dir_all(state_dir).map_err(|e| EngineError::io(state_dir, e))?;
    let _one_build =
        crate::state::wait_for_lock(state_dir.join("build.lock"), "another build").await?;
    let mut done_contexts = Vec::new();
    for name in services {
        let Some(svc) = stack.manifest.services.get(name) else {
            continue;
        };
        let Some(build) = &svc.build else { continue };
        let context = stack.project.dir.join(&build.context);
        if !context.is_dir() {
            return Err(EngineError::Failed(format!(
                "service {name}: build context {} does not exist",
                context.display()
            )));
        }
        // A detected build of an npm workspace member runs once, at the workspace root.
        let (command, dir) = match &build.command {
            Some(c) => (Some(c.clone()), context.clone()),
            None => {
                let dir = vers_catalog::app::build_dir(&context);
                (vers_catalog::app::detect_build(&dir), dir)
            }
        };
        let Some(command) = command else { continue };
        let key = build_key(&dir, &command);
        let marker_dir = stack.project.state_dir.join("builds");
        let marker = marker_dir.join(name);
        let record = || -> Result<(), EngineError> {
            std::fs::create_dir_all(&marker_dir).map_err(|e| EngineError::io(&marker_dir, e))?;
            std::fs::write(&marker, &key).map_err(|e| EngineError::io(&marker, e))
        };
        if done_contexts.contains(&key) {
            // Built a moment ago for another service sharing these inputs.
            record()?;
            continue;
        }
        if !force && std::fs::read_to_string(&marker).ok().as_deref() == Some(key.as_str()) {
            continue;
        }
        progress.event(Event::Build {
            service: name.clone(),
            done: None,
        });
        let began = Instant::now();
        let log = stack
            .project
            .logs_dir()
            .join("build")
            .join(format!("{name}.log"));
        if let Some(d) = log.parent() {
            std::fs::create_dir_all(d).map_err(|e| EngineError::io(d, e))?;
        }
        let out = std::fs::File::create(&log).map_err(|e| EngineError::io(&log, e))?;
        let err = out.try_clone().map_err(|e| EngineError::io(&log, e))?;
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&command)
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in &svc.env {
            cmd.env(k, v);
        }
        let status = cmd.status().await.map_err(|e| {
            EngineError::Failed(format!("service {name}: running `{command}`: {e}"))
        })?;
        if !status.success() {
            return Err(EngineError::Failed(format!(
                "service {name}: build `{command}` failed ({status}); last lines of {}:\n{}",
                log.display(),
                crate::logfile::tail_text(&log, 20)
            )));
        }
        record()?;
        done_contexts.push(key);
        progress.event(Event::Build {
            service: name.clone(),
            done: Some(began.elapsed()),
        });
    }
    Ok(())
}
