//! Finding the engine of `kong`: real Kong first (`VERS_ENGINE_KONG` naming its CLI or install
//! directory, else `kong` on PATH), else the stand-in: Debian's nginx with lua-nginx-module,
//! lua-resty-core and lua-cjson, running vers's Lua implementation of Kong's proxy.

use std::path::{Path, PathBuf};

use crate::binaries::{
    cached_output, debian_package_version, find_tool, is_executable, major_of, on_path, version_of,
};
use crate::{EngineBinary, EngineSource, StandIn};

/// The Kong release whose proxy, plugins and Admin API the stand-in follows.
pub(crate) const COMPAT_VERSION: &str = "3.4.2";
/// Where Debian's nginx looks for dynamic modules.
pub(crate) const MODULES_DIR: &str = "/usr/lib/nginx/modules";
/// The nginx modules the stand-in loads, in load order (the Lua module needs NDK).
pub(crate) const MODULES: [&str; 2] = ["ndk_http_module.so", "ngx_http_lua_module.so"];
/// Debian packages of the stand-in.
pub(crate) const APT_PACKAGES: [&str; 4] = [
    "nginx",
    "libnginx-mod-http-lua",
    "lua-resty-core",
    "lua-cjson",
];
/// What the stand-in does not do that Kong does.
const GAPS: &str = "Kong 3.4's proxy and DB-less Admin API for HTTP routes (paths, methods, hosts, strip_path, preserve_host) with the key-auth, rate-limiting (policy local) and cors plugins; not Kong: no other plugins, no HTTPS listener, gRPC, streams or upstream entities, upstream names resolve through the hosts file only, and key-auth reads JSON and form bodies only";

/// Real Kong's CLI: `VERS_ENGINE_KONG` (the CLI, or an install directory holding `bin/kong`),
/// else `kong` on PATH.
fn kong_cli() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os("VERS_ENGINE_KONG").filter(|v| !v.is_empty()) {
        let given = PathBuf::from(given);
        let candidates = [given.clone(), given.join("bin/kong"), given.join("kong")];
        return candidates.into_iter().find(|c| is_executable(c));
    }
    on_path("kong")
}

/// Real Kong, when the machine has it.
pub(crate) fn real() -> Option<EngineBinary> {
    let cli = kong_cli()?;
    let version = version_of(&cli, &["version"])?;
    Some(EngineBinary {
        template: "kong".into(),
        major: major_of(&version),
        version,
        bin_dir: cli.parent()?.to_path_buf(),
        source: EngineSource::Path,
        stand_in: None,
    })
}

/// The CLI of a real-Kong engine found by [`real`].
pub(crate) fn cli_of(engine: &EngineBinary) -> PathBuf {
    engine.bin_dir.join("kong")
}

/// `lua-cjson`'s module for Lua 5.1 / LuaJIT, under any multiarch directory.
fn cjson_present() -> bool {
    let mut dirs: Vec<PathBuf> = vec![PathBuf::from("/usr/local/lib"), PathBuf::from("/usr/lib")];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(entries.flatten().map(|e| e.path()));
    }
    dirs.iter().any(|d| d.join("lua/5.1/cjson.so").is_file())
}

/// nginx's version from `nginx -v` (`nginx version: nginx/1.22.1`).
fn nginx_version(nginx: &Path) -> Option<String> {
    let text = cached_output(nginx, &["-v"])?;
    let rest = text.split("nginx/").nth(1)?;
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

/// The stand-in, when nginx, its Lua module, lua-resty-core and lua-cjson are installed.
pub(crate) fn stand_in() -> Option<EngineBinary> {
    let nginx = find_tool(&[PathBuf::from("/usr/sbin/nginx")], "nginx")?;
    let modules = Path::new(MODULES_DIR);
    if !MODULES.iter().all(|m| modules.join(m).is_file()) {
        return None;
    }
    if !Path::new("/usr/share/lua/5.1/resty/core.lua").is_file() || !cjson_present() {
        return None;
    }
    let nginx_v = nginx_version(&nginx).unwrap_or_else(|| "unknown".into());
    let lua_v = debian_package_version("libnginx-mod-http-lua")
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    Some(EngineBinary {
        template: "kong".into(),
        version: COMPAT_VERSION.into(),
        major: major_of(COMPAT_VERSION),
        bin_dir: nginx.parent()?.to_path_buf(),
        source: EngineSource::Distro {
            package: "libnginx-mod-http-lua".into(),
        },
        stand_in: Some(StandIn {
            implementation: format!("nginx {nginx_v} + lua-nginx-module{lua_v}"),
            note: GAPS.into(),
        }),
    })
}

/// Every Kong engine on the machine: real Kong, then the stand-in.
pub(crate) fn installed() -> Vec<EngineBinary> {
    real().into_iter().chain(stand_in()).collect()
}
