//! The gateway a `kong` service describes, read from the manifest's `config`: Kong services
//! (the `services` entries and every service of the manifest a route names), routes bound to
//! them, consumers with their API keys, and plugins with their scope.

use serde_json::{Map, Value};

use crate::config::{strings_of, Config};
use crate::{CatalogError, InstanceCtx};

/// Everything the gateway serves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Gateway {
    /// Upstream services, `services` entries first, then manifest services in route order.
    pub services: Vec<Service>,
    /// Routes in manifest order.
    pub routes: Vec<Route>,
    /// Consumers in manifest order.
    pub consumers: Vec<Consumer>,
    /// Global, service and route plugins in manifest order.
    pub plugins: Vec<Plugin>,
}

/// One upstream service.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Service {
    /// The Kong service name (the manifest service's name for those).
    pub name: String,
    /// `http` or `https`.
    pub protocol: String,
    /// Host name or address of the upstream.
    pub host: String,
    /// Upstream port.
    pub port: u16,
    /// Path prefix of the upstream, when the URL has one.
    pub path: Option<String>,
    /// The URL as configured, or `http://NAME:PORT` for a manifest service.
    pub url: String,
    /// Retries on connection failures (Kong's `retries`), when set.
    pub retries: Option<u64>,
    /// Connect timeout in milliseconds, when set.
    pub connect_timeout: Option<u64>,
    /// Write timeout in milliseconds, when set.
    pub write_timeout: Option<u64>,
    /// Read timeout in milliseconds, when set.
    pub read_timeout: Option<u64>,
    /// The config key declaring it (`services[0]`), `None` for a manifest service.
    pub key: Option<String>,
}

/// One route.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Route {
    /// Its config key, e.g. `routes[0]`.
    pub key: String,
    /// Optional name.
    pub name: Option<String>,
    /// Path prefixes (`/api`) or regexes (`~/users/\d+`).
    pub paths: Vec<String>,
    /// HTTP methods it matches (all when empty).
    pub methods: Vec<String>,
    /// Host names it matches (all when empty).
    pub hosts: Vec<String>,
    /// Whether the matched path prefix is removed upstream (Kong's default: yes).
    pub strip_path: Option<bool>,
    /// Whether the client's `Host` header is sent upstream (Kong's default: no).
    pub preserve_host: Option<bool>,
    /// Index of its service in [`Gateway::services`].
    pub service: usize,
}

/// One consumer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Consumer {
    /// Its config key, e.g. `consumers[0]`.
    pub key: String,
    /// Username, if any.
    pub username: Option<String>,
    /// Custom id, if any.
    pub custom_id: Option<String>,
    /// Its `key-auth` API keys.
    pub api_keys: Vec<String>,
}

/// What a plugin applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every request.
    Global,
    /// Requests of one route (index in [`Gateway::routes`]).
    Route(usize),
    /// Requests to one service (index in [`Gateway::services`]).
    Service(usize),
}

/// One plugin instance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plugin {
    /// Its config key, e.g. `routes[0].plugins[1]`.
    pub key: String,
    /// Plugin name, e.g. `key-auth`.
    pub name: String,
    /// Its `config` as written.
    pub config: Map<String, Value>,
    /// Whether it runs (Kong's default: yes).
    pub enabled: bool,
    /// What it applies to.
    pub scope: Scope,
}

/// Reads the gateway of `ctx`'s `config`; a route's `service` names a `services` entry or a
/// service of the manifest (reached at `NAME:PORT`, its standard port from `ctx.peers`).
pub(crate) fn read(ctx: &InstanceCtx) -> Result<Gateway, CatalogError> {
    let cfg = Config::new(&ctx.service, &ctx.config);
    if let Some(db) = cfg.scalar("database")? {
        if db != "off" {
            return Err(cfg.error(
                "database",
                format!("vers runs Kong DB-less, from the routes, services, consumers and plugins of this config; `{db}` is not supported: remove `database` or set it to \"off\""),
            ));
        }
    }
    let mut g = Gateway {
        services: Vec::new(),
        routes: Vec::new(),
        consumers: Vec::new(),
        plugins: Vec::new(),
    };
    for (i, entry) in cfg.objects("services")?.into_iter().enumerate() {
        let key = format!("services[{i}]");
        let service = declared_service(&ctx.service, &key, entry)?;
        if g.services.iter().any(|s| s.name == service.name) {
            return Err(CatalogError::config(
                &ctx.service,
                format!("{key}.name"),
                format!("a service named `{}` is declared twice", service.name),
            ));
        }
        g.services.push(service);
        read_plugins(
            &ctx.service,
            &key,
            entry,
            Scope::Service(g.services.len() - 1),
            &mut g.plugins,
        )?;
    }
    for (i, entry) in cfg.objects("routes")?.into_iter().enumerate() {
        let key = format!("routes[{i}]");
        let route = read_route(ctx, &key, entry, &mut g.services)?;
        if let Some(name) = &route.name {
            if g.routes.iter().any(|r| r.name.as_ref() == Some(name)) {
                return Err(CatalogError::config(
                    &ctx.service,
                    format!("{key}.name"),
                    format!("a route named `{name}` is declared twice"),
                ));
            }
        }
        g.routes.push(route);
        read_plugins(
            &ctx.service,
            &key,
            entry,
            Scope::Route(g.routes.len() - 1),
            &mut g.plugins,
        )?;
    }
    let top = Map::from_iter([(
        "plugins".to_string(),
        cfg.get("plugins").cloned().unwrap_or(Value::Null),
    )]);
    read_plugins(&ctx.service, "", &top, Scope::Global, &mut g.plugins)?;
    for (i, entry) in cfg.objects("consumers")?.into_iter().enumerate() {
        let key = format!("consumers[{i}]");
        let consumer = read_consumer(&ctx.service, &key, entry)?;
        for api_key in &consumer.api_keys {
            if g.consumers.iter().any(|c| c.api_keys.contains(api_key)) {
                return Err(CatalogError::config(
                    &ctx.service,
                    format!("{key}.keyauth_credentials"),
                    "an API key belongs to two consumers; keys must be unique",
                ));
            }
        }
        g.consumers.push(consumer);
    }
    Ok(g)
}

/// A map's value at `key`, `None` when absent or null.
fn field<'a>(entry: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    entry.get(key).filter(|v| !v.is_null())
}

/// A string field of an entry.
fn text(
    service: &str,
    prefix: &str,
    entry: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, CatalogError> {
    match field(entry, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(v) => Err(CatalogError::config(
            service,
            format!("{prefix}.{key}"),
            format!("expected a string, found {v}"),
        )),
    }
}

/// A list-of-strings field of an entry.
fn texts(
    service: &str,
    prefix: &str,
    entry: &Map<String, Value>,
    key: &str,
) -> Result<Vec<String>, CatalogError> {
    match field(entry, key) {
        None => Ok(Vec::new()),
        Some(v) => strings_of(v).ok_or_else(|| {
            CatalogError::config(
                service,
                format!("{prefix}.{key}"),
                "expected a list of strings",
            )
        }),
    }
}

/// A boolean field of an entry.
fn flag(
    service: &str,
    prefix: &str,
    entry: &Map<String, Value>,
    key: &str,
) -> Result<Option<bool>, CatalogError> {
    match field(entry, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(CatalogError::config(
            service,
            format!("{prefix}.{key}"),
            format!("expected true or false, found {v}"),
        )),
    }
}

/// A whole-number field of an entry.
fn whole(
    service: &str,
    prefix: &str,
    entry: &Map<String, Value>,
    key: &str,
) -> Result<Option<u64>, CatalogError> {
    match field(entry, key) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            CatalogError::config(
                service,
                format!("{prefix}.{key}"),
                format!("expected a whole number, found {v}"),
            )
        }),
    }
}

/// A `services` entry: `name` and an `http(s)://host[:port][/path]` `url`.
fn declared_service(
    service: &str,
    key: &str,
    entry: &Map<String, Value>,
) -> Result<Service, CatalogError> {
    let err = |k: &str, m: String| CatalogError::config(service, format!("{key}.{k}"), m);
    let name = text(service, key, entry, "name")?
        .ok_or_else(|| err("name", "every service needs a `name`".into()))?;
    let url = text(service, key, entry, "url")?.ok_or_else(|| {
        err(
            "url",
            "every service needs a `url`, e.g. http://orders:3000/v1".into(),
        )
    })?;
    let parsed =
        url::Url::parse(&url).map_err(|e| err("url", format!("`{url}` is not a URL: {e}")))?;
    let protocol = parsed.scheme().to_string();
    if protocol != "http" && protocol != "https" {
        return Err(err(
            "url",
            format!("`{url}`: only http and https upstreams are proxied"),
        ));
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| err("url", format!("`{url}` has no host")))?
        .to_string();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| err("url", format!("`{url}` has no port")))?;
    let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
    let path = after_scheme
        .contains('/')
        .then(|| parsed.path().to_string());
    Ok(Service {
        name,
        protocol,
        host,
        port,
        path,
        url,
        retries: whole(service, key, entry, "retries")?,
        connect_timeout: whole(service, key, entry, "connect_timeout")?,
        write_timeout: whole(service, key, entry, "write_timeout")?,
        read_timeout: whole(service, key, entry, "read_timeout")?,
        key: Some(key.to_string()),
    })
}

/// The index of the service a route names: a `services` entry, else a manifest service
/// (added on first use, reached at `NAME:PORT` on its standard port).
fn resolve_service(
    ctx: &InstanceCtx,
    key: &str,
    name: &str,
    services: &mut Vec<Service>,
) -> Result<usize, CatalogError> {
    if let Some(i) = services.iter().position(|s| s.name == name) {
        return Ok(i);
    }
    let Some(ports) = ctx.peers.get(name) else {
        let mut known: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        known.extend(ctx.peers.keys().map(String::as_str));
        return Err(CatalogError::config(
            &ctx.service,
            format!("{key}.service"),
            format!(
                "`{name}` is neither a service of the manifest nor an entry of `services` (known: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
        ));
    };
    let port = *ports.first().ok_or_else(|| {
        CatalogError::config(
            &ctx.service,
            format!("{key}.service"),
            format!(
                "service `{name}` listens on no port; give it `ports:` so the gateway can reach it"
            ),
        )
    })?;
    services.push(Service {
        name: name.to_string(),
        protocol: "http".into(),
        host: name.to_string(),
        port,
        path: None,
        url: format!("http://{name}:{port}"),
        retries: None,
        connect_timeout: None,
        write_timeout: None,
        read_timeout: None,
        key: None,
    });
    Ok(services.len() - 1)
}

/// A `routes` entry.
fn read_route(
    ctx: &InstanceCtx,
    key: &str,
    entry: &Map<String, Value>,
    services: &mut Vec<Service>,
) -> Result<Route, CatalogError> {
    let svc = &ctx.service;
    let err = |k: &str, m: String| CatalogError::config(svc, format!("{key}.{k}"), m);
    let target = text(svc, key, entry, "service")?.ok_or_else(|| {
        err(
            "service",
            "every route needs a `service`: a service of the manifest or an entry of `services`"
                .into(),
        )
    })?;
    let service = resolve_service(ctx, key, &target, services)?;
    let paths = texts(svc, key, entry, "paths")?;
    for (i, p) in paths.iter().enumerate() {
        if !p.starts_with('/') && !p.starts_with('~') {
            return Err(err(
                &format!("paths[{i}]"),
                format!("`{p}` must start with `/` (a prefix) or `~` (a regex)"),
            ));
        }
    }
    let methods = texts(svc, key, entry, "methods")?;
    for (i, m) in methods.iter().enumerate() {
        if m.is_empty() || !m.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(err(
                &format!("methods[{i}]"),
                format!("`{m}` is not an HTTP method in upper case, e.g. GET"),
            ));
        }
    }
    let hosts = texts(svc, key, entry, "hosts")?;
    if paths.is_empty() && methods.is_empty() && hosts.is_empty() {
        return Err(CatalogError::config(
            svc,
            key,
            "a route must set at least one of `paths`, `methods` or `hosts`",
        ));
    }
    Ok(Route {
        key: key.to_string(),
        name: text(svc, key, entry, "name")?,
        paths,
        methods,
        hosts,
        strip_path: flag(svc, key, entry, "strip_path")?,
        preserve_host: flag(svc, key, entry, "preserve_host")?,
        service,
    })
}

/// The `plugins` list of `entry` (a route, a service, or the top level when `prefix` is empty).
fn read_plugins(
    service: &str,
    prefix: &str,
    entry: &Map<String, Value>,
    scope: Scope,
    out: &mut Vec<Plugin>,
) -> Result<(), CatalogError> {
    let list_key = if prefix.is_empty() {
        "plugins".to_string()
    } else {
        format!("{prefix}.plugins")
    };
    let items = match field(entry, "plugins") {
        None => return Ok(()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(CatalogError::config(service, list_key, "expected a list")),
    };
    for (i, item) in items.iter().enumerate() {
        let key = format!("{list_key}[{i}]");
        let map = item
            .as_object()
            .ok_or_else(|| CatalogError::config(service, &key, "expected a map"))?;
        let name = text(service, &key, map, "name")?.ok_or_else(|| {
            CatalogError::config(
                service,
                format!("{key}.name"),
                "every plugin needs a `name`",
            )
        })?;
        let config = match field(map, "config") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(CatalogError::config(
                    service,
                    format!("{key}.config"),
                    "expected a map",
                ))
            }
        };
        if out.iter().any(|p| p.scope == scope && p.name == name) {
            return Err(CatalogError::config(
                service,
                format!("{key}.name"),
                format!("plugin `{name}` is configured twice here; Kong allows one instance per route, service or the global scope"),
            ));
        }
        out.push(Plugin {
            key: key.clone(),
            name,
            config,
            enabled: flag(service, &key, map, "enabled")?.unwrap_or(true),
            scope,
        });
    }
    Ok(())
}

/// A `consumers` entry.
fn read_consumer(
    service: &str,
    key: &str,
    entry: &Map<String, Value>,
) -> Result<Consumer, CatalogError> {
    let username = text(service, key, entry, "username")?;
    let custom_id = text(service, key, entry, "custom_id")?;
    if username.is_none() && custom_id.is_none() {
        return Err(CatalogError::config(
            service,
            key,
            "a consumer needs a `username` or a `custom_id`",
        ));
    }
    let mut api_keys: Vec<String> = Vec::new();
    let creds = match field(entry, "keyauth_credentials") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(CatalogError::config(
                service,
                format!("{key}.keyauth_credentials"),
                "expected a list",
            ))
        }
    };
    for (i, cred) in creds.iter().enumerate() {
        let ckey = format!("{key}.keyauth_credentials[{i}]");
        let map = cred
            .as_object()
            .ok_or_else(|| CatalogError::config(service, &ckey, "expected a map"))?;
        let api_key = text(service, &ckey, map, "key")?
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                CatalogError::config(
                    service,
                    format!("{ckey}.key"),
                    "every credential needs a `key`",
                )
            })?;
        if api_keys.contains(&api_key) {
            return Err(CatalogError::config(
                service,
                format!("{ckey}.key"),
                "this API key is listed twice",
            ));
        }
        api_keys.push(api_key);
    }
    Ok(Consumer {
        key: key.to_string(),
        username,
        custom_id,
        api_keys,
    })
}

/// An instance of gateway `gateway` with `config`, whose environment has `user-service` on 3000.
#[cfg(test)]
pub(crate) fn tests_ctx(config: Value) -> InstanceCtx {
    InstanceCtx {
        service: "gateway".into(),
        replica: 0,
        template: Some("kong".into()),
        version: Some("3".into()),
        listen: std::net::Ipv4Addr::LOCALHOST,
        bind: std::net::Ipv4Addr::LOCALHOST,
        ports: vec![8000, 8001],
        data_dir: std::path::PathBuf::from("/tmp/d"),
        run_dir: std::path::PathBuf::from("/tmp/r"),
        project_dir: std::path::PathBuf::from("/tmp/p"),
        config,
        env: std::collections::BTreeMap::new(),
        user_uid: 1,
        user_gid: 1,
        vers_exe: std::path::PathBuf::from("/bin/vers"),
        public_name: "gateway".into(),
        memory_limit: None,
        command: None,
        build_context: None,
        peers: std::collections::BTreeMap::from([
            ("user-service".to_string(), vec![3000]),
            ("gateway".to_string(), vec![8000, 8001]),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binds_routes_to_manifest_and_declared_services() {
        let g = read(&tests_ctx(json!({
            "routes": [
                {"paths": ["/api/users"], "service": "user-service"},
                {"paths": ["/ext"], "service": "ext", "strip_path": false,
                 "plugins": [{"name": "key-auth"}]},
                {"paths": ["/again"], "service": "user-service"}
            ],
            "services": [{"name": "ext", "url": "https://ext.example:8443/v1/"}],
            "plugins": [{"name": "cors", "config": {"origins": ["*"]}}],
            "consumers": [{"username": "alice", "keyauth_credentials": [{"key": "k1"}]}]
        })))
        .unwrap();
        assert_eq!(g.services.len(), 2);
        let ext = &g.services[0];
        assert_eq!(
            (
                ext.protocol.as_str(),
                ext.host.as_str(),
                ext.port,
                ext.path.as_deref()
            ),
            ("https", "ext.example", 8443, Some("/v1/"))
        );
        let users = &g.services[1];
        assert_eq!((users.host.as_str(), users.port), ("user-service", 3000));
        assert_eq!(users.url, "http://user-service:3000");
        assert_eq!(
            g.routes.iter().map(|r| r.service).collect::<Vec<_>>(),
            [1, 0, 1]
        );
        assert_eq!(g.plugins.len(), 2);
        assert_eq!(g.plugins[0].scope, Scope::Route(1));
        assert_eq!(g.plugins[1].scope, Scope::Global);
        assert_eq!(g.consumers[0].api_keys, ["k1"]);
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let err = |config: Value| read(&tests_ctx(config)).unwrap_err().to_string();
        let e = err(json!({"routes": [{"paths": ["/a"], "service": "users"}]}));
        assert!(
            e.contains("config.routes[0].service") && e.contains("user-service"),
            "{e}"
        );
        let e = err(json!({"routes": [{"paths": ["api"], "service": "user-service"}]}));
        assert!(
            e.contains("routes[0].paths[0]") && e.contains("start with `/`"),
            "{e}"
        );
        let e = err(json!({"database": "postgres"}));
        assert!(
            e.contains("config.database") && e.contains("DB-less"),
            "{e}"
        );
        let e = err(json!({"services": [{"name": "x", "url": "ftp://x"}]}));
        assert!(e.contains("services[0].url"), "{e}");
        let e = err(json!({"consumers": [{"keyauth_credentials": [{"key": "a"}]}]}));
        assert!(e.contains("consumers[0]") && e.contains("username"), "{e}");
        let e = err(json!({"plugins": [{"name": "cors"}, {"name": "cors"}]}));
        assert!(e.contains("plugins[1].name") && e.contains("twice"), "{e}");
        let e = err(json!({"routes": [{"service": "user-service"}]}));
        assert!(e.contains("at least one of"), "{e}");
    }
}
