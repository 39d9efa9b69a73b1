//! The configuration of an environment or checkpoint (manifest, services, engine versions,
//! matrix combination, each service's environment variables) and the differences between two.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::environment;
use crate::manifest_store;
use crate::stack::Stack;

/// What `config` compares of one side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigSide {
    /// Hash of the manifest it was made with (None: made before vers kept it).
    pub manifest_hash: Option<String>,
    /// Whether vers has that manifest's text (so its content can be compared).
    pub manifest_kept: bool,
    /// Services it runs (or holds the data of).
    pub services: Vec<String>,
    /// service → `template@version` of the engine.
    pub engines: BTreeMap<String, String>,
    /// Matrix combination (empty outside matrix runs).
    pub matrix: BTreeMap<String, String>,
    /// service → variable → value, as its processes see them (interpolated).
    pub env: BTreeMap<String, BTreeMap<String, String>>,
}

/// One differing value; `path` is dotted (`manifest.services.api.env.LOG_LEVEL`,
/// `engines.postgres`, `matrix.postgres`, `env.api.DATABASE_URL`, `services`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueChange {
    /// Where.
    pub path: String,
    /// Value on the older side (null: absent).
    pub from: Value,
    /// Value on the newer side (null: absent).
    pub to: Value,
}

/// The `config` aspect of a comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigDiff {
    /// The older side.
    pub from: ConfigSide,
    /// The newer side.
    pub to: ConfigSide,
    /// Every difference.
    pub changes: Vec<ValueChange>,
}

/// Inputs describing one side.
pub struct SideInput<'a> {
    /// Environment id the values are computed for (a checkpoint's: the one it was taken from).
    pub env_id: &'a str,
    /// Its name.
    pub env_name: &'a str,
    /// Manifest hash.
    pub manifest_hash: Option<String>,
    /// Services.
    pub services: &'a [String],
    /// Recorded engines (checkpoints record them; environments resolve them).
    pub engines: Option<&'a BTreeMap<String, String>>,
    /// Matrix combination.
    pub matrix: &'a BTreeMap<String, String>,
}

/// The configuration of one side.
pub fn side(stack: &Stack, input: SideInput<'_>) -> ConfigSide {
    let ctx = stack.env_context(input.env_id, input.env_name, input.matrix, BTreeMap::new());
    let text = input
        .manifest_hash
        .as_deref()
        .and_then(|h| manifest_store::load(&stack.project, h));
    // The side's own manifest when kept (its env as written then), else today's.
    let manifest = text
        .as_deref()
        .and_then(|t| vers_manifest::parse_str(t, &stack.project.manifest_path).ok());
    let services_of = manifest.as_ref().unwrap_or(&stack.manifest);
    let engines = match input.engines {
        Some(e) => e.clone(),
        None => {
            let known: Vec<String> = input
                .services
                .iter()
                .filter(|s| stack.manifest.services.contains_key(*s))
                .cloned()
                .collect();
            environment::preflight(&ctx, &known)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, format!("{}@{}", v.template, v.version)))
                .collect()
        }
    };
    let mut env = BTreeMap::new();
    for name in input.services {
        if let Some(svc) = services_of.services.get(name) {
            let vars: BTreeMap<String, String> = svc
                .env
                .iter()
                .map(|(k, v)| (k.clone(), ctx.interpolate(v).unwrap_or_else(|_| v.clone())))
                .collect();
            env.insert(name.clone(), vars);
        }
    }
    ConfigSide {
        manifest_hash: input.manifest_hash,
        manifest_kept: text.is_some(),
        services: input.services.to_vec(),
        engines,
        matrix: input.matrix.clone(),
        env,
    }
}

/// The differences from `from` to `to`.
pub fn diff(stack: &Stack, from: ConfigSide, to: ConfigSide) -> ConfigDiff {
    let mut changes = Vec::new();
    if from.manifest_hash != to.manifest_hash {
        let texts = (
            from.manifest_hash
                .as_deref()
                .and_then(|h| manifest_store::load(&stack.project, h)),
            to.manifest_hash
                .as_deref()
                .and_then(|h| manifest_store::load(&stack.project, h)),
        );
        match texts {
            (Some(a), Some(b)) => {
                let before = yaml_json(&a);
                let after = yaml_json(&b);
                json_changes("manifest", &before, &after, &mut changes);
            }
            _ => changes.push(ValueChange {
                path: "manifest".into(),
                from: opt(&from.manifest_hash),
                to: opt(&to.manifest_hash),
            }),
        }
    }
    let (sa, sb): (BTreeSet<&String>, BTreeSet<&String>) =
        (from.services.iter().collect(), to.services.iter().collect());
    if sa != sb {
        changes.push(ValueChange {
            path: "services".into(),
            from: Value::from(from.services.clone()),
            to: Value::from(to.services.clone()),
        });
    }
    map_changes("engines", &from.engines, &to.engines, &mut changes);
    map_changes("matrix", &from.matrix, &to.matrix, &mut changes);
    let names: BTreeSet<&String> = from.env.keys().chain(to.env.keys()).collect();
    let empty = BTreeMap::new();
    for name in names {
        map_changes(
            &format!("env.{name}"),
            from.env.get(name).unwrap_or(&empty),
            to.env.get(name).unwrap_or(&empty),
            &mut changes,
        );
    }
    ConfigDiff { from, to, changes }
}

fn opt(v: &Option<String>) -> Value {
    v.clone().map(Value::String).unwrap_or(Value::Null)
}

fn yaml_json(text: &str) -> Value {
    match vers_manifest::yaml::parse(text) {
        Ok(Some(node)) => node.to_json(),
        _ => Value::String(text.to_string()),
    }
}

fn map_changes(
    prefix: &str,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    out: &mut Vec<ValueChange>,
) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            out.push(ValueChange {
                path: format!("{prefix}.{k}"),
                from: x.cloned().map(Value::String).unwrap_or(Value::Null),
                to: y.cloned().map(Value::String).unwrap_or(Value::Null),
            });
        }
    }
}

/// Differences between two JSON documents, leaf by leaf (arrays index by index; a mapping
/// or list absent on one side counts as empty there).
pub fn json_changes(path: &str, a: &Value, b: &Value, out: &mut Vec<ValueChange>) {
    let empty_object = Value::Object(serde_json::Map::new());
    let empty_array = Value::Array(Vec::new());
    let (a, b) = match (a, b) {
        (Value::Null, Value::Object(_)) => (&empty_object, b),
        (Value::Object(_), Value::Null) => (a, &empty_object),
        (Value::Null, Value::Array(_)) => (&empty_array, b),
        (Value::Array(_), Value::Null) => (a, &empty_array),
        _ => (a, b),
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                json_changes(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                json_changes(
                    &format!("{path}[{i}]"),
                    x.get(i).unwrap_or(&Value::Null),
                    y.get(i).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(ValueChange {
            path: path.to_string(),
            from: a.clone(),
            to: b.clone(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_changes_name_each_differing_leaf() {
        let a = json!({"services": {"pg": {"config": {"databases": ["app"]}}, "gone": {"x": 1}}});
        let b =
            json!({"services": {"pg": {"config": {"databases": ["app", "other"]}}}, "name": "n"});
        let mut out = Vec::new();
        json_changes("manifest", &a, &b, &mut out);
        let paths: Vec<&str> = out.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "manifest.name",
                "manifest.services.gone.x",
                "manifest.services.pg.config.databases[1]"
            ]
        );
        assert_eq!(out[2].to, json!("other"));
        assert_eq!((&out[1].from, &out[1].to), (&json!(1), &Value::Null));
    }
}
