//! All indices of the server: their directories under `<data>/indices/<uuid>`, created and
//! deleted atomically (through `.creating`/`.deleted` names a crash cannot leave half-done),
//! found by name, list or pattern.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::Engine;
use rand::RngCore;
use serde_json::Value;

use super::aliases::{Action, AliasTable, Aliases};
use super::index::SearchIndex;
use super::meta::IndexState;
use crate::error::{EsError, ServeError};
use crate::mapping::wildcard_match;
use crate::settings::Settings;

/// The indices of a server.
pub struct Registry {
    root: PathBuf,
    indices: RwLock<BTreeMap<String, Arc<SearchIndex>>>,
    aliases: std::sync::Mutex<Aliases>,
}

/// A random id in Elasticsearch's style (URL-safe base64, 20 or 22 characters).
pub fn random_id(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Checks an index name as Elasticsearch does.
pub fn validate_name(name: &str) -> Result<(), EsError> {
    let invalid = |why: &str| {
        Err(EsError::new(
            400,
            "invalid_index_name_exception",
            format!("Invalid index name [{name}], {why}"),
        )
        .with("index_uuid", "_na_")
        .with("index", name))
    };
    if name.is_empty() {
        return invalid("must not be empty");
    }
    if name.to_lowercase() != name {
        return invalid("must be lowercase");
    }
    if name.starts_with(['-', '_', '+']) {
        return invalid("must not start with '_', '-', or '+'");
    }
    if name == "." || name == ".." {
        return invalid("must not be '.' or '..'");
    }
    if name.contains(['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':']) {
        return invalid(
            "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]",
        );
    }
    if name.len() > 255 {
        return invalid("index name is too long, (256 > 255)");
    }
    Ok(())
}

impl Registry {
    /// Opens every index under `<data_dir>/indices`, finishing or undoing what a crash
    /// interrupted.
    pub fn open(data_dir: &Path) -> Result<Registry, ServeError> {
        let root = data_dir.join("indices");
        let io = |path: &Path, source| ServeError::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
        let mut indices = BTreeMap::new();
        for entry in std::fs::read_dir(&root).map_err(|e| io(&root, e))? {
            let entry = entry.map_err(|e| io(&root, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".creating") || name.ends_with(".deleted") {
                std::fs::remove_dir_all(&path).map_err(|e| io(&path, e))?;
                continue;
            }
            if !path.is_dir() {
                continue;
            }
            let index = SearchIndex::open(&path).map_err(|reason| ServeError::Index {
                name: name.clone(),
                reason,
            })?;
            indices.insert(index.name.clone(), Arc::new(index));
        }
        let mut aliases = Aliases::open(data_dir).map_err(|reason| ServeError::Index {
            name: "aliases".into(),
            reason,
        })?;
        let stale: Vec<String> = aliases
            .table
            .values()
            .flat_map(|t| t.keys())
            .filter(|i| !indices.contains_key(*i))
            .cloned()
            .collect();
        for index in stale {
            aliases
                .forget_index(&index)
                .map_err(|e| ServeError::Index {
                    name: "aliases".into(),
                    reason: e.reason,
                })?;
        }
        Ok(Registry {
            root,
            indices: RwLock::new(indices),
            aliases: std::sync::Mutex::new(aliases),
        })
    }

    fn aliases(&self) -> std::sync::MutexGuard<'_, Aliases> {
        self.aliases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the alias table.
    pub fn alias_table(&self) -> AliasTable {
        self.aliases().table.clone()
    }

    /// Applies alias actions atomically.
    pub fn alias_actions(&self, actions: &[Action]) -> Result<(), EsError> {
        let indices = self.read();
        let exists = |name: &str| indices.contains_key(name);
        self.aliases().apply(actions, &exists)
    }

    /// Whether `name` is an alias.
    pub fn is_alias(&self, name: &str) -> bool {
        self.aliases().table.contains_key(name)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<SearchIndex>>> {
        self.indices.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates index `name`.
    pub fn create(
        &self,
        name: &str,
        settings: Settings,
        mappings: Value,
    ) -> Result<Arc<SearchIndex>, EsError> {
        validate_name(name)?;
        let mut indices = self.indices.write().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = indices.get(name) {
            return Err(EsError::index_exists(name, &existing.uuid));
        }
        if self.is_alias(name) {
            return Err(EsError::new(
                400,
                "invalid_index_name_exception",
                format!("Invalid index name [{name}], already exists as alias"),
            )
            .with("index_uuid", "_na_")
            .with("index", name));
        }
        let uuid = random_id(16);
        let state = IndexState::parse(SearchIndex::new_meta(name, &uuid, settings, mappings))?;
        let staging = self.root.join(format!("{uuid}.creating"));
        let index = SearchIndex::create(&staging, state);
        let index = match index {
            Ok(i) => i,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        index.shut_down();
        drop(index);
        let dir = self.root.join(&uuid);
        std::fs::rename(&staging, &dir)
            .map_err(|e| EsError::internal(format!("create index: {e}")))?;
        if let Ok(root) = std::fs::File::open(&self.root) {
            let _ = root.sync_all();
        }
        let index = Arc::new(SearchIndex::open(&dir).map_err(EsError::internal)?);
        indices.insert(name.to_string(), index.clone());
        Ok(index)
    }

    /// Deletes index `name`.
    pub fn delete(&self, name: &str) -> Result<(), EsError> {
        let index = {
            let mut indices = self.indices.write().unwrap_or_else(|p| p.into_inner());
            indices
                .remove(name)
                .ok_or_else(|| EsError::index_not_found(name))?
        };
        index.shut_down();
        self.aliases().forget_index(name)?;
        let dir = index.dir().to_path_buf();
        drop(index);
        let trash = dir.with_extension("deleted");
        std::fs::rename(&dir, &trash)
            .map_err(|e| EsError::internal(format!("delete index: {e}")))?;
        std::fs::remove_dir_all(&trash).map_err(|e| EsError::internal(format!("delete index: {e}")))
    }

    /// Index `name`, or the one index alias `name` stands for.
    pub fn get(&self, name: &str) -> Result<Arc<SearchIndex>, EsError> {
        if let Some(i) = self.read().get(name) {
            return Ok(i.clone());
        }
        let targets: Vec<String> = match self.aliases().table.get(name) {
            Some(t) => t.keys().cloned().collect(),
            None => return Err(EsError::index_not_found(name)),
        };
        match targets.as_slice() {
            [one] => self.read().get(one).cloned().ok_or_else(|| EsError::index_not_found(one)),
            many => Err(EsError::illegal_argument(format!(
                "alias [{name}] has more than one index associated with it [{}], can't execute a single index op",
                many.join(", ")
            ))),
        }
    }

    /// Index `name`, created with defaults when missing (as indexing a document does).
    pub fn get_or_create(&self, name: &str) -> Result<Arc<SearchIndex>, EsError> {
        if let Some(i) = self.read().get(name) {
            return Ok(i.clone());
        }
        let write_index = self.aliases().write_index(name)?;
        if let Some(index) = write_index {
            return self.get(&index);
        }
        match self.create(name, Settings::default(), Value::Null) {
            Err(e) if e.kind == "resource_already_exists_exception" => self.get(name),
            other => other,
        }
    }

    /// Every index.
    pub fn all(&self) -> Vec<Arc<SearchIndex>> {
        self.read().values().cloned().collect()
    }

    /// The indices an expression names: `_all`, `*`, comma lists, wildcards, aliases. A
    /// concrete missing name is an error unless `ignore_unavailable`; a wildcard matching
    /// nothing is not.
    pub fn resolve(
        &self,
        expr: &str,
        ignore_unavailable: bool,
    ) -> Result<Vec<Arc<SearchIndex>>, EsError> {
        let indices = self.read();
        if expr.is_empty() || expr == "_all" || expr == "*" {
            return Ok(indices.values().cloned().collect());
        }
        let aliases = self.aliases().table.clone();
        let mut out: Vec<Arc<SearchIndex>> = Vec::new();
        let push = |out: &mut Vec<Arc<SearchIndex>>, name: &str| {
            if let Some(i) = indices.get(name) {
                if !out.iter().any(|o| o.name == i.name) {
                    out.push(i.clone());
                }
            }
        };
        for part in expr.split(',') {
            let (exclude, pattern) = match part.strip_prefix('-') {
                Some(p) if !out.is_empty() => (true, p),
                _ => (false, part),
            };
            if exclude {
                out.retain(|i| !wildcard_match(pattern, &i.name));
                continue;
            }
            if pattern.contains('*') {
                for name in indices.keys() {
                    if wildcard_match(pattern, name) {
                        push(&mut out, name);
                    }
                }
                for (alias, targets) in &aliases {
                    if wildcard_match(pattern, alias) {
                        for name in targets.keys() {
                            push(&mut out, name);
                        }
                    }
                }
            } else if indices.contains_key(pattern) {
                push(&mut out, pattern);
            } else if let Some(targets) = aliases.get(pattern) {
                for name in targets.keys() {
                    push(&mut out, name);
                }
            } else if !ignore_unavailable {
                return Err(EsError::index_not_found(pattern));
            }
        }
        Ok(out)
    }

    /// Refreshes every index with pending writes.
    pub fn refresh_pending(&self) {
        for index in self.all() {
            if index.refresh_due() {
                if let Err(e) = index.refresh() {
                    tracing::warn!("refresh of {}: {e}", index.name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("products").is_ok());
        assert_eq!(
            validate_name("Products").unwrap_err().kind,
            "invalid_index_name_exception"
        );
        assert!(validate_name("_x").is_err());
        assert!(validate_name("a b").is_err());
    }

    #[test]
    fn create_resolve_delete_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path()).unwrap();
        reg.create("a-1", Settings::default(), Value::Null).unwrap();
        reg.create("a-2", Settings::default(), Value::Null).unwrap();
        reg.create("b", Settings::default(), Value::Null).unwrap();
        assert_eq!(
            reg.create("b", Settings::default(), Value::Null)
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(reg.resolve("a-*", false).unwrap().len(), 2);
        assert_eq!(reg.resolve("a-*,-a-1", false).unwrap().len(), 1);
        assert_eq!(reg.resolve("b,nope", false).unwrap_err().status, 404);
        assert_eq!(reg.resolve("b,nope", true).unwrap().len(), 1);
        reg.delete("a-1").unwrap();
        drop(reg);
        let reg = Registry::open(dir.path()).unwrap();
        let names: Vec<String> = reg.all().iter().map(|i| i.name.clone()).collect();
        assert_eq!(names, ["a-2", "b"]);
    }
}
