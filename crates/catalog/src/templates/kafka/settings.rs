//! The `config:` block of a kafka service, read and checked: `topics`, `schema_registry`,
//! `consumer_groups`, `broker_settings`, `connect`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::{scalar_text, strings_of, Config};
use crate::CatalogError;

/// A topic to create at setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Topic {
    /// Topic name.
    pub name: String,
    /// Number of partitions (Kafka's default, 1, when not given).
    pub partitions: u32,
    /// Topic-level configs such as `retention.ms`, as text.
    pub config: BTreeMap<String, String>,
}

/// A consumer group to create ahead of its consumers, at the start of `topics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    /// Group id.
    pub name: String,
    /// Topics whose partitions get committed offsets.
    pub topics: Vec<String>,
}

/// A kafka service's checked configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Settings {
    /// Topics created at setup.
    pub topics: Vec<Topic>,
    /// Whether a Schema Registry runs beside the broker on port 8081.
    pub schema_registry: bool,
    /// Consumer groups created at setup.
    pub consumer_groups: Vec<Group>,
    /// Broker-level settings (`server.properties` keys).
    pub broker_settings: BTreeMap<String, String>,
}

/// Reads the `config:` block of `service`.
pub(crate) fn read(service: &str, value: &Value) -> Result<Settings, CatalogError> {
    let cfg = Config::new(service, value);
    if let Some((key, v)) = cfg.get_any(&["connect"]) {
        if !matches!(v, Value::Bool(false)) {
            return Err(cfg.error(
                key,
                "vers does not run Kafka Connect; remove `connect` and run your connector as an app service (its `command:`) pointed at KAFKA_BROKERS",
            ));
        }
    }
    let schema_registry = match cfg.get("schema_registry") {
        None => false,
        Some(Value::Object(m)) if m.is_empty() => true,
        Some(Value::Object(m)) => {
            let keys: Vec<&str> = m.keys().map(String::as_str).collect();
            return Err(cfg.error(
                "schema_registry",
                format!(
                    "settings of the schema registry ({}) are not supported; write `schema_registry: true`",
                    keys.join(", ")
                ),
            ));
        }
        Some(_) => cfg.boolean("schema_registry")?.unwrap_or(false),
    };
    let mut topics: Vec<Topic> = Vec::new();
    for (i, t) in cfg.objects("topics")?.into_iter().enumerate() {
        let topic = read_topic(&cfg, i, t)?;
        if topics.iter().any(|seen| seen.name == topic.name) {
            return Err(cfg.error(
                &format!("topics[{i}].name"),
                format!("topic `{}` is listed twice", topic.name),
            ));
        }
        topics.push(topic);
    }
    let mut consumer_groups = Vec::new();
    for (i, g) in cfg.objects("consumer_groups")?.into_iter().enumerate() {
        let key = format!("consumer_groups[{i}]");
        let name = g
            .get("name")
            .and_then(scalar_text)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| {
                cfg.error(&format!("{key}.name"), "every consumer group needs a name")
            })?;
        let group_topics = match g.get("topics") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => strings_of(v).ok_or_else(|| {
                cfg.error(&format!("{key}.topics"), "expected a list of topic names")
            })?,
        };
        if group_topics.is_empty() {
            return Err(cfg.error(
                &format!("{key}.topics"),
                "name the topics the group consumes, e.g. topics: [user-events]",
            ));
        }
        for topic in &group_topics {
            if !topics.iter().any(|t| &t.name == topic) {
                return Err(cfg.error(
                    &format!("{key}.topics"),
                    format!(
                        "`{topic}` is not one of the topics of this service; add it under `topics`"
                    ),
                ));
            }
        }
        consumer_groups.push(Group {
            name,
            topics: group_topics,
        });
    }
    let mut broker_settings = BTreeMap::new();
    if let Some(map) = cfg.object("broker_settings")? {
        for (k, v) in map {
            let text = scalar_text(v).ok_or_else(|| {
                cfg.error(&format!("broker_settings.{k}"), "expected a single value")
            })?;
            broker_settings.insert(k.clone(), text);
        }
    }
    Ok(Settings {
        topics,
        schema_registry,
        consumer_groups,
        broker_settings,
    })
}

fn read_topic(
    cfg: &Config<'_>,
    i: usize,
    t: &serde_json::Map<String, Value>,
) -> Result<Topic, CatalogError> {
    let key = |field: &str| format!("topics[{i}].{field}");
    let name = t
        .get("name")
        .and_then(scalar_text)
        .ok_or_else(|| cfg.error(&key("name"), "every topic needs a name"))?;
    check_topic_name(&name).map_err(|m| cfg.error(&key("name"), m))?;
    let whole = |field: &str| -> Result<Option<u64>, CatalogError> {
        match t.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => scalar_text(v)
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| {
                    cfg.error(&key(field), format!("expected a whole number, found {v}"))
                }),
        }
    };
    let partitions = whole("partitions")?.unwrap_or(1);
    if partitions == 0 || partitions > 10_000 {
        return Err(cfg.error(
            &key("partitions"),
            format!("{partitions} partitions: use between 1 and 10000"),
        ));
    }
    if let Some(replication) = whole("replication")? {
        if replication != 1 {
            return Err(cfg.error(
                &key("replication"),
                format!(
                    "vers runs one Kafka broker per service, which holds one copy of each partition; replication {replication} needs {replication} brokers: use 1 or leave it out"
                ),
            ));
        }
    }
    let mut config = BTreeMap::new();
    match t.get("config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let text = scalar_text(v).ok_or_else(|| {
                    cfg.error(&format!("{}.{k}", key("config")), "expected a single value")
                })?;
                config.insert(k.clone(), text);
            }
        }
        Some(_) => return Err(cfg.error(&key("config"), "expected a map of topic configs")),
    }
    Ok(Topic {
        name,
        partitions: u32::try_from(partitions).unwrap_or(10_000),
        config,
    })
}

/// Kafka's rules for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, neither `.` nor `..`.
fn check_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 249 {
        return Err(format!("`{name}`: a topic name has 1 to 249 characters"));
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a valid topic name"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(bad) => Err(format!(
            "`{name}`: `{bad}` is not allowed in a topic name (letters, digits, `.`, `_` and `-` only)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_seed_config() {
        let s = read(
            "kafka",
            &json!({
                "topics": [
                    {"name": "user-events", "partitions": 6, "config": {"retention.ms": 86400000}},
                    {"name": "order-events", "partitions": 6},
                    {"name": "dead-letter"}
                ],
                "schema_registry": true
            }),
        )
        .unwrap();
        assert!(s.schema_registry);
        assert_eq!(s.topics.len(), 3);
        assert_eq!(s.topics[0].partitions, 6);
        assert_eq!(
            s.topics[0].config.get("retention.ms").map(String::as_str),
            Some("86400000")
        );
        assert_eq!(s.topics[2].partitions, 1);
        assert_eq!(read("kafka", &Value::Null).unwrap(), Settings::default());
    }

    #[test]
    fn rejects_what_one_broker_cannot_do_naming_the_key() {
        let err = |v: Value| read("kafka", &v).unwrap_err().to_string();
        let e = err(json!({"topics": [{"name": "a", "replication": 3}]}));
        assert!(
            e.contains("config.topics[0].replication") && e.contains("3 brokers"),
            "{e}"
        );
        let e = err(json!({"topics": [{"name": "a b"}]}));
        assert!(e.contains("topics[0].name"), "{e}");
        let e = err(json!({"topics": [{"name": "a"}, {"name": "a"}]}));
        assert!(e.contains("listed twice"), "{e}");
        let e = err(json!({"connect": true}));
        assert!(
            e.contains("config.connect") && e.contains("Kafka Connect"),
            "{e}"
        );
        let e = err(json!({"topics": [{"name": "a", "partitions": 0}]}));
        assert!(e.contains("topics[0].partitions"), "{e}");
        let e = err(
            json!({"topics": [{"name": "a"}], "consumer_groups": [{"name": "g", "topics": ["b"]}]}),
        );
        assert!(
            e.contains("consumer_groups[0].topics") && e.contains("`b`"),
            "{e}"
        );
        let e = err(json!({"schema_registry": {"port": 8082}}));
        assert!(e.contains("config.schema_registry"), "{e}");
        assert!(read(
            "kafka",
            &json!({"connect": false, "topics": [{"name": "a", "replication": 1}]})
        )
        .is_ok());
    }
}
