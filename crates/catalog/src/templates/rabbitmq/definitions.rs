//! RabbitMQ's definitions (vhosts, users, permissions, exchanges, queues, bindings) for a
//! service's `config`, in the JSON format the broker imports at boot. `guest`/`guest` stays
//! (with the `/` vhost) so that clients work without configuration, as with the official
//! images; every user gets full permissions on its vhost.

use serde_json::{json, Map, Value};

use crate::config::{scalar_text, strings_of, Config};
use crate::CatalogError;

/// Exchanges every vhost has.
const DEFAULT_EXCHANGES: [&str; 6] = [
    "",
    "amq.direct",
    "amq.fanout",
    "amq.topic",
    "amq.headers",
    "amq.match",
];
/// Exchange types the broker has without plugins.
const EXCHANGE_TYPES: [&str; 4] = ["direct", "fanout", "topic", "headers"];

fn text(entry: &Map<String, Value>, field: &str) -> Option<String> {
    entry.get(field).and_then(scalar_text)
}

fn flag(
    cfg: &Config<'_>,
    key: &str,
    entry: &Map<String, Value>,
    field: &str,
    default: bool,
) -> Result<bool, CatalogError> {
    match entry.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(cfg.error(
            &format!("{key}.{field}"),
            format!("expected true or false, found {v}"),
        )),
    }
}

/// The definitions of `cfg` for a broker of `version`; `extra_types` are exchange types
/// provided by enabled plugins.
pub(crate) fn build(
    cfg: &Config<'_>,
    version: &str,
    extra_types: &[String],
) -> Result<Value, CatalogError> {
    let mut vhosts: Vec<String> = vec!["/".into()];
    for v in cfg.strings("vhosts")? {
        if !vhosts.contains(&v) {
            vhosts.push(v);
        }
    }
    let vhost_of = |key: &str, entry: &Map<String, Value>| -> Result<String, CatalogError> {
        let v = text(entry, "vhost").unwrap_or_else(|| "/".into());
        if vhosts.contains(&v) {
            Ok(v)
        } else {
            Err(cfg.error(
                &format!("{key}.vhost"),
                format!("vhost `{v}` is not listed in `vhosts`"),
            ))
        }
    };

    let mut users = vec![json!({"name": "guest", "password": "guest", "tags": ["administrator"]})];
    let mut permissions: Vec<Value> = vhosts
        .iter()
        .map(|v| json!({"user": "guest", "vhost": v, "configure": ".*", "write": ".*", "read": ".*"}))
        .collect();
    for (i, u) in cfg.objects("users")?.into_iter().enumerate() {
        let key = format!("users[{i}]");
        let name = text(u, "name")
            .ok_or_else(|| cfg.error(&format!("{key}.name"), "every user needs a name"))?;
        let password = text(u, "password").unwrap_or_default();
        let tags: Vec<String> = match u.get("tags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            Some(v) => strings_of(v).ok_or_else(|| {
                cfg.error(&format!("{key}.tags"), "expected a tag or a list of tags")
            })?,
        };
        let vhost = vhost_of(&key, u)?;
        if name == "guest" {
            users.retain(|x| x["name"] != "guest");
            permissions.retain(|p| p["user"] != "guest");
        }
        users.push(json!({"name": name, "password": password, "tags": tags}));
        permissions.push(
            json!({"user": name, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}),
        );
    }

    let mut exchanges = Vec::new();
    let mut declared: Vec<(String, String)> = Vec::new();
    for (i, x) in cfg.objects("exchanges")?.into_iter().enumerate() {
        let key = format!("exchanges[{i}]");
        let name = text(x, "name")
            .ok_or_else(|| cfg.error(&format!("{key}.name"), "every exchange needs a name"))?;
        let kind = text(x, "type").unwrap_or_else(|| "direct".into());
        if !EXCHANGE_TYPES.contains(&kind.as_str()) && !extra_types.contains(&kind) {
            return Err(cfg.error(
                &format!("{key}.type"),
                format!(
                    "unknown exchange type `{kind}`: use {} (or enable the plugin providing it under `plugins`)",
                    EXCHANGE_TYPES.join(", ")
                ),
            ));
        }
        let vhost = vhost_of(&key, x)?;
        declared.push((vhost.clone(), name.clone()));
        exchanges.push(json!({
            "name": name, "vhost": vhost, "type": kind, "durable": flag(cfg, &key, x, "durable", true)?,
            "auto_delete": false, "internal": false, "arguments": {}
        }));
    }

    let mut queues = Vec::new();
    let mut queue_vhosts: Vec<(String, String)> = Vec::new();
    for (i, q) in cfg.objects("queues")?.into_iter().enumerate() {
        let key = format!("queues[{i}]");
        let name = text(q, "name")
            .ok_or_else(|| cfg.error(&format!("{key}.name"), "every queue needs a name"))?;
        let vhost = vhost_of(&key, q)?;
        queue_vhosts.push((name.clone(), vhost.clone()));
        queues.push(json!({
            "name": name, "vhost": vhost, "durable": flag(cfg, &key, q, "durable", true)?,
            "auto_delete": false, "arguments": {}
        }));
    }

    let mut bindings = Vec::new();
    for (i, b) in cfg.objects("bindings")?.into_iter().enumerate() {
        let key = format!("bindings[{i}]");
        let exchange = text(b, "exchange").ok_or_else(|| {
            cfg.error(
                &format!("{key}.exchange"),
                "every binding needs an exchange",
            )
        })?;
        let queue = text(b, "queue")
            .ok_or_else(|| cfg.error(&format!("{key}.queue"), "every binding needs a queue"))?;
        let vhost = queue_vhosts
            .iter()
            .find(|(q, _)| *q == queue)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                cfg.error(
                    &format!("{key}.queue"),
                    format!("queue `{queue}` is not listed in `queues`"),
                )
            })?;
        let known = DEFAULT_EXCHANGES.contains(&exchange.as_str())
            || declared.iter().any(|(v, x)| *v == vhost && *x == exchange);
        if !known {
            return Err(cfg.error(
                &format!("{key}.exchange"),
                format!("exchange `{exchange}` is not listed in `exchanges` for vhost `{vhost}`"),
            ));
        }
        bindings.push(json!({
            "source": exchange, "vhost": vhost, "destination": queue, "destination_type": "queue",
            "routing_key": text(b, "routing_key").unwrap_or_default(), "arguments": {}
        }));
    }

    Ok(json!({
        "rabbit_version": version,
        "rabbitmq_version": version,
        "users": users,
        "vhosts": vhosts.iter().map(|v| json!({"name": v})).collect::<Vec<_>>(),
        "permissions": permissions,
        "topic_permissions": [],
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "queues": queues,
        "exchanges": exchanges,
        "bindings": bindings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(config: Value) -> Result<Value, String> {
        build(&Config::new("mq", &config), "3.10.8", &[]).map_err(|e| e.to_string())
    }

    #[test]
    fn declares_what_the_config_lists_and_keeps_guest() {
        let d = defs(json!({
            "vhosts": ["orders"],
            "users": [{"name": "app", "password": "pw", "vhost": "orders", "tags": "monitoring"}],
            "exchanges": [{"name": "events", "type": "topic", "vhost": "orders"}],
            "queues": [{"name": "created", "vhost": "orders"}, {"name": "plain", "durable": false}],
            "bindings": [{"exchange": "events", "queue": "created", "routing_key": "order.*"},
                         {"exchange": "amq.direct", "queue": "plain"}]
        }))
        .unwrap();
        assert_eq!(d["vhosts"], json!([{"name": "/"}, {"name": "orders"}]));
        assert_eq!(d["users"][0]["name"], "guest");
        assert_eq!(d["users"][1]["tags"], json!(["monitoring"]));
        assert_eq!(d["permissions"][2]["vhost"], "orders");
        assert_eq!(d["queues"][0]["durable"], true);
        assert_eq!(d["queues"][1]["durable"], false);
        assert_eq!(d["bindings"][0]["vhost"], "orders");
        assert_eq!(d["bindings"][0]["routing_key"], "order.*");
        assert_eq!(d["bindings"][1]["vhost"], "/");
    }

    #[test]
    fn unknown_references_are_errors_naming_the_key() {
        let e = defs(json!({"queues": [{"name": "q", "vhost": "nope"}]})).unwrap_err();
        assert!(
            e.contains("config.queues[0].vhost") && e.contains("nope"),
            "{e}"
        );
        let e =
            defs(json!({"queues": [{"name": "q"}], "bindings": [{"exchange": "x", "queue": "q"}]}))
                .unwrap_err();
        assert!(e.contains("config.bindings[0].exchange"), "{e}");
        let e =
            defs(json!({"bindings": [{"exchange": "amq.topic", "queue": "missing"}]})).unwrap_err();
        assert!(e.contains("config.bindings[0].queue"), "{e}");
        let e = defs(json!({"exchanges": [{"name": "x", "type": "fast"}]})).unwrap_err();
        assert!(
            e.contains("config.exchanges[0].type") && e.contains("fast"),
            "{e}"
        );
    }
}
