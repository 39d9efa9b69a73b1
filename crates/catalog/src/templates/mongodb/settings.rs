//! The `config:` of a `mongodb` service, read and checked: `databases`, `indexes`, `auth`,
//! `replica_set` (SPEC Appendix A).

use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::CatalogError;

/// The replica set name used for `replica_set: true`.
const DEFAULT_SET: &str = "rs0";

/// A service's MongoDB settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// Databases that must exist after setup.
    pub databases: Vec<String>,
    /// Indexes created at setup.
    pub indexes: Vec<Index>,
    /// The password of the `root` user (in `admin`) when `auth` is enabled.
    pub root_password: Option<String>,
    /// The replica set name when the server runs as a one-member replica set.
    pub replica_set: Option<String>,
}

/// One index of `indexes{"db.coll": [{keys, options}]}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Index {
    /// Database name.
    pub db: String,
    /// Collection name.
    pub collection: String,
    /// Key fields in order with their kind (`1`, `-1`, `"text"`, `"2dsphere"`, `"hashed"`...).
    pub keys: Vec<(String, Value)>,
    /// `createIndexes` options (`unique`, `name`, `expireAfterSeconds`, ...).
    pub options: Map<String, Value>,
}

impl Settings {
    /// Reads and checks the config of `service`.
    pub fn read(service: &str, config: &Value) -> Result<Settings, CatalogError> {
        let cfg = Config::new(service, config);
        let databases = cfg.strings("databases")?;
        for (i, name) in databases.iter().enumerate() {
            check_db_name(name).map_err(|m| cfg.error(&format!("databases[{i}]"), m))?;
        }
        Ok(Settings {
            databases,
            indexes: indexes(&cfg)?,
            root_password: root_password(&cfg)?,
            replica_set: replica_set(&cfg)?,
        })
    }

    /// What the setup step does, as the JSON the client scripts read.
    pub fn plan(&self, replica_set_host: &str) -> Value {
        json!({
            "databases": self.databases,
            "indexes": self.indexes.iter().map(|ix| json!({
                "db": ix.db,
                "collection": ix.collection,
                "keys": ix.keys.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                "options": ix.options,
            })).collect::<Vec<_>>(),
            "replica_set": self.replica_set.as_ref().map(|name| json!({
                "name": name,
                "host": replica_set_host,
            })),
        })
    }

    /// Whether setup has anything to do.
    pub fn needs_setup(&self) -> bool {
        !self.databases.is_empty() || !self.indexes.is_empty() || self.replica_set.is_some()
    }
}

/// `auth{enabled, root_password}`: the root password when auth is on (`enabled` defaults to
/// true when a password is given).
fn root_password(cfg: &Config<'_>) -> Result<Option<String>, CatalogError> {
    let Some(auth) = cfg.object("auth")? else {
        return Ok(None);
    };
    let enabled = match auth.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(cfg.error(
                "auth.enabled",
                format!("expected true or false, found {other}"),
            ))
        }
    };
    let password = match auth.get("root_password") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => {
            return Err(cfg.error(
                "auth.root_password",
                format!("expected a non-empty string, found {other}"),
            ))
        }
    };
    match (enabled.unwrap_or(password.is_some()), password) {
        (false, _) => Ok(None),
        (true, Some(p)) => Ok(Some(p)),
        (true, None) => Err(cfg.error(
            "auth.root_password",
            "auth is enabled but no root_password is given: set auth.root_password (the password of the `root` user in `admin`)",
        )),
    }
}

/// `replica_set: true | false | NAME`.
fn replica_set(cfg: &Config<'_>) -> Result<Option<String>, CatalogError> {
    match cfg.get("replica_set") {
        None | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(DEFAULT_SET.to_string())),
        Some(Value::String(name)) if is_plain_name(name) => Ok(Some(name.clone())),
        Some(other) => Err(cfg.error(
            "replica_set",
            format!("expected true, false or a replica set name of letters, digits, `-` and `_`, found {other}"),
        )),
    }
}

/// `indexes{"db.coll": [{keys, options}]}`.
fn indexes(cfg: &Config<'_>) -> Result<Vec<Index>, CatalogError> {
    let Some(map) = cfg.object("indexes")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (namespace, specs) in map {
        let at = |rest: &str| format!("indexes.{namespace}{rest}");
        let (db, collection) = namespace
            .split_once('.')
            .filter(|(d, c)| !d.is_empty() && !c.is_empty())
            .ok_or_else(|| {
                cfg.error(
                    &at(""),
                    "expected a `database.collection` name such as `inventory.products`",
                )
            })?;
        check_db_name(db).map_err(|m| cfg.error(&at(""), m))?;
        if collection.contains('$') || collection.starts_with("system.") {
            return Err(cfg.error(
                &at(""),
                format!("`{collection}` is not a collection name MongoDB accepts (no `$`, no `system.` prefix)"),
            ));
        }
        let specs = specs
            .as_array()
            .ok_or_else(|| cfg.error(&at(""), "expected a list of {keys, options}"))?;
        for (i, spec) in specs.iter().enumerate() {
            let at = |key: &str| at(&format!("[{i}]{key}"));
            let spec = spec
                .as_object()
                .ok_or_else(|| cfg.error(&at(""), "expected a map with `keys` and `options`"))?;
            if let Some(unknown) = spec.keys().find(|k| *k != "keys" && *k != "options") {
                return Err(cfg.error(
                    &at(&format!(".{unknown}")),
                    "unknown key: an index has `keys` and `options`",
                ));
            }
            let keys = index_keys(spec.get("keys")).map_err(|m| cfg.error(&at(".keys"), m))?;
            let options = match spec.get("options") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(o)) => o.clone(),
                Some(_) => {
                    return Err(cfg.error(
                        &at(".options"),
                        "expected a map of createIndexes options such as {unique: true}",
                    ))
                }
            };
            out.push(Index {
                db: db.to_string(),
                collection: collection.to_string(),
                keys,
                options,
            });
        }
    }
    Ok(out)
}

/// Index keys: `{field: 1}`, or for compound indexes a list `[{a: 1}, {b: -1}]` (a map's key
/// order is not kept by YAML parsing, and MongoDB's compound indexes depend on it).
fn index_keys(value: Option<&Value>) -> Result<Vec<(String, Value)>, String> {
    let pair = |field: &str, kind: &Value| -> Result<(String, Value), String> {
        let ok = match kind {
            Value::Number(n) => n.as_i64().is_some_and(|d| d == 1 || d == -1),
            Value::String(s) => ["text", "2dsphere", "2d", "hashed"].contains(&s.as_str()),
            _ => false,
        };
        if field.is_empty() || !ok {
            return Err(format!(
                "`{field}: {kind}`: a key is a field with 1, -1, \"text\", \"2dsphere\", \"2d\" or \"hashed\""
            ));
        }
        Ok((field.to_string(), kind.clone()))
    };
    match value {
        Some(Value::Object(map)) if map.len() == 1 => map.iter().map(|(k, v)| pair(k, v)).collect(),
        Some(Value::Object(map)) if map.len() > 1 => Err(format!(
            "a compound index needs its key order, which a map does not keep: write keys as a list, e.g. [{}]",
            map.iter()
                .map(|(k, v)| format!("{{{k}: {v}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::Object(m) if m.len() == 1 => m.iter().map(|(k, v)| pair(k, v)).next().unwrap_or_else(|| Err("empty key".into())),
                Value::Array(p) if p.len() == 2 && p[0].is_string() => pair(p[0].as_str().unwrap_or_default(), &p[1]),
                other => Err(format!("`{other}`: each element is a one-field map such as {{sku: 1}}")),
            })
            .collect(),
        _ => Err("expected the indexed fields, e.g. {sku: 1} or [{category: 1}, {price: -1}]".into()),
    }
}

/// Letters, digits, `-` and `_` only.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// MongoDB's database name rules (no `/\. "$`, shorter than 64 bytes).
fn check_db_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() >= 64 || name.contains(['/', '\\', '.', ' ', '"', '$']) {
        return Err(format!(
            "`{name}` is not a database name MongoDB accepts (1 to 63 characters, none of / \\ . space \" $)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Value) -> Result<Settings, String> {
        Settings::read("m", &v).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_seed_config() {
        let s = read(json!({"databases": ["inventory"]})).unwrap();
        assert_eq!(s.databases, vec!["inventory"]);
        assert!(s.indexes.is_empty() && s.root_password.is_none() && s.replica_set.is_none());
        assert!(s.needs_setup());
        assert!(!read(Value::Null).unwrap().needs_setup());
    }

    #[test]
    fn reads_indexes_in_key_order() {
        let s = read(json!({"indexes": {"shop.products": [
            {"keys": {"sku": 1}, "options": {"unique": true}},
            {"keys": [{"category": 1}, {"price": -1}]},
            {"keys": [["title", "text"]]},
        ]}}))
        .unwrap();
        assert_eq!(s.indexes.len(), 3);
        assert_eq!(
            (s.indexes[0].db.as_str(), s.indexes[0].collection.as_str()),
            ("shop", "products")
        );
        assert_eq!(s.indexes[0].options["unique"], json!(true));
        assert_eq!(
            s.indexes[1].keys,
            vec![("category".into(), json!(1)), ("price".into(), json!(-1))]
        );
        assert_eq!(s.indexes[2].keys, vec![("title".into(), json!("text"))]);
    }

    #[test]
    fn refuses_what_mongodb_would_refuse_or_vers_would_misread() {
        let err = read(json!({"indexes": {"shop.p": [{"keys": {"a": 1, "b": -1}}]}})).unwrap_err();
        assert!(
            err.contains("indexes.shop.p[0].keys") && err.contains("[{a: 1}, {b: -1}]"),
            "{err}"
        );
        let err = read(json!({"indexes": {"nodot": [{"keys": {"a": 1}}]}})).unwrap_err();
        assert!(err.contains("database.collection"), "{err}");
        let err = read(json!({"indexes": {"s.p": [{"keys": {"a": 2}}]}})).unwrap_err();
        assert!(err.contains("1, -1"), "{err}");
        let err = read(json!({"databases": ["a.b"]})).unwrap_err();
        assert!(err.contains("config.databases[0]"), "{err}");
        let err = read(json!({"auth": {"enabled": true}})).unwrap_err();
        assert!(err.contains("auth.root_password"), "{err}");
        let err = read(json!({"replica_set": "bad name"})).unwrap_err();
        assert!(err.contains("replica_set"), "{err}");
    }

    #[test]
    fn reads_auth_and_replica_set() {
        let s = read(json!({"auth": {"root_password": "pw"}, "replica_set": true})).unwrap();
        assert_eq!(s.root_password.as_deref(), Some("pw"));
        assert_eq!(s.replica_set.as_deref(), Some("rs0"));
        let s =
            read(json!({"auth": {"enabled": false, "root_password": "pw"}, "replica_set": "main"}))
                .unwrap();
        assert_eq!(s.root_password, None);
        assert_eq!(s.replica_set.as_deref(), Some("main"));
        let plan = s.plan("mongo:27017");
        assert_eq!(plan["replica_set"]["host"], json!("mongo:27017"));
    }
}
