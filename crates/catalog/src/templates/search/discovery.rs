//! Finding a real Elasticsearch or OpenSearch: `VERS_ENGINE_ELASTICSEARCH` /
//! `VERS_ENGINE_OPENSEARCH` (the launcher script or the install directory), or the launcher
//! on `PATH`; its version read from the server jar in `lib/`, which needs no JVM.

use std::path::{Path, PathBuf};

use super::Product;
use crate::binaries::{is_executable, major_of, on_path, version_of};
use crate::{EngineBinary, EngineSource};

/// The install directory (holding `bin/`, `lib/`, `config/`) of a launcher script.
pub(crate) fn home_of(launcher: &Path) -> Option<PathBuf> {
    let real = launcher.canonicalize().ok()?;
    real.parent()?.parent().map(Path::to_path_buf)
}

/// The version in the name of `lib/<product>-X.Y.Z.jar`.
fn jar_version(home: &Path, product: Product) -> Option<String> {
    let prefix = format!("{}-", product.binary());
    std::fs::read_dir(home.join("lib"))
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|name| {
            let rest = name.strip_prefix(&prefix)?.strip_suffix(".jar")?;
            rest.chars()
                .next()
                .filter(char::is_ascii_digit)
                .map(|_| rest.to_string())
        })
        .find(|v| v.split('.').all(|p| p.chars().all(|c| c.is_ascii_digit())))
}

fn launcher_from_env(product: Product) -> Option<PathBuf> {
    let value = std::env::var_os(product.env_var()).filter(|v| !v.is_empty())?;
    let path = PathBuf::from(value);
    if path.is_dir() {
        let bin = path.join("bin").join(product.binary());
        return is_executable(&bin).then_some(bin);
    }
    is_executable(&path).then_some(path)
}

/// The real engine of `product` installed on this machine, whatever its version.
pub(crate) fn installed(product: Product) -> Option<EngineBinary> {
    let (launcher, source) = match launcher_from_env(product) {
        Some(l) => (l, EngineSource::Path),
        None => (on_path(product.binary())?, EngineSource::Path),
    };
    let home = home_of(&launcher)?;
    let version = jar_version(&home, product).or_else(|| version_of(&launcher, &["--version"]))?;
    Some(EngineBinary {
        template: product.template().into(),
        major: major_of(&version),
        version,
        bin_dir: launcher.parent()?.to_path_buf(),
        source,
        stand_in: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_server_jar() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        for f in [
            "elasticsearch-cli-8.11.1.jar",
            "elasticsearch-8.11.1.jar",
            "lucene-core-9.8.0.jar",
        ] {
            std::fs::write(dir.path().join("lib").join(f), b"").unwrap();
        }
        assert_eq!(
            jar_version(dir.path(), Product::Elasticsearch).as_deref(),
            Some("8.11.1")
        );
        assert_eq!(jar_version(dir.path(), Product::OpenSearch), None);
    }
}
