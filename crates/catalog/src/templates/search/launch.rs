//! Starting the server: a real Elasticsearch/OpenSearch as a single node with its data in the
//! service's data directory, or the built-in vers search (`vers mock elasticsearch`).

use std::collections::BTreeMap;
use std::path::Path;

use super::config::{plugins, security_enabled};
use super::discovery::home_of;
use super::{Product, PORT};
use crate::{CatalogError, EngineBinary, InstanceCtx, Launch};

/// Copies the directory `from` into `to` (recursively), owned by `uid:gid`.
fn copy_dir(from: &Path, to: &Path, uid: u32, gid: u32) -> Result<(), CatalogError> {
    std::fs::create_dir_all(to).map_err(|e| CatalogError::io(to, e))?;
    std::os::unix::fs::chown(to, Some(uid), Some(gid)).map_err(|e| CatalogError::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| CatalogError::io(from, e))? {
        let entry = entry.map_err(|e| CatalogError::io(from, e))?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target, uid, gid)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| CatalogError::io(&target, e))?;
            std::os::unix::fs::chown(&target, Some(uid), Some(gid))
                .map_err(|e| CatalogError::io(&target, e))?;
        }
    }
    Ok(())
}

/// The JVM heap for a memory limit: half of it, between 256 MiB and 31 GiB (512 MiB without a limit).
fn heap_mib(limit: Option<u64>) -> u64 {
    match limit {
        Some(bytes) => (bytes / 2 / (1 << 20)).clamp(256, 31 * 1024),
        None => 512,
    }
}

/// The real engine as a single node: HTTP on the service's address and port, transport on
/// loopback, data and logs in the data directory, security off, its own copy of the
/// configuration directory (the server writes its keystore there). Not exercised by the test
/// suite: no Elasticsearch can be installed on the machines it runs on.
pub(crate) fn real(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    product: Product,
) -> Result<Launch, CatalogError> {
    let launcher = engine.bin_dir.join(product.binary());
    let home = home_of(&launcher).ok_or_else(|| CatalogError::Unsupported {
        template: product.template().into(),
        message: format!(
            "cannot find the install directory of {}",
            launcher.display()
        ),
    })?;
    if security_enabled(ctx)? {
        return Err(CatalogError::config(
            &ctx.service,
            "security",
            format!(
                "vers runs {} {} as a single node with security disabled (it hands out no passwords or certificates); remove `security` or set it to false",
                product.display(),
                engine.version
            ),
        ));
    }
    for plugin in plugins(ctx)? {
        if !home.join("plugins").join(&plugin).is_dir() {
            return Err(CatalogError::config(
                &ctx.service,
                "plugins",
                format!(
                    "plugin `{plugin}` is not installed in {}; install it with {} install {plugin}",
                    home.join("plugins").display(),
                    home.join("bin")
                        .join(format!("{}-plugin", product.binary()))
                        .display()
                ),
            ));
        }
    }
    let conf = ctx.run_dir.join("config");
    copy_dir(&home.join("config"), &conf, ctx.user_uid, ctx.user_gid)?;
    let tmp = ctx.run_dir.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| CatalogError::io(&tmp, e))?;
    std::os::unix::fs::chown(&tmp, Some(ctx.user_uid), Some(ctx.user_gid))
        .map_err(|e| CatalogError::io(&tmp, e))?;
    let setting = |k: &str, v: String| ["-E".to_string(), format!("{k}={v}")];
    let mut args: Vec<String> = Vec::new();
    args.extend(setting("discovery.type", "single-node".into()));
    args.extend(setting("cluster.name", ctx.service.clone()));
    args.extend(setting(
        "node.name",
        format!("{}-{}", ctx.service, ctx.replica),
    ));
    args.extend(setting("network.host", ctx.bind.to_string()));
    args.extend(setting("http.port", ctx.port(0, PORT).to_string()));
    args.extend(setting("transport.host", "127.0.0.1".into()));
    args.extend(setting(
        "path.data",
        ctx.data_dir.join("data").display().to_string(),
    ));
    args.extend(setting(
        "path.logs",
        ctx.data_dir.join("logs").display().to_string(),
    ));
    match product {
        Product::Elasticsearch => {
            args.extend(setting("xpack.security.enabled", "false".into()));
            if engine.major != "7" {
                args.extend(setting("xpack.security.enrollment.enabled", "false".into()));
            }
        }
        Product::OpenSearch => {
            args.extend(setting("plugins.security.disabled", "true".into()));
        }
    }
    let prefix = match product {
        Product::Elasticsearch => "ES",
        Product::OpenSearch => "OPENSEARCH",
    };
    let heap = heap_mib(ctx.memory_limit);
    let env = BTreeMap::from([
        (format!("{prefix}_PATH_CONF"), conf.display().to_string()),
        (
            format!("{prefix}_JAVA_OPTS"),
            format!("-Xms{heap}m -Xmx{heap}m"),
        ),
        (format!("{prefix}_TMPDIR"), tmp.display().to_string()),
        (
            "PATH".to_string(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ),
        ("HOME".to_string(), ctx.data_dir.display().to_string()),
    ]);
    Ok(Launch {
        program: launcher,
        args,
        env,
        cwd: ctx.data_dir.clone(),
    })
}

/// The built-in vers search.
pub(crate) fn builtin(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    product: Product,
) -> Result<Launch, CatalogError> {
    if security_enabled(ctx)? {
        return Err(CatalogError::config(
            &ctx.service,
            "security",
            "vers search (the built-in stand-in serving this service because no Elasticsearch is installed) has no security; remove `security` or set it to false, or install Elasticsearch (VERS_ENGINE_ELASTICSEARCH)",
        ));
    }
    let plugins = plugins(ctx)?;
    if !plugins.is_empty() {
        return Err(CatalogError::config(
            &ctx.service,
            "plugins",
            format!(
                "vers search (the built-in stand-in serving this service because no {} is installed) cannot load plugins ({}); remove `plugins`, or install the real engine",
                product.display(),
                plugins.join(", ")
            ),
        ));
    }
    let config_path = ctx.run_dir.join("config.json");
    let text = serde_json::to_vec_pretty(&ctx.config)
        .map_err(|e| CatalogError::io(&config_path, e.into()))?;
    std::fs::write(&config_path, text).map_err(|e| CatalogError::io(&config_path, e))?;
    let args: Vec<String> = vec![
        "mock".into(),
        "elasticsearch".into(),
        "--listen".into(),
        ctx.bind.to_string(),
        "--port".into(),
        ctx.port(0, PORT).to_string(),
        "--data-dir".into(),
        ctx.data_dir.display().to_string(),
        "--config".into(),
        config_path.display().to_string(),
        "--major".into(),
        engine.major.clone(),
        "--product".into(),
        product.template().into(),
        "--cluster-name".into(),
        ctx.service.clone(),
        "--node-name".into(),
        format!("{}-{}", ctx.service, ctx.replica),
    ];
    Ok(Launch {
        program: ctx.vers_exe.clone(),
        args,
        env: BTreeMap::new(),
        cwd: ctx.data_dir.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_is_half_the_limit_within_bounds() {
        assert_eq!(heap_mib(None), 512);
        assert_eq!(heap_mib(Some(2 << 30)), 1024);
        assert_eq!(heap_mib(Some(100 << 20)), 256);
    }
}
