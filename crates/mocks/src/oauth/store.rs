//! Issued authorization codes and tokens, one JSON file each under the data directory.
//! Files appear atomically (temp file + rename) so a killed process or a filesystem
//! snapshot never sees half a record.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::OauthError;

/// The kinds of records, each in its own directory.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Authorization codes, removed when redeemed.
    Code,
    /// Refresh tokens.
    Refresh,
    /// Opaque GitHub-style access tokens.
    GithubToken,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Code, Kind::Refresh, Kind::GithubToken];

    fn dir(self) -> &'static str {
        match self {
            Kind::Code => "codes",
            Kind::Refresh => "refresh_tokens",
            Kind::GithubToken => "github_tokens",
        }
    }
}

/// Record store rooted in the data directory.
pub(crate) struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens the store, creating its directories and removing temp files a killed process
    /// left behind.
    pub fn open(data_dir: &Path) -> Result<Self, OauthError> {
        for kind in Kind::ALL {
            let dir = data_dir.join(kind.dir());
            fs::create_dir_all(&dir).map_err(|source| OauthError::Io {
                path: dir.clone(),
                source,
            })?;
            let entries = fs::read_dir(&dir).map_err(|source| OauthError::Io {
                path: dir.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().ends_with(".tmp") {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(Store {
            root: data_dir.to_path_buf(),
        })
    }

    /// Stores `value` under `key`.
    pub fn put<T: Serialize>(&self, kind: Kind, key: &str, value: &T) -> Result<(), OauthError> {
        let path = self.path(kind, key).ok_or_else(|| OauthError::Io {
            path: self.root.join(kind.dir()),
            source: std::io::Error::new(ErrorKind::InvalidInput, "invalid record key"),
        })?;
        let bytes = serde_json::to_vec(value).map_err(|e| OauthError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        let tmp = path.with_extension(format!("{}.tmp", random_token(6)));
        fs::write(&tmp, bytes).map_err(|source| OauthError::Io {
            path: tmp.clone(),
            source,
        })?;
        fs::rename(&tmp, &path).map_err(|source| OauthError::Io {
            path: path.clone(),
            source,
        })
    }

    /// The record stored under `key`, if any (keys that could not have been issued are
    /// simply absent).
    pub fn get<T: DeserializeOwned>(&self, kind: Kind, key: &str) -> Result<Option<T>, OauthError> {
        let Some(path) = self.path(kind, key) else {
            return Ok(None);
        };
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| OauthError::Io {
                    path,
                    source: e.into(),
                }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(OauthError::Io { path, source }),
        }
    }

    /// Removes the record under `key`; true if this call removed it (so a code is redeemed
    /// at most once even by concurrent requests).
    pub fn take(&self, kind: Kind, key: &str) -> Result<bool, OauthError> {
        let Some(path) = self.path(kind, key) else {
            return Ok(false);
        };
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(source) => Err(OauthError::Io { path, source }),
        }
    }

    fn path(&self, kind: Kind, key: &str) -> Option<PathBuf> {
        let valid = !key.is_empty()
            && key.len() <= 128
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| self.root.join(kind.dir()).join(format!("{key}.json")))
    }
}

/// A random URL-safe token of `bytes` random bytes.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_are_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = random_token(32);
        store.put(Kind::Code, &key, &vec![1, 2, 3]).unwrap();
        let back: Option<Vec<i32>> = store.get(Kind::Code, &key).unwrap();
        assert_eq!(back, Some(vec![1, 2, 3]));
        let reopened = Store::open(dir.path()).unwrap();
        assert!(reopened
            .get::<Vec<i32>>(Kind::Code, &key)
            .unwrap()
            .is_some());
        assert!(reopened.take(Kind::Code, &key).unwrap());
        assert!(!reopened.take(Kind::Code, &key).unwrap());
        assert!(store
            .get::<Vec<i32>>(Kind::Code, "../etc/passwd")
            .unwrap()
            .is_none());
    }

    #[test]
    fn leftover_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let codes = dir.path().join("codes");
        fs::create_dir_all(&codes).unwrap();
        fs::write(codes.join("x.json.abc.tmp"), "{").unwrap();
        Store::open(dir.path()).unwrap();
        assert!(!codes.join("x.json.abc.tmp").exists());
    }
}
