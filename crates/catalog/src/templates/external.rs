//! Catalog templates whose engines vers finds but does not configure: the manifest accepts
//! them, `engine()` reports the installed binary or says honestly how (or whether) it can be
//! installed, and `launch` explains that vers cannot run the service yet.

use std::collections::BTreeMap;
use std::path::Path;

use crate::binaries::{major_of, on_path, version_matches, version_of};
use crate::{
    CatalogError, EngineBinary, EngineSource, Exec, InstanceCtx, Launch, MissingEngine, Probe,
    Template,
};

/// A catalog template backed by an engine vers does not configure.
pub(crate) struct External {
    /// Template name.
    pub name: &'static str,
    /// Binaries that provide the engine, in order of preference.
    pub binaries: &'static [&'static str],
    /// Arguments that make the binary print its version.
    pub version_args: &'static [&'static str],
    /// How to get the engine when it is missing.
    pub hint: &'static str,
    /// The standard port, probed by TCP.
    pub port: u16,
    /// Programs of another engine that `binaries` may be links to (Debian's `mysqld` is
    /// MariaDB's `mariadbd`): a binary that resolves to one is not this template's engine.
    pub not: &'static [&'static str],
}

/// Catalog templates of SPEC Appendix A that vers does not configure.
pub(crate) static EXTERNAL: [External; 5] = [
    External { name: "mysql", binaries: &["mysqld"], version_args: &["--version"], port: 3306, not: &["mariadbd"],
        hint: "MySQL is not packaged for Debian; use mariadb@10 (apt-get install mariadb-server) or install MySQL from dev.mysql.com" },
    External { name: "meilisearch", binaries: &["meilisearch"], version_args: &["--version"], port: 7700, not: &[],
        hint: "meilisearch is not packaged for Debian; install its release binary from github.com/meilisearch/meilisearch" },
    External { name: "traefik", binaries: &["traefik"], version_args: &["version"], port: 80, not: &[],
        hint: "traefik is not packaged for Debian; install its release binary from github.com/traefik/traefik" },
    External { name: "monitoring-stack", binaries: &["prometheus"], version_args: &["--version"], port: 9090, not: &[],
        hint: "install Prometheus with: apt-get install prometheus (grafana and jaeger come from their vendors)" },
    External { name: "logging-stack", binaries: &["loki"], version_args: &["--version"], port: 3100, not: &[],
        hint: "loki is not packaged for Debian; install it from grafana.com" },
];

impl External {
    /// Whether `bin` resolves to a program of another engine (see [`External::not`]).
    fn is_another_engine(&self, bin: &Path) -> bool {
        std::fs::canonicalize(bin)
            .ok()
            .and_then(|real| real.file_name().map(|f| self.not.iter().any(|n| f == *n)))
            .unwrap_or(false)
    }

    /// The installed engine, whatever its version.
    fn installed(&self) -> Option<EngineBinary> {
        let bin = self.binaries.iter().find_map(|b| on_path(b))?;
        if self.is_another_engine(&bin) {
            return None;
        }
        let version = version_of(&bin, self.version_args).unwrap_or_else(|| "0".into());
        let bin_dir = bin.parent()?.to_path_buf();
        let source = if bin_dir == Path::new("/usr/bin") || bin_dir == Path::new("/usr/sbin") {
            EngineSource::Distro {
                package: self.binaries[0].to_string(),
            }
        } else {
            EngineSource::Path
        };
        Some(EngineBinary {
            stand_in: None,
            template: self.name.into(),
            major: major_of(&version),
            version,
            bin_dir,
            source,
        })
    }

    fn unsupported(&self, engine: &EngineBinary) -> CatalogError {
        CatalogError::Unsupported {
            template: self.name.into(),
            message: format!(
                "{} {} is installed ({}), but vers does not configure {} services yet; run it as an app service with your own `command:` instead",
                self.name,
                engine.version,
                engine.bin_dir.display(),
                self.name
            ),
        }
    }
}

impl Template for External {
    fn name(&self) -> &'static str {
        self.name
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        self.installed()
            .filter(|e| version.is_none_or(|v| version_matches(&e.version, v)))
            .ok_or_else(|| MissingEngine {
                template: self.name.into(),
                version: version.map(String::from),
                hint: self.hint.into(),
            })
    }

    fn init_data(
        &self,
        _ctx: &InstanceCtx,
        engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Err(self.unsupported(engine))
    }

    fn launch(&self, _ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        Err(self.unsupported(engine))
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Tcp {
            port: ctx.port(0, self.port),
        }
    }

    fn setup(&self, _ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        Err(self.unsupported(engine))
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        Vec::new()
    }

    fn connection_env(&self, _ctx: &InstanceCtx) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debians_mysqld_link_to_mariadb_is_not_a_mysql_engine() {
        let d = tempfile::tempdir().unwrap();
        let mariadbd = d.path().join("mariadbd");
        std::fs::write(&mariadbd, "").unwrap();
        let mysqld = d.path().join("mysqld");
        std::os::unix::fs::symlink(&mariadbd, &mysqld).unwrap();
        let mysql = &EXTERNAL[0];
        assert_eq!(mysql.name, "mysql");
        assert!(mysql.is_another_engine(&mysqld));
        let real = d.path().join("real/mysqld");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "").unwrap();
        assert!(!mysql.is_another_engine(&real));
    }
}
