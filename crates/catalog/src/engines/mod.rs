//! Engine discovery and installation (`vers engines list|install`).

mod apt;
mod npm_postgres;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::templates::{external, memcached, mocks, postgres, redis};
use crate::{template_for, CatalogError, EngineBinary, MissingEngine};

/// Cache location for root, whose home is private to it (engines run as an unprivileged user).
const ROOT_CACHE: &str = "/var/cache/vers/engines";

/// Every engine found on the machine: distro packages, the engine cache, `PATH`, and the built-ins.
pub fn list() -> Vec<EngineBinary> {
    let mut out = postgres::discover::all();
    out.extend(redis::installed());
    out.extend(memcached::installed());
    out.extend(
        external::EXTERNAL
            .iter()
            .filter_map(|t| crate::Template::engine(t, None).ok()),
    );
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

/// Installs the engine of `template` at `major` (reusing one already present), reporting
/// progress lines to `progress`: postgres from the npm registry into the cache, Debian
/// packages (redis, memcached, mariadb, rabbitmq) with apt-get when running as root.
pub fn install(
    template: &str,
    major: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<EngineBinary, CatalogError> {
    if let Ok(found) = find(template, Some(major)) {
        progress(&format!(
            "{template}@{major} is already installed: {} ({})",
            found.version, found.source
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
        "redis" | "memcached" | "mariadb" | "rabbitmq" => {
            let package = match template {
                "redis" => "redis-server",
                "mariadb" => "mariadb-server",
                "rabbitmq" => "rabbitmq-server",
                other => other,
            };
            apt::install(package, progress).map_err(install_error)?;
            find(template, Some(major)).map_err(|missing| {
                install_error(format!("after installing {package}: {}", missing.hint))
            })
        }
        _ => Err(install_error(match find(template, Some(major)) {
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
