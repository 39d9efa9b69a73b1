//! Finding LocalStack: the Python package `localstack-core` (LocalStack's community build,
//! which runs without Docker) in a virtual environment named by `VERS_ENGINE_LOCALSTACK`,
//! beside a `localstack` command on `PATH`, or installed by `vers engines install localstack`
//! into the engine cache.

use std::path::{Path, PathBuf};

use crate::binaries::{is_executable, on_path, version_matches};
use crate::engines::pypi::{dist_version, PypiEngine};
use crate::{engines, EngineBinary, EngineSource, MissingEngine};

/// The environment variable naming a virtual environment holding `localstack-core`.
pub(crate) const ENV_VAR: &str = "VERS_ENGINE_LOCALSTACK";
/// The distribution vers runs.
const DISTRIBUTION: &str = "localstack-core";

/// LocalStack from PyPI, pinned where it runs on Python 3.11 with the dependencies that work
/// together (newer cbor2, pyOpenSSL and cryptography break its 4.13 gateway).
pub(crate) const LOCALSTACK: PypiEngine = PypiEngine {
    template: "localstack",
    dir: "localstack-core-4.13.1",
    distribution: DISTRIBUTION,
    requirements: &[
        "localstack-core[runtime]==4.13.1",
        "service_identity==24.2.0",
    ],
    constraints: &["cbor2<6", "pyopenssl<24.3", "cryptography<44"],
    prepare: Some(build_service_catalog),
};

/// Where the prebuilt service catalog goes in LocalStack's environment, as LocalStack's
/// "static libs" directory.
pub(crate) fn static_libs(venv: &Path) -> PathBuf {
    venv.join("vers-static")
}

/// Builds LocalStack's index of every AWS service's API into the environment. Without it,
/// each start (every branch) parses all of botocore's service specs again: 15 s and 350 MB
/// more for S3 on a busy machine.
fn build_service_catalog(venv: &Path) -> Result<(), String> {
    let dir = static_libs(venv);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    crate::engines::pypi::run(
        std::process::Command::new(venv.join("bin/python"))
            .args(["-c", "import sys\nfrom localstack import config\nconfig.dirs.static_libs = sys.argv[1]\nfrom localstack.aws import spec\nsys.exit(spec.main())", &dir.display().to_string()])
            .env("OVERRIDE_IN_DOCKER", "0")
            .env("FILESYSTEM_ROOT", venv.join("vers-fs")),
    )?;
    let _ = std::fs::remove_dir_all(venv.join("vers-fs"));
    Ok(())
}

/// The LocalStack in the virtual environment `venv`, if it holds `localstack-core`.
fn in_venv(venv: &Path, source: EngineSource) -> Option<EngineBinary> {
    let python = venv.join("bin/python");
    if !is_executable(&python) {
        return None;
    }
    let version = dist_version(venv, DISTRIBUTION)?;
    Some(EngineBinary {
        template: "localstack".into(),
        major: version.split('.').next().unwrap_or(&version).to_string(),
        version,
        bin_dir: venv.join("bin"),
        source,
        stand_in: None,
    })
}

/// LocalStack from `VERS_ENGINE_LOCALSTACK`, `PATH` or the engine cache; an error when the
/// variable is set but names no environment holding it.
pub(crate) fn installed() -> Result<Option<EngineBinary>, String> {
    if let Some(value) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        let venv = PathBuf::from(value);
        return in_venv(&venv, EngineSource::Path).map(Some).ok_or_else(|| {
            format!(
                "{ENV_VAR}={} is not a Python virtual environment holding {DISTRIBUTION} (create one with `python3 -m venv DIR && DIR/bin/pip install localstack-core[runtime]`)",
                venv.display()
            )
        });
    }
    // The `localstack` command alone starts LocalStack in Docker; vers runs the package it
    // belongs to when that is a virtual environment holding localstack-core.
    let beside_path = on_path("localstack")
        .and_then(|cli| cli.parent()?.parent().map(Path::to_path_buf))
        .and_then(|venv| in_venv(&venv, EngineSource::Path));
    if beside_path.is_some() {
        return Ok(beside_path);
    }
    Ok(LOCALSTACK.installed(&engines::cache_dir()).and_then(|i| {
        in_venv(
            &i.venv,
            EngineSource::Cache {
                package: LOCALSTACK.package(),
            },
        )
    }))
}

/// What serves `localstack` (`version` is a major such as `4`, or `None`).
pub(crate) fn find(version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
    let missing = |hint: String| MissingEngine {
        template: "localstack".into(),
        version: version.map(String::from),
        hint,
    };
    match installed().map_err(&missing)? {
        Some(e) if version.is_none_or(|v| version_matches(&e.version, v)) => Ok(e),
        Some(e) => Err(missing(format!(
            "this machine has LocalStack {} ({}), not {}",
            e.version,
            e.bin_dir.display(),
            version.unwrap_or_default()
        ))),
        None => Err(missing(
            "install it with: vers engines install localstack (LocalStack's community build from PyPI, without Docker)".into(),
        )),
    }
}

/// Installs LocalStack into the engine cache and returns it.
pub(crate) fn install(progress: &mut dyn FnMut(&str)) -> Result<EngineBinary, String> {
    // A VERS_ENGINE_LOCALSTACK naming nothing usable is a mistake to fix first.
    installed()?;
    LOCALSTACK.install(&engines::cache_dir(), progress)?;
    find(None).map_err(|missing| missing.hint)
}
