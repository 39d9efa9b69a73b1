//! Writing a file so that readers see the old content or the new, never half of it: the
//! bytes go to a temporary file beside it (named after this process, so concurrent writers
//! do not share one) and are renamed into place.

use std::path::Path;

/// Writes `bytes` to `path` atomically, creating its directory when needed. On failure the
/// temporary file is removed and `path` is as it was.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub/file.json");
        super::write(&path, b"one").unwrap();
        super::write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(d.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("file.json")]);
        // A directory where the file should go: the write fails and nothing is left.
        std::fs::create_dir(d.path().join("dir")).unwrap();
        std::fs::write(d.path().join("dir/x"), b"").unwrap();
        assert!(super::write(&d.path().join("dir"), b"x").is_err());
        assert!(!d
            .path()
            .join(format!(".dir.{}.tmp", std::process::id()))
            .exists());
    }
}
