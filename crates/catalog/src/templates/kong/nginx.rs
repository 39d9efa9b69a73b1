//! Running the stand-in: vers's Lua implementation of Kong's proxy and Admin API, the
//! gateway's entities as JSON and an nginx config, all written into the run directory, and
//! nginx in the foreground with one worker.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::discover::{MODULES, MODULES_DIR};
use super::entities;
use super::spec::Gateway;
use crate::{CatalogError, EngineBinary, InstanceCtx, Launch};

/// The Lua modules of the stand-in: path under `lua/vers_kong/`, source.
const LUA: [(&str, &str); 11] = [
    ("json.lua", include_str!("lua/json.lua")),
    ("uri.lua", include_str!("lua/uri.lua")),
    ("hosts.lua", include_str!("lua/hosts.lua")),
    ("response.lua", include_str!("lua/response.lua")),
    ("router.lua", include_str!("lua/router.lua")),
    ("gateway.lua", include_str!("lua/gateway.lua")),
    ("proxy.lua", include_str!("lua/proxy.lua")),
    ("admin.lua", include_str!("lua/admin.lua")),
    ("plugins/cors.lua", include_str!("lua/plugins/cors.lua")),
    (
        "plugins/key_auth.lua",
        include_str!("lua/plugins/key_auth.lua"),
    ),
    (
        "plugins/rate_limiting.lua",
        include_str!("lua/plugins/rate_limiting.lua"),
    ),
];

/// Variables the proxy location sets for the upstream request (Kong's names).
const UPSTREAM_VARS: [&str; 12] = [
    "upstream_scheme",
    "upstream_uri",
    "upstream_host",
    "upstream_te",
    "upstream_upgrade",
    "upstream_connection",
    "upstream_x_forwarded_for",
    "upstream_x_forwarded_proto",
    "upstream_x_forwarded_host",
    "upstream_x_forwarded_port",
    "upstream_x_forwarded_path",
    "upstream_x_forwarded_prefix",
];

/// Request headers the proxy sets from those variables (an empty value drops the header).
const UPSTREAM_HEADERS: [(&str, &str); 11] = [
    ("TE", "upstream_te"),
    ("Host", "upstream_host"),
    ("Upgrade", "upstream_upgrade"),
    ("Connection", "upstream_connection"),
    ("X-Forwarded-For", "upstream_x_forwarded_for"),
    ("X-Forwarded-Proto", "upstream_x_forwarded_proto"),
    ("X-Forwarded-Host", "upstream_x_forwarded_host"),
    ("X-Forwarded-Port", "upstream_x_forwarded_port"),
    ("X-Forwarded-Path", "upstream_x_forwarded_path"),
    ("X-Forwarded-Prefix", "upstream_x_forwarded_prefix"),
    ("X-Real-IP", "remote_addr"),
];

/// Quotes a path for nginx's config syntax.
fn quoted(path: &Path) -> String {
    format!(
        "'{}'",
        path.display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('\'', "\\'")
    )
}

/// The nginx config of the stand-in serving the proxy on `proxy_port` and the Admin API on
/// `admin_port` of `ctx.bind`, with everything nginx writes kept in `ctx.run_dir`.
pub(crate) fn conf(ctx: &InstanceCtx, proxy_port: u16, admin_port: u16) -> String {
    let run = &ctx.run_dir;
    let at = |name: &str| quoted(&run.join(name));
    let mut c = String::new();
    c.push_str(&format!(
        "# Written by vers: the kong@3 stand-in of service `{}` (nginx + lua-nginx-module).\n",
        ctx.service
    ));
    for m in MODULES {
        c.push_str(&format!(
            "load_module {};\n",
            quoted(&Path::new(MODULES_DIR).join(m))
        ));
    }
    c.push_str(&format!(
        "worker_processes 1;\ndaemon off;\npid {};\nerror_log stderr notice;\nevents {{\n    worker_connections 1024;\n}}\n",
        at("nginx.pid")
    ));
    c.push_str("http {\n");
    c.push_str("    server_tokens off;\n    access_log off;\n    underscores_in_headers on;\n    client_max_body_size 0;\n");
    for (directive, dir) in [
        ("client_body_temp_path", "client_body"),
        ("proxy_temp_path", "proxy"),
        ("fastcgi_temp_path", "fastcgi"),
        ("uwsgi_temp_path", "uwsgi"),
        ("scgi_temp_path", "scgi"),
    ] {
        c.push_str(&format!("    {directive} {};\n", at(dir)));
    }
    c.push_str(&format!(
        "    lua_package_path '{}/lua/?.lua;;';\n",
        run.display()
    ));
    c.push_str(
        "    lua_shared_dict vers_kong_rate_limiting 12m;\n    lua_socket_log_errors off;\n",
    );
    c.push_str(&format!(
        "    init_by_lua_block {{\n        require(\"vers_kong.gateway\").init({})\n    }}\n",
        serde_json::to_string(&run.join("kong.json").display().to_string()).unwrap_or_default()
    ));
    c.push_str("    upstream vers_kong_upstream {\n        server 0.0.0.1;\n        balancer_by_lua_block {\n            require(\"vers_kong.proxy\").balancer()\n        }\n    }\n");

    c.push_str(&format!(
        "    server {{\n        listen {}:{proxy_port};\n",
        ctx.bind
    ));
    c.push_str("        error_page 400 404 405 408 411 412 413 414 417 494 /vers_kong_error;\n        error_page 500 502 503 504 /vers_kong_error;\n");
    c.push_str("        header_filter_by_lua_block {\n            require(\"vers_kong.proxy\").header_filter()\n        }\n");
    c.push_str("        location / {\n            default_type '';\n");
    for var in UPSTREAM_VARS {
        c.push_str(&format!("            set ${var} '';\n"));
    }
    c.push_str("            access_by_lua_block {\n                require(\"vers_kong.proxy\").access()\n            }\n");
    c.push_str("            proxy_http_version 1.1;\n            proxy_buffering on;\n            proxy_request_buffering on;\n");
    for (header, var) in UPSTREAM_HEADERS {
        c.push_str(&format!("            proxy_set_header {header} ${var};\n"));
    }
    c.push_str("            proxy_pass_header Server;\n            proxy_pass_header Date;\n            proxy_ssl_name $upstream_host;\n            proxy_ssl_server_name on;\n");
    c.push_str(
        "            proxy_pass $upstream_scheme://vers_kong_upstream$upstream_uri;\n        }\n",
    );
    c.push_str("        location = /vers_kong_error {\n            internal;\n            content_by_lua_block {\n                require(\"vers_kong.proxy\").error_page()\n            }\n        }\n    }\n");

    c.push_str(&format!(
        "    server {{\n        listen {}:{admin_port};\n",
        ctx.bind
    ));
    c.push_str("        location / {\n            content_by_lua_block {\n                require(\"vers_kong.admin\").handle()\n            }\n        }\n");
    c.push_str("        location = /vers_kong_nginx_status {\n            internal;\n            stub_status;\n        }\n    }\n}\n");
    c
}

/// The document the Lua side loads: the entities plus the node facts the Admin API reports.
fn document(
    ctx: &InstanceCtx,
    gateway: &Gateway,
    engine: &EngineBinary,
    proxy_port: u16,
    admin_port: u16,
) -> Result<Value, CatalogError> {
    let implementation = engine
        .stand_in
        .as_ref()
        .map_or_else(|| "nginx".to_string(), |s| s.implementation.clone());
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let entities = entities::build(&ctx.service, gateway, created_at, &implementation)?;
    let bind = ctx.bind;
    Ok(json!({
        "node_id": entities::id(&ctx.service, "node", &ctx.replica.to_string()),
        "hostname": ctx.public_name,
        "hosts_file": "/etc/hosts",
        "configuration": {
            "database": "off",
            "role": "traditional",
            "router_flavor": "traditional_compatible",
            "prefix": ctx.run_dir.display().to_string(),
            "declarative_config": ctx.run_dir.join("kong.json").display().to_string(),
            "proxy_listen": [format!("{bind}:{proxy_port}")],
            "admin_listen": [format!("{bind}:{admin_port}")],
            "nginx_worker_processes": "1",
            "upstream_keepalive_pool_size": 0,
            "error_default_type": "text/plain",
            "headers": ["server_tokens", "latency_tokens"],
            "loaded_plugins": {"cors": true, "key-auth": true, "rate-limiting": true},
            "vers_stand_in": implementation,
        },
        "entities": entities,
    }))
}

/// Writes the stand-in's files into `ctx.run_dir` and returns the nginx command.
pub(crate) fn launch(
    ctx: &InstanceCtx,
    gateway: &Gateway,
    engine: &EngineBinary,
    proxy_port: u16,
    admin_port: u16,
) -> Result<Launch, CatalogError> {
    let write = |path: PathBuf, text: &str| -> Result<(), CatalogError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
        }
        std::fs::write(&path, text).map_err(|e| CatalogError::io(&path, e))
    };
    let lua_dir = ctx.run_dir.join("lua/vers_kong");
    for (name, source) in LUA {
        write(lua_dir.join(name), source)?;
    }
    let doc = document(ctx, gateway, engine, proxy_port, admin_port)?;
    let doc_path = ctx.run_dir.join("kong.json");
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| CatalogError::io(&doc_path, std::io::Error::other(e)))?;
    write(doc_path, &text)?;
    let conf_path = ctx.run_dir.join("nginx.conf");
    write(conf_path.clone(), &conf(ctx, proxy_port, admin_port))?;
    Ok(Launch {
        program: engine.bin_dir.join("nginx"),
        args: vec![
            "-p".into(),
            ctx.run_dir.display().to_string(),
            "-c".into(),
            conf_path.display().to_string(),
            "-e".into(),
            "stderr".into(),
        ],
        env: std::collections::BTreeMap::new(),
        cwd: ctx.run_dir.clone(),
    })
}
