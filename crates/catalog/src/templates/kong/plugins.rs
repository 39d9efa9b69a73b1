//! The plugins the stand-in gateway runs — `key-auth`, `rate-limiting` and `cors` — with their
//! `config` checked against Kong 3.4's plugin schemas and completed with Kong's defaults, as
//! Kong's Admin API shows them. Any other plugin is an error naming it and the implementation.

use serde_json::{json, Map, Number, Value};

use super::spec::{Gateway, Plugin};
use crate::CatalogError;

/// The plugins the stand-in implements, with Kong's execution priority (higher runs first).
pub(crate) const SUPPORTED: [(&str, u32); 3] =
    [("cors", 2000), ("key-auth", 1250), ("rate-limiting", 910)];

/// HTTP methods the `cors` plugin knows (its default `methods`).
const CORS_METHODS: [&str; 9] = [
    "GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

/// Rate-limiting windows, shortest first.
const PERIODS: [&str; 6] = ["second", "minute", "hour", "day", "month", "year"];

/// `plugin`'s config completed with Kong's defaults, or an error naming the bad key.
/// `implementation` names the stand-in in errors about plugins it does not serve.
pub(crate) fn complete(
    service: &str,
    gateway: &Gateway,
    plugin: &Plugin,
    implementation: &str,
) -> Result<Map<String, Value>, CatalogError> {
    let mut f = Fields {
        service,
        key: format!("{}.config", plugin.key),
        config: &plugin.config,
        out: Map::new(),
    };
    match plugin.name.as_str() {
        "key-auth" => key_auth(&mut f, gateway)?,
        "rate-limiting" => rate_limiting(&mut f)?,
        "cors" => cors(&mut f)?,
        other => {
            return Err(CatalogError::config(
                service,
                format!("{}.name", plugin.key),
                format!(
                    "plugin `{other}` is not available: kong@3 is served here by {implementation}, which runs {}; install Kong (`kong` on PATH or VERS_ENGINE_KONG) for the others",
                    SUPPORTED.map(|(n, _)| n).join(", ")
                ),
            ))
        }
    }
    f.reject_unknown()?;
    Ok(f.out)
}

/// Reads one plugin config, recording each known field in `out`.
struct Fields<'a> {
    service: &'a str,
    key: String,
    config: &'a Map<String, Value>,
    out: Map<String, Value>,
}

impl Fields<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> CatalogError {
        CatalogError::config(self.service, format!("{}.{field}", self.key), message)
    }

    fn given(&self, field: &str) -> Option<&Value> {
        self.config.get(field).filter(|v| !v.is_null())
    }

    /// A boolean with its default.
    fn boolean(&mut self, field: &str, default: bool) -> Result<bool, CatalogError> {
        let value = match self.given(field) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(self.error(field, format!("expected true or false, found {v}"))),
        };
        self.out.insert(field.into(), Value::Bool(value));
        Ok(value)
    }

    /// A number; when `positive`, it must be greater than zero.
    fn number(
        &mut self,
        field: &str,
        default: Option<f64>,
        positive: bool,
    ) -> Result<Option<f64>, CatalogError> {
        let value = match self.given(field) {
            None => default,
            Some(Value::Number(n)) => n.as_f64(),
            Some(v) => return Err(self.error(field, format!("expected a number, found {v}"))),
        };
        if let Some(v) = value {
            if positive && v <= 0.0 {
                return Err(self.error(field, format!("value must be greater than 0, found {v}")));
            }
        }
        let json = match (self.given(field), value) {
            (Some(given), _) => given.clone(),
            (None, Some(v)) if v.fract() == 0.0 && v.abs() < 1e15 => json!(v as i64),
            (None, Some(v)) => Number::from_f64(v).map_or(Value::Null, Value::Number),
            (None, None) => Value::Null,
        };
        self.out.insert(field.into(), json);
        Ok(value)
    }

    /// A string, optional or with a default.
    fn string(
        &mut self,
        field: &str,
        default: Option<&str>,
    ) -> Result<Option<String>, CatalogError> {
        let value = match self.given(field) {
            None => default.map(str::to_string),
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => return Err(self.error(field, format!("expected a string, found {v}"))),
        };
        self.out.insert(
            field.into(),
            value.clone().map_or(Value::Null, Value::String),
        );
        Ok(value)
    }

    /// One of `choices`, with its default.
    fn one_of(
        &mut self,
        field: &str,
        default: &str,
        choices: &[&str],
    ) -> Result<String, CatalogError> {
        let value = self.string(field, Some(default))?.unwrap_or_default();
        if !choices.contains(&value.as_str()) {
            return Err(self.error(
                field,
                format!("expected one of: {}, found `{value}`", choices.join(", ")),
            ));
        }
        Ok(value)
    }

    /// A list of strings (`None` when absent; an empty list counts as absent).
    fn strings(
        &mut self,
        field: &str,
        default: Option<&[&str]>,
    ) -> Result<Option<Vec<String>>, CatalogError> {
        let value = match self.given(field) {
            None => default.map(|d| d.iter().map(|s| s.to_string()).collect()),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        v => {
                            return Err(self.error(
                                &format!("{field}[{i}]"),
                                format!("expected a string, found {v}"),
                            ))
                        }
                    }
                }
                (!out.is_empty()).then_some(out)
            }
            Some(v) => {
                return Err(self.error(field, format!("expected a list of strings, found {v}")))
            }
        };
        self.out.insert(
            field.into(),
            value.clone().map_or(Value::Null, |v| {
                Value::Array(v.into_iter().map(Value::String).collect())
            }),
        );
        Ok(value)
    }

    /// Fails on a key the plugin's schema does not have.
    fn reject_unknown(&self) -> Result<(), CatalogError> {
        match self.config.keys().find(|k| !self.out.contains_key(*k)) {
            None => Ok(()),
            Some(k) => {
                let mut known: Vec<&str> = self.out.keys().map(String::as_str).collect();
                known.sort_unstable();
                Err(self.error(k, format!("unknown field; known: {}", known.join(", "))))
            }
        }
    }
}

/// Whether `name` is a valid header name for Kong (letters, digits, `_` and `-`).
fn header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn key_auth(f: &mut Fields<'_>, gateway: &Gateway) -> Result<(), CatalogError> {
    let names = f
        .strings("key_names", Some(&["apikey"]))?
        .unwrap_or_default();
    if names.is_empty() {
        return Err(f.error("key_names", "list at least one key name, e.g. [apikey]"));
    }
    if let Some(bad) = names.iter().find(|n| !header_name(n)) {
        return Err(f.error(
            "key_names",
            format!("bad header name '{bad}', allowed characters are A-Z, a-z, 0-9, '_', and '-'"),
        ));
    }
    f.boolean("hide_credentials", false)?;
    if let Some(anon) = f.string("anonymous", None)? {
        let known = gateway
            .consumers
            .iter()
            .any(|c| c.username.as_deref() == Some(anon.as_str()));
        if !known {
            return Err(f.error(
                "anonymous",
                format!("no consumer has the username `{anon}`; list it under `consumers`"),
            ));
        }
    }
    f.boolean("key_in_header", true)?;
    f.boolean("key_in_query", true)?;
    f.boolean("key_in_body", false)?;
    f.boolean("run_on_preflight", true)?;
    Ok(())
}

fn rate_limiting(f: &mut Fields<'_>) -> Result<(), CatalogError> {
    let mut limits: Vec<(&str, f64)> = Vec::new();
    for period in PERIODS {
        if let Some(v) = f.number(period, None, true)? {
            limits.push((period, v));
        }
    }
    if limits.is_empty() {
        return Err(CatalogError::config(
            f.service,
            f.key.clone(),
            "set at least one of second, minute, hour, day, month, year",
        ));
    }
    for (i, (lower, v1)) in limits.iter().enumerate() {
        if let Some((upper, v2)) = limits[i + 1..].iter().find(|(_, v2)| v2 < v1) {
            return Err(f.error(
                upper,
                format!("The limit for {upper}({v2:.1}) cannot be lower than the limit for {lower}({v1:.1})"),
            ));
        }
    }
    let limit_by = f.one_of(
        "limit_by",
        "consumer",
        &["consumer", "credential", "ip", "service", "header", "path"],
    )?;
    let header = f.string("header_name", None)?;
    if let Some(h) = &header {
        if !header_name(h) {
            return Err(f.error("header_name", format!("bad header name '{h}'")));
        }
    }
    let path = f.string("path", None)?;
    if limit_by == "header" && header.is_none() {
        return Err(f.error("header_name", "required when limit_by is header"));
    }
    if limit_by == "path" && path.is_none() {
        return Err(f.error("path", "required when limit_by is path"));
    }
    if let Some(p) = &path {
        if !p.starts_with('/') {
            return Err(f.error("path", format!("`{p}` should start with: /")));
        }
    }
    let policy = f.one_of("policy", "local", &["local", "redis"])?;
    if policy == "redis" {
        return Err(f.error(
            "policy",
            "the kong stand-in counts requests locally (policy: local) and cannot use Redis; remove `policy: redis` or install Kong",
        ));
    }
    f.boolean("fault_tolerant", true)?;
    f.string("redis_host", None)?;
    f.number("redis_port", Some(6379.0), false)?;
    f.string("redis_password", None)?;
    f.string("redis_username", None)?;
    f.boolean("redis_ssl", false)?;
    f.boolean("redis_ssl_verify", false)?;
    f.string("redis_server_name", None)?;
    f.number("redis_timeout", Some(2000.0), false)?;
    f.number("redis_database", Some(0.0), false)?;
    f.boolean("hide_client_headers", false)?;
    f.number("error_code", Some(429.0), true)?;
    f.string("error_message", Some("API rate limit exceeded"))?;
    if f.number("sync_rate", Some(-1.0), false)? != Some(-1.0) {
        return Err(f.error(
            "sync_rate",
            "sync_rate can only be used with the redis policy",
        ));
    }
    Ok(())
}

fn cors(f: &mut Fields<'_>) -> Result<(), CatalogError> {
    f.strings("origins", None)?;
    f.strings("headers", None)?;
    f.strings("exposed_headers", None)?;
    let methods = f
        .strings("methods", Some(&CORS_METHODS))?
        .unwrap_or_default();
    if let Some(bad) = methods.iter().find(|m| !CORS_METHODS.contains(&m.as_str())) {
        return Err(f.error(
            "methods",
            format!(
                "expected one of: {}, found `{bad}`",
                CORS_METHODS.join(", ")
            ),
        ));
    }
    f.number("max_age", None, false)?;
    f.boolean("credentials", false)?;
    f.boolean("preflight_continue", false)?;
    Ok(())
}

/// The protocols Kong records on a plugin (every HTTP-capable protocol).
pub(crate) fn protocols() -> Value {
    json!(["grpc", "grpcs", "http", "https"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::kong::spec::{Consumer, Scope};

    fn gateway() -> Gateway {
        Gateway {
            services: Vec::new(),
            routes: Vec::new(),
            consumers: vec![Consumer {
                key: "consumers[0]".into(),
                username: Some("anon".into()),
                custom_id: None,
                api_keys: Vec::new(),
            }],
            plugins: Vec::new(),
        }
    }

    fn run(name: &str, config: Value) -> Result<Map<String, Value>, String> {
        let plugin = Plugin {
            key: "plugins[0]".into(),
            name: name.into(),
            config: config.as_object().cloned().unwrap_or_default(),
            enabled: true,
            scope: Scope::Global,
        };
        complete("gw", &gateway(), &plugin, "nginx 1.22.1").map_err(|e| e.to_string())
    }

    #[test]
    fn fills_kong_defaults() {
        let ka = run("key-auth", json!({})).unwrap();
        assert_eq!(ka["key_names"], json!(["apikey"]));
        assert_eq!(ka["hide_credentials"], json!(false));
        assert_eq!(ka["anonymous"], Value::Null);
        let rl = run("rate-limiting", json!({"minute": 5})).unwrap();
        assert_eq!(rl["minute"], json!(5));
        assert_eq!(rl["second"], Value::Null);
        assert_eq!(rl["policy"], json!("local"));
        assert_eq!(rl["limit_by"], json!("consumer"));
        assert_eq!(rl["error_message"], json!("API rate limit exceeded"));
        assert_eq!(rl["error_code"].to_string(), "429");
        assert_eq!(rl["sync_rate"].to_string(), "-1");
        let cors = run("cors", json!({"origins": ["http://a.test"]})).unwrap();
        assert_eq!(cors["methods"].as_array().map(Vec::len), Some(9));
        assert_eq!(cors["credentials"], json!(false));
    }

    #[test]
    fn rejects_what_kong_rejects_and_what_the_stand_in_cannot_do() {
        let e = run("jwt", json!({})).unwrap_err();
        assert!(
            e.contains("plugins[0].name") && e.contains("`jwt`") && e.contains("nginx 1.22.1"),
            "{e}"
        );
        let e = run("key-auth", json!({"key_namez": ["x"]})).unwrap_err();
        assert!(
            e.contains("config.key_namez") && e.contains("unknown field"),
            "{e}"
        );
        let e = run("rate-limiting", json!({})).unwrap_err();
        assert!(e.contains("at least one of second"), "{e}");
        let e = run("rate-limiting", json!({"minute": 10, "hour": 5})).unwrap_err();
        assert!(
            e.contains("The limit for hour(5.0) cannot be lower than the limit for minute(10.0)"),
            "{e}"
        );
        let e = run("rate-limiting", json!({"minute": 10, "policy": "redis"})).unwrap_err();
        assert!(e.contains("config.policy") && e.contains("Redis"), "{e}");
        let e = run("rate-limiting", json!({"minute": 10, "policy": "cluster"})).unwrap_err();
        assert!(e.contains("expected one of: local, redis"), "{e}");
        let e = run("rate-limiting", json!({"minute": 1, "limit_by": "header"})).unwrap_err();
        assert!(e.contains("header_name"), "{e}");
        let e = run("cors", json!({"methods": ["FETCH"]})).unwrap_err();
        assert!(e.contains("config.methods"), "{e}");
        let e = run("key-auth", json!({"anonymous": "nobody"})).unwrap_err();
        assert!(e.contains("config.anonymous"), "{e}");
        assert!(run("key-auth", json!({"anonymous": "anon"})).is_ok());
    }
}
