//! Installing a crate's binaries from crates.io with `cargo install --root` into the engine
//! cache, as `<cache>/<crate>-<version>/bin/…`.
//!
//! The build is slow (minutes on two cores), so it keeps its target directory in the cache
//! while it runs: an interrupted install resumes where it stopped. A finished install is
//! checked (the binary must report the crate's version) and moved into place atomically.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::binaries::{cached_output, is_executable, on_path};

/// One crate to install and the binary it provides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CrateSpec {
    /// The crate's name on crates.io.
    pub name: &'static str,
    /// The exact version.
    pub version: &'static str,
    /// Features to build (default features are off).
    pub features: &'static [&'static str],
    /// The binary the install must provide.
    pub binary: &'static str,
    /// How long the build takes on two cores, shown before it starts.
    pub build_time: &'static str,
}

impl CrateSpec {
    /// Where this crate's install lives in `cache`.
    pub(crate) fn root(&self, cache: &Path) -> PathBuf {
        cache.join(format!("{}-{}", self.name, self.version))
    }

    /// The installed binary in `cache`, when it is there and reports the crate's version.
    pub(crate) fn installed(&self, cache: &Path) -> Option<PathBuf> {
        let bin = self.root(cache).join("bin").join(self.binary);
        self.works(&bin).then_some(bin)
    }

    /// Whether `bin` runs and reports this crate's version.
    fn works(&self, bin: &Path) -> bool {
        is_executable(bin)
            && cached_output(bin, &["--version"])
                .is_some_and(|text| text.split_whitespace().any(|w| w == self.version))
    }
}

/// `cargo`: on `PATH`, else in `$CARGO_HOME/bin` or `~/.cargo/bin`.
fn cargo() -> Option<PathBuf> {
    on_path("cargo").or_else(|| {
        let homes = [
            std::env::var_os("CARGO_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")),
        ];
        homes
            .into_iter()
            .flatten()
            .map(|home| home.join("bin/cargo"))
            .find(|c| is_executable(c))
    })
}

/// Installs `spec` into `cache` (reusing a working install) and returns its binary.
pub(crate) fn install(
    cache: &Path,
    spec: &CrateSpec,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, String> {
    if let Some(bin) = spec.installed(cache) {
        progress(&format!(
            "{} {} is already in the cache: {}",
            spec.name,
            spec.version,
            bin.display()
        ));
        return Ok(bin);
    }
    let cargo = cargo().ok_or_else(|| {
        "cargo is not installed; install a Rust toolchain (rustc 1.85 or newer, e.g. with rustup), then retry".to_string()
    })?;
    let target = spec.root(cache);
    let partial = cache.join(format!(
        ".{}-{}.partial-{}",
        spec.name,
        spec.version,
        std::process::id()
    ));
    let build_dir = cache.join(format!(".build-{}-{}", spec.name, spec.version));
    std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    let result = build(&cargo, spec, &partial, &build_dir, progress);
    let outcome = result.and_then(|()| {
        let bin = partial.join("bin").join(spec.binary);
        if !spec.works(&bin) {
            return Err(format!(
                "{} does not report version {} after installing",
                bin.display(),
                spec.version
            ));
        }
        if target.exists() && spec.installed(cache).is_none() {
            std::fs::remove_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        }
        // A concurrent install that got there first wins.
        if let Err(e) = std::fs::rename(&partial, &target) {
            if spec.installed(cache).is_none() {
                return Err(format!("{}: {e}", target.display()));
            }
        }
        spec.installed(cache)
            .ok_or_else(|| format!("{} vanished after installing", target.display()))
    });
    if partial.exists() {
        // A failed or superseded install leaves nothing behind; a removal failure only costs disk.
        let _ = std::fs::remove_dir_all(&partial);
    }
    if outcome.is_ok() {
        // The build's intermediate files are only needed to resume an interrupted build.
        let _ = std::fs::remove_dir_all(&build_dir);
    }
    let bin = outcome?;
    progress(&format!(
        "installed {} {} into {}",
        spec.name,
        spec.version,
        target.display()
    ));
    Ok(bin)
}

/// Runs `cargo install` into `root`, forwarding a progress line every few compiled crates.
fn build(
    cargo: &Path,
    spec: &CrateSpec,
    root: &Path,
    build_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let mut args = vec![
        "install".to_string(),
        format!("{}@{}", spec.name, spec.version),
        "--locked".into(),
        "--no-default-features".into(),
    ];
    if !spec.features.is_empty() {
        args.push("--features".into());
        args.push(spec.features.join(","));
    }
    args.push("--root".into());
    args.push(root.display().to_string());
    args.push("--target-dir".into());
    args.push(build_dir.display().to_string());
    progress(&format!(
        "cargo {} (builds from source: about {} on 2 cores)",
        args.join(" "),
        spec.build_time
    ));
    let mut child = Command::new(cargo)
        .args(&args)
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", cargo.display()))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| "cargo's output could not be read".to_string())?;
    let mut tail: Vec<String> = Vec::new();
    let mut compiled = 0usize;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        let trimmed = line.trim();
        if trimmed.starts_with("Compiling ") {
            compiled += 1;
            if compiled.is_multiple_of(50) {
                progress(&format!("compiled {compiled} crates…"));
            }
        } else if trimmed.starts_with("Finished ") || trimmed.starts_with("Installed ") {
            progress(trimmed);
        }
        tail.push(line);
        if tail.len() > 40 {
            tail.remove(0);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo install {}@{} failed ({status}):\n{}",
            spec.name,
            spec.version,
            tail.join("\n")
        ))
    }
}
