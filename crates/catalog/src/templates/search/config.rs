//! The template's `config:`: `indices[{name, settings, mappings}]` (mappings inline or a JSON
//! file relative to the project), `security` and `plugins`.

use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::{CatalogError, InstanceCtx};

/// One index to create at setup, as the body of `PUT /<name>`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexSpec {
    /// The index name.
    pub name: String,
    /// `{"settings": ..., "mappings": ...}`.
    pub body: Value,
}

/// Reads a mappings file: a mappings object (`{"properties": ...}`) or a whole
/// index-creation body (`{"mappings": ..., "settings": ...}`).
fn read_mappings_file(
    ctx: &InstanceCtx,
    key: &str,
    file: &str,
) -> Result<(Value, Option<Value>), CatalogError> {
    let path = ctx.project_dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        CatalogError::config(
            &ctx.service,
            key,
            format!("cannot read mappings file {}: {e}", path.display()),
        )
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        CatalogError::config(
            &ctx.service,
            key,
            format!("{} is not valid JSON: {e}", path.display()),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(CatalogError::config(
            &ctx.service,
            key,
            format!(
                "{} must hold a JSON object (a mapping such as {{\"properties\": {{...}}}})",
                path.display()
            ),
        ));
    };
    if obj.contains_key("mappings") || obj.contains_key("settings") {
        Ok((
            obj.get("mappings").cloned().unwrap_or_else(|| json!({})),
            obj.get("settings").cloned(),
        ))
    } else {
        Ok((Value::Object(obj), None))
    }
}

/// The indices the config asks for.
pub(crate) fn indices(ctx: &InstanceCtx) -> Result<Vec<IndexSpec>, CatalogError> {
    let cfg = Config::new(&ctx.service, &ctx.config);
    let mut out = Vec::new();
    for (i, index) in cfg.objects("indices")?.into_iter().enumerate() {
        let key = |k: &str| format!("indices[{i}].{k}");
        let name = index
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| cfg.error(&key("name"), "every index needs a `name`"))?;
        if name.is_empty()
            || name.to_lowercase() != name
            || name.starts_with(['_', '-', '+'])
            || name.contains(['/', '\\', '*', '?', '"', '<', '>', '|', ' ', ',', '#'])
        {
            return Err(cfg.error(
                &key("name"),
                format!("`{name}` is not a valid index name (lowercase, no spaces or \\/*?\"<>|,#, not starting with _ - +)"),
            ));
        }
        let mut body = Map::new();
        let mut settings = index.get("settings").cloned();
        match index.get("mappings") {
            None | Some(Value::Null) => {}
            Some(Value::String(file)) => {
                let (mappings, file_settings) = read_mappings_file(ctx, &key("mappings"), file)?;
                body.insert("mappings".into(), mappings);
                if settings.is_none() {
                    settings = file_settings;
                }
            }
            Some(Value::Object(m)) => {
                body.insert("mappings".into(), Value::Object(m.clone()));
            }
            Some(other) => {
                return Err(cfg.error(
                    &key("mappings"),
                    format!("expected a mapping object or the path of a JSON file, found {other}"),
                ))
            }
        }
        if let Some(s) = settings {
            if !s.is_object() {
                return Err(cfg.error(&key("settings"), "expected an object of index settings"));
            }
            body.insert("settings".into(), s);
        }
        if out.iter().any(|o: &IndexSpec| o.name == name) {
            return Err(cfg.error(&key("name"), format!("index `{name}` is listed twice")));
        }
        out.push(IndexSpec {
            name: name.to_string(),
            body: Value::Object(body),
        });
    }
    Ok(out)
}

/// Whether `security` asks for security (`true`, or an object not saying `enabled: false`).
pub(crate) fn security_enabled(ctx: &InstanceCtx) -> Result<bool, CatalogError> {
    let cfg = Config::new(&ctx.service, &ctx.config);
    Ok(match cfg.get("security") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(Value::Object(o)) => match o.get("enabled") {
            Some(Value::Bool(b)) => *b,
            None => true,
            Some(other) => {
                return Err(cfg.error(
                    "security.enabled",
                    format!("expected true or false, found {other}"),
                ))
            }
        },
        Some(other) => {
            return Err(cfg.error(
                "security",
                format!("expected true, false or an object, found {other}"),
            ))
        }
    })
}

/// The `plugins` list.
pub(crate) fn plugins(ctx: &InstanceCtx) -> Result<Vec<String>, CatalogError> {
    Config::new(&ctx.service, &ctx.config).strings("plugins")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;
    use std::path::PathBuf;

    fn ctx(config: Value, project: PathBuf) -> InstanceCtx {
        InstanceCtx {
            service: "elasticsearch".into(),
            replica: 0,
            template: Some("elasticsearch".into()),
            version: Some("8".into()),
            listen: Ipv4Addr::LOCALHOST,
            bind: Ipv4Addr::LOCALHOST,
            ports: vec![9200],
            data_dir: project.join("data"),
            run_dir: project.join("run"),
            project_dir: project,
            config,
            env: BTreeMap::new(),
            user_uid: 0,
            user_gid: 0,
            vers_exe: PathBuf::from("/usr/bin/vers"),
            public_name: "elasticsearch".into(),
            memory_limit: None,
            command: None,
            build_context: None,
            peers: BTreeMap::new(),
        }
    }

    #[test]
    fn pattern_three_and_four_configs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("mappings")).unwrap();
        std::fs::write(
            dir.path().join("mappings/products.json"),
            r#"{"properties": {"name": {"type": "text"}}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("mappings/orders.json"), r#"{"settings": {"number_of_shards": 1}, "mappings": {"properties": {"total": {"type": "double"}}}}"#).unwrap();
        let c = ctx(
            json!({"indices": [
                {"name": "products", "mappings": "./mappings/products.json"},
                {"name": "orders", "mappings": "./mappings/orders.json"},
                {"name": "catalog", "settings": {"analysis": {"analyzer": {"product_analyzer": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "snowball"]}}}}}
            ]}),
            dir.path().to_path_buf(),
        );
        let specs = indices(&c).unwrap();
        assert_eq!(
            specs[0].body,
            json!({"mappings": {"properties": {"name": {"type": "text"}}}})
        );
        assert_eq!(specs[1].body["settings"]["number_of_shards"], json!(1));
        assert_eq!(
            specs[1].body["mappings"]["properties"]["total"]["type"],
            "double"
        );
        assert!(specs[2].body["settings"]["analysis"].is_object());
        assert!(specs[2].body.get("mappings").is_none());
    }

    #[test]
    fn bad_configs_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let e = indices(&ctx(
            json!({"indices": [{"name": "p", "mappings": "./missing.json"}]}),
            dir.path().to_path_buf(),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("indices[0].mappings"), "{e}");
        let e = indices(&ctx(
            json!({"indices": [{"name": "Products"}]}),
            dir.path().to_path_buf(),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("indices[0].name"), "{e}");
        assert!(security_enabled(&ctx(
            json!({"security": {"enabled": false}}),
            dir.path().to_path_buf()
        ))
        .is_ok_and(|s| !s));
        assert!(
            security_enabled(&ctx(json!({"security": true}), dir.path().to_path_buf())).unwrap()
        );
    }
}
