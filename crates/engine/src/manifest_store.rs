//! Copies of the manifest each checkpoint and environment was made with, kept by content
//! hash in `.vers/manifests/<sha256>.yaml`, so comparisons (`vers diff`) can show how two
//! configurations differ after the manifest has changed.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::EngineError;
use crate::project::Project;

fn dir(project: &Project) -> PathBuf {
    project.state_dir.join("manifests")
}

/// Hash of a manifest text (what `CheckpointRecord::manifest_hash` holds).
pub fn hash(text: &[u8]) -> String {
    hex::encode(Sha256::digest(text))
}

/// Keeps a copy of the project's manifest file as it is now; returns its hash.
pub fn save(project: &Project) -> Result<String, EngineError> {
    let path = &project.manifest_path;
    let text = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
    let h = hash(&text);
    let d = dir(project);
    let target = d.join(format!("{h}.yaml"));
    if !target.exists() {
        crate::atomic_file::write(&target, &text).map_err(|e| EngineError::io(&target, e))?;
    }
    Ok(h)
}

/// The kept manifest text with hash `hash`, if vers kept one.
pub fn load(project: &Project, hash: &str) -> Option<String> {
    if hash.is_empty() || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    std::fs::read_to_string(dir(project).join(format!("{hash}.yaml"))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_manifest_loads_back_by_hash() {
        let t = tempfile::tempdir().unwrap();
        let manifest = t.path().join("vers-integration.yaml");
        std::fs::write(&manifest, "name: x\n").unwrap();
        let project = Project::at(t.path().to_path_buf(), manifest);
        let h = save(&project).unwrap();
        assert_eq!(h, hash(b"name: x\n"));
        assert_eq!(load(&project, &h).as_deref(), Some("name: x\n"));
        assert_eq!(load(&project, "../x"), None);
    }
}
