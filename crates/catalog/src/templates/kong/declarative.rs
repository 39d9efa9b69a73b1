//! Running real Kong: DB-less (`KONG_DATABASE=off`) from a declarative config generated from
//! the manifest (`_format_version: "3.0"`, routes nested in their services), listening on the
//! instance's proxy and admin ports, with its prefix in the run directory.
//!
//! No Kong package is obtainable on the machines vers is developed on, so this path is
//! written from Kong's documentation and not exercised by the test suite.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::spec::{Gateway, Plugin, Scope};
use crate::binaries::{is_executable, on_path};
use crate::{CatalogError, InstanceCtx, Launch};

/// Where Kong's packages put OpenResty's `nginx` (Kong's own search list).
const OPENRESTY_NGINX: [&str; 2] = [
    "/usr/local/openresty/nginx/sbin/nginx",
    "/opt/openresty/nginx/sbin/nginx",
];

fn plugin_json(p: &Plugin) -> Value {
    json!({"name": p.name, "config": Value::Object(p.config.clone()), "enabled": p.enabled})
}

fn set<T: serde::Serialize>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_string(), json!(v));
    }
}

/// Kong's declarative config for `gateway`: only what the manifest sets, Kong fills the rest.
pub(crate) fn config(gateway: &Gateway) -> Value {
    let plugins_of = |scope: Scope| -> Vec<Value> {
        gateway
            .plugins
            .iter()
            .filter(|p| p.scope == scope)
            .map(plugin_json)
            .collect()
    };
    let services: Vec<Value> = gateway
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut m = Map::new();
            m.insert("name".into(), json!(s.name));
            m.insert("url".into(), json!(s.url));
            set(&mut m, "retries", s.retries);
            set(&mut m, "connect_timeout", s.connect_timeout);
            set(&mut m, "write_timeout", s.write_timeout);
            set(&mut m, "read_timeout", s.read_timeout);
            let routes: Vec<Value> = gateway
                .routes
                .iter()
                .enumerate()
                .filter(|(_, r)| r.service == i)
                .map(|(ri, r)| {
                    let mut rm = Map::new();
                    set(&mut rm, "name", r.name.clone());
                    for (key, list) in [
                        ("paths", &r.paths),
                        ("methods", &r.methods),
                        ("hosts", &r.hosts),
                    ] {
                        if !list.is_empty() {
                            rm.insert(key.into(), json!(list));
                        }
                    }
                    set(&mut rm, "strip_path", r.strip_path);
                    set(&mut rm, "preserve_host", r.preserve_host);
                    let plugins = plugins_of(Scope::Route(ri));
                    if !plugins.is_empty() {
                        rm.insert("plugins".into(), Value::Array(plugins));
                    }
                    Value::Object(rm)
                })
                .collect();
            m.insert("routes".into(), Value::Array(routes));
            let plugins = plugins_of(Scope::Service(i));
            if !plugins.is_empty() {
                m.insert("plugins".into(), Value::Array(plugins));
            }
            Value::Object(m)
        })
        .collect();
    let consumers: Vec<Value> = gateway
        .consumers
        .iter()
        .map(|c| {
            let mut m = Map::new();
            set(&mut m, "username", c.username.clone());
            set(&mut m, "custom_id", c.custom_id.clone());
            if !c.api_keys.is_empty() {
                let keys: Vec<Value> = c.api_keys.iter().map(|k| json!({"key": k})).collect();
                m.insert("keyauth_credentials".into(), Value::Array(keys));
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "_format_version": "3.0",
        "services": services,
        "consumers": consumers,
        "plugins": plugins_of(Scope::Global),
    })
}

/// OpenResty's `nginx` for the Kong at `kong` (its CLI): inside the install directory, in
/// Kong's standard locations, else `openresty` on PATH.
fn openresty_nginx(kong: &Path) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = kong
        .ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join("openresty/nginx/sbin/nginx"))
        .collect();
    candidates.extend(OPENRESTY_NGINX.iter().map(PathBuf::from));
    candidates
        .into_iter()
        .find(|c| is_executable(c))
        .or_else(|| on_path("openresty"))
}

/// Writes the declarative config and returns the command running Kong in the foreground:
/// `kong prepare` builds the nginx config in the prefix, then OpenResty runs it (as Kong's
/// container images do). Errors go to the process's stderr (nginx's `stderr` log target:
/// the service's log is not a file the engine user may open by path); access logs are off.
/// Upstream keepalive is off so that every request opens a connection
/// of its own and vers's balancer spreads a replicated service's requests over its replicas.
pub(crate) fn launch(
    ctx: &InstanceCtx,
    gateway: &Gateway,
    kong: &Path,
    proxy_port: u16,
    admin_port: u16,
) -> Result<Launch, CatalogError> {
    let nginx = openresty_nginx(kong).ok_or_else(|| CatalogError::MissingTool {
        tool: "openresty".into(),
        hint: format!(
            "Kong at {} needs OpenResty's nginx (looked in its install directory, {} and PATH)",
            kong.display(),
            OPENRESTY_NGINX.join(", ")
        ),
    })?;
    let file = ctx.run_dir.join("kong.json");
    let text = serde_json::to_string_pretty(&config(gateway))
        .map_err(|e| CatalogError::io(&file, std::io::Error::other(e)))?;
    std::fs::write(&file, text).map_err(|e| CatalogError::io(&file, e))?;
    let prefix = ctx.run_dir.join("kong");
    std::fs::create_dir_all(&prefix).map_err(|e| CatalogError::io(&prefix, e))?;
    std::os::unix::fs::chown(&prefix, Some(ctx.user_uid), Some(ctx.user_gid))
        .map_err(|e| CatalogError::io(&prefix, e))?;
    let bind = ctx.bind;
    let env = BTreeMap::from(
        [
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
            ("VERS_KONG_CLI", kong.display().to_string()),
            ("VERS_KONG_NGINX", nginx.display().to_string()),
            ("KONG_PREFIX", prefix.display().to_string()),
            ("KONG_DATABASE", "off".into()),
            ("KONG_DECLARATIVE_CONFIG", file.display().to_string()),
            ("KONG_PROXY_LISTEN", format!("{bind}:{proxy_port}")),
            ("KONG_ADMIN_LISTEN", format!("{bind}:{admin_port}")),
            ("KONG_NGINX_DAEMON", "off".into()),
            ("KONG_NGINX_WORKER_PROCESSES", "1".into()),
            ("KONG_UPSTREAM_KEEPALIVE_POOL_SIZE", "0".into()),
            ("KONG_ANONYMOUS_REPORTS", "off".into()),
            ("KONG_PROXY_ACCESS_LOG", "off".into()),
            ("KONG_ADMIN_ACCESS_LOG", "off".into()),
            ("KONG_PROXY_ERROR_LOG", "stderr".into()),
            ("KONG_ADMIN_ERROR_LOG", "stderr".into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    Ok(Launch {
        program: PathBuf::from("/bin/sh"),
        args: vec![
            "-c".into(),
            "set -e; \"$VERS_KONG_CLI\" prepare -p \"$KONG_PREFIX\"; exec \"$VERS_KONG_NGINX\" -p \"$KONG_PREFIX\" -c nginx.conf".into(),
        ],
        env,
        cwd: ctx.run_dir.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::kong::spec;

    #[test]
    fn nests_routes_in_services_and_keeps_what_the_manifest_sets() {
        let g = spec::read(&spec::tests_ctx(json!({
            "routes": [
                {"paths": ["/api/users"], "service": "user-service",
                 "plugins": [{"name": "jwt", "config": {"key_claim_name": "iss"}}]},
                {"paths": ["/v1"], "service": "ext", "strip_path": false}
            ],
            "services": [{"name": "ext", "url": "http://ext:9000/v1"}],
            "plugins": [{"name": "rate-limiting", "config": {"minute": 5}}],
            "consumers": [{"username": "alice", "keyauth_credentials": [{"key": "k1"}]}]
        })))
        .unwrap();
        let c = config(&g);
        assert_eq!(c["_format_version"], "3.0");
        assert_eq!(c["services"][0]["name"], "ext");
        assert_eq!(c["services"][0]["routes"][0]["strip_path"], false);
        assert_eq!(c["services"][1]["url"], "http://user-service:3000");
        let users = &c["services"][1]["routes"][0];
        assert_eq!(users["paths"], json!(["/api/users"]));
        assert!(users.get("strip_path").is_none());
        assert_eq!(users["plugins"][0]["name"], "jwt");
        assert_eq!(c["plugins"][0]["config"]["minute"], 5);
        assert_eq!(c["consumers"][0]["keyauth_credentials"][0]["key"], "k1");
    }
}
