//! The gateway as Kong 3.4's Admin API shows it: services, routes, consumers, key-auth
//! credentials and plugins with every field Kong stores (defaults filled in, ids, timestamps),
//! which the stand-in serves and routes by.

use serde_json::{json, Map, Value};

use super::plugins;
use super::spec::{Gateway, Scope};
use crate::CatalogError;

/// Kong's default `retries` of a service.
const RETRIES: u64 = 5;
/// Kong's default connect, write and read timeouts (milliseconds).
const TIMEOUT_MS: u64 = 60_000;

/// A stable id for one entity of gateway `service`: the same config yields the same ids in
/// every branch and after every restart, as a declarative Kong's do.
pub(crate) fn id(service: &str, kind: &str, key: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("vers-kong://{service}/{kind}/{key}").as_bytes(),
    )
    .to_string()
}

/// `Some(list)` as a JSON list, `Null` for an empty one (Kong shows unset lists as null).
fn list_or_null(items: &[String]) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        json!(items)
    }
}

/// The entities of `gateway` (of manifest service `service`), created at `created_at`
/// (seconds since the epoch); plugins' configs are checked and completed for the stand-in
/// `implementation`.
pub(crate) fn build(
    service: &str,
    gateway: &Gateway,
    created_at: u64,
    implementation: &str,
) -> Result<Value, CatalogError> {
    let service_ids: Vec<String> = gateway
        .services
        .iter()
        .map(|s| id(service, "services", &s.name))
        .collect();
    let route_ids: Vec<String> = gateway
        .routes
        .iter()
        .map(|r| id(service, "routes", r.name.as_deref().unwrap_or(&r.key)))
        .collect();

    let services: Vec<Value> = gateway
        .services
        .iter()
        .zip(&service_ids)
        .map(|(s, sid)| {
            json!({
                "id": sid,
                "name": s.name,
                "protocol": s.protocol,
                "host": s.host,
                "port": s.port,
                "path": s.path,
                "retries": s.retries.unwrap_or(RETRIES),
                "connect_timeout": s.connect_timeout.unwrap_or(TIMEOUT_MS),
                "write_timeout": s.write_timeout.unwrap_or(TIMEOUT_MS),
                "read_timeout": s.read_timeout.unwrap_or(TIMEOUT_MS),
                "tags": null,
                "client_certificate": null,
                "tls_verify": null,
                "tls_verify_depth": null,
                "ca_certificates": null,
                "enabled": true,
                "created_at": created_at,
                "updated_at": created_at,
            })
        })
        .collect();

    let routes: Vec<Value> = gateway
        .routes
        .iter()
        .zip(&route_ids)
        .map(|(r, rid)| {
            json!({
                "id": rid,
                "name": r.name,
                "protocols": ["http", "https"],
                "methods": list_or_null(&r.methods),
                "hosts": list_or_null(&r.hosts),
                "paths": list_or_null(&r.paths),
                "headers": null,
                "https_redirect_status_code": 426,
                "regex_priority": 0,
                "strip_path": r.strip_path.unwrap_or(true),
                "path_handling": "v0",
                "preserve_host": r.preserve_host.unwrap_or(false),
                "request_buffering": true,
                "response_buffering": true,
                "snis": null,
                "sources": null,
                "destinations": null,
                "tags": null,
                "service": {"id": service_ids[r.service]},
                "created_at": created_at,
                "updated_at": created_at,
            })
        })
        .collect();

    let mut consumers = Vec::new();
    let mut credentials = Vec::new();
    for c in &gateway.consumers {
        let cid = id(
            service,
            "consumers",
            c.username
                .as_deref()
                .or(c.custom_id.as_deref())
                .unwrap_or(&c.key),
        );
        for key in &c.api_keys {
            credentials.push(json!({
                "id": id(service, "keyauth_credentials", key),
                "key": key,
                "consumer": {"id": cid},
                "ttl": null,
                "tags": null,
                "created_at": created_at,
            }));
        }
        consumers.push(json!({
            "id": cid,
            "username": c.username,
            "custom_id": c.custom_id,
            "tags": null,
            "created_at": created_at,
            "updated_at": created_at,
        }));
    }

    let mut plugins_out = Vec::new();
    for p in &gateway.plugins {
        let config = plugins::complete(service, gateway, p, implementation)?;
        let (route, on_service) = match p.scope {
            Scope::Global => (Value::Null, Value::Null),
            Scope::Route(i) => (json!({"id": route_ids[i]}), Value::Null),
            Scope::Service(i) => (Value::Null, json!({"id": service_ids[i]})),
        };
        plugins_out.push(json!({
            "id": id(service, "plugins", &p.key),
            "name": p.name,
            "instance_name": null,
            "config": Value::Object(config),
            "protocols": plugins::protocols(),
            "enabled": p.enabled,
            "route": route,
            "service": on_service,
            "consumer": null,
            "tags": null,
            "created_at": created_at,
            "updated_at": created_at,
        }));
    }

    Ok(Value::Object(Map::from_iter([
        ("services".to_string(), Value::Array(services)),
        ("routes".to_string(), Value::Array(routes)),
        ("consumers".to_string(), Value::Array(consumers)),
        ("keyauth_credentials".to_string(), Value::Array(credentials)),
        ("plugins".to_string(), Value::Array(plugins_out)),
    ])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::kong::spec;

    #[test]
    fn entities_carry_kong_defaults_and_stable_ids() {
        let ctx = spec::tests_ctx(json!({
            "routes": [{"name": "users", "paths": ["/api/users"], "service": "user-service",
                        "plugins": [{"name": "key-auth"}]}],
            "consumers": [{"username": "alice", "keyauth_credentials": [{"key": "k1"}]}]
        }));
        let g = spec::read(&ctx).unwrap();
        let a = build("gateway", &g, 7, "nginx").unwrap();
        let b = build("gateway", &g, 7, "nginx").unwrap();
        assert_eq!(a, b);
        let route = &a["routes"][0];
        assert_eq!(route["strip_path"], json!(true));
        assert_eq!(route["preserve_host"], json!(false));
        assert_eq!(route["hosts"], Value::Null);
        assert_eq!(route["service"]["id"], a["services"][0]["id"]);
        assert_eq!(a["services"][0]["retries"], json!(5));
        assert_eq!(a["services"][0]["port"], json!(3000));
        assert_eq!(a["plugins"][0]["route"]["id"], route["id"]);
        assert_eq!(a["plugins"][0]["config"]["key_names"], json!(["apikey"]));
        assert_eq!(
            a["keyauth_credentials"][0]["consumer"]["id"],
            a["consumers"][0]["id"]
        );
        assert_ne!(
            id("gateway", "routes", "users"),
            id("other", "routes", "users")
        );
    }
}
