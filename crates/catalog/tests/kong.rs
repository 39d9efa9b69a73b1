//! kong@3 for real: the gateway started from the template (the nginx + Lua stand-in here, as
//! no Kong is obtainable) in front of small upstream HTTP servers, judged with Python's
//! `requests`: routing and Kong's priorities, strip_path, 404/502/503 bodies, key-auth,
//! rate limits, CORS, a new upstream connection per request, and the Admin API.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use support::{ctx, dirs, free_port, http, start, wait_healthy};
use vers_catalog::{template_for, EngineBinary, InstanceCtx};

/// An upstream HTTP/1.1 server answering every request with a JSON echo of it; it keeps
/// connections open (keep-alive) and counts the connections it accepted.
struct Upstream {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

fn upstream(name: &'static str) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (c, r) = (connections.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            std::thread::spawn(move || serve(name, stream, &r));
        }
    });
    Upstream {
        port,
        connections,
        requests,
    }
}

fn serve(name: &str, stream: TcpStream, requests: &AtomicUsize) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers
                    .entry(k.trim().to_ascii_lowercase())
                    .and_modify(|old| {
                        old.push_str(", ");
                        old.push_str(v.trim());
                    })
                    .or_insert_with(|| v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let echo = json!({
            "server": name,
            "method": method,
            "target": target,
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        })
        .to_string();
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Trace: t-1\r\n\r\n{echo}",
            echo.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// A started gateway with its proxy and admin base URLs.
struct Gateway {
    _server: support::Running,
    _dirs: support::Dirs,
    proxy: String,
    admin: String,
}

fn stand_in() -> (&'static dyn vers_catalog::Template, EngineBinary) {
    let t = template_for("kong").unwrap();
    let engine = t.engine(Some("3")).unwrap_or_else(|missing| {
        panic!("kong@3 is needed for this test (scripts/setup.sh installs it): {missing}")
    });
    (t, engine)
}

fn gateway_ctx(dirs: &support::Dirs, config: Value, peers: &[(&str, u16)]) -> InstanceCtx {
    let mut c = ctx(
        "gateway",
        "kong",
        dirs,
        vec![free_port(), free_port()],
        config,
    );
    c.peers = peers
        .iter()
        .map(|(name, port)| (name.to_string(), vec![*port]))
        .collect();
    c
}

fn start_gateway(config: Value, peers: &[(&str, u16)]) -> Gateway {
    let (t, engine) = stand_in();
    let d = dirs();
    let c = gateway_ctx(&d, config, peers);
    assert!(t.init_data(&c, &engine).unwrap().is_empty());
    let launch = t.launch(&c, &engine).unwrap();
    let server = start(&launch, d.root.path().join("kong.log"));
    wait_healthy(&t.health(&c, &engine), &server);
    Gateway {
        proxy: format!("http://127.0.0.1:{}", c.ports[0]),
        admin: format!("http://127.0.0.1:{}", c.ports[1]),
        _server: server,
        _dirs: d,
    }
}

fn get(url: String) -> Value {
    json!({"method": "GET", "url": url})
}

fn req(method: &str, url: String, headers: Value) -> Value {
    json!({"method": method, "url": url, "headers": headers})
}

#[test]
fn routes_by_prefix_with_kong_priorities_strip_path_and_upstream_headers() {
    let users = upstream("users");
    let orders = upstream("orders");
    let gw = start_gateway(
        json!({
            "routes": [
                {"name": "users", "paths": ["/api/users"], "service": "localhost"},
                {"name": "users-post", "paths": ["/api/users"], "methods": ["POST"], "service": "orders"},
                {"name": "orders", "paths": ["/api/orders"], "service": "orders", "strip_path": false},
                {"name": "orders-v2", "paths": ["/api/orders/v2"], "service": "orders-v2"},
                {"name": "ghost", "paths": ["/ghost"], "service": "ghost"},
                {"name": "dead", "paths": ["/dead"], "service": "dead"}
            ],
            "services": [
                {"name": "orders", "url": format!("http://127.0.0.1:{}", orders.port)},
                {"name": "orders-v2", "url": format!("http://127.0.0.1:{}/v2", orders.port)},
                {"name": "dead", "url": format!("http://127.0.0.1:{}", free_port()), "retries": 1}
            ]
        }),
        &[("localhost", users.port), ("ghost", 80)],
    );
    let p = &gw.proxy;
    let r = http(&json!([
        req(
            "GET",
            format!("{p}/api/users/42?x=1"),
            json!({"X-Forwarded-For": "10.0.0.1"})
        ),
        get(format!("{p}/api/users")),
        req("POST", format!("{p}/api/users"), json!({})),
        get(format!("{p}/api/orders/7")),
        get(format!("{p}/api/orders/v2/items")),
        get(format!("{p}/nope")),
        req("GET", format!("{p}/nope"), json!({"Accept": "text/plain"})),
        get(format!("{p}/ghost/x")),
        get(format!("{p}/dead/x")),
        get(format!("{p}/api/users/a/../b")),
    ]));

    // A manifest service by name (resolved through the hosts file), prefix stripped.
    let echo = &r[0]["json"];
    assert_eq!(r[0]["status"], 200, "{}", r[0]);
    assert_eq!(echo["server"], "users");
    assert_eq!(echo["target"], "/42?x=1");
    let h = &echo["headers"];
    assert_eq!(h["host"], format!("localhost:{}", users.port));
    assert_eq!(h["x-forwarded-prefix"], "/api/users");
    assert_eq!(h["x-forwarded-path"], "/api/users/42");
    assert_eq!(h["x-forwarded-host"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert!(
        gw.proxy.ends_with(h["x-forwarded-port"].as_str().unwrap()),
        "{h}"
    );
    let rh = &r[0]["headers"];
    assert_eq!(rh["via"], "kong/3.4.2");
    assert!(rh["x-kong-upstream-latency"].is_string(), "{rh}");
    assert!(rh["x-kong-proxy-latency"].is_string(), "{rh}");
    assert_eq!(rh["x-trace"], "t-1");
    assert_eq!(r[1]["json"]["target"], "/");
    // A route matching on method and path outranks one matching on the path only.
    assert_eq!(r[2]["json"]["server"], "orders");
    // strip_path: false keeps the path; no X-Forwarded-Prefix then.
    assert_eq!(r[3]["json"]["target"], "/api/orders/7");
    assert!(r[3]["json"]["headers"].get("x-forwarded-prefix").is_none());
    // The longest prefix wins; the service's path is prepended.
    assert_eq!(r[4]["json"]["target"], "/v2/items");
    // No route: Kong's 404, JSON by default, plain text when asked.
    assert_eq!(r[5]["status"], 404);
    assert_eq!(
        r[5]["json"],
        json!({"message": "no Route matched with those values"})
    );
    assert_eq!(
        r[5]["headers"]["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(r[5]["headers"]["server"], "kong/3.4.2");
    assert!(r[5]["headers"]["x-kong-response-latency"].is_string());
    assert_eq!(r[6]["text"], "no Route matched with those values\n");
    // An upstream name the hosts file lacks: 503; a dead upstream: 502.
    assert_eq!(r[7]["status"], 503);
    assert_eq!(r[7]["json"], json!({"message": "name resolution failed"}));
    assert_eq!(r[8]["status"], 502);
    assert_eq!(
        r[8]["json"],
        json!({"message": "An invalid response was received from the upstream server"})
    );
    // Dot segments are resolved before routing.
    assert_eq!(r[9]["json"]["target"], "/b");

    // Each proxied request opened a connection of its own, so a balancer in front of a
    // replicated service sees every request.
    assert_eq!(users.requests.load(Ordering::SeqCst), 3);
    assert_eq!(users.connections.load(Ordering::SeqCst), 3);
    assert_eq!(orders.requests.load(Ordering::SeqCst), 3);
    assert_eq!(orders.connections.load(Ordering::SeqCst), 3);
}

/// Returns at once when more than ten seconds of the current UTC minute are left, else once
/// the next minute has begun, so that a few requests fall into one rate-limiting window.
fn within_one_minute() {
    let second_of_minute = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 60
    };
    while second_of_minute() >= 50 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn key_auth_rate_limiting_and_cors_as_kong_declares_them() {
    let up = upstream("api");
    let gw = start_gateway(
        json!({
            "routes": [
                {"name": "secure", "paths": ["/secure"], "service": "api",
                 "plugins": [{"name": "key-auth", "config": {"hide_credentials": true}}]},
                {"name": "limited", "paths": ["/limited"], "service": "api",
                 "plugins": [{"name": "rate-limiting", "config": {"minute": 3, "hour": 100, "limit_by": "ip", "policy": "local"}}]},
                {"name": "metered", "paths": ["/metered"], "service": "api",
                 "plugins": [
                     {"name": "key-auth", "config": {"key_names": ["x-api-key"]}},
                     {"name": "rate-limiting", "config": {"minute": 2, "limit_by": "consumer"}}
                 ]},
                {"name": "web", "paths": ["/web"], "service": "api"}
            ],
            "services": [{"name": "api", "url": format!("http://127.0.0.1:{}", up.port)}],
            "plugins": [{"name": "cors", "config": {
                "origins": ["http://app.test", "https://admin.test"], "methods": ["GET", "POST"],
                "headers": ["X-Custom"], "exposed_headers": ["X-Trace"],
                "credentials": true, "max_age": 600
            }}],
            "consumers": [
                {"username": "alice", "keyauth_credentials": [{"key": "k-alice"}]},
                {"username": "bob", "custom_id": "b-7", "keyauth_credentials": [{"key": "k-bob"}]}
            ]
        }),
        &[],
    );
    let p = &gw.proxy;
    let r = http(&json!([
        get(format!("{p}/secure/x")),
        req("GET", format!("{p}/secure/x"), json!({"apikey": "wrong"})),
        req("GET", format!("{p}/secure/x"), json!({"apikey": "k-alice"})),
        get(format!("{p}/secure/x?apikey=k-bob&y=2")),
    ]));
    assert_eq!(r[0]["status"], 401);
    assert_eq!(
        r[0]["json"],
        json!({"message": "No API key found in request"})
    );
    assert_eq!(r[0]["headers"]["www-authenticate"], "Key realm=\"kong\"");
    assert_eq!(r[1]["status"], 401);
    assert_eq!(
        r[1]["json"],
        json!({"message": "Invalid authentication credentials"})
    );
    assert_eq!(r[2]["status"], 200, "{}", r[2]);
    let h = &r[2]["json"]["headers"];
    assert_eq!(h["x-consumer-username"], "alice");
    assert!(h["x-consumer-id"].is_string() && h["x-credential-identifier"].is_string());
    assert!(h.get("apikey").is_none(), "hide_credentials: {h}");
    assert_eq!(r[3]["json"]["headers"]["x-consumer-custom-id"], "b-7");
    assert_eq!(r[3]["json"]["target"], "/x?y=2");

    // rate-limiting, limit_by ip: three a minute (windows are aligned to the minute, so the
    // requests are sent well inside one).
    within_one_minute();
    let r = http(&json!([
        get(format!("{p}/limited")),
        get(format!("{p}/limited")),
        get(format!("{p}/limited")),
        get(format!("{p}/limited")),
    ]));
    for (i, left) in [(0, "2"), (1, "1"), (2, "0")] {
        let h = &r[i]["headers"];
        assert_eq!(r[i]["status"], 200, "{}", r[i]);
        assert_eq!(h["x-ratelimit-limit-minute"], "3");
        assert_eq!(h["x-ratelimit-remaining-minute"], left);
        assert_eq!(h["x-ratelimit-limit-hour"], "100");
        assert_eq!(h["ratelimit-limit"], "3");
        assert_eq!(h["ratelimit-remaining"], left);
        let reset: u64 = h["ratelimit-reset"].as_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset), "{h}");
    }
    assert_eq!(r[3]["status"], 429);
    assert_eq!(r[3]["json"], json!({"message": "API rate limit exceeded"}));
    assert!(r[3]["headers"]["retry-after"].is_string());

    // rate-limiting by consumer: each consumer has its own two requests.
    within_one_minute();
    let alice = json!({"x-api-key": "k-alice"});
    let bob = json!({"x-api-key": "k-bob"});
    let r = http(&json!([
        req("GET", format!("{p}/metered"), alice.clone()),
        req("GET", format!("{p}/metered"), alice.clone()),
        req("GET", format!("{p}/metered"), alice),
        req("GET", format!("{p}/metered"), bob),
    ]));
    let statuses: Vec<&Value> = r.iter().map(|x| &x["status"]).collect();
    assert_eq!(statuses, [200, 200, 429, 200], "{r:?}");

    // CORS: a preflight is answered by the gateway; other responses carry the headers.
    let served = up.requests.load(Ordering::SeqCst);
    let origin = json!({"Origin": "http://app.test", "Access-Control-Request-Method": "POST"});
    let r = http(&json!([
        req("OPTIONS", format!("{p}/web"), origin),
        req(
            "GET",
            format!("{p}/web"),
            json!({"Origin": "http://app.test"})
        ),
        req(
            "GET",
            format!("{p}/web"),
            json!({"Origin": "http://evil.test"})
        ),
        req(
            "GET",
            format!("{p}/web"),
            json!({"Origin": "https://admin.test:443"})
        ),
    ]));
    let pre = &r[0]["headers"];
    assert_eq!(r[0]["status"], 200);
    assert_eq!(pre["access-control-allow-origin"], "http://app.test");
    assert_eq!(pre["access-control-allow-methods"], "GET,POST");
    assert_eq!(pre["access-control-allow-headers"], "X-Custom");
    assert_eq!(pre["access-control-allow-credentials"], "true");
    assert_eq!(pre["access-control-max-age"], "600");
    assert_eq!(pre["vary"], "Origin");
    assert_eq!(r[1]["status"], 200);
    assert_eq!(r[1]["json"]["server"], "api");
    assert_eq!(
        r[1]["headers"]["access-control-allow-origin"],
        "http://app.test"
    );
    assert_eq!(r[1]["headers"]["access-control-expose-headers"], "X-Trace");
    assert!(r[2]["headers"].get("access-control-allow-origin").is_none());
    assert_eq!(r[2]["headers"]["vary"], "Origin");
    assert_eq!(
        r[3]["headers"]["access-control-allow-origin"],
        "https://admin.test"
    );
    assert_eq!(
        up.requests.load(Ordering::SeqCst),
        served + 3,
        "the preflight must not reach the upstream"
    );
}

#[test]
fn admin_api_reflects_the_config_in_kong_shapes() {
    let up = upstream("api");
    let gw = start_gateway(
        json!({
            "routes": [
                {"name": "users", "paths": ["/api/users"], "service": "localhost",
                 "plugins": [{"name": "key-auth"}]},
                {"paths": ["/api/orders"], "service": "orders", "strip_path": false}
            ],
            "services": [{"name": "orders", "url": format!("http://127.0.0.1:{}/v1", up.port)}],
            "plugins": [{"name": "rate-limiting", "config": {"second": 5}}],
            "consumers": [{"username": "alice", "keyauth_credentials": [{"key": "k1"}]}]
        }),
        &[("localhost", up.port)],
    );
    let a = &gw.admin;
    let r = http(&json!([
        get(format!("{a}/")),
        get(format!("{a}/status")),
        get(format!("{a}/routes")),
        get(format!("{a}/routes/users")),
        get(format!("{a}/services/orders")),
        get(format!("{a}/consumers/alice/key-auth")),
        get(format!("{a}/plugins")),
        req("POST", format!("{a}/routes"), json!({})),
        get(format!("{a}/nothing")),
        get(format!("{a}/routes?size=1")),
        get(format!("{a}/services/orders/routes")),
    ]));
    let info = &r[0]["json"];
    assert_eq!(info["tagline"], "Welcome to kong");
    assert_eq!(info["version"], "3.4.2");
    assert_eq!(info["configuration"]["database"], "off");
    assert!(info["node_id"].as_str().unwrap().len() == 36, "{info}");
    assert_eq!(
        info["plugins"]["enabled_in_cluster"],
        json!(["key-auth", "rate-limiting"])
    );
    assert_eq!(
        info["plugins"]["available_on_server"]["cors"]["priority"],
        2000
    );
    assert_eq!(r[0]["headers"]["server"], "kong/3.4.2");
    let status = &r[1]["json"];
    assert!(
        status["server"]["total_requests"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert!(status["server"]["connections_active"].as_u64().unwrap() >= 1);
    assert!(status["configuration_hash"].as_str().unwrap().len() == 32);
    assert!(status["memory"]["workers_lua_vms"][0]["http_allocated_gc"]
        .as_str()
        .unwrap()
        .ends_with(" MiB"));
    let routes = r[2]["json"]["data"].as_array().unwrap();
    assert_eq!(routes.len(), 2);
    assert_eq!(r[2]["json"]["next"], Value::Null);
    assert_eq!(routes[0]["name"], "users");
    assert_eq!(routes[1]["name"], Value::Null);
    assert_eq!(routes[1]["strip_path"], false);
    assert_eq!(routes[0]["protocols"], json!(["http", "https"]));
    let users = &r[3]["json"];
    assert_eq!(users["paths"], json!(["/api/users"]));
    assert_eq!(users["strip_path"], true);
    let orders = &r[4]["json"];
    assert_eq!(orders["host"], "127.0.0.1");
    assert_eq!(orders["port"], up.port);
    assert_eq!(orders["path"], "/v1");
    assert_eq!(orders["protocol"], "http");
    assert_eq!(orders["retries"], 5);
    assert_eq!(orders["connect_timeout"], 60000);
    assert_eq!(r[5]["json"]["data"][0]["key"], "k1");
    let plugins = r[6]["json"]["data"].as_array().unwrap();
    let key_auth = plugins.iter().find(|p| p["name"] == "key-auth").unwrap();
    assert_eq!(key_auth["route"]["id"], users["id"]);
    assert_eq!(key_auth["config"]["key_names"], json!(["apikey"]));
    let limit = plugins
        .iter()
        .find(|p| p["name"] == "rate-limiting")
        .unwrap();
    assert_eq!(limit["route"], Value::Null);
    assert_eq!(limit["config"]["second"], 5);
    assert_eq!(limit["config"]["policy"], "local");
    assert_eq!(r[7]["status"], 405);
    assert_eq!(
        r[7]["json"]["message"],
        "cannot create 'routes' entities when not using a database"
    );
    assert_eq!(r[8]["status"], 404);
    assert_eq!(r[8]["json"], json!({"message": "Not found"}));
    let first_page = &r[9]["json"];
    assert_eq!(first_page["data"].as_array().unwrap().len(), 1);
    let next = first_page["next"].as_str().unwrap();
    let second = http(&json!([get(format!("{a}{next}"))]));
    assert_eq!(second[0]["json"]["data"][0]["id"], routes[1]["id"]);
    assert_eq!(second[0]["json"]["next"], Value::Null);
    assert_eq!(r[10]["json"]["data"].as_array().unwrap().len(), 1);
}

#[test]
fn config_the_stand_in_cannot_honour_is_an_error_naming_it() {
    let (t, engine) = stand_in();
    let stand_in = engine
        .stand_in
        .clone()
        .expect("no Kong here: the stand-in serves");
    assert!(stand_in.implementation.starts_with("nginx "), "{stand_in}");
    assert_eq!(engine.major, "3");
    let d = dirs();
    let c = gateway_ctx(
        &d,
        json!({"routes": [{"paths": ["/a"], "service": "users",
                           "plugins": [{"name": "jwt"}]}]}),
        &[("users", 3000)],
    );
    let err = t.launch(&c, &engine).unwrap_err().to_string();
    assert!(
        err.contains("config.routes[0].plugins[0].name")
            && err.contains("`jwt`")
            && err.contains(&stand_in.implementation),
        "{err}"
    );
    let c = gateway_ctx(
        &d,
        json!({"routes": [{"paths": ["/a"], "service": "users",
                           "plugins": [{"name": "rate-limiting", "config": {"minute": 1, "policy": "redis"}}]}]}),
        &[("users", 3000)],
    );
    let err = t.launch(&c, &engine).unwrap_err().to_string();
    assert!(
        err.contains("config.routes[0].plugins[0].config.policy"),
        "{err}"
    );
    assert_eq!(
        t.connection_env(&c).get("KONG_ADMIN_URL"),
        Some(&format!("http://gateway:{}", c.ports[1]))
    );
    assert_eq!(t.http_ports(&c), c.ports);
}
