//! A template's one-time data initialisation (PostgreSQL's `initdb`), computed once per
//! machine and copied into every fresh data directory afterwards.
//!
//! Its result depends only on the engine binary and the template's arguments, not on the
//! environment, so repeating it for each new project or `up` from scratch would be wasted
//! work: `initdb` alone takes about a second, copying its 40 MB result a few milliseconds.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vers_catalog::{EngineBinary, Exec, InstanceCtx, Template};
use vers_runtime::spawn::User;

use crate::error::EngineError;

/// Stands for the data directory in the cache key, so the key does not depend on where the
/// environment's volume is.
const KEY_DATA_DIR: &str = "/vers-init-data";

/// Where initialised data directories are kept: `$VERS_INIT_CACHE`, else beside the engine
/// cache.
pub fn cache_root() -> PathBuf {
    match std::env::var_os("VERS_INIT_CACHE").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => vers_catalog::engines::cache_dir().with_file_name("init"),
    }
}

/// Fills `ictx.data_dir` with the template's initial data: from the cache when an identical
/// initialisation ran before, else by running it into the cache first. Where the cache cannot
/// be written, the steps run directly in the data directory.
pub async fn initialise(
    tmpl: &dyn Template,
    ictx: &InstanceCtx,
    engine: &EngineBinary,
    user: &User,
) -> Result<(), EngineError> {
    let service = ictx.service.as_str();
    let failure = |e: vers_catalog::CatalogError| EngineError::Failed(format!("{service}: {e}"));
    initialise_with(tmpl, ictx, engine, user, &failure).await
}

/// [`initialise`], with `failure` turning the template's refusal of its config into the
/// error reported (the environment names the manifest's line of the option).
pub async fn initialise_with(
    tmpl: &dyn Template,
    ictx: &InstanceCtx,
    engine: &EngineBinary,
    user: &User,
    failure: &(dyn Fn(vers_catalog::CatalogError) -> EngineError + Sync),
) -> Result<(), EngineError> {
    let service = ictx.service.as_str();
    let steps_for = |data_dir: &Path| {
        let mut c = ictx.clone();
        c.data_dir = data_dir.to_path_buf();
        tmpl.init_data(&c, engine).map_err(failure)
    };
    let keyed = steps_for(Path::new(KEY_DATA_DIR))?;
    if keyed.is_empty() {
        return Ok(());
    }
    let entry = cache_root().join(key(&keyed, engine));
    if !entry.is_dir() {
        if let Err(e) = fill(&entry, &steps_for, user, service).await {
            tracing::warn!("{service}: init cache unavailable ({e}); initialising in place");
            for step in steps_for(&ictx.data_dir)? {
                run_host_step(&step, user, service).await?;
            }
            return Ok(());
        }
    }
    copy_tree(&entry, &ictx.data_dir).await
}

/// The cache key: the steps (with the placeholder data directory), the engine's version and
/// the identity of each program run, so an upgraded binary in the same place misses.
fn key(steps: &[Exec], engine: &EngineBinary) -> String {
    let mut h = Sha256::new();
    h.update(format!("{steps:?}\n{}\n", engine.version));
    for s in steps {
        if let Ok(m) = std::fs::metadata(&s.program) {
            use std::os::unix::fs::MetadataExt;
            h.update(format!("{} {} {}\n", m.len(), m.mtime(), m.ino()));
        }
    }
    hex::encode(&h.finalize()[..12])
}

/// Runs the steps into a fresh directory beside `entry` and renames it into place, so a
/// cache entry is visible only when complete (a concurrent filler's entry wins, ours goes).
async fn fill(
    entry: &Path,
    steps_for: &(dyn Fn(&Path) -> Result<Vec<Exec>, EngineError> + Sync),
    user: &User,
    service: &str,
) -> Result<(), EngineError> {
    let root = entry.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(root).map_err(|e| EngineError::io(root, e))?;
    let tmp = root.join(format!(
        ".{}.{}.tmp",
        entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("entry"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).map_err(|e| EngineError::io(&tmp, e))?;
    let result = async {
        vers_runtime::spawn::chown_recursive(&tmp, user)
            .map_err(|e| EngineError::Failed(format!("{}: {e}", tmp.display())))?;
        for step in steps_for(&tmp)? {
            run_host_step(&step, user, service).await?;
        }
        match std::fs::rename(&tmp, entry) {
            Ok(()) => Ok(()),
            Err(_) if entry.is_dir() => Ok(()),
            Err(e) => Err(EngineError::io(entry, e)),
        }
    }
    .await;
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Copies a cached entry's contents into `dest`, keeping owners and modes (reflinks where the
/// filesystem has them).
async fn copy_tree(from: &Path, dest: &Path) -> Result<(), EngineError> {
    let out = tokio::process::Command::new("cp")
        .arg("-a")
        .arg("--reflink=auto")
        .arg(from.join("."))
        .arg(dest)
        .output()
        .await
        .map_err(|e| EngineError::io(Path::new("cp"), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(EngineError::Failed(format!(
            "copying the initialised data {} into {}: {}",
            from.display(),
            dest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Runs a template's host-side initialisation step (e.g. initdb) as the engine user.
async fn run_host_step(step: &Exec, user: &User, service: &str) -> Result<(), EngineError> {
    let mut cmd = tokio::process::Command::new(&step.program);
    cmd.args(&step.args)
        .env_clear()
        .envs(&step.env)
        .uid(user.uid)
        .gid(user.gid)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(cwd) = &step.cwd {
        cmd.current_dir(cwd);
    } else {
        cmd.current_dir("/");
    }
    if !step.env.contains_key("PATH") {
        cmd.env("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    let out = cmd.output().await.map_err(|e| {
        EngineError::Failed(format!(
            "{service}: running {}: {e}",
            step.program.display()
        ))
    })?;
    if !out.status.success() {
        return Err(EngineError::Failed(format!(
            "{service}: {} failed:\n{}{}",
            step.program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}
