//! The `config:` of a `localstack` service, read and checked against what the serving
//! LocalStack can do here: `services`, `s3_buckets`, `sqs_queues`, `sns_topics` (SPEC
//! Appendix A); `dynamodb_tables` and `lambda_functions` are refused with the reason.

use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::CatalogError;

/// Services started when the config names none.
const DEFAULT_SERVICES: [&str; 5] = ["s3", "sqs", "sns", "secretsmanager", "ses"];
/// Services this LocalStack serves.
const SERVED: [&str; 5] = DEFAULT_SERVICES;
/// Canned ACLs a bucket accepts.
const BUCKET_ACLS: [&str; 4] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
];
/// Keys of an S3 CORS rule.
const CORS_KEYS: [&str; 6] = [
    "AllowedOrigins",
    "AllowedMethods",
    "AllowedHeaders",
    "ExposeHeaders",
    "MaxAgeSeconds",
    "ID",
];
/// Methods a CORS rule may allow.
const CORS_METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];
/// SNS subscription protocols LocalStack delivers to without Lambda or a phone network.
const SNS_PROTOCOLS: [&str; 5] = ["http", "https", "email", "email-json", "sqs"];

/// A service's LocalStack settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// The AWS services to start (LocalStack's `SERVICES`).
    pub services: Vec<String>,
    /// Buckets, queues and topics for setup to create, as the client script reads them.
    pub plan: Value,
}

impl Settings {
    /// Reads and checks the config of `service`; `implementation` names LocalStack in errors.
    pub fn read(
        service: &str,
        config: &Value,
        implementation: &str,
    ) -> Result<Settings, CatalogError> {
        let cfg = Config::new(service, config);
        for (key, why) in [
            ("dynamodb_tables", "its community DynamoDB downloads DynamoDB Local (a Java jar) when it starts, which this machine cannot"),
            ("lambda_functions", "its Lambda runs functions in Docker containers, which vers environments do not have"),
        ] {
            if cfg.get(key).is_some() {
                return Err(cfg.error(
                    key,
                    format!("{implementation} cannot serve this here: {why}; remove `{key}`"),
                ));
            }
        }
        let buckets = buckets(&cfg)?;
        let queues = queues(&cfg)?;
        let topics = topics(&cfg)?;
        let explicit = cfg.strings("services")?;
        for (i, name) in explicit.iter().enumerate() {
            if !SERVED.contains(&name.as_str()) {
                return Err(cfg.error(
                    &format!("services[{i}]"),
                    format!(
                        "{implementation} cannot serve `{name}` here (it serves {}){}",
                        SERVED.join(", "),
                        match name.as_str() {
                            "dynamodb" => ": its community DynamoDB downloads DynamoDB Local (a Java jar) at start, which this machine cannot",
                            "lambda" => ": its Lambda needs Docker",
                            _ => "",
                        }
                    ),
                ));
            }
        }
        let mut services = if explicit.is_empty() {
            DEFAULT_SERVICES.iter().map(|s| s.to_string()).collect()
        } else {
            explicit.clone()
        };
        for (key, needed, used) in [
            ("s3_buckets", "s3", !buckets.is_empty()),
            ("sqs_queues", "sqs", !queues.is_empty()),
            ("sns_topics", "sns", !topics.is_empty()),
        ] {
            if used && !services.iter().any(|s| s == needed) {
                return Err(cfg.error(
                    key,
                    format!(
                        "`services` does not include {needed}; add it: services: [{}, {needed}]",
                        explicit.join(", ")
                    ),
                ));
            }
        }
        let subscribes_sqs = topics.iter().any(|t| {
            t["subscriptions"]
                .as_array()
                .is_some_and(|subs| subs.iter().any(|s| s["protocol"] == "sqs"))
        });
        if subscribes_sqs && !services.iter().any(|s| s == "sqs") {
            return Err(cfg.error(
                "sns_topics",
                "a subscription delivers to SQS but `services` does not include sqs; add it",
            ));
        }
        services.dedup();
        Ok(Settings {
            services,
            plan: json!({"s3_buckets": buckets, "sqs_queues": queues, "sns_topics": topics}),
        })
    }

    /// Whether setup has anything to create.
    pub fn needs_setup(&self) -> bool {
        ["s3_buckets", "sqs_queues", "sns_topics"]
            .iter()
            .any(|k| self.plan[k].as_array().is_some_and(|a| !a.is_empty()))
    }
}

/// A required string field of a list entry.
fn name_of(
    cfg: &Config<'_>,
    at: &str,
    entry: &Map<String, Value>,
    valid: impl Fn(&str) -> bool,
    rule: &str,
) -> Result<String, CatalogError> {
    match entry.get("name") {
        Some(Value::String(n)) if valid(n) => Ok(n.clone()),
        Some(Value::String(n)) => Err(cfg.error(&format!("{at}.name"), format!("`{n}`: {rule}"))),
        _ => Err(cfg.error(&format!("{at}.name"), format!("required: {rule}"))),
    }
}

/// Keys of `entry` outside `allowed` are errors.
fn only_keys(
    cfg: &Config<'_>,
    at: &str,
    entry: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), CatalogError> {
    match entry.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(cfg.error(
            &format!("{at}.{k}"),
            format!("unknown key (expected {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `s3_buckets[{name, acl, cors}]`.
fn buckets(cfg: &Config<'_>) -> Result<Vec<Value>, CatalogError> {
    let mut out = Vec::new();
    for (i, b) in cfg.objects("s3_buckets")?.into_iter().enumerate() {
        let at = format!("s3_buckets[{i}]");
        only_keys(cfg, &at, b, &["name", "acl", "cors"])?;
        let name = name_of(cfg, &at, b, valid_bucket_name, "a bucket name is 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit")?;
        let acl = match b.get("acl") {
            None | Some(Value::Null) => None,
            Some(Value::String(a)) if BUCKET_ACLS.contains(&a.as_str()) => Some(a.clone()),
            Some(other) => {
                return Err(cfg.error(
                    &format!("{at}.acl"),
                    format!(
                        "{other} is not a canned bucket ACL ({})",
                        BUCKET_ACLS.join(", ")
                    ),
                ))
            }
        };
        let cors = match b.get("cors") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(rules)) => rules
                .iter()
                .enumerate()
                .map(|(j, r)| cors_rule(cfg, &format!("{at}.cors[{j}]"), r))
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(cfg.error(&format!("{at}.cors"), "expected a list of CORS rules"))
            }
        };
        out.push(json!({"name": name, "acl": acl, "cors": cors}));
    }
    Ok(out)
}

/// One CORS rule: S3's keys, `AllowedOrigins` and `AllowedMethods` required.
fn cors_rule(cfg: &Config<'_>, at: &str, rule: &Value) -> Result<Value, CatalogError> {
    let map = rule.as_object().ok_or_else(|| {
        cfg.error(
            at,
            "expected a map such as {AllowedOrigins: [\"*\"], AllowedMethods: [GET]}",
        )
    })?;
    only_keys(cfg, at, map, &CORS_KEYS)?;
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            "MaxAgeSeconds" => match value.as_u64() {
                Some(n) => json!(n),
                None => {
                    return Err(
                        cfg.error(&format!("{at}.{key}"), "expected a whole number of seconds")
                    )
                }
            },
            "ID" => match value.as_str() {
                Some(s) => json!(s),
                None => return Err(cfg.error(&format!("{at}.{key}"), "expected a string")),
            },
            _ => {
                let list = crate::config::strings_of(value).ok_or_else(|| {
                    cfg.error(&format!("{at}.{key}"), "expected a list of strings")
                })?;
                if key == "AllowedMethods" {
                    if let Some(bad) = list.iter().find(|m| !CORS_METHODS.contains(&m.as_str())) {
                        return Err(cfg.error(
                            &format!("{at}.{key}"),
                            format!("`{bad}` is not one of {}", CORS_METHODS.join(", ")),
                        ));
                    }
                }
                json!(list)
            }
        };
        out.insert(key.clone(), value);
    }
    for required in ["AllowedOrigins", "AllowedMethods"] {
        if !out.contains_key(required) {
            return Err(cfg.error(&format!("{at}.{required}"), "required in every CORS rule"));
        }
    }
    Ok(Value::Object(out))
}

/// `sqs_queues[{name, attributes{}, is_dlq}]`.
fn queues(cfg: &Config<'_>) -> Result<Vec<Value>, CatalogError> {
    let mut out = Vec::new();
    for (i, q) in cfg.objects("sqs_queues")?.into_iter().enumerate() {
        let at = format!("sqs_queues[{i}]");
        only_keys(cfg, &at, q, &["name", "attributes", "is_dlq"])?;
        let name = name_of(cfg, &at, q, valid_queue_name, "a queue name is 1 to 80 letters, digits, `-` and `_`, with `.fifo` at the end for a FIFO queue")?;
        let attributes = match q.get("attributes") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(cfg.error(
                    &format!("{at}.attributes"),
                    "expected a map of SQS queue attributes",
                ))
            }
        };
        let is_dlq = match q.get("is_dlq") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(cfg.error(
                    &format!("{at}.is_dlq"),
                    format!("expected true or false, found {other}"),
                ))
            }
        };
        out.push(json!({"name": name, "attributes": attributes, "is_dlq": is_dlq}));
    }
    Ok(out)
}

/// `sns_topics[{name, subscriptions[{protocol, endpoint}]}]`.
fn topics(cfg: &Config<'_>) -> Result<Vec<Value>, CatalogError> {
    let mut out = Vec::new();
    for (i, t) in cfg.objects("sns_topics")?.into_iter().enumerate() {
        let at = format!("sns_topics[{i}]");
        only_keys(cfg, &at, t, &["name", "subscriptions"])?;
        let name = name_of(cfg, &at, t, valid_topic_name, "a topic name is 1 to 256 letters, digits, `-` and `_`, with `.fifo` at the end for a FIFO topic")?;
        let mut subscriptions = Vec::new();
        let subs = match t.get("subscriptions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(s)) => s.clone(),
            Some(_) => {
                return Err(cfg.error(
                    &format!("{at}.subscriptions"),
                    "expected a list of {protocol, endpoint}",
                ))
            }
        };
        for (j, s) in subs.iter().enumerate() {
            let at = format!("{at}.subscriptions[{j}]");
            let map = s
                .as_object()
                .ok_or_else(|| cfg.error(&at, "expected a map {protocol, endpoint}"))?;
            only_keys(cfg, &at, map, &["protocol", "endpoint"])?;
            let protocol = map
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !SNS_PROTOCOLS.contains(&protocol) {
                return Err(cfg.error(
                    &format!("{at}.protocol"),
                    format!(
                        "`{protocol}` is not a protocol served here ({}; lambda needs Docker)",
                        SNS_PROTOCOLS.join(", ")
                    ),
                ));
            }
            let endpoint = map
                .get("endpoint")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
                .ok_or_else(|| cfg.error(&format!("{at}.endpoint"), "required: a queue name or ARN for sqs, a URL for http(s), an address for email"))?;
            subscriptions.push(json!({"protocol": protocol, "endpoint": endpoint}));
        }
        out.push(json!({"name": name, "subscriptions": subscriptions}));
    }
    Ok(out)
}

fn valid_bucket_name(n: &str) -> bool {
    (3..=63).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn plain(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_queue_name(n: &str) -> bool {
    n.len() <= 80 && plain(n.strip_suffix(".fifo").unwrap_or(n))
}

fn valid_topic_name(n: &str) -> bool {
    n.len() <= 256 && plain(n.strip_suffix(".fifo").unwrap_or(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Value) -> Result<Settings, String> {
        Settings::read("s3", &v, "LocalStack 4.13.1").map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_seed_config() {
        let s = read(json!({
            "services": ["s3"],
            "s3_buckets": [
                {"name": "product-images", "cors": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"]}]},
                {"name": "order-invoices", "acl": "private"},
            ],
        }))
        .unwrap();
        assert_eq!(s.services, vec!["s3"]);
        assert_eq!(
            s.plan["s3_buckets"][0]["cors"][0]["AllowedMethods"],
            json!(["GET", "PUT"])
        );
        assert_eq!(s.plan["s3_buckets"][1]["acl"], json!("private"));
        assert!(s.needs_setup());
        let none = read(Value::Null).unwrap();
        assert_eq!(none.services, DEFAULT_SERVICES.to_vec());
        assert!(!none.needs_setup());
    }

    #[test]
    fn refuses_what_localstack_cannot_serve_here_naming_key_and_implementation() {
        let err = read(json!({"dynamodb_tables": [{"name": "t", "hash_key": "id"}]})).unwrap_err();
        assert!(
            err.contains("config.dynamodb_tables") && err.contains("LocalStack 4.13.1"),
            "{err}"
        );
        let err = read(json!({"services": ["s3", "lambda"]})).unwrap_err();
        assert!(
            err.contains("config.services[1]") && err.contains("Docker"),
            "{err}"
        );
        let err = read(json!({"services": ["sqs"], "s3_buckets": [{"name": "abc"}]})).unwrap_err();
        assert!(
            err.contains("config.s3_buckets") && err.contains("services"),
            "{err}"
        );
        let err = read(json!({"s3_buckets": [{"name": "ab"}]})).unwrap_err();
        assert!(err.contains("s3_buckets[0].name"), "{err}");
        let err = read(json!({"s3_buckets": [{"name": "abc", "acl": "secret"}]})).unwrap_err();
        assert!(
            err.contains("s3_buckets[0].acl") && err.contains("public-read"),
            "{err}"
        );
        let err =
            read(json!({"s3_buckets": [{"name": "abc", "cors": [{"AllowedOrigins": ["*"]}]}]}))
                .unwrap_err();
        assert!(err.contains("cors[0].AllowedMethods"), "{err}");
        let err = read(json!({"sns_topics": [{"name": "t", "subscriptions": [{"protocol": "lambda", "endpoint": "f"}]}]})).unwrap_err();
        assert!(err.contains("subscriptions[0].protocol"), "{err}");
    }

    #[test]
    fn reads_queues_and_topics() {
        let s = read(json!({
            "sqs_queues": [{"name": "orders-dlq", "is_dlq": true}, {"name": "orders", "attributes": {"VisibilityTimeout": 5}}],
            "sns_topics": [{"name": "events", "subscriptions": [{"protocol": "sqs", "endpoint": "orders"}]}],
        }))
        .unwrap();
        assert_eq!(s.plan["sqs_queues"][0]["is_dlq"], json!(true));
        assert_eq!(
            s.plan["sqs_queues"][1]["attributes"]["VisibilityTimeout"],
            json!(5)
        );
        assert_eq!(
            s.plan["sns_topics"][0]["subscriptions"][0]["endpoint"],
            json!("orders")
        );
    }
}
