//! Index aliases: names standing for one or more indices (one of them possibly the write
//! index), persisted in `<data>/aliases.json` and changed atomically by a list of actions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::meta::write_atomic;
use crate::error::EsError;

/// One index of an alias.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasTarget {
    /// `is_write_index`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_write_index: Option<bool>,
}

/// Alias name → index name → properties.
pub type AliasTable = BTreeMap<String, BTreeMap<String, AliasTarget>>;

/// The aliases of a server, kept on disk.
#[derive(Debug)]
pub struct Aliases {
    path: PathBuf,
    /// The table.
    pub table: AliasTable,
}

/// One change of `POST /_aliases`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Point `alias` at `index`.
    Add {
        /// The index.
        index: String,
        /// The alias.
        alias: String,
        /// Its write-index flag.
        target: AliasTarget,
    },
    /// Remove `alias` from `index`.
    Remove {
        /// The index.
        index: String,
        /// The alias.
        alias: String,
    },
}

impl Aliases {
    /// Reads the aliases of the data directory (none when the file is missing).
    pub fn open(data_dir: &Path) -> Result<Aliases, String> {
        let path = data_dir.join("aliases.json");
        let table = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AliasTable::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Aliases { path, table })
    }

    /// Applies `actions` all together, or none of them.
    pub fn apply(
        &mut self,
        actions: &[Action],
        index_exists: &dyn Fn(&str) -> bool,
    ) -> Result<(), EsError> {
        let mut next = self.table.clone();
        for action in actions {
            match action {
                Action::Add {
                    index,
                    alias,
                    target,
                } => {
                    if !index_exists(index) {
                        return Err(EsError::index_not_found(index));
                    }
                    if index_exists(alias) {
                        return Err(EsError::new(
                            400,
                            "invalid_alias_name_exception",
                            format!("Invalid alias name [{alias}]: an index or data stream exists with the same name as the alias"),
                        ));
                    }
                    next.entry(alias.clone())
                        .or_default()
                        .insert(index.clone(), target.clone());
                }
                Action::Remove { index, alias } => {
                    let removed = next.get_mut(alias).and_then(|m| m.remove(index));
                    if removed.is_none() {
                        return Err(EsError::new(
                            404,
                            "aliases_not_found_exception",
                            format!("aliases [{alias}] missing"),
                        )
                        .with("resource.type", "aliases")
                        .with("resource.id", alias.as_str()));
                    }
                    if next.get(alias).is_some_and(BTreeMap::is_empty) {
                        next.remove(alias);
                    }
                }
            }
        }
        for (alias, targets) in &next {
            if targets
                .values()
                .filter(|t| t.is_write_index == Some(true))
                .count()
                > 1
            {
                return Err(EsError::illegal_argument(format!(
                    "alias [{alias}] has more than one write index"
                )));
            }
        }
        self.replace(next)
    }

    /// Forgets `index` in every alias (it was deleted).
    pub fn forget_index(&mut self, index: &str) -> Result<(), EsError> {
        let mut next = self.table.clone();
        for targets in next.values_mut() {
            targets.remove(index);
        }
        next.retain(|_, t| !t.is_empty());
        if next != self.table {
            self.replace(next)?;
        }
        Ok(())
    }

    fn replace(&mut self, next: AliasTable) -> Result<(), EsError> {
        let bytes =
            serde_json::to_vec_pretty(&next).map_err(|e| EsError::internal(e.to_string()))?;
        write_atomic(&self.path, &bytes)
            .map_err(|e| EsError::internal(format!("write aliases: {e}")))?;
        self.table = next;
        Ok(())
    }

    /// The index writes through `alias` go to.
    pub fn write_index(&self, alias: &str) -> Result<Option<String>, EsError> {
        let Some(targets) = self.table.get(alias) else {
            return Ok(None);
        };
        if let Some((name, _)) = targets.iter().find(|(_, t)| t.is_write_index == Some(true)) {
            return Ok(Some(name.clone()));
        }
        if targets.len() == 1 && targets.values().all(|t| t.is_write_index != Some(false)) {
            return Ok(targets.keys().next().cloned());
        }
        Err(EsError::illegal_argument(format!(
            "no write index is defined for alias [{alias}]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index"
        )))
    }

    /// The aliases of `index` with their properties.
    pub fn of_index(&self, index: &str) -> BTreeMap<String, AliasTarget> {
        self.table
            .iter()
            .filter_map(|(alias, targets)| targets.get(index).map(|t| (alias.clone(), t.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(index: &str, alias: &str, write: Option<bool>) -> Action {
        Action::Add {
            index: index.into(),
            alias: alias.into(),
            target: AliasTarget {
                is_write_index: write,
            },
        }
    }

    #[test]
    fn swap_atomically_and_resolve_the_write_index() {
        let dir = tempfile::tempdir().unwrap();
        let exists = |n: &str| n.starts_with("products-");
        let mut a = Aliases::open(dir.path()).unwrap();
        a.apply(&[add("products-1", "products", None)], &exists)
            .unwrap();
        assert_eq!(
            a.write_index("products").unwrap().as_deref(),
            Some("products-1")
        );
        a.apply(
            &[
                Action::Remove {
                    index: "products-1".into(),
                    alias: "products".into(),
                },
                add("products-2", "products", None),
            ],
            &exists,
        )
        .unwrap();
        let reopened = Aliases::open(dir.path()).unwrap();
        assert_eq!(
            reopened.table["products"].keys().collect::<Vec<_>>(),
            ["products-2"]
        );
        a.apply(&[add("products-1", "products", None)], &exists)
            .unwrap();
        assert!(a.write_index("products").is_err());
        a.apply(&[add("products-1", "products", Some(true))], &exists)
            .unwrap();
        assert_eq!(
            a.write_index("products").unwrap().as_deref(),
            Some("products-1")
        );
        let e = a.apply(&[add("missing", "x", None)], &exists).unwrap_err();
        assert_eq!(e.status, 404);
        let e = a
            .apply(
                &[
                    add("products-1", "y", None),
                    Action::Remove {
                        index: "products-1".into(),
                        alias: "nope".into(),
                    },
                ],
                &exists,
            )
            .unwrap_err();
        assert_eq!(e.status, 404);
        assert!(!a.table.contains_key("y"), "a failed batch changes nothing");
        a.forget_index("products-1").unwrap();
        assert_eq!(
            a.table["products"].keys().collect::<Vec<_>>(),
            ["products-2"]
        );
    }
}
