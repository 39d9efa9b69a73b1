//! The registry's operations on its state, with Confluent's rules: one id per distinct
//! schema across subjects, versions numbered from 1 per subject, idempotent registration,
//! compatibility checked against live versions, soft deletes before permanent ones.

use serde_json::{json, Map, Value};

use super::api_error::ApiError;
use super::compat;
use super::store::{State, StoredSchema, Subject, VersionEntry};
use super::types::{Level, SchemaType};

/// A version in a path: a number from 1, or `latest` (also written `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionSpec {
    /// The newest version.
    Latest,
    /// That version.
    Number(u32),
}

impl VersionSpec {
    /// Reads a path's version, 42202 when it is neither.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        if text.eq_ignore_ascii_case("latest") || text == "-1" {
            return Ok(VersionSpec::Latest);
        }
        text.parse::<u32>()
            .ok()
            .filter(|v| *v >= 1 && *v <= i32::MAX as u32)
            .map(VersionSpec::Number)
            .ok_or_else(|| ApiError::invalid_version(text))
    }
}

/// `{"schema": ..., "schemaType": ..., "references": [...]}` of a schema, the type and
/// references left out when AVRO and none, as Confluent writes them.
pub(crate) fn schema_fields(stored: &StoredSchema) -> Map<String, Value> {
    let mut map = Map::new();
    if stored.schema_type != SchemaType::Avro {
        map.insert("schemaType".into(), json!(stored.schema_type.as_str()));
    }
    map.insert("schema".into(), json!(stored.schema));
    if !stored.references.is_empty() {
        map.insert("references".into(), json!(stored.references));
    }
    map
}

impl State {
    /// The compatibility level that applies to `subject`: its own, else the global one.
    pub fn level_of(&self, subject: &str) -> Level {
        self.subjects
            .get(subject)
            .and_then(|s| s.compatibility)
            .unwrap_or_else(|| self.global_level())
    }

    /// The global compatibility level (BACKWARD unless set).
    pub fn global_level(&self) -> Level {
        self.compatibility.unwrap_or_default()
    }

    /// The subject when it has versions (live ones unless `deleted`), else 40401.
    fn subject(&self, name: &str, deleted: bool) -> Result<&Subject, ApiError> {
        self.subjects
            .get(name)
            .filter(|s| s.visible(deleted).next().is_some())
            .ok_or_else(|| ApiError::subject_not_found(name))
    }

    /// A version of a subject (among live versions unless `deleted`).
    pub fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        deleted: bool,
    ) -> Result<&VersionEntry, ApiError> {
        let s = self.subject(subject, deleted)?;
        match spec {
            VersionSpec::Latest => s.visible(deleted).next_back(),
            VersionSpec::Number(n) => s.visible(deleted).find(|v| v.version == n),
        }
        .ok_or_else(|| match spec {
            VersionSpec::Number(n) => ApiError::version_not_found(n),
            VersionSpec::Latest => ApiError::subject_not_found(subject),
        })
    }

    /// The schema of a version (an invariant of the state: every version's id is stored).
    fn schema_of(&self, entry: &VersionEntry) -> Result<&StoredSchema, ApiError> {
        self.schemas
            .get(&entry.id)
            .ok_or_else(|| ApiError::store(format!("schema {} of a version is missing", entry.id)))
    }

    /// `{"subject", "version", "id", "schema", ...}` of a version.
    pub fn version_doc(&self, subject: &str, entry: &VersionEntry) -> Result<Value, ApiError> {
        let mut map = Map::new();
        map.insert("subject".into(), json!(subject));
        map.insert("version".into(), json!(entry.version));
        map.insert("id".into(), json!(entry.id));
        map.extend(schema_fields(self.schema_of(entry)?));
        Ok(Value::Object(map))
    }

    /// The schema with id `id`, 40403 when there is none.
    pub fn schema_by_id(&self, id: u32) -> Result<&StoredSchema, ApiError> {
        self.schemas
            .get(&id)
            .ok_or_else(|| ApiError::schema_not_found(Some(id)))
    }

    /// The subjects with live versions (or any versions when `deleted`) whose name starts with
    /// `prefix`, sorted.
    pub fn subject_names(&self, deleted: bool, prefix: &str) -> Vec<&str> {
        self.subjects
            .iter()
            .filter(|(name, s)| name.starts_with(prefix) && s.visible(deleted).next().is_some())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The version numbers of a subject.
    pub fn version_numbers(&self, subject: &str, deleted: bool) -> Result<Vec<u32>, ApiError> {
        Ok(self
            .subject(subject, deleted)?
            .visible(deleted)
            .map(|v| v.version)
            .collect())
    }

    /// Every (subject, version) registered with schema `id`.
    pub fn usages(&self, id: u32, deleted: bool) -> Result<Vec<(&str, u32)>, ApiError> {
        self.schema_by_id(id)?;
        Ok(self
            .subjects
            .iter()
            .flat_map(|(name, s)| {
                s.visible(deleted)
                    .filter(move |v| v.id == id)
                    .map(move |v| (name.as_str(), v.version))
            })
            .collect())
    }

    /// The ids of live versions whose schemas reference `version` of `subject`.
    pub fn referrers(&self, subject: &str, version: u32) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .subjects
            .values()
            .flat_map(Subject::live)
            .filter_map(|v| self.schemas.get(&v.id).map(|s| (v.id, s)))
            .filter(|(_, s)| {
                s.references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
            })
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The id of a stored schema identical to `candidate`, if any.
    fn id_of(&self, candidate: &StoredSchema) -> Option<u32> {
        self.schemas
            .iter()
            .find(|(_, s)| *s == candidate)
            .map(|(id, _)| *id)
    }

    /// The live version of `subject` holding `candidate`, if any.
    fn live_version_with(&self, subject: &str, candidate: &StoredSchema) -> Option<&VersionEntry> {
        let id = self.id_of(candidate)?;
        self.subjects.get(subject)?.live().find(|v| v.id == id)
    }

    /// Registers `candidate` under `subject` and returns its id: the id of the live version
    /// already holding it, or a new version after the compatibility check (409 when it
    /// fails).
    pub fn register(&mut self, subject: &str, candidate: StoredSchema) -> Result<u32, ApiError> {
        if let Some(existing) = self.live_version_with(subject, &candidate) {
            return Ok(existing.id);
        }
        let level = self.level_of(subject);
        let problems = self.check_against_live(subject, level, &candidate, None)?;
        if !problems.is_empty() {
            return Err(ApiError::incompatible(subject, &problems));
        }
        let id = match self.id_of(&candidate) {
            Some(id) => id,
            None => {
                let id = self.next_id;
                self.next_id = self
                    .next_id
                    .checked_add(1)
                    .ok_or_else(|| ApiError::store("schema ids are exhausted"))?;
                self.schemas.insert(id, candidate);
                id
            }
        };
        let s = self.subjects.entry(subject.to_string()).or_default();
        let version = s.versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
        s.versions.push(VersionEntry {
            version,
            id,
            deleted: false,
        });
        Ok(id)
    }

    /// The problems of `candidate` against `subject`'s live versions at `level`: `only` one
    /// version, or the latest (every one when the level is transitive).
    fn check_against_live(
        &self,
        subject: &str,
        level: Level,
        candidate: &StoredSchema,
        only: Option<&VersionEntry>,
    ) -> Result<Vec<String>, ApiError> {
        let entries: Vec<&VersionEntry> = match (only, self.subjects.get(subject)) {
            (Some(entry), _) => vec![entry],
            (None, None) => Vec::new(),
            (None, Some(s)) if level.transitive() => s.live().collect(),
            (None, Some(s)) => s.live().next_back().into_iter().collect(),
        };
        let mut earlier = Vec::new();
        for entry in entries {
            earlier.push((entry.version, self.schema_of(entry)?));
        }
        compat::problems(self, subject, level, candidate, &earlier)
    }

    /// The version of `subject` holding `candidate` (`POST /subjects/{subject}`).
    pub fn lookup(
        &self,
        subject: &str,
        candidate: &StoredSchema,
        deleted: bool,
    ) -> Result<Value, ApiError> {
        let s = self.subject(subject, deleted)?;
        let id = self
            .id_of(candidate)
            .ok_or(ApiError::schema_not_found(None))?;
        let entry = s
            .visible(deleted)
            .rev()
            .find(|v| v.id == id)
            .ok_or(ApiError::schema_not_found(None))?;
        self.version_doc(subject, entry)
    }

    /// Compatibility problems of `candidate` with `version` of `subject`, or with the
    /// versions its level names when `version` is `None`.
    pub fn test_compatibility(
        &self,
        subject: &str,
        version: Option<VersionSpec>,
        candidate: &StoredSchema,
    ) -> Result<Vec<String>, ApiError> {
        let level = self.level_of(subject);
        match version {
            Some(spec) => {
                let entry = self.version(subject, spec, false)?;
                self.check_against_live(subject, level, candidate, Some(entry))
            }
            None => self.check_against_live(subject, level, candidate, None),
        }
    }

    /// Deletes every version of `subject`: soft (they stay readable by id and with
    /// `deleted=true`), or permanently once soft-deleted. Returns the version numbers.
    pub fn delete_subject(&mut self, subject: &str, permanent: bool) -> Result<Vec<u32>, ApiError> {
        let s = self.subject(subject, true)?;
        let live: Vec<u32> = s.live().map(|v| v.version).collect();
        let all: Vec<u32> = s.versions.iter().map(|v| v.version).collect();
        let targets = if permanent { &all } else { &live };
        for version in targets {
            if !self.referrers(subject, *version).is_empty() {
                return Err(ApiError::referenced(subject, *version));
            }
        }
        if permanent {
            if !live.is_empty() {
                return Err(ApiError::subject_not_soft_deleted(subject));
            }
            self.subjects.remove(subject);
            self.drop_unused_schemas();
            Ok(all)
        } else {
            if live.is_empty() {
                return Err(ApiError::subject_soft_deleted(subject));
            }
            if let Some(s) = self.subjects.get_mut(subject) {
                s.versions.iter_mut().for_each(|v| v.deleted = true);
            }
            Ok(live)
        }
    }

    /// Deletes one version of `subject`, soft or (once soft-deleted) permanently; returns its
    /// number.
    pub fn delete_version(
        &mut self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<u32, ApiError> {
        let s = self.subject(subject, true)?;
        let entry = match spec {
            VersionSpec::Latest if permanent => s.versions.last(),
            VersionSpec::Latest => s.live().next_back(),
            VersionSpec::Number(n) => s.versions.iter().find(|v| v.version == n),
        }
        .ok_or_else(|| match spec {
            VersionSpec::Number(n) => ApiError::version_not_found(n),
            VersionSpec::Latest => ApiError::subject_not_found(subject),
        })?;
        let version = entry.version;
        match (permanent, entry.deleted) {
            (false, true) => return Err(ApiError::version_soft_deleted(subject, version)),
            (true, false) => return Err(ApiError::version_not_soft_deleted(subject, version)),
            _ => {}
        }
        if !self.referrers(subject, version).is_empty() {
            return Err(ApiError::referenced(subject, version));
        }
        if let Some(s) = self.subjects.get_mut(subject) {
            if permanent {
                s.versions.retain(|v| v.version != version);
                if s.versions.is_empty() && s.compatibility.is_none() {
                    self.subjects.remove(subject);
                }
                self.drop_unused_schemas();
            } else if let Some(v) = s.versions.iter_mut().find(|v| v.version == version) {
                v.deleted = true;
            }
        }
        Ok(version)
    }

    /// Forgets schemas no version (live or soft-deleted) uses any more.
    fn drop_unused_schemas(&mut self) {
        let used: std::collections::BTreeSet<u32> = self
            .subjects
            .values()
            .flat_map(|s| s.versions.iter().map(|v| v.id))
            .collect();
        self.schemas.retain(|id, _| used.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"fields":[{"name":"id","type":"long"}],"name":"User","type":"record"}"#;
    const V2: &str = r#"{"fields":[{"name":"id","type":"long"},{"default":"","name":"email","type":"string"}],"name":"User","type":"record"}"#;
    const BAD: &str = r#"{"fields":[{"name":"id","type":"long"},{"name":"email","type":"string"}],"name":"User","type":"record"}"#;

    fn avro(text: &str) -> StoredSchema {
        StoredSchema {
            schema_type: SchemaType::Avro,
            schema: text.into(),
            references: Vec::new(),
        }
    }

    #[test]
    fn registration_is_idempotent_and_ids_are_shared_across_subjects() {
        let mut s = State::default();
        assert_eq!(s.register("a", avro(V1)).unwrap(), 1);
        assert_eq!(s.register("a", avro(V1)).unwrap(), 1);
        assert_eq!(s.version_numbers("a", false).unwrap(), vec![1]);
        assert_eq!(s.register("b", avro(V1)).unwrap(), 1);
        assert_eq!(s.register("a", avro(V2)).unwrap(), 2);
        assert_eq!(s.version_numbers("a", false).unwrap(), vec![1, 2]);
        let latest = s.version("a", VersionSpec::Latest, false).unwrap();
        assert_eq!((latest.version, latest.id), (2, 2));
        assert_eq!(s.usages(1, false).unwrap(), vec![("a", 1), ("b", 1)]);
    }

    #[test]
    fn incompatible_schemas_are_refused_with_409_unless_the_level_allows() {
        let mut s = State::default();
        s.register("a", avro(V1)).unwrap();
        let e = s.register("a", avro(BAD)).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (409, 409));
        assert!(e.message.contains("\"a\""), "{e:?}");
        s.subjects.get_mut("a").unwrap().compatibility = Some(Level::None);
        assert_eq!(s.register("a", avro(BAD)).unwrap(), 2);
        // Back to BACKWARD: the next schema is checked against the latest (BAD) only, and
        // V1 lacks its `email`, which the reader drops: compatible.
        s.subjects.get_mut("a").unwrap().compatibility = None;
        assert!(s
            .test_compatibility("a", None, &avro(V1))
            .unwrap()
            .is_empty());
        s.compatibility = Some(Level::BackwardTransitive);
        assert!(s
            .test_compatibility("a", None, &avro(V2))
            .unwrap()
            .is_empty());
        assert_eq!(
            s.test_compatibility("a", Some(VersionSpec::Number(1)), &avro(BAD))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn deletes_go_soft_then_permanent() {
        let mut s = State::default();
        s.register("a", avro(V1)).unwrap();
        s.register("a", avro(V2)).unwrap();
        assert_eq!(
            s.delete_version("a", VersionSpec::Number(1), true)
                .unwrap_err()
                .code,
            40407
        );
        assert_eq!(
            s.delete_version("a", VersionSpec::Number(1), false)
                .unwrap(),
            1
        );
        assert_eq!(
            s.delete_version("a", VersionSpec::Number(1), false)
                .unwrap_err()
                .code,
            40406
        );
        assert_eq!(s.version_numbers("a", false).unwrap(), vec![2]);
        assert_eq!(s.version_numbers("a", true).unwrap(), vec![1, 2]);
        assert_eq!(
            s.version("a", VersionSpec::Number(1), false)
                .unwrap_err()
                .code,
            40402
        );
        // A soft-deleted schema stays readable by id.
        assert!(s.schema_by_id(1).is_ok());
        assert_eq!(s.delete_subject("a", true).unwrap_err().code, 40405);
        assert_eq!(s.delete_subject("a", false).unwrap(), vec![2]);
        assert_eq!(s.delete_subject("a", false).unwrap_err().code, 40404);
        assert!(s.subject_names(false, "").is_empty());
        assert_eq!(s.subject_names(true, ""), vec!["a"]);
        // Re-registering a soft-deleted schema makes a new version with the same id.
        assert_eq!(s.register("a", avro(V1)).unwrap(), 1);
        assert_eq!(s.version_numbers("a", false).unwrap(), vec![3]);
        s.delete_subject("a", false).unwrap();
        assert_eq!(s.delete_subject("a", true).unwrap(), vec![1, 2, 3]);
        assert_eq!(s.schema_by_id(1).unwrap_err().code, 40403);
        assert_eq!(s.delete_subject("a", false).unwrap_err().code, 40401);
        // Ids are not reused.
        assert_eq!(s.register("a", avro(V1)).unwrap(), 3);
    }

    #[test]
    fn lookups_find_the_version_or_say_what_is_missing() {
        let mut s = State::default();
        s.register("a", avro(V1)).unwrap();
        let doc = s.lookup("a", &avro(V1), false).unwrap();
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["id"], 1);
        assert_eq!(doc["subject"], "a");
        assert!(doc.get("schemaType").is_none());
        assert_eq!(s.lookup("a", &avro(V2), false).unwrap_err().code, 40403);
        assert_eq!(s.lookup("b", &avro(V1), false).unwrap_err().code, 40401);
    }

    #[test]
    fn referenced_versions_cannot_be_deleted() {
        let mut s = State::default();
        let address = r#"{"fields":[{"name":"city","type":"string"}],"name":"Address","namespace":"acme","type":"record"}"#;
        s.register("address", avro(address)).unwrap();
        let user = StoredSchema {
            schema_type: SchemaType::Avro,
            schema: r#"{"fields":[{"name":"home","type":"acme.Address"}],"name":"User","type":"record"}"#.into(),
            references: vec![super::super::types::Reference {
                name: "acme.Address".into(),
                subject: "address".into(),
                version: 1,
            }],
        };
        let id = s.register("user", user).unwrap();
        assert_eq!(s.referrers("address", 1), vec![id]);
        assert_eq!(s.delete_subject("address", false).unwrap_err().code, 42206);
    }

    #[test]
    fn versions_in_paths() {
        assert_eq!(VersionSpec::parse("latest").unwrap(), VersionSpec::Latest);
        assert_eq!(VersionSpec::parse("-1").unwrap(), VersionSpec::Latest);
        assert_eq!(VersionSpec::parse("3").unwrap(), VersionSpec::Number(3));
        for bad in ["0", "x", "-2", "4294967295"] {
            assert_eq!(VersionSpec::parse(bad).unwrap_err().code, 42202, "{bad}");
        }
    }
}
