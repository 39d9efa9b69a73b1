//! Memcached 1.6 from the distro's `memcached` package.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::binaries::{find_tool, major_of, version_matches, version_of};
use crate::config::Config;
use crate::{
    CatalogError, EngineBinary, EngineSource, Exec, InstanceCtx, Launch, MissingEngine, Probe,
    Template,
};

/// The standard memcached port.
const PORT: u16 = 11211;
/// Cache size when neither `memory` nor a memory limit is given (memcached's own default).
const DEFAULT_MEMORY_MB: u64 = 64;

/// The `memcached` template.
pub(crate) struct Memcached;

/// The installed `memcached`, whatever its version.
pub(crate) fn installed() -> Option<EngineBinary> {
    let bin = find_tool(&[PathBuf::from("/usr/bin/memcached")], "memcached")?;
    let version = version_of(&bin, &["-V"])?;
    let bin_dir = bin.parent()?.to_path_buf();
    let source = if bin_dir == std::path::Path::new("/usr/bin") {
        EngineSource::Distro {
            package: "memcached".into(),
        }
    } else {
        EngineSource::Path
    };
    Some(EngineBinary {
        stand_in: None,
        template: "memcached".into(),
        major: major_of(&version),
        version,
        bin_dir,
        source,
    })
}

/// The memcached arguments of an instance.
pub(crate) fn args(ctx: &InstanceCtx) -> Result<Vec<String>, CatalogError> {
    let cfg = Config::new(&ctx.service, &ctx.config);
    let memory_mb = match cfg.size("memory")? {
        Some(bytes) => (bytes >> 20).max(1),
        None => ctx
            .memory_limit
            .map(|limit| ((limit / 4 * 3) >> 20).clamp(1, DEFAULT_MEMORY_MB))
            .unwrap_or(DEFAULT_MEMORY_MB),
    };
    let mut args = vec![
        "-l".to_string(),
        ctx.bind.to_string(),
        "-p".into(),
        ctx.port(0, PORT).to_string(),
        "-U".into(),
        "0".into(),
        "-m".into(),
        memory_mb.to_string(),
    ];
    if let Some(n) = cfg.unsigned("max_connections")? {
        args.extend(["-c".into(), n.to_string()]);
    }
    if let Some(n) = cfg.unsigned("threads")? {
        args.extend(["-t".into(), n.to_string()]);
    }
    Ok(args)
}

impl Template for Memcached {
    fn name(&self) -> &'static str {
        "memcached"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        let missing = |hint: String| MissingEngine {
            template: "memcached".into(),
            version: version.map(String::from),
            hint,
        };
        match installed() {
            None => Err(missing(
                "install it with: apt-get install memcached, or: vers engines install memcached"
                    .into(),
            )),
            Some(e) if version.is_none_or(|v| version_matches(&e.version, v)) => Ok(e),
            Some(e) => Err(missing(format!(
                "this machine has memcached {}; use memcached@{}",
                e.version, e.major
            ))),
        }
    }

    fn init_data(
        &self,
        _ctx: &InstanceCtx,
        _engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        Ok(Launch {
            program: engine.bin_dir.join("memcached"),
            args: args(ctx)?,
            env: BTreeMap::new(),
            cwd: ctx.data_dir.clone(),
        })
    }

    /// Healthy once the server answers the text protocol's `version` command.
    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Exchange {
            port: ctx.port(0, PORT),
            send: b"version\r\n".to_vec(),
            expect_at: 0,
            expect: b"VERSION ".to_vec(),
        }
    }

    fn setup(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        Vec::new()
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        BTreeMap::from([(
            "MEMCACHED_SERVERS".to_string(),
            format!("{}:{}", ctx.public_name, ctx.port(0, PORT)),
        )])
    }
}
