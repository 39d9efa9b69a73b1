//! Finding a Kafka broker: Apache Kafka first (`VERS_ENGINE_KAFKA`, then
//! `kafka-server-start.sh` on `PATH`), else tansu, a Kafka-protocol broker from crates.io,
//! in the engine cache, labelled as a stand-in.

use std::path::{Path, PathBuf};

use crate::binaries::{is_executable, major_of, on_path, version_matches, version_of};
use crate::engines::cargo::CrateSpec;
use crate::{engines, EngineBinary, EngineSource, MissingEngine, StandIn};

/// The environment variable naming an Apache Kafka install (its directory, its `bin/`, or its
/// `kafka-server-start.sh`).
pub(crate) const ENV_VAR: &str = "VERS_ENGINE_KAFKA";

/// Apache Kafka's broker start script.
pub(crate) const START_SCRIPT: &str = "kafka-server-start.sh";

/// tansu as `vers engines install kafka@3` builds it: SQLite storage only (the `libsql`
/// feature), the smallest build that keeps topics, messages and consumer offsets in a file.
pub(crate) const TANSU: CrateSpec = CrateSpec {
    name: "tansu",
    version: "0.6.0",
    features: &["libsql"],
    binary: "tansu",
    build_time: "15 minutes",
};

/// What tansu is and is not, as `vers engines list`, `status` and `up` report it.
pub(crate) const TANSU_NOTE: &str = "Kafka wire protocol, not Apache Kafka: one broker keeping \
topics, messages and committed offsets in SQLite; topics are not created automatically on first \
use (declare them under `topics`); retention.ms and cleanup.policy are applied by a sweep every \
10 minutes, not continuously; compacted topics keep tombstones; consumer groups forget their \
members when the broker starts, a branch's included (committed offsets stay; with `sqlite3` on \
the machine; else consumers of a group joined at checkpoint time wait for its departed members); \
no Kafka Connect, no consumer groups declared ahead of their consumers, no broker_settings; with `schema_registry: true` the \
registry on 8081 is vers's own Confluent-compatible one (schemas kept in the data directory, \
compatibility checked for AVRO only)";

/// Every Kafka broker on the machine: Apache Kafka, then tansu.
pub(crate) fn all() -> Vec<EngineBinary> {
    apache().into_iter().chain(tansu()).collect()
}

/// The broker for `major` (`3` for `kafka@3`): Apache Kafka of that major when installed,
/// else the tansu stand-in (which speaks the protocol of Kafka 3), else how to get one.
pub(crate) fn find(major: Option<&str>) -> Result<EngineBinary, MissingEngine> {
    let apache = apache();
    if let Some(found) = apache
        .clone()
        .filter(|e| major.is_none_or(|m| version_matches(&e.version, m)))
    {
        return Ok(found);
    }
    if std::env::var_os(ENV_VAR).is_some_and(|v| !v.is_empty()) && apache.is_none() {
        return Err(missing(
            major,
            format!(
                "{ENV_VAR}={} is not an Apache Kafka install (no bin/{START_SCRIPT} there); point it at Kafka's directory or unset it",
                std::env::var(ENV_VAR).unwrap_or_default()
            ),
        ));
    }
    if let Some(found) = tansu().filter(|_| major.is_none_or(|m| m == "3")) {
        return Ok(found);
    }
    let installed = apache
        .map(|e| {
            format!(
                " (this machine has Apache Kafka {} in {})",
                e.version,
                e.bin_dir.display()
            )
        })
        .unwrap_or_default();
    let hint = if major.is_none_or(|m| m == "3") {
        format!(
            "install it with: vers engines install kafka@3 (builds tansu {}, a Kafka-protocol broker from crates.io, about {}), or install Apache Kafka 3 from kafka.apache.org with a Java runtime and set {ENV_VAR} to its directory{installed}",
            TANSU.version, TANSU.build_time,
        )
    } else {
        format!(
            "Apache Kafka {} is in no registry this machine reaches: install it from kafka.apache.org with a Java runtime and set {ENV_VAR} to its directory, or use kafka@3{installed}",
            major.unwrap_or_default()
        )
    };
    Err(missing(major, hint))
}

fn missing(major: Option<&str>, hint: String) -> MissingEngine {
    MissingEngine {
        template: "kafka".into(),
        version: major.map(String::from),
        hint,
    }
}

/// Apache Kafka named by `VERS_ENGINE_KAFKA`, else found on `PATH`.
///
/// Not testable on the machines vers is developed on (no registry they reach ships Kafka):
/// the layout followed is the Apache binary distribution's, `bin/kafka-*.sh` beside
/// `libs/kafka_<scala>-<version>.jar`.
pub(crate) fn apache() -> Option<EngineBinary> {
    let start = match std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        Some(named) => start_script_in(Path::new(&named))?,
        None => on_path(START_SCRIPT)?,
    };
    let bin_dir = start.parent()?.to_path_buf();
    let version = version_from_libs(&bin_dir)
        .or_else(|| version_of(&start, &["--version"]))
        .unwrap_or_else(|| "3".into());
    Some(EngineBinary {
        template: "kafka".into(),
        major: major_of(&version),
        version,
        bin_dir,
        source: EngineSource::Path,
        stand_in: None,
    })
}

/// The start script in a Kafka directory, its `bin/`, or the script itself.
fn start_script_in(named: &Path) -> Option<PathBuf> {
    [
        named.to_path_buf(),
        named.join(START_SCRIPT),
        named.join("bin").join(START_SCRIPT),
    ]
    .into_iter()
    .find(|p| p.file_name().is_some_and(|n| n == START_SCRIPT) && is_executable(p))
}

/// The version in the name of `libs/kafka_<scala>-<version>.jar` beside `bin_dir`.
fn version_from_libs(bin_dir: &Path) -> Option<String> {
    let libs = bin_dir.parent()?.join("libs");
    std::fs::read_dir(libs)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .find_map(|name| kafka_jar_version(&name))
}

/// `3.7.1` of `kafka_2.13-3.7.1.jar`; `None` for other jars (`kafka-clients-…`, sources, tests).
fn kafka_jar_version(name: &str) -> Option<String> {
    let rest = name.strip_prefix("kafka_")?.strip_suffix(".jar")?;
    let (_, version) = rest.split_once('-')?;
    let plain = version.chars().all(|c| c.is_ascii_digit() || c == '.');
    (plain && version.contains('.')).then(|| version.to_string())
}

/// tansu in the engine cache.
pub(crate) fn tansu() -> Option<EngineBinary> {
    tansu_in(&engines::cache_dir())
}

/// tansu installed in `cache`.
pub(crate) fn tansu_in(cache: &Path) -> Option<EngineBinary> {
    let bin = TANSU.installed(cache)?;
    Some(EngineBinary {
        template: "kafka".into(),
        version: TANSU.version.into(),
        major: "3".into(),
        bin_dir: bin.parent()?.to_path_buf(),
        source: EngineSource::Cache {
            package: format!("{}@{}", TANSU.name, TANSU.version),
        },
        stand_in: Some(StandIn {
            implementation: format!("{} {}", TANSU.name, TANSU.version),
            note: TANSU_NOTE.into(),
        }),
    })
}

/// Whether `engine` is the tansu stand-in rather than Apache Kafka.
pub(crate) fn is_tansu(engine: &EngineBinary) -> bool {
    engine.stand_in.is_some() && is_executable(&engine.bin_dir.join(TANSU.binary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_from_the_broker_jar_name() {
        assert_eq!(
            kafka_jar_version("kafka_2.13-3.7.1.jar").as_deref(),
            Some("3.7.1")
        );
        assert_eq!(kafka_jar_version("kafka-clients-3.7.1.jar"), None);
        assert_eq!(kafka_jar_version("kafka_2.13-3.7.1-sources.jar"), None);
        assert_eq!(kafka_jar_version("kafka_2.13-3.7.1-test.jar"), None);
    }

    #[test]
    fn finds_apache_kafka_by_directory_and_reads_libs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("libs")).unwrap();
        let script = dir.path().join("bin").join(START_SCRIPT);
        std::fs::write(&script, "#!/bin/sh\nexit 1\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("libs/kafka_2.13-3.8.0.jar"), b"").unwrap();
        assert_eq!(start_script_in(dir.path()), Some(script.clone()));
        assert_eq!(
            start_script_in(&dir.path().join("bin")),
            Some(script.clone())
        );
        assert_eq!(start_script_in(&script), Some(script.clone()));
        assert_eq!(start_script_in(&dir.path().join("libs")), None);
        assert_eq!(
            version_from_libs(&dir.path().join("bin")).as_deref(),
            Some("3.8.0")
        );
    }
}
